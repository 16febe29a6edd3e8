/*
 * compat.h — every version shim of ai_gateway lives here.
 *
 * PostgreSQL 14–18 and libcurl 7.74+ differ in a few APIs we use; code
 * elsewhere calls the names below and never tests PG_VERSION_NUM or
 * LIBCURL_VERSION_NUM itself.
 */
#ifndef AIG_COMPAT_H
#define AIG_COMPAT_H

#include "postgres.h"
#include <curl/curl.h>

#if PG_VERSION_NUM < 140000
#error "ai_gateway requires PostgreSQL 14 or later"
#endif

/* PG15 added shmem_request_hook; before that, request space from _PG_init. */
#if PG_VERSION_NUM >= 150000
#define AIG_HAVE_SHMEM_REQUEST_HOOK 1
#endif

/* PG15 added MarkGUCPrefixReserved (EmitWarningsOnPlaceholders before). */
#if PG_VERSION_NUM >= 150000
#define AigMarkGUCPrefixReserved(p) MarkGUCPrefixReserved(p)
#else
#define AigMarkGUCPrefixReserved(p) EmitWarningsOnPlaceholders(p)
#endif

/* PG16 moved the varlena helpers for jsonb out of utils/jsonb.h' includes */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/* PG16 gave stringToQualifiedNameList a soft-error context argument. */
#include "utils/regproc.h"
#if PG_VERSION_NUM >= 160000
#define aig_qualified_name_list(s) stringToQualifiedNameList((s), NULL)
#else
#define aig_qualified_name_list(s) stringToQualifiedNameList(s)
#endif

/* PG16 renamed pg_proc_aclcheck to object_aclcheck. */
#include "utils/acl.h"
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_proc.h"
#define aig_proc_aclcheck(fn, role, mode) object_aclcheck(ProcedureRelationId, (fn), (role), (mode))
#else
#define aig_proc_aclcheck(fn, role, mode) pg_proc_aclcheck((fn), (role), (mode))
#endif

/* PG16 renamed pg_database_ownercheck to object_ownercheck. */
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_database.h"
#define aig_database_ownercheck(db, role) object_ownercheck(DatabaseRelationId, (db), (role))
#else
#define aig_database_ownercheck(db, role) pg_database_ownercheck((db), (role))
#endif

/* PG18 made the binary side of pg_b64_encode/pg_b64_decode uint8 *. */
#include "common/base64.h"
#if PG_VERSION_NUM >= 180000
#define aig_b64_encode(src, len, dst, dstlen) \
	pg_b64_encode((const uint8 *) (src), (len), (dst), (dstlen))
#define aig_b64_decode(src, len, dst, dstlen) \
	pg_b64_decode((src), (len), (uint8 *) (dst), (dstlen))
#else
#define aig_b64_encode(src, len, dst, dstlen) \
	pg_b64_encode((const char *) (src), (len), (dst), (dstlen))
#define aig_b64_decode(src, len, dst, dstlen) \
	pg_b64_decode((src), (len), (char *) (dst), (dstlen))
#endif

/* PG15 added pg_prng; before it, random() is what the backend has. */
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#define aig_random_double() pg_prng_double(&pg_global_prng_state)
#else
#define aig_random_double() ((double) random() / ((double) MAX_RANDOM_VALUE + 1))
#endif

/* PG15 added InitMaterializedSRF; PG14 needs the long hand. */
#if PG_VERSION_NUM < 150000
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/tuplestore.h"
static inline void
InitMaterializedSRF(FunctionCallInfo fcinfo, int flags)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	TupleDesc	tupdesc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->setDesc = CreateTupleDescCopy(tupdesc);
	MemoryContextSwitchTo(old);
}
#endif

/*
 * The wait event a backend reports while waiting for a provider.  PG17
 * added custom wait events (WaitEventExtensionNew): there it is named
 * AiGatewayProvider; on 15 and 16 it is the generic 'Extension'.
 */
#include "storage/latch.h"
#include "utils/wait_event.h"
#if PG_VERSION_NUM >= 170000
static inline uint32
aig_provider_wait_event(void)
{
	static uint32 ev = 0;

	if (ev == 0)
		ev = WaitEventExtensionNew("AiGatewayProvider");
	return ev;
}
#else
#define aig_provider_wait_event() ((uint32) PG_WAIT_EXTENSION)
#endif

/*
 * PG17 made CreateWaitEventSet take a resource owner instead of a memory
 * context; callers free the set themselves on every path (PG_FINALLY).
 */
#if PG_VERSION_NUM >= 170000
#define aig_create_wait_event_set(n) CreateWaitEventSet(NULL, (n))
#else
#define aig_create_wait_event_set(n) CreateWaitEventSet(CurrentMemoryContext, (n))
#endif

/*
 * A backend's slot among PostgreSQL's processes (0 .. MaxBackends-1 for
 * backends and background workers): MyProcNumber since PG17.
 */
#include "storage/proc.h"
#if PG_VERSION_NUM >= 170000
#define aig_my_proc_number() ((int) MyProcNumber)
#else
#define aig_my_proc_number() (MyProc ? MyProc->pgprocno : -1)
#endif

/*
 * libcurl 7.85 deprecated CURLOPT_PROTOCOLS in favour of the _STR form.
 */
#if LIBCURL_VERSION_NUM >= 0x075500
#define AIG_CURL_SET_PROTOCOLS(h) \
	do { \
		curl_easy_setopt((h), CURLOPT_PROTOCOLS_STR, "http,https"); \
		curl_easy_setopt((h), CURLOPT_REDIR_PROTOCOLS_STR, "http,https"); \
	} while (0)
#else
#define AIG_CURL_SET_PROTOCOLS(h) \
	do { \
		curl_easy_setopt((h), CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS); \
		curl_easy_setopt((h), CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS); \
	} while (0)
#endif


/* PG17 gave makeJsonLexContextCstringLen a caller-supplied context first. */
#include "common/jsonapi.h"
#if PG_VERSION_NUM >= 170000
#define aig_json_lex_new(s, len, enc) \
	makeJsonLexContextCstringLen(NULL, (s), (len), (enc), false)
#else
#define aig_json_lex_new(s, len, enc) \
	makeJsonLexContextCstringLen((s), (len), (enc), false)
#endif

/*
 * PG17 gave makeJsonLexContextCstringLen a caller-supplied struct (NULL: one
 * is palloc'd) and a size_t length (the caller includes common/jsonapi.h).
 */
#if PG_VERSION_NUM >= 170000
#define aig_json_lex_cstring(s, len, enc) \
	makeJsonLexContextCstringLen(NULL, (s), (len), (enc), true)
#else
#define aig_json_lex_cstring(s, len, enc) \
	makeJsonLexContextCstringLen((s), (int) (len), (enc), true)
#endif

/*
 * PG18 replaced the pg_attribute_noreturn() attribute with a pg_noreturn
 * specifier: aig_noreturn goes first in a declaration ("aig_noreturn static
 * void f(...)"), where both are accepted.
 */
#ifdef pg_attribute_noreturn
#define aig_noreturn pg_attribute_noreturn()
#else
#define aig_noreturn pg_noreturn
#endif

#endif							/* AIG_COMPAT_H */
