/*
 * audit.h — the audit trail: one record per call, queued in shared memory
 * by the caller, written to ai_gateway.audit_log by the background worker.
 */
#ifndef AIG_AUDIT_H
#define AIG_AUDIT_H

#include "postgres.h"

#include "storage/latch.h"
#include "utils/jsonb.h"

/* What a finished call reports (strings may be NULL). */
typedef struct AigAuditRecord
{
	Oid			roleid;			/* InvalidOid: the current user */
	Oid			session_roleid; /* InvalidOid: aig_session_role() */
	const char *route;
	const char *provider;
	const char *model;
	const char *status;			/* ok | error | canceled | denied */
	bool		refusal;		/* refused before any attempt: rate-limited (audit.c) */
	int			http_status;	/* 0 when none */
	int			sqlerrcode;		/* of a failure; 0 when none */
	int			attempts;
	double		latency_ms;
	int64		input_tokens;	/* -1 unknown */
	int64		output_tokens;
	bool		has_cost;
	double		cost_usd;
	bool		cache_hit;
	bool		shadow;
	const char *error;
	const char *metadata;		/* JSON text of options.metadata */
	const char *prompt;			/* JSON text, only with ai_gateway.log_prompts */
	const char *output;
} AigAuditRecord;

extern int	aig_audit_queue_kb;
extern int	aig_audit_wait_ms;
extern int	aig_audit_flush_ms;
extern char *aig_audit_retention;
extern bool aig_log_prompts;
extern int	aig_audit_refusals_per_second;

/* Define the audit GUCs and ai_gateway.log_prompts (called from _PG_init). */
extern void aig_audit_define_gucs(void);

/* Shared memory: size, tranche request, creation (init/shmem.c calls them). */
extern Size aig_audit_shmem_size(void);
extern void aig_audit_shmem_request(void);
extern void aig_audit_shmem_startup(void);

/*
 * Queue one record.  Never raises: when the queue stays full for
 * ai_gateway.audit_wait_ms (or when called in an error path), the record is
 * dropped and counted.  Safe to call from PG_CATCH.
 */
extern void aig_audit_enqueue(const AigAuditRecord *rec, bool may_wait);

/* At the start of each call (normal state): where do this database's records go? */
extern void aig_audit_prepare(void);
/* The per-database workers: their database's records are served. */
extern void aig_audit_prepare_worker(void);
/* Are this database's records written (after aig_audit_prepare)? */
extern bool aig_audit_db_served(void);
/* This database's slot (core/dbslots.h) and its generation, -1 when unserved. */
extern int	aig_audit_slot(uint64 *gen);

/*
 * Worker side (audit_writer.c): aig_audit_drain() inserts queued records
 * into ai_gateway.audit_log (inside the worker's transaction, SPI
 * connected), each batch in a subtransaction; a record the database
 * refuses is set aside (ai_gateway.audit_rejects, counted), never retried.
 * After the commit aig_audit_commit() frees their queue space; after a
 * failed round aig_audit_drain_failed() counts it.  aig_audit_backoff_ms():
 * how long the worker waits before its next drain (after a transient
 * failure: a locked table, a timeout, a full disk), 0 normally.
 */
extern int	aig_audit_drain(void);
extern void aig_audit_commit(int written);
extern void aig_audit_drain_failed(void);
extern long aig_audit_backoff_ms(void);
extern bool aig_audit_pending(void);
extern void aig_audit_set_worker(Latch *latch, Oid dbid);

/* Counters for ai_gateway.audit_stats(). */
typedef struct AigAuditCounters
{
	uint64		enqueued;
	uint64		written;
	uint64		dropped_full;
	uint64		dropped_other_db;
	uint64		waits;
	uint64		set_aside;		/* refused by the database, not in audit_log */
	uint64		set_aside_lost; /* of those, not kept in audit_rejects either */
	uint64		refusals_suppressed;
	uint64		logged_on_standby;	/* on a hot standby: in the server log, not queued */
	char		last_set_aside[256];	/* "SQLSTATE: message" of the last one */
	uint64		queued_bytes;
	uint64		queue_bytes;
} AigAuditCounters;

extern void aig_audit_counters(AigAuditCounters *out);

/* For ai_gateway.audit_flush() (api/audit_api.c): the position after the
 * last queued record, and whether the worker has written up to a position
 * (waking it when not). */
extern uint64 aig_audit_queue_head(void);
extern bool aig_audit_written_through(uint64 pos);

#endif							/* AIG_AUDIT_H */
