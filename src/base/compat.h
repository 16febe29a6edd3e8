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

/* curl_multi_poll arrived in 7.66; older versions only have curl_multi_wait. */
#if LIBCURL_VERSION_NUM >= 0x074200
#define aig_curl_multi_poll curl_multi_poll
#else
#define aig_curl_multi_poll curl_multi_wait
#endif

#endif							/* AIG_COMPAT_H */
