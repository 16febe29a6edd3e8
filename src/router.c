/*
 * router.c — from a model string to an answer.
 *
 * Resolves the model string (route name, provider/model, default route),
 * then tries the route's non-shadow targets in priority order, moving on
 * when one fails.  Each attempt asks the target's dialect to build the
 * request, sends it with http.c, and has the dialect parse the body or
 * classify the error.  When every target failed, the last failure is raised
 * with its SQLSTATE, and errdetail lists every attempt.  Messages name the
 * route, provider and model, and are scrubbed of the provider's key.
 *
 * Strategies other than priority order, retries with backoff and circuit
 * breakers are the routing issue's; they plug in at order_targets() and
 * around attempt_*().
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/errcodes.h"
#include "utils/memutils.h"

#include "ai_gateway.h"
#include "catalog.h"
#include "http.h"
#include "router.h"
#include "secrets.h"
#include "shmem.h"

/* One failed attempt. */
typedef struct AigAttemptError
{
	int			sqlerrcode;
	char	   *message;		/* scrubbed of the key */
	long		http_status;
} AigAttemptError;

AigRoute *
aig_resolve_model(const char *model)
{
	AigRoute   *route;
	const char *slash;

	if (model == NULL || model[0] == '\0')
	{
		if (aig_default_route == NULL || aig_default_route[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("no model given and ai_gateway.default_route is not set"),
					 errhint("Pass a route name or \"provider/model\", or SET ai_gateway.default_route.")));
		model = aig_default_route;
	}

	route = aig_catalog_route(model);
	if (route != NULL)
	{
		if (route->ntargets == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route \"%s\" has no targets", model),
					 errhint("Add rows for it to ai_gateway.route_targets.")));
		return route;
	}

	slash = strchr(model, '/');
	if (slash != NULL && slash != model && slash[1] != '\0')
	{
		char	   *pname = pnstrdup(model, slash - model);
		AigProvider *p = aig_catalog_provider(pname);

		if (p == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("provider \"%s\" does not exist", pname),
					 errhint("Model strings are a route name or \"provider/model\" with a provider from ai_gateway.providers.")));
		route = palloc0(sizeof(AigRoute));
		route->name = NULL;
		route->strategy = "fallback";
		route->timeout_ms = -1;
		route->ntargets = route->target_cap = 1;
		route->targets = palloc0(sizeof(AigTarget));
		route->targets[0].provider = p;
		route->targets[0].model = pstrdup(slash + 1);
		route->targets[0].weight = 1;
		return route;
	}

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("route \"%s\" does not exist", model),
			 errhint("Create it in ai_gateway.routes, or address a provider directly as \"provider/model\".")));
	return NULL;				/* keep compiler quiet */
}

static AigHttpLimits
call_limits(const AigRoute *route, const AigProvider *p, const AigCallOptions *co)
{
	AigHttpLimits lim;

	lim.timeout_ms = co->timeout_ms > 0 ? co->timeout_ms :
		route->timeout_ms > 0 ? route->timeout_ms :
		p->timeout_ms > 0 ? p->timeout_ms : aig_timeout_ms;
	lim.connect_timeout_ms = co->connect_timeout_ms > 0 ? co->connect_timeout_ms :
		p->connect_timeout_ms > 0 ? p->connect_timeout_ms : aig_connect_timeout_ms;
	lim.connect_timeout_ms = Min(lim.connect_timeout_ms, lim.timeout_ms);
	lim.max_bytes = (size_t) aig_max_response_bytes;
	return lim;
}

static void
fail(AigAttemptError *err, int code, long http_status, const AigProvider *p, char *msg)
{
	err->sqlerrcode = code;
	err->http_status = http_status;
	err->message = aig_secret_scrub(msg, p->api_key);
}

/* Checks that apply before any request is sent to a target. */
static bool
target_usable(const AigTarget *t, AigAttemptError *err, bool embeddings)
{
	const AigProvider *p = t->provider;

	if (!p->enabled)
	{
		fail(err, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, 0, p,
			 pstrdup("provider is disabled"));
		return false;
	}
	if (p->key_problem)
	{
		fail(err, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, 0, p,
			 pstrdup(p->key_problem));
		return false;
	}
	if (embeddings && p->dialect->build_embed == NULL)
	{
		fail(err, ERRCODE_FEATURE_NOT_SUPPORTED, 0, p,
			 psprintf("%s providers have no embeddings API", p->kind));
		return false;
	}
	return true;
}

/* An HTTP exchange ended: was it a success we can parse? */
static bool
exchange_ok(const AigProvider *p, AigHttpResponse *resp, AigAttemptError *err)
{
	if (resp->failed)
	{
		fail(err, resp->sqlerrcode, resp->status, p, resp->error);
		return false;
	}
	if (resp->status < 200 || resp->status > 299)
	{
		AigUpstreamError ue;

		p->dialect->parse_error(resp->status, resp->body, resp->body_len, &ue);
		fail(err, ue.sqlerrcode, resp->status, p,
			 psprintf("HTTP %ld: %s", resp->status,
					  ue.message ? ue.message : "no error message"));
		return false;
	}
	return true;
}

/* Provider text is UTF-8; make it valid text of the server encoding. */
static char *
provider_text(const char *s, const AigProvider *p, AigAttemptError *err)
{
	int			len = strlen(s);

	if (!pg_verify_mbstr(PG_UTF8, s, len, true))
	{
		fail(err, ERRCODE_PROTOCOL_VIOLATION, 200, p,
			 pstrdup("invalid response: content is not valid UTF-8"));
		return NULL;
	}
	return pg_any_to_server(s, len, PG_UTF8);
}

static bool
attempt_chat(const AigRoute *route, AigTarget *t, AigChatRequest *req,
			 const AigCallOptions *co, AigChatResult *res, AigAttemptError *err)
{
	AigProvider *p = t->provider;
	AigHttpRequest hreq;
	AigHttpResponse resp;
	AigHttpLimits lim;
	char	   *why = NULL;

	if (!target_usable(t, err, false))
		return false;
	req->model = t->model;
	aig_http_request_init(&hreq);
	p->dialect->build_chat(p, req, &hreq);
	lim = call_limits(route, p, co);
	aig_http_perform(&hreq, &lim, &resp);
	if (!exchange_ok(p, &resp, err))
		return false;
	memset(res, 0, sizeof(*res));
	if (!p->dialect->parse_chat(resp.body, resp.body_len, res, &why))
	{
		fail(err, ERRCODE_PROTOCOL_VIOLATION, resp.status, p,
			 psprintf("invalid response: %s", why ? why : "unreadable body"));
		return false;
	}
	res->content = provider_text(res->content, p, err);
	if (res->content == NULL)
		return false;
	if (res->finish_reason)
		res->finish_reason = provider_text(res->finish_reason, p, err);
	if (res->model)
		res->model = provider_text(res->model, p, err);
	return true;
}

static int
embed_batch_size(const AigProvider *p)
{
	int			n = p->dialect->max_embed_batch;

	if (p->max_embed_batch > 0)
		n = Min(n, p->max_embed_batch);
	return Max(n, 1);
}

/* All inputs through one target (chunked), or nothing: vectors never mix. */
static bool
attempt_embed(const AigRoute *route, AigTarget *t, AigEmbedRequest *req,
			  const AigCallOptions *co, AigEmbedResult *res, AigAttemptError *err,
			  int *requests)
{
	AigProvider *p = t->provider;
	AigHttpLimits lim;
	int			chunk = embed_batch_size(p);

	if (!target_usable(t, err, true))
		return false;
	lim = call_limits(route, p, co);
	memset(res, 0, sizeof(*res));
	res->count = req->ninputs;
	res->vectors = palloc0(sizeof(float4 *) * Max(req->ninputs, 1));
	res->ndims = palloc0(sizeof(int) * Max(req->ninputs, 1));
	res->input_tokens = 0;

	for (int off = 0; off < req->ninputs; off += chunk)
	{
		AigEmbedRequest part = *req;
		AigEmbedResult pres;
		AigHttpRequest hreq;
		AigHttpResponse resp;
		char	   *why = NULL;

		CHECK_FOR_INTERRUPTS();
		part.model = t->model;
		part.inputs = req->inputs + off;
		part.ninputs = Min(chunk, req->ninputs - off);
		aig_http_request_init(&hreq);
		p->dialect->build_embed(p, &part, &hreq);
		(*requests)++;
		aig_http_perform(&hreq, &lim, &resp);
		if (!exchange_ok(p, &resp, err))
			return false;
		memset(&pres, 0, sizeof(pres));
		if (!p->dialect->parse_embed(resp.body, resp.body_len, &pres, &why))
		{
			fail(err, ERRCODE_PROTOCOL_VIOLATION, resp.status, p,
				 psprintf("invalid response: %s", why ? why : "unreadable body"));
			return false;
		}
		if (pres.count != part.ninputs)
		{
			fail(err, ERRCODE_PROTOCOL_VIOLATION, resp.status, p,
				 psprintf("invalid response: %d embeddings for %d inputs",
						  pres.count, part.ninputs));
			return false;
		}
		for (int i = 0; i < pres.count; i++)
		{
			res->vectors[off + i] = pres.vectors[i];
			res->ndims[off + i] = pres.ndims[i];
		}
		if (pres.input_tokens >= 0 && res->input_tokens >= 0)
			res->input_tokens += pres.input_tokens;
		else
			res->input_tokens = -1;
	}
	return true;
}

static const char *
hint_for(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION:
			return "Check the provider's api_key in ai_gateway.providers (or options.api_key_env).";
		case ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION:
			return "Check the provider's base_url and that the database server can reach it.";
		case ERRCODE_CONNECTION_FAILURE:
			return "The provider did not answer in time or dropped the connection; options.timeout_ms or ai_gateway.timeout_ms set the limit.";
		case ERRCODE_UNDEFINED_OBJECT:
			return "Check the model name of this target; the provider does not know it.";
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
			return "Shorten the request, or raise ai_gateway.max_response_bytes if such responses are expected.";
		case ERRCODE_INSUFFICIENT_RESOURCES:
			return "The provider is rate limiting or out of capacity; retry later or add a fallback target.";
		case ERRCODE_PROTOCOL_VIOLATION:
			return "The provider's answer was not in the format its API documents.";
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
			return "Enable the provider (ai_gateway.providers.enabled) or route to another one.";
		default:
			return NULL;
	}
}

static char *
target_label(const AigRoute *route, const AigTarget *t)
{
	if (route->name)
		return psprintf("route \"%s\", provider \"%s\", model \"%s\"",
						route->name, t->provider->name, t->model);
	return psprintf("provider \"%s\", model \"%s\"", t->provider->name, t->model);
}

static void
raise_failure(const AigRoute *route, AigTarget *last, AigAttemptError *lasterr,
			  StringInfo detail, int attempts)
{
	const char *hint = hint_for(lasterr->sqlerrcode);

	pg_atomic_fetch_add_u64(&aig_shared->errors, 1);
	ereport(ERROR,
			(errcode(lasterr->sqlerrcode),
			 errmsg("%s: %s", target_label(route, last), lasterr->message),
			 attempts > 1 ? errdetail("%d attempts failed: %s", attempts, detail->data) : 0,
			 hint ? errhint("%s", hint) : 0));
}

static void
note_failure(StringInfo detail, int n, const AigTarget *t, const AigAttemptError *err)
{
	appendStringInfo(detail, "%s%d) %s/%s: %s", n > 1 ? "; " : "", n,
					 t->provider->name, t->model, err->message);
}

static void
finish_info(AigCallInfo *info, AigRoute *route, AigTarget *t, int attempts,
			instr_time start, int64 in_tok, int64 out_tok)
{
	instr_time	d;
	const AigModelPrice *price;

	INSTR_TIME_SET_CURRENT(d);
	INSTR_TIME_SUBTRACT(d, start);
	info->route = route;
	info->target = t;
	info->attempts = attempts;
	info->latency_ms = INSTR_TIME_GET_MILLISEC(d);
	info->has_cost = false;
	price = aig_catalog_price(t->provider->name, t->model);
	if (price && price->has_input_price && in_tok >= 0 &&
		(out_tok == 0 || (price->has_output_price && out_tok > 0)))
	{
		info->has_cost = true;
		info->cost_usd = in_tok * price->input_usd_per_mtok / 1e6 +
			(out_tok > 0 ? out_tok * price->output_usd_per_mtok / 1e6 : 0);
	}
}

void
aig_route_chat(AigRoute *route, AigChatRequest *req, const AigCallOptions *co,
			   AigChatResult *result, AigCallInfo *info)
{
	AigAttemptError err = {0};
	AigTarget  *last = NULL;
	StringInfoData detail;
	int			attempts = 0;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	initStringInfo(&detail);
	for (int i = 0; i < route->ntargets; i++)
	{
		AigTarget  *t = &route->targets[i];

		if (t->shadow)
			continue;
		CHECK_FOR_INTERRUPTS();
		attempts++;
		last = t;
		pg_atomic_fetch_add_u64(&aig_shared->calls, 1);
		if (attempt_chat(route, t, req, co, result, &err))
		{
			finish_info(info, route, t, attempts, start,
						result->input_tokens, result->output_tokens);
			return;
		}
		note_failure(&detail, attempts, t, &err);
	}
	if (last == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route \"%s\" has only shadow targets", route->name),
				 errhint("Give the route at least one target with shadow = false.")));
	raise_failure(route, last, &err, &detail, attempts);
}

void
aig_route_embed(AigRoute *route, AigEmbedRequest *req, const AigCallOptions *co,
				AigEmbedResult *result, AigCallInfo *info)
{
	AigAttemptError err = {0};
	AigTarget  *last = NULL;
	StringInfoData detail;
	int			attempts = 0;
	int			requests = 0;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	initStringInfo(&detail);
	for (int i = 0; i < route->ntargets; i++)
	{
		AigTarget  *t = &route->targets[i];

		if (t->shadow)
			continue;
		CHECK_FOR_INTERRUPTS();
		attempts++;
		last = t;
		pg_atomic_fetch_add_u64(&aig_shared->calls, 1);
		if (attempt_embed(route, t, req, co, result, &err, &requests))
		{
			finish_info(info, route, t, attempts, start, result->input_tokens, 0);
			return;
		}
		note_failure(&detail, attempts, t, &err);
	}
	if (last == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route \"%s\" has only shadow targets", route->name)));
	raise_failure(route, last, &err, &detail, attempts);
}
