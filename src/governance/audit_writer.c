/*
 * audit_writer.c — the worker's side of the audit trail: queued records
 * into ai_gateway.audit_log, and never blocked by one of them.
 *
 * Records are decoded from the ring (audit.c) into rows and inserted by
 * batches, one INSERT over arrays of column values each, every batch in a
 * subtransaction.  Whatever the database still refuses is handled without
 * holding the queue:
 *
 *   - a batch that fails is inserted again row by row, each row in its own
 *     subtransaction; a row that fails is set aside: kept, as text, in
 *     ai_gateway.audit_rejects (administrators only) with its SQLSTATE and
 *     error, counted (audit_stats().set_aside, last_set_aside), and the
 *     writer goes on with everyone else's records.  When even
 *     audit_rejects refuses it, it is counted as lost (set_aside_lost).
 *   - a transient failure (the table locked past the writer's lock_timeout
 *     of 1 s, a full disk, a serialization failure, a read-only server)
 *     stops the round: what was written is committed and the rest retried
 *     with a backoff (100 ms doubling, at most 5 s).  After 5 such rounds
 *     on the same record, the next round sets aside what still fails.
 *   - an INSERT over the writer's 10 s statement timeout (a trigger that
 *     sleeps) is that record's failure: set aside, not retried.  Two slow
 *     failures (timeouts, or transient ones in that last round) in a row
 *     set the rest of the batch aside at once.
 *   - a round that fails outside those subtransactions (its commit, say)
 *     is retried, with the same backoff; after 10 in a row at the same
 *     place, the record at the head of the queue is dropped and counted
 *     as lost, so the next round starts past it.
 *
 * Until the extension's objects are updated to the library's version
 * (audit_log's columns, audit_rejects), nothing is written: the records
 * wait in the queue, as they would for a stopped worker.
 *
 * Deferred constraint triggers an administrator may add are made to fire
 * at each statement (SET CONSTRAINTS ALL IMMEDIATE), inside the
 * subtransaction, not at the commit.  Strings are made valid in the
 * database encoding on the way (invalid bytes become '?'): the records
 * are valid by construction (audit.c), this only makes sure.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "governance/audit.h"
#include "governance/audit_internal.h"

#define queue aig_audit_queue

#define NCOLS 20
#define BATCH_ROWS 1000			/* rows per INSERT, at most */
#define BATCH_BYTES (4 * 1024 * 1024)	/* and record bytes (prompts can be big) */
#define ROUND_RECORDS 20000		/* records per transaction, at most */
#define STATEMENT_MS 10000		/* one INSERT of the writer, at most */
#define TRANSIENT_TRIES 5		/* rounds on one record before setting aside */
#define FAILED_ROUNDS_MAX 10	/* failed rounds before the head record goes */
#define BACKOFF_MAX_MS 5000

/* One decoded record. */
typedef struct AuditRow
{
	AigAuditHead h;
	char	   *s[AIG_AUDIT_NSTRINGS];	/* route, provider, model, status, error,
										 * metadata, prompt, output */
	char	   *role;
	char	   *session_role;
	uint64		end;			/* queue position after it */
} AuditRow;

/* The columns written, in order, with the type of each array of values. */
static const Oid col_types[NCOLS] = {
	TIMESTAMPTZOID, NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID,
	TEXTOID, INT4OID, FLOAT8OID, INT8OID, INT8OID, FLOAT8OID, BOOLOID, BOOLOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID
};

/*
 * One INSERT over arrays of column values: executor start-up is paid per
 * batch instead of per row.  The arrays are unnested in the target list,
 * in lockstep, and the plan is prepared once per worker.
 */
#define BATCH_INSERT \
	"INSERT INTO ai_gateway.audit_log (ts, role, session_role, route, provider, model, " \
	"status, http_status, sqlstate, attempts, latency_ms, input_tokens, output_tokens, " \
	"cost_usd, cache_hit, shadow, error, metadata, prompt, output) " \
	"SELECT pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), " \
	"pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), " \
	"pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), " \
	"pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12), " \
	"pg_catalog.unnest($13), pg_catalog.unnest($14)::numeric, pg_catalog.unnest($15), " \
	"pg_catalog.unnest($16), pg_catalog.unnest($17), pg_catalog.unnest($18)::jsonb, " \
	"pg_catalog.unnest($19)::jsonb, pg_catalog.unnest($20)"

#define REJECT_INSERT \
	"INSERT INTO ai_gateway.audit_rejects (ts, role, session_role, sqlstate, error, record) " \
	"VALUES ($1, $2, $3, $4, $5, $6)"

static SPIPlanPtr batch_plan = NULL;
static SPIPlanPtr reject_plan = NULL;

/* What this round did, published by aig_audit_commit() after its commit. */
static uint64 pending_tail = 0;
static uint64 pending_set_aside = 0;
static uint64 pending_lost = 0;
static char pending_last[AIG_AUDIT_REFUSAL_LEN];

/* Transient failures and failed rounds, and the backoff they impose. */
static int	transient_rounds = 0;
static int	failed_rounds = 0;
static uint64 stuck_at = PG_UINT64_MAX;
static TimestampTz next_drain_at = 0;

/* s made valid in the database encoding: each invalid byte becomes '?'. */
static char *
valid_text(char *s, int len)
{
	int			enc = GetDatabaseEncoding();
	int			ok = pg_encoding_verifymbstr(enc, s, len);

	while (ok < len)
	{
		s[ok] = '?';
		ok += 1 + pg_encoding_verifymbstr(enc, s + ok + 1, len - ok - 1);
	}
	return s;
}

/* The next string of a record (NULL stays NULL), valid in the encoding. */
static char *
get_string(const char **p)
{
	uint32		len;
	char	   *s;

	memcpy(&len, *p, sizeof(len));
	*p += sizeof(len);
	if (len == PG_UINT32_MAX)
		return NULL;
	s = pnstrdup(*p, len);
	*p += len;
	return valid_text(s, (int) strlen(s));
}

/* A role's name, or its OID as text when it was dropped since. */
static char *
role_name(Oid roleid)
{
	char	   *name;

	if (!OidIsValid(roleid))
		return NULL;
	name = GetUserNameFromId(roleid, true);
	return name ? name : psprintf("%u", roleid);
}

/* Decode the record in local (len bytes) into row. */
static void
decode(AuditRow *row, const char *local)
{
	const char *p = local + sizeof(AigAuditHead);

	memcpy(&row->h, local, sizeof(AigAuditHead));
	for (int i = 0; i < AIG_AUDIT_NSTRINGS; i++)
		row->s[i] = get_string(&p);
	row->role = role_name(row->h.roleid);
	row->session_role = role_name(row->h.session_roleid);
}

static Datum
name_datum(const char *s)
{
	return DirectFunctionCall1(namein, CStringGetDatum(s));
}

/* The arrays of one INSERT: rows[from .. from + n). */
static void
build_arrays(AuditRow *rows, int from, int n, Datum *arrays)
{
	Datum	   *values = palloc(sizeof(Datum) * n);
	bool	   *nulls = palloc(sizeof(bool) * n);
	int			lb = 1;

	for (int c = 0; c < NCOLS; c++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		for (int k = 0; k < n; k++)
		{
			AuditRow   *r = &rows[from + k];
			const AigAuditHead *h = &r->h;
			const char *str = NULL;
			bool		is_str = false;

			nulls[k] = false;
			switch (c)
			{
				case 0:
					values[k] = TimestampTzGetDatum(h->ts);
					break;
				case 1:
					values[k] = name_datum(r->role ? r->role : "");
					break;
				case 2:
					nulls[k] = r->session_role == NULL;
					values[k] = nulls[k] ? (Datum) 0 : name_datum(r->session_role);
					break;
				case 3:
				case 4:
				case 5:
				case 6:
					str = r->s[c - 3];
					is_str = true;
					break;
				case 7:
					values[k] = Int32GetDatum(h->http_status);
					nulls[k] = h->http_status <= 0;
					break;
				case 8:
					nulls[k] = h->sqlerrcode == 0;
					values[k] = nulls[k] ? (Datum) 0 :
						CStringGetTextDatum(unpack_sql_state(h->sqlerrcode));
					break;
				case 9:
					values[k] = Int32GetDatum(h->attempts);
					break;
				case 10:
					values[k] = Float8GetDatum(h->latency_ms);
					break;
				case 11:
					values[k] = Int64GetDatum(h->input_tokens);
					nulls[k] = h->input_tokens < 0;
					break;
				case 12:
					values[k] = Int64GetDatum(h->output_tokens);
					nulls[k] = h->output_tokens < 0;
					break;
				case 13:
					values[k] = Float8GetDatum(h->cost_usd);
					nulls[k] = (h->flags & AIG_AUDIT_F_HAS_COST) == 0;
					break;
				case 14:
					values[k] = BoolGetDatum((h->flags & AIG_AUDIT_F_CACHE_HIT) != 0);
					break;
				case 15:
					values[k] = BoolGetDatum((h->flags & AIG_AUDIT_F_SHADOW) != 0);
					break;
				default:
					str = r->s[c - 12];		/* error, metadata, prompt, output */
					is_str = true;
					break;
			}
			if (is_str)
			{
				nulls[k] = str == NULL;
				values[k] = str ? CStringGetTextDatum(str) : (Datum) 0;
			}
		}
		get_typlenbyvalalign(col_types[c], &typlen, &typbyval, &typalign);
		arrays[c] = PointerGetDatum(construct_md_array(values, nulls, 1, &n, &lb,
													   col_types[c], typlen, typbyval,
													   typalign));
	}
}

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, const Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) types);

	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "could not prepare the audit writer's statement: %s",
			 SPI_result_code_string(SPI_result));
	return plan;
}

typedef struct InsertArgs
{
	AuditRow   *rows;
	int			from;
	int			n;
	bool		reject;			/* into audit_rejects (rows[from] only) */
	const ErrorData *why;
} InsertArgs;

/* The record as a JSON text (for audit_rejects): every field, jsonb ones as strings. */
static char *
record_text(const AuditRow *r)
{
	static const char *const names[AIG_AUDIT_NSTRINGS] = {
		"route", "provider", "model", "status", "error", "metadata", "prompt", "output"
	};
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfo(&b, "{\"ts\": \"%s\", \"role\": ", timestamptz_to_str(r->h.ts));
	escape_json(&b, r->role ? r->role : "");
	appendStringInfoString(&b, ", \"session_role\": ");
	escape_json(&b, r->session_role ? r->session_role : "");
	appendStringInfo(&b, ", \"http_status\": %d, \"attempts\": %d, \"latency_ms\": %.3f, "
					 "\"input_tokens\": " INT64_FORMAT ", \"output_tokens\": " INT64_FORMAT
					 ", \"cost_usd\": %.10g, \"flags\": %u",
					 r->h.http_status, r->h.attempts, r->h.latency_ms, r->h.input_tokens,
					 r->h.output_tokens, r->h.cost_usd, r->h.flags);
	for (int i = 0; i < AIG_AUDIT_NSTRINGS; i++)
	{
		appendStringInfo(&b, ", \"%s\": ", names[i]);
		if (r->s[i])
			escape_json(&b, r->s[i]);
		else
			appendStringInfoString(&b, "null");
	}
	appendStringInfoChar(&b, '}');
	return b.data;
}

/* The INSERT of InsertArgs (in a subtransaction, under the statement timeout). */
static void
run_insert(InsertArgs *a)
{
	int			rc;

	if (a->reject)
	{
		static const Oid types[6] = {TIMESTAMPTZOID, NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID};
		Datum		v[6];
		AuditRow   *r = &a->rows[a->from];

		if (reject_plan == NULL)
			reject_plan = prepare_kept(REJECT_INSERT, 6, types);
		v[0] = TimestampTzGetDatum(r->h.ts);
		v[1] = name_datum(r->role ? r->role : "");
		v[2] = name_datum(r->session_role ? r->session_role : "");
		v[3] = CStringGetTextDatum(unpack_sql_state(a->why->sqlerrcode));
		v[4] = CStringGetTextDatum(valid_text(pstrdup(a->why->message ? a->why->message : ""),
											  (int) strlen(a->why->message ? a->why->message : "")));
		v[5] = CStringGetTextDatum(record_text(r));
		rc = SPI_execute_plan(reject_plan, v, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not insert into ai_gateway.audit_rejects");
		return;
	}
	if (batch_plan == NULL)
	{
		Oid			types[NCOLS];

		for (int c = 0; c < NCOLS; c++)
			types[c] = get_array_type(col_types[c]);
		batch_plan = prepare_kept(BATCH_INSERT, NCOLS, types);
	}
	{
		Datum		arrays[NCOLS];

		build_arrays(a->rows, a->from, a->n, arrays);
		rc = SPI_execute_plan(batch_plan, arrays, NULL, false, 0);
	}
	if (rc != SPI_OK_INSERT || SPI_processed != (uint64) a->n)
		elog(ERROR, "could not insert into ai_gateway.audit_log");
}

/*
 * Run one INSERT in a subtransaction, under a statement timeout; true when
 * it went in.  Its error, when not, comes back in *error (any ERROR: a
 * constraint, a trigger, a lock timeout...).  FATAL and worse propagate.
 */
static bool
try_insert(InsertArgs *a, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	*error = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		enable_timeout_after(STATEMENT_TIMEOUT, STATEMENT_MS);
		run_insert(a);
		disable_timeout(STATEMENT_TIMEOUT, false);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		if (ed->elevel > ERROR)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		*error = ed;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Would the same INSERT likely pass a little later (locks, resources)?  A
 * statement timeout is not: a trigger that sleeps on one record would
 * hold everyone's for as many rounds; it is that record's failure.
 */
static bool
is_transient(const ErrorData *ed)
{
	int			code = ed->sqlerrcode;

	return code == ERRCODE_LOCK_NOT_AVAILABLE ||
		code == ERRCODE_T_R_SERIALIZATION_FAILURE || code == ERRCODE_T_R_DEADLOCK_DETECTED ||
		code == ERRCODE_READ_ONLY_SQL_TRANSACTION || code == ERRCODE_ADMIN_SHUTDOWN ||
		ERRCODE_TO_CATEGORY(code) == ERRCODE_INSUFFICIENT_RESOURCES ||
		ERRCODE_TO_CATEGORY(code) == ERRCODE_SYSTEM_ERROR;
}

/* A failure that took its time: a transient one or a statement timeout. */
static bool
is_slow(const ErrorData *ed)
{
	return is_transient(ed) || ed->sqlerrcode == ERRCODE_QUERY_CANCELED;
}

/* A row the database refused: into audit_rejects, counted either way. */
static void
set_aside(AuditRow *rows, int i, ErrorData *why)
{
	InsertArgs	a = {rows, i, 1, true, why};
	ErrorData  *ed;
	char	   *last = psprintf("%s: %s", unpack_sql_state(why->sqlerrcode),
								why->message ? why->message : "");
	int			len = aig_audit_clip(last, (int) strlen(last), sizeof(pending_last) - 1);

	pending_set_aside++;
	memcpy(pending_last, last, len);
	pending_last[len] = '\0';
	if (!try_insert(&a, &ed))
	{
		pending_lost++;
		ereport(WARNING,
				(errmsg("ai_gateway could not keep a refused audit record in audit_rejects: %s",
						ed->message),
				 errdetail("The record was refused by audit_log: %s", why->message)));
	}
}

/*
 * Write rows[0 .. n): as one batch, else one by one, setting aside what is
 * refused.  Returns how many rows were handled (written or set aside);
 * fewer than n when a transient failure stopped it (*transient set).
 */
static int
write_rows(AuditRow *rows, int n, bool escalate, int *written, bool *transient)
{
	InsertArgs	a = {rows, 0, n, false, NULL};
	ErrorData  *ed;
	int			slow_in_row = 0;

	if (n == 0)
		return 0;
	if (try_insert(&a, &ed))
	{
		*written += n;
		return n;
	}
	if (is_transient(ed) && !escalate)
	{
		*transient = true;
		return 0;
	}
	for (int i = 0; i < n; i++)
	{
		InsertArgs	one = {rows, i, 1, false, NULL};

		if (try_insert(&one, &ed))
		{
			(*written)++;
			slow_in_row = 0;
			continue;
		}
		if (is_transient(ed) && !escalate)
		{
			*transient = true;
			return i;
		}
		/* two slow failures in a row: the rest goes aside at once */
		if (is_slow(ed) && ++slow_in_row >= 2)
		{
			for (; i < n; i++)
				set_aside(rows, i, ed);
			return n;
		}
		set_aside(rows, i, ed);
	}
	return n;
}

/*
 * Are audit_log's columns and audit_rejects there?  Not while the library
 * is newer than the extension's objects (before ALTER EXTENSION UPDATE):
 * then nothing is written and nothing set aside; the records wait.
 */
static bool
schema_ready(void)
{
	Oid			nsp = get_namespace_oid("ai_gateway", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("audit_log", nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, "session_role") != InvalidAttrNumber &&
		get_attnum(rel, "sqlstate") != InvalidAttrNumber &&
		OidIsValid(get_relname_relid("audit_rejects", nsp));
}

int
aig_audit_drain(void)
{
	uint64		head;
	uint64		pos;
	uint64		done_pos;
	int			nrec = 0;
	int			written = 0;
	bool		transient = false;
	bool		escalate = transient_rounds >= TRANSIENT_TRIES;
	char	   *local = palloc(AIG_AUDIT_RECORD_MAX);
	AuditRow   *rows = palloc(sizeof(AuditRow) * BATCH_ROWS);
	MemoryContext batchcxt = AllocSetContextCreate(CurrentMemoryContext, "ai_gateway audit batch",
												   ALLOCSET_DEFAULT_SIZES);

	pending_set_aside = pending_lost = 0;
	pending_last[0] = '\0';
	LWLockAcquire(queue->lock, LW_SHARED);
	pending_tail = queue->tail;
	LWLockRelease(queue->lock);
	if (!schema_ready())
	{
		/* records wait in the queue for ALTER EXTENSION ai_gateway UPDATE */
		next_drain_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
		return 0;
	}
	/* a waiting lock or a slow trigger fails the statement, never holds the writer */
	(void) set_config_option("lock_timeout", "1000", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (SPI_execute("SET CONSTRAINTS ALL IMMEDIATE", false, 0) < 0)
		elog(ERROR, "could not set the audit writer's constraints immediate");

	LWLockAcquire(queue->lock, LW_SHARED);
	head = queue->head;
	pos = done_pos = queue->tail;
	LWLockRelease(queue->lock);

	while (pos < head && nrec < ROUND_RECORDS && !transient)
	{
		int			n = 0;
		Size		bytes = 0;
		int			handled;
		MemoryContext old = MemoryContextSwitchTo(batchcxt);

		while (pos < head && n < BATCH_ROWS && bytes < BATCH_BYTES && nrec < ROUND_RECORDS)
		{
			AigAuditHead h;

			aig_audit_ring_copy(pos, (char *) &h, sizeof(h), false);
			if (h.len < sizeof(h) || h.len > AIG_AUDIT_RECORD_MAX)
				elog(ERROR, "corrupt ai_gateway audit queue record of %u bytes", h.len);
			aig_audit_ring_copy(pos, local, h.len, false);
			pos += h.len;
			nrec++;
			if (h.dbid != MyDatabaseId)
			{
				pg_atomic_fetch_add_u64(&queue->dropped_other_db, 1);
				if (n == 0)
					done_pos = pos;
				else
					rows[n - 1].end = pos;
				continue;
			}
			decode(&rows[n], local);
			rows[n].end = pos;
			bytes += h.len;
			n++;
		}
		handled = write_rows(rows, n, escalate, &written, &transient);
		if (handled > 0)
			done_pos = rows[handled - 1].end;
		else if (n == 0)
			done_pos = pos;
		MemoryContextSwitchTo(old);
		MemoryContextReset(batchcxt);
	}
	MemoryContextDelete(batchcxt);
	pfree(rows);
	pfree(local);
	pending_tail = done_pos;

	if (transient)
	{
		/* back off; after TRANSIENT_TRIES rounds on one record, escalate */
		if (stuck_at != done_pos)
			transient_rounds = 0;
		stuck_at = done_pos;
		transient_rounds++;
		next_drain_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													Min(100L << Min(transient_rounds, 10),
														BACKOFF_MAX_MS));
	}
	else
	{
		transient_rounds = 0;
		stuck_at = PG_UINT64_MAX;
		next_drain_at = 0;
	}
	return written;
}

/* After the drain's transaction committed: free the space it handled, publish its counts. */
void
aig_audit_commit(int written)
{
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (pending_tail > queue->tail && pending_tail <= queue->head)
		queue->tail = pending_tail;
	if (pending_set_aside > 0)
		strlcpy(queue->last_set_aside, pending_last, sizeof(queue->last_set_aside));
	LWLockRelease(queue->lock);
	pg_atomic_fetch_add_u64(&queue->written, written);
	pg_atomic_fetch_add_u64(&queue->set_aside, pending_set_aside);
	pg_atomic_fetch_add_u64(&queue->set_aside_lost, pending_lost);
	pending_set_aside = pending_lost = 0;
	failed_rounds = 0;
}

/*
 * A drain round failed outside its subtransactions (its commit, say): back
 * off, and after FAILED_ROUNDS_MAX in a row drop the record at the head of
 * the queue (counted as lost), so the next round starts past it.
 */
void
aig_audit_drain_failed(void)
{
	pending_set_aside = pending_lost = 0;
	failed_rounds++;
	next_drain_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												Min(100L << Min(failed_rounds, 10), BACKOFF_MAX_MS));
	if (failed_rounds < FAILED_ROUNDS_MAX)
		return;
	failed_rounds = 0;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (queue->head > queue->tail)
	{
		AigAuditHead h;

		aig_audit_ring_copy(queue->tail, (char *) &h, sizeof(h), false);
		if (h.len >= sizeof(h) && h.len <= queue->head - queue->tail)
			queue->tail += h.len;
		else
			queue->tail = queue->head;	/* corrupt: nothing after it can be read */
		strlcpy(queue->last_set_aside, "XX000: the audit writer failed 10 rounds in a row on this record",
				sizeof(queue->last_set_aside));
	}
	LWLockRelease(queue->lock);
	pg_atomic_fetch_add_u64(&queue->set_aside, 1);
	pg_atomic_fetch_add_u64(&queue->set_aside_lost, 1);
	ereport(WARNING,
			(errmsg("ai_gateway audit writer dropped a record it failed to write %d times",
					FAILED_ROUNDS_MAX)));
}

/* How long until the worker should drain again (0: now). */
long
aig_audit_backoff_ms(void)
{
	long		secs;
	int			usecs;

	if (next_drain_at == 0)
		return 0;
	TimestampDifference(GetCurrentTimestamp(), next_drain_at, &secs, &usecs);
	return secs * 1000 + usecs / 1000;
}
