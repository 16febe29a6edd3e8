/*
 * search_path.c — pin search_path around the extension's own queries (see
 * search_path.h): the same safe path PostgreSQL gives maintenance commands,
 * pg_catalog first and pg_temp last, so neither a caller's schema nor its
 * temporary types and relations can stand in for the built-in ones.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "core/search_path.h"

#define AIG_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

int
aig_pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", AIG_SAFE_SEARCH_PATH, PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

void
aig_restore_search_path(int nestlevel)
{
	AtEOXact_GUC(false, nestlevel);
}

void
aig_as_owner_begin(Oid owner, AigAsOwner *s)
{
	GetUserIdAndSecContext(&s->save_user, &s->save_sec);
	SetUserIdAndSecContext(owner, s->save_sec | SECURITY_LOCAL_USERID_CHANGE);
	s->level = aig_pin_search_path();
}

void
aig_as_owner_end(const AigAsOwner *s)
{
	aig_restore_search_path(s->level);
	SetUserIdAndSecContext(s->save_user, s->save_sec);
}
