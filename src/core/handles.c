/*
 * handles.c — the backend-local map from a reclaimable shared entry's
 * address to the generation it had when this backend was handed it (see
 * handles.h for why).
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "core/handles.h"

typedef struct HandleEntry
{
	const void *addr;			/* hash key */
	uint64		gen;
} HandleEntry;

static HTAB *handles = NULL;

static HTAB *
handle_map(void)
{
	if (handles == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(const void *);
		info.entrysize = sizeof(HandleEntry);
		info.hcxt = TopMemoryContext;
		handles = hash_create("ai_gateway shared handles", 256, &info,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	return handles;
}

void
aig_handle_remember(const void *addr, uint64 gen)
{
	HandleEntry *e;

	if (addr == NULL)
		return;
	e = hash_search(handle_map(), &addr, HASH_ENTER, NULL);
	e->gen = gen;
}

uint64
aig_handle_generation(const void *addr)
{
	HandleEntry *e;

	if (addr == NULL || handles == NULL)
		return 0;
	e = hash_search(handles, &addr, HASH_FIND, NULL);
	return e ? e->gen : 0;
}
