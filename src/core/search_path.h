/*
 * search_path.h — pin search_path around the extension's own queries.
 *
 * The C code runs fixed SQL through SPI, often as the owner of the
 * extension's tables (catalog load, job queue) or as the bootstrap superuser
 * (background workers).  Unqualified names in that SQL — types, operators,
 * functions, casts — would otherwise resolve through the caller's
 * search_path, where a caller's schema or pg_temp could shadow them and run
 * the caller's code with the owner's rights.
 */
#ifndef AIG_SEARCH_PATH_H
#define AIG_SEARCH_PATH_H

#include "postgres.h"

/* Set search_path to "pg_catalog, pg_temp" at a new GUC nest level; returns the level. */
extern int	aig_pin_search_path(void);

/* Restore what aig_pin_search_path() replaced (also done by (sub)transaction abort). */
extern void aig_restore_search_path(int nestlevel);

/*
 * Run the extension's own queries as `owner` (a table owner) with the
 * search_path pinned, until aig_as_owner_end() — call it in PG_FINALLY, or
 * let the (sub)transaction's abort restore both.
 */
typedef struct AigAsOwner
{
	Oid			save_user;
	int			save_sec;
	int			level;
} AigAsOwner;

extern void aig_as_owner_begin(Oid owner, AigAsOwner *s);
extern void aig_as_owner_end(const AigAsOwner *s);

#endif
