/*
 * progress.h — what each backend is doing with providers right now, in
 * shared memory, for the ai_gateway.progress view (api/progress_api.c).
 */
#ifndef AIG_PROGRESS_H
#define AIG_PROGRESS_H

#include "postgres.h"

#include "datatype/timestamp.h"

#define AIG_PROGRESS_NAMELEN 64

/* A copy of one backend's entry, for the view. */
typedef struct AigProgressSnapshot
{
	int			pid;
	Oid			dbid;
	Oid			userid;
	char		kind[16];		/* "call", "batch", "embed", "jobs" */
	TimestampTz started;
	int64		total;
	int64		done;
	int64		failed;
	int			inflight;
	char		provider[AIG_PROGRESS_NAMELEN];	/* last one sent to; "" if none */
} AigProgressSnapshot;

/* Shared memory: size and creation (init/shmem.c calls them). */
extern Size aig_progress_shmem_size(void);
extern void aig_progress_shmem_startup(void);

/*
 * Begin reporting work of `kind` with `total` items (0: open-ended).  An
 * inner begin while an outer one runs is ignored (the outer one stays).
 */
extern void aig_progress_begin(const char *kind, int64 total);
/* One more item to do (open-ended work: the job worker). */
extern void aig_progress_add_total(int64 n);
/* An item finished (failed or not). */
extern void aig_progress_item_done(bool failed);
/* Transfers in flight now. */
extern void aig_progress_inflight(int n);
/* The provider the backend is sending to now. */
extern void aig_progress_provider(const char *name);
/* End what the matching begin started (errors end it on abort). */
extern void aig_progress_end(void);

/* Every entry in use, copied; returns the count. */
extern int	aig_progress_snapshot(AigProgressSnapshot **out);

#endif							/* AIG_PROGRESS_H */
