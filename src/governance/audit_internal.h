/*
 * audit_internal.h — what audit.c (the queue and its producers) and
 * audit_writer.c (the worker's side: decode, insert, set aside) share: the
 * record layout in the ring and the queue struct.  Not for other files:
 * they use governance/audit.h.
 */
#ifndef AIG_AUDIT_INTERNAL_H
#define AIG_AUDIT_INTERNAL_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

/* The strings of a record, in order; each is a uint32 length (or NULL) and bytes. */
#define AIG_AUDIT_NSTRINGS 8
#define AIG_AUDIT_CAP_NAME 256
#define AIG_AUDIT_CAP_STATUS 16
#define AIG_AUDIT_CAP_ERROR 2048
#define AIG_AUDIT_CAP_METADATA 8192
#define AIG_AUDIT_CAP_TEXT 65536

typedef struct AigAuditHead
{
	uint32		len;			/* whole record, this header included */
	Oid			dbid;
	Oid			roleid;			/* the current user of the call */
	Oid			session_roleid; /* the session's login role (identity.h) */
	int32		http_status;
	int32		sqlerrcode;		/* 0 when none */
	TimestampTz ts;
	int32		attempts;
	uint32		flags;
	double		latency_ms;
	int64		input_tokens;
	int64		output_tokens;
	double		cost_usd;
} AigAuditHead;

#define AIG_AUDIT_RECORD_MAX (sizeof(AigAuditHead) + AIG_AUDIT_NSTRINGS * sizeof(uint32) + \
							  3 * AIG_AUDIT_CAP_NAME + AIG_AUDIT_CAP_STATUS + \
							  AIG_AUDIT_CAP_ERROR + AIG_AUDIT_CAP_METADATA + \
							  2 * AIG_AUDIT_CAP_TEXT)

#define AIG_AUDIT_F_HAS_COST 1
#define AIG_AUDIT_F_CACHE_HIT 2
#define AIG_AUDIT_F_SHADOW 4

#define AIG_AUDIT_REFUSAL_LEN 256

typedef struct AigAuditQueue
{
	LWLock	   *lock;			/* the "ai_gateway audit" tranche's lock */
	uint64		head;			/* under lock */
	uint64		tail;			/* under lock */
	uint64		size;
	Oid			dbid;			/* under lock: the database whose records it holds */
	uint64		gen;			/* under lock: the slot generation it was set up for */
	Latch	   *worker_latch;	/* under lock; NULL when none */
	Oid			worker_dbid;
	char		last_set_aside[AIG_AUDIT_REFUSAL_LEN];	/* under lock */
	pg_atomic_uint64 enqueued;
	pg_atomic_uint64 written;
	pg_atomic_uint64 dropped_full;
	pg_atomic_uint64 dropped_other_db;
	pg_atomic_uint64 waits;
	pg_atomic_uint64 set_aside;
	pg_atomic_uint64 set_aside_lost;
	pg_atomic_uint64 refusals_suppressed;
	pg_atomic_uint64 logged_on_standby; /* written to the server log instead */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} AigAuditQueue;

extern AigAuditQueue *aig_audit_queue;

/* Copy len bytes in (in = true) or out of the ring at position pos. */
extern void aig_audit_ring_copy(uint64 pos, char *local, uint32 len, bool in);

/* Length of s's longest prefix of at most limit bytes that ends on a character boundary. */
extern int	aig_audit_clip(const char *s, int len, int limit);

#endif							/* AIG_AUDIT_INTERNAL_H */
