/*
 * test/presets_test.c — unit test of the provider presets
 * (src/providers/presets.c, included here to reach its static quirk
 * functions): the body rewrite of each quirk (Mistral's random_seed and
 * tool_choice "any", Groq's messages without "name"), DeepSeek's
 * json_schema -> json_object request, each preset's URL and auth header,
 * and the reading of Mistral's 422 error bodies.  No server: built and run
 * by test/presets_test.sh with the other dialects, the JSON helpers, json-c
 * and the palloc stand-in test/fuzz/fuzz_support.c (an ereport aborts).
 * Prints one line per failed check; exit status 1 when any failed.
 */
#include "providers/presets.c"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz_support.h"

static int	failures = 0;
static int	checks = 0;

#define CHECK(cond, ...) \
	do { \
		checks++; \
		if (!(cond)) \
		{ \
			failures++; \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} while (0)

static AigHttpRequest
body_of(const char *json)
{
	AigHttpRequest r;

	memset(&r, 0, sizeof(r));
	r.body = pstrdup(json);
	r.body_len = strlen(json);
	return r;
}

static bool
has(const AigHttpRequest *r, const char *s)
{
	return strstr(r->body, s) != NULL;
}

static void
test_rewrite(void)
{
	AigHttpRequest r;

	r = body_of("{\"model\": \"m\", \"seed\": 3, \"tool_choice\": \"required\", \"temperature\": 0.25}");
	quirk_rewrite(&r, PQ_RANDOM_SEED | PQ_TOOL_CHOICE_ANY);
	CHECK(has(&r, "\"random_seed\":3") && !has(&r, "\"seed\""), "seed renamed: %s", r.body);
	CHECK(has(&r, "\"tool_choice\":\"any\""), "required -> any: %s", r.body);
	CHECK(has(&r, "\"temperature\":0.25") && has(&r, "\"model\":\"m\""), "others kept: %s", r.body);
	CHECK(r.body_len == strlen(r.body), "body_len");

	r = body_of("{\"tool_choice\": \"auto\"}");
	quirk_rewrite(&r, PQ_TOOL_CHOICE_ANY);
	CHECK(has(&r, "\"tool_choice\":\"auto\""), "auto kept: %s", r.body);
	r = body_of("{\"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"required\"}}}");
	quirk_rewrite(&r, PQ_TOOL_CHOICE_ANY);
	CHECK(has(&r, "\"name\": \"required\"") && !has(&r, "\"any\""), "named kept: %s", r.body);

	/* a flag not asked for changes nothing */
	r = body_of("{\"seed\": 3}");
	quirk_rewrite(&r, PQ_TOOL_CHOICE_ANY);
	CHECK(has(&r, "\"seed\":3"), "seed kept without the flag: %s", r.body);

	r = body_of("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\", \"name\": \"bob\"}, "
				"{\"role\": \"tool\", \"tool_call_id\": \"c1\", \"name\": \"f\", \"content\": \"x\"}, 7], "
				"\"name\": \"top\"}");
	quirk_rewrite(&r, PQ_NO_MESSAGE_NAME);
	CHECK(!has(&r, "\"bob\"") && !has(&r, "\"name\": \"f\""), "names left out: %s", r.body);
	CHECK(has(&r, "\"tool_call_id\":\"c1\"") && has(&r, ",7]"), "rest kept: %s", r.body);
	CHECK(has(&r, "\"name\":\"top\""), "only messages[].name: %s", r.body);

	/* Mistral's tool call ids: 9 letters or digits, the same for a call and its result */
	r = body_of("{\"messages\": [{\"role\": \"assistant\", \"content\": null, \"tool_calls\": "
				"[{\"id\": \"call_1\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}, "
				"{\"id\": \"aB3xK9mP2\", \"type\": \"function\", \"function\": {\"name\": \"g\", \"arguments\": \"{}\"}}]}, "
				"{\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"name\": \"f\", \"content\": \"1\"}, "
				"{\"role\": \"tool\", \"tool_call_id\": \"aB3xK9mP2\", \"content\": \"2\"}]}");
	quirk_rewrite(&r, PQ_TOOL_CALL_ID9);
	{
		char	   *err = NULL;
		AigJsonDoc *doc = aig_json_parse(r.body, r.body_len, &err);
		const AigJson *msgs = doc ? aig_jget(doc->root, "messages") : NULL;
		char	   *id1 = aig_jstr(aig_jelem(aig_jget(aig_jelem(msgs, 0), "tool_calls"), 0), "id");
		char	   *id2 = aig_jstr(aig_jelem(aig_jget(aig_jelem(msgs, 0), "tool_calls"), 1), "id");
		char	   *res1 = aig_jstr(aig_jelem(msgs, 1), "tool_call_id");
		char	   *res2 = aig_jstr(aig_jelem(msgs, 2), "tool_call_id");

		CHECK(id1 && strlen(id1) == 9 && strspn(id1, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 9,
			  "id mapped to 9 alphanumerics: %s", r.body);
		CHECK(id1 && res1 && strcmp(id1, res1) == 0, "call and result match: %s", r.body);
		CHECK(id2 && strcmp(id2, "aB3xK9mP2") == 0 && res2 && strcmp(res2, "aB3xK9mP2") == 0,
			  "a valid id kept: %s", r.body);
		CHECK(has(&r, "\"name\":\"f\"") || has(&r, "\"name\": \"f\""), "names kept without the flag: %s", r.body);
		aig_json_free(doc);
	}
}

static AigProvider
provider(const AigDialect *d, const char *base)
{
	AigProvider p;

	memset(&p, 0, sizeof(p));
	p.name = "p";
	p.kind = (char *) d->kind;
	p.dialect = d;
	p.base_url = (char *) base;
	p.api_key = "sk-unit-0123";
	p.caps = d->caps;
	return p;
}

static bool
has_header(const AigHttpRequest *r, const char *line)
{
	for (int i = 0; i < r->nheaders; i++)
		if (strcmp(r->headers[i], line) == 0)
			return true;
	return false;
}

static void
test_build(void)
{
	AigChatMessage msgs[2];
	AigChatRequest req;
	AigProvider p;
	AigHttpRequest out;

	memset(msgs, 0, sizeof(msgs));
	msgs[0].role = "system";
	msgs[0].content = "be brief";
	msgs[1].role = "user";
	msgs[1].content = "hi";
	memset(&req, 0, sizeof(req));
	req.model = "m1";
	req.nmessages = 2;
	req.messages = msgs;
	req.opts.max_tokens = 9;
	req.opts.has_seed = true;
	req.opts.seed = 42;

	p = provider(&aig_dialect_mistral, "https://api.mistral.ai/v1");
	aig_dialect_mistral.build_chat(&p, &req, &out);
	CHECK(strcmp(out.url, "https://api.mistral.ai/v1/chat/completions") == 0, "mistral url %s", out.url);
	CHECK(has_header(&out, "Authorization: Bearer sk-unit-0123"), "mistral bearer");
	CHECK(has(&out, "\"random_seed\":42") && !has(&out, "\"seed\""), "mistral seed: %s", out.body);
	CHECK(has(&out, "\"max_tokens\":9"), "max_tokens: %s", out.body);

	/* without a seed the body is the shared builder's, untouched */
	req.opts.has_seed = false;
	aig_dialect_mistral.build_chat(&p, &req, &out);
	CHECK(strstr(out.body, "seed") == NULL && strstr(out.body, "\"max_tokens\":9") != NULL,
		  "no rewrite without a seed: %s", out.body);

	/* the other kinds send seed as it is */
	req.opts.has_seed = true;
	p = provider(&aig_dialect_groq, "https://api.groq.com/openai/v1");
	aig_dialect_groq.build_chat(&p, &req, &out);
	CHECK(strcmp(out.url, "https://api.groq.com/openai/v1/chat/completions") == 0, "groq url %s", out.url);
	CHECK(strstr(out.body, "\"seed\":42") != NULL, "groq seed: %s", out.body);

	/* DeepSeek: json_schema -> json_object, the schema in a first system message */
	req.opts.has_seed = false;
	req.opts.response_format = "{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"t\", "
		"\"schema\": {\"type\": \"object\", \"required\": [\"a\"]}}}";
	p = provider(&aig_dialect_deepseek, "https://api.deepseek.com");
	aig_dialect_deepseek.build_chat(&p, &req, &out);
	CHECK(strcmp(out.url, "https://api.deepseek.com/chat/completions") == 0, "deepseek url %s", out.url);
	CHECK(strstr(out.body, "\"response_format\":{\"type\": \"json_object\"}") != NULL,
		  "deepseek json_object: %s", out.body);
	CHECK(strstr(out.body, "\"messages\":[{\"role\":\"system\",\"content\":\"Answer with JSON only") != NULL &&
		  strstr(out.body, "JSON schema: {\\\"type\\\": \\\"object\\\", \\\"required\\\": [\\\"a\\\"]}") != NULL,
		  "deepseek schema message: %s", out.body);
	CHECK(strstr(out.body, "\"be brief\"") != NULL && req.nmessages == 2, "caller's request untouched");
	/* json_object passes as it is, and so does the request */
	req.opts.response_format = "{\"type\": \"json_object\"}";
	aig_dialect_deepseek.build_chat(&p, &req, &out);
	CHECK(strstr(out.body, "Answer with JSON") == NULL, "json_object untouched: %s", out.body);

	/* embeddings where the API has them */
	CHECK(aig_dialect_groq.build_embed == NULL && aig_dialect_deepseek.build_embed == NULL &&
		  aig_dialect_xai.build_embed == NULL, "no embeddings");
	CHECK(aig_dialect_mistral.build_embed != NULL && aig_dialect_together.build_embed != NULL &&
		  aig_dialect_fireworks.build_embed != NULL && aig_dialect_openrouter.build_embed != NULL,
		  "embeddings");
	CHECK(!(aig_dialect_deepseek.caps & (AIG_CAP_IMAGES | AIG_CAP_IMAGE_URLS)), "deepseek: no images");
	CHECK(aig_dialect_is_preset(&aig_dialect_xai) && !aig_dialect_is_preset(&aig_dialect_openai),
		  "is_preset");
}

static void
error_is(const char *body, long status, const char *msg, int code)
{
	AigUpstreamError e;

	aig_dialect_mistral.parse_error(status, body, strlen(body), &e);
	CHECK(e.message != NULL && strcmp(e.message, msg) == 0, "mistral error: got \"%s\", want \"%s\"",
		  e.message ? e.message : "(null)", msg);
	CHECK(e.sqlerrcode == code, "mistral error code for %s", msg);
}

static void
test_mistral_errors(void)
{
	error_is("{\"object\":\"error\",\"message\":{\"detail\":[{\"type\":\"extra_forbidden\","
			 "\"loc\":[\"body\",\"messages\",0,\"user\",\"name\"],\"msg\":\"Extra inputs are not permitted\","
			 "\"input\":null}]},\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}",
			 422, "body.messages.0.user.name: Extra inputs are not permitted",
			 ERRCODE_INVALID_PARAMETER_VALUE);
	error_is("{\"object\":\"Error\",\"detail\":[{\"type\":\"extra_forbidden\",\"loc\":[\"body\",\"tools\"],"
			 "\"msg\":\"Extra inputs are not permitted\",\"input\":[]}],\"type\":\"invalid_request_error\","
			 "\"code\":3001}", 422, "body.tools: Extra inputs are not permitted",
			 ERRCODE_INVALID_PARAMETER_VALUE);
	error_is("{\"object\":\"error\",\"message\":\"Invalid model: x\",\"type\":\"invalid_model\","
			 "\"param\":null,\"code\":\"1500\"}", 400, "Invalid model: x", ERRCODE_INVALID_PARAMETER_VALUE);
	error_is("{\"message\":\"Requests rate limit exceeded\"}", 429, "Requests rate limit exceeded",
			 ERRCODE_INSUFFICIENT_RESOURCES);
	error_is("{\"detail\":[{\"loc\":[],\"msg\":\"no location\"}]}", 422, "no location",
			 ERRCODE_INVALID_PARAMETER_VALUE);
}

int
main(void)
{
	test_rewrite();
	fuzz_arena_reset();
	test_build();
	fuzz_arena_reset();
	test_mistral_errors();
	fuzz_arena_reset();
	CHECK(aig_json_live_docs() == 0, "json docs left: %d", aig_json_live_docs());
	printf("presets_test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
