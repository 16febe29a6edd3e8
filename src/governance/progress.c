/*
 * progress.c — one entry per backend in shared memory saying what it is
 * doing with providers now: the kind of work (a call, a batch, chunked
 * embeddings, the job worker's jobs), when it began, items total / done /
 * failed, transfers in flight and the provider last sent to.  The
 * ai_gateway.progress view (api/progress_api.c) reads them, so a DBA sees
 * how far a long batch is from another session.
 *
 * Shared memory: MaxBackends entries, indexed by the backend's process
 * number (base/compat.h: aig_my_proc_number), so a backend only ever
 * writes its own entry and needs no lock: it bumps the entry's change
 * count before and after each write (odd while writing), and a reader
 * copies the entry again until it sees the same even count on both sides
 * (the protocol of PostgreSQL's own backend status array).
 *
 * An entry is in use while pid != 0.  begin/end pair on every path the
 * callers take (their PG_FINALLY / PG_CATCH); a transaction or
 * subtransaction abort and the backend's exit clear the entry as well, so
 * a stale one never outlives the statement that made it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "base/compat.h"
#include "core/preload.h"
#include "governance/progress.h"

typedef struct ProgressEntry
{
	uint32		changecount;	/* odd while the owner writes */
	AigProgressSnapshot s;
} ProgressEntry;

static ProgressEntry *entries = NULL;
static int	nentries = 0;

/* this backend's entry, its nesting depth and the (sub)transaction level of its begin */
static ProgressEntry *mine = NULL;
static int	depth = 0;
static int	begin_level = 0;

#define WRITE_BEGIN(e) \
	do { (e)->changecount++; pg_write_barrier(); } while (0)
#define WRITE_END(e) \
	do { pg_write_barrier(); (e)->changecount++; } while (0)

Size
aig_progress_shmem_size(void)
{
	return mul_size(MaxBackends, sizeof(ProgressEntry));
}

/* Create or attach the array (under AddinShmemInitLock, from init/shmem.c). */
void
aig_progress_shmem_startup(void)
{
	bool		found;

	nentries = MaxBackends;
	entries = ShmemInitStruct("ai_gateway progress", aig_progress_shmem_size(), &found);
	if (!found)
		memset(entries, 0, aig_progress_shmem_size());
}

/* Clear this backend's entry (end of work, abort, exit). */
static void
clear_mine(void)
{
	if (mine == NULL)
		return;
	WRITE_BEGIN(mine);
	mine->s.pid = 0;
	WRITE_END(mine);
	depth = 0;
}

static void
progress_exit(int code, Datum arg)
{
	clear_mine();
	mine = NULL;
}

/* An abort ends whatever the aborted (sub)transaction began. */
static void
progress_xact_cb(XactEvent event, void *arg)
{
	if (depth > 0 && (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT))
		clear_mine();
}

static void
progress_subxact_cb(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (depth > 0 && event == SUBXACT_EVENT_ABORT_SUB &&
		begin_level >= GetCurrentTransactionNestLevel())
		clear_mine();
}

/* This backend's entry, NULL when there is none (not preloaded, no slot). */
static ProgressEntry *
my_entry(void)
{
	static bool registered = false;
	int			i;

	if (mine != NULL)
		return mine;
	if (!aig_shmem_ready || entries == NULL)
		return NULL;
	i = aig_my_proc_number();
	if (i < 0 || i >= nentries)
		return NULL;
	if (!registered)
	{
		before_shmem_exit(progress_exit, 0);
		RegisterXactCallback(progress_xact_cb, NULL);
		RegisterSubXactCallback(progress_subxact_cb, NULL);
		registered = true;
	}
	mine = &entries[i];
	return mine;
}

void
aig_progress_begin(const char *kind, int64 total)
{
	ProgressEntry *e;

	if (depth++ > 0 || (e = my_entry()) == NULL)
		return;
	begin_level = GetCurrentTransactionNestLevel();
	WRITE_BEGIN(e);
	e->s.pid = MyProcPid;
	e->s.dbid = MyDatabaseId;
	e->s.userid = GetUserId();
	strlcpy(e->s.kind, kind, sizeof(e->s.kind));
	e->s.started = GetCurrentTimestamp();
	e->s.total = total;
	e->s.done = 0;
	e->s.failed = 0;
	e->s.inflight = 0;
	e->s.provider[0] = '\0';
	WRITE_END(e);
}

void
aig_progress_add_total(int64 n)
{
	if (depth != 1 || mine == NULL || mine->s.pid == 0)
		return;
	WRITE_BEGIN(mine);
	mine->s.total += n;
	WRITE_END(mine);
}

void
aig_progress_item_done(bool failed)
{
	if (depth != 1 || mine == NULL || mine->s.pid == 0)
		return;
	WRITE_BEGIN(mine);
	mine->s.done++;
	if (failed)
		mine->s.failed++;
	WRITE_END(mine);
}

void
aig_progress_inflight(int n)
{
	if (depth != 1 || mine == NULL || mine->s.pid == 0 || mine->s.inflight == n)
		return;
	WRITE_BEGIN(mine);
	mine->s.inflight = n;
	WRITE_END(mine);
}

void
aig_progress_provider(const char *name)
{
	if (depth != 1 || mine == NULL || mine->s.pid == 0 || name == NULL ||
		strncmp(mine->s.provider, name, sizeof(mine->s.provider) - 1) == 0)
		return;
	WRITE_BEGIN(mine);
	strlcpy(mine->s.provider, name, sizeof(mine->s.provider));
	WRITE_END(mine);
}

void
aig_progress_end(void)
{
	if (depth == 0)
		return;
	if (--depth == 0)
		clear_mine();
}

/* Every entry in use, each copied consistently (retrying a torn read). */
int
aig_progress_snapshot(AigProgressSnapshot **out)
{
	int			n = 0;

	*out = palloc(sizeof(AigProgressSnapshot) * Max(nentries, 1));
	if (entries == NULL)
		return 0;
	for (int i = 0; i < nentries; i++)
	{
		volatile ProgressEntry *e = &entries[i];

		for (int tries = 0; tries < 1000; tries++)
		{
			uint32		before = e->changecount;
			uint32		after;

			pg_read_barrier();
			memcpy(&(*out)[n], (const void *) &e->s, sizeof(AigProgressSnapshot));
			pg_read_barrier();
			after = e->changecount;
			if (before == after && (before & 1) == 0)
			{
				if ((*out)[n].pid != 0)
					n++;
				break;
			}
			CHECK_FOR_INTERRUPTS();
		}
	}
	return n;
}
