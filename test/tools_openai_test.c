/*
 * test/tools_openai_test.c — unit test of the OpenAI-family and Ollama
 * dialects' tool calls and image/document parts, driven through their
 * AigDialect vtables without a server (as test/fuzz/fuzz_dialect.c does):
 * the exact request bodies build_chat writes for tools, tool_choice,
 * parallel_tool_calls, assistant tool calls, tool results and image/PDF
 * parts (openai, azure_openai, openai_compatible, ollama), and what
 * parse_chat makes of tool-call answers, good and bad (arguments that are
 * not a JSON object are a bad answer: false with a message).  Built and
 * run by test/tools_openai_test.sh; prints one line per failed check,
 * exit status 1 when any failed.
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"
#include "transport/json.h"
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

static AigProvider prov = {
	.name = "p",
	.base_url = "http://mock",
	.api_key = NULL,
	.timeout_ms = -1,
};

static AigToolDef tools[] = {
	{"get_weather", "Weather of a city",
	"{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}"},
	{"now", NULL, NULL},
};

static AigToolCall calls[] = {
	{"call_9", "get_weather", "{\"city\": \"Oslo\"}"},
};

/* a request: user text + image, assistant call, tool result */
static void
make_request(AigChatRequest *req, bool with_image, bool with_pdf)
{
	static AigContentPart parts[3];
	static AigChatMessage msgs[4];
	int			np = 0;

	memset(req, 0, sizeof(*req));
	memset(msgs, 0, sizeof(msgs));
	memset(parts, 0, sizeof(parts));
	req->model = "m";
	req->opts.max_tokens = -1;
	req->opts.parallel_tool_calls = true;
	parts[np].kind = AIG_PART_TEXT;
	parts[np++].text = "What is in \"Oslo\"?";
	if (with_image)
	{
		parts[np].kind = AIG_PART_IMAGE;
		parts[np].media_type = "image/png";
		parts[np].data_b64 = "iVBORw0KGgo=";
		parts[np++].nbytes = 8;
	}
	if (with_pdf)
	{
		parts[np].kind = AIG_PART_DOCUMENT;
		parts[np].media_type = "application/pdf";
		parts[np].data_b64 = "JVBERi0=";
		parts[np++].nbytes = 5;
	}
	msgs[0].role = "user";
	msgs[0].content = "What is in \"Oslo\"?";
	if (with_image || with_pdf)
	{
		msgs[0].nparts = np;
		msgs[0].parts = parts;
	}
	msgs[1].role = "assistant";
	msgs[1].content = "";
	msgs[1].ntool_calls = 1;
	msgs[1].tool_calls = calls;
	msgs[2].role = "tool";
	msgs[2].content = "12C";
	msgs[2].tool_call_id = "call_9";
	msgs[2].name = "get_weather";
	req->nmessages = 3;
	req->messages = msgs;
	req->opts.ntools = 2;
	req->opts.tools = tools;
}

static char *
body_of(const AigDialect *d, const AigChatRequest *req)
{
	AigHttpRequest out;

	d->build_chat(&prov, req, &out);
	return pnstrdup(out.body, out.body_len);
}

static void
expect_body(const char *what, const AigDialect *d, const AigChatRequest *req,
			const char *want)
{
	char	   *got = body_of(d, req);

	CHECK(strcmp(got, want) == 0, "%s body\n  got:  %s\n  want: %s", what, got, want);
}

static void
test_build(void)
{
	AigChatRequest req;

	make_request(&req, true, false);
	expect_body("openai", &aig_dialect_openai, &req,
				"{\"model\":\"m\",\"messages\":["
				"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is in \\\"Oslo\\\"?\"},"
				"{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]},"
				"{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_9\",\"type\":\"function\","
				"\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Oslo\\\"}\"}}]},"
				"{\"role\":\"tool\",\"tool_call_id\":\"call_9\",\"content\":\"12C\"}],"
				"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather of a city\","
				"\"parameters\":{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}},"
				"{\"type\":\"function\",\"function\":{\"name\":\"now\",\"parameters\":{\"type\": \"object\", \"properties\": {}}}}]}");

	/* tool_choice and parallel_tool_calls */
	make_request(&req, false, false);
	req.opts.tool_choice = AIG_TOOL_CHOICE_NAMED;
	req.opts.tool_choice_name = "now";
	req.opts.parallel_tool_calls = false;
	{
		char	   *b = body_of(&aig_dialect_azure_openai, &req);

		CHECK(strstr(b, "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"now\"}},"
					 "\"parallel_tool_calls\":false}") != NULL, "azure named choice: %s", b);
		CHECK(strstr(b, "\"model\"") == NULL, "azure has no model: %s", b);
		CHECK(strstr(b, "{\"role\":\"user\",\"content\":\"What is in \\\"Oslo\\\"?\"}") != NULL,
			  "text-only user message stays a string: %s", b);
	}
	req.opts.tool_choice = AIG_TOOL_CHOICE_REQUIRED;
	req.opts.parallel_tool_calls = true;
	{
		char	   *b = body_of(&aig_dialect_openai_compatible, &req);

		CHECK(strstr(b, "\"tool_choice\":\"required\"}") != NULL, "compat required: %s", b);
		CHECK(strstr(b, "parallel_tool_calls") == NULL, "parallel only when false: %s", b);
	}
	req.opts.tool_choice = AIG_TOOL_CHOICE_NONE;
	{
		char	   *b = body_of(&aig_dialect_openai, &req);

		CHECK(strstr(b, "\"tool_choice\":\"none\"") != NULL, "openai none: %s", b);
	}

	/* a PDF: OpenAI's file part */
	make_request(&req, false, true);
	{
		char	   *b = body_of(&aig_dialect_openai, &req);

		CHECK(strstr(b, "{\"type\":\"file\",\"file\":{\"filename\":\"document.pdf\","
					 "\"file_data\":\"data:application/pdf;base64,JVBERi0=\"}}") != NULL,
			  "openai pdf: %s", b);
	}

	/* ollama: images on the message, object arguments, tool_name, no ids */
	make_request(&req, true, false);
	expect_body("ollama", &aig_dialect_ollama, &req,
				"{\"model\":\"m\",\"messages\":["
				"{\"role\":\"user\",\"content\":\"What is in \\\"Oslo\\\"?\",\"images\":[\"iVBORw0KGgo=\"]},"
				"{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_weather\","
				"\"arguments\":{\"city\": \"Oslo\"}}}]},"
				"{\"role\":\"tool\",\"content\":\"12C\",\"tool_name\":\"get_weather\"}],"
				"\"stream\":false,"
				"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather of a city\","
				"\"parameters\":{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}},"
				"{\"type\":\"function\",\"function\":{\"name\":\"now\",\"parameters\":{\"type\": \"object\", \"properties\": {}}}}]}");
	req.opts.tool_choice = AIG_TOOL_CHOICE_NAMED;
	req.opts.tool_choice_name = "now";
	{
		char	   *b = body_of(&aig_dialect_ollama, &req);

		CHECK(strstr(b, "get_weather\",\"description") == NULL &&
			  strstr(b, "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"now\"") != NULL,
			  "ollama named: only that tool: %s", b);
	}
	req.opts.tool_choice = AIG_TOOL_CHOICE_NONE;
	{
		char	   *b = body_of(&aig_dialect_ollama, &req);

		CHECK(strstr(b, "\"tools\"") == NULL, "ollama none: no tools: %s", b);
	}
	fuzz_arena_reset();
}

/* parse body with d; returns ok, fills *res / *err */
static bool
parse(const AigDialect *d, const char *body, AigChatResult *res, char **err)
{
	*err = NULL;
	return d->parse_chat(body, strlen(body), res, err);
}

static void
expect_bad(const AigDialect *d, const char *body, const char *msg_part)
{
	AigChatResult res;
	char	   *err;
	bool		ok = parse(d, body, &res, &err);

	CHECK(!ok, "%s: expected a bad answer for %s", d->kind, body);
	CHECK(ok || (err != NULL && strstr(err, msg_part) != NULL),
		  "%s: message \"%s\" lacks \"%s\"", d->kind, err ? err : "(null)", msg_part);
}

#define OAI_CALLS(calls) \
	"{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"gpt\",\"choices\":[{\"index\":0," \
	"\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":" calls "}," \
	"\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}"

static void
test_parse(void)
{
	AigChatResult res;
	char	   *err;
	const AigDialect *oai[] = {&aig_dialect_openai, &aig_dialect_azure_openai,
	&aig_dialect_openai_compatible};

	for (int i = 0; i < lengthof(oai); i++)
	{
		const AigDialect *d = oai[i];
		bool		ok = parse(d, OAI_CALLS("[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
										   "{\"name\":\"get_weather\",\"arguments\":\"{\\n\\\"city\\\": \\\"Oslo\\\"\\n}\"}},"
										   "{\"id\":\"call_2\",\"type\":\"function\",\"function\":"
										   "{\"name\":\"now\",\"arguments\":\"\"}}]"),
						   &res, &err);

		CHECK(ok, "%s: tool calls: %s", d->kind, err ? err : "");
		if (!ok)
			continue;
		CHECK(res.ntool_calls == 2, "%s: ntool_calls %d", d->kind, res.ntool_calls);
		CHECK(strcmp(res.content, "") == 0, "%s: content \"%s\"", d->kind, res.content);
		CHECK(strcmp(res.finish_reason, "tool_calls") == 0, "%s: finish %s", d->kind,
			  res.finish_reason);
		CHECK(strcmp(res.tool_calls[0].id, "call_1") == 0 &&
			  strcmp(res.tool_calls[0].name, "get_weather") == 0 &&
			  strcmp(res.tool_calls[0].arguments, "{\n\"city\": \"Oslo\"\n}") == 0,
			  "%s: call 0: %s %s %s", d->kind, res.tool_calls[0].id,
			  res.tool_calls[0].name, res.tool_calls[0].arguments);
		CHECK(strcmp(res.tool_calls[1].arguments, "{}") == 0, "%s: empty arguments -> {}: %s",
			  d->kind, res.tool_calls[1].arguments);
		CHECK(res.input_tokens == 5 && res.output_tokens == 3, "%s: usage", d->kind);
	}

	/* a forced call ends with "stop" and may carry text: still tool_calls */
	CHECK(parse(&aig_dialect_openai,
				"{\"choices\":[{\"message\":{\"content\":\"ok\",\"tool_calls\":[{\"type\":\"function\","
				"\"function\":{\"name\":\"f\",\"arguments\":{\"a\":1}}}]},\"finish_reason\":\"stop\"}]}",
				&res, &err), "forced call: %s", err ? err : "");
	CHECK(res.ntool_calls == 1 && strcmp(res.finish_reason, "tool_calls") == 0 &&
		  strcmp(res.content, "ok") == 0 && strcmp(res.tool_calls[0].id, "call_1") == 0 &&
		  strcmp(res.tool_calls[0].arguments, "{\"a\": 1}") == 0,
		  "forced call read: %d %s %s", res.ntool_calls, res.finish_reason,
		  res.ntool_calls ? res.tool_calls[0].arguments : "");
	/* no calls: as before */
	CHECK(parse(&aig_dialect_openai,
				"{\"choices\":[{\"message\":{\"content\":\"hi\",\"tool_calls\":[]},\"finish_reason\":\"stop\"}]}",
				&res, &err) && res.ntool_calls == 0 && strcmp(res.finish_reason, "stop") == 0,
		  "empty tool_calls");

	expect_bad(&aig_dialect_openai,
			   OAI_CALLS("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"[1,2]\"}}]"),
			   "the arguments of tool call 0 (f) are not a JSON object");
	expect_bad(&aig_dialect_openai,
			   OAI_CALLS("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\"}}]"),
			   "are not JSON");
	expect_bad(&aig_dialect_openai,
			   OAI_CALLS("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{'a': NaN}\"}}]"),
			   "are not");
	expect_bad(&aig_dialect_openai,
			   OAI_CALLS("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\": \\\"\\\\u0000\\\"}\"}}]"),
			   "are not strict JSON");
	expect_bad(&aig_dialect_openai,
			   OAI_CALLS("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\": [1e1001]}\"}}]"),
			   "hold a number out of range");
	CHECK(parse(&aig_dialect_openai,
				OAI_CALLS("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\": [-1.5e-1000, 2E+3, \\\"1e9999\\\\\\\"\\\"]}\"}}]"),
				&res, &err), "numbers in range, a number-like string: %s", err ? err : "");
	expect_bad(&aig_dialect_openai,
			   OAI_CALLS("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":42}}]"),
			   "are neither");
	expect_bad(&aig_dialect_openai,
			   OAI_CALLS("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\"}}]"),
			   "are missing");
	expect_bad(&aig_dialect_azure_openai,
			   OAI_CALLS("[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"\",\"arguments\":\"{}\"}}]"),
			   "no valid function name");
	expect_bad(&aig_dialect_openai_compatible,
			   OAI_CALLS("[{\"id\":\"c\",\"type\":\"custom\",\"custom\":{\"name\":\"f\",\"input\":\"x\"}}]"),
			   "not a function call");
	expect_bad(&aig_dialect_openai, OAI_CALLS("{\"a\":1}"), "tool_calls is not an array");
	expect_bad(&aig_dialect_openai, OAI_CALLS("[7]"), "tool call 0 is not a function call");

	/* ollama: object arguments, no ids, done_reason stop */
	CHECK(parse(&aig_dialect_ollama,
				"{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
				"{\"function\":{\"name\":\"get_current_weather\",\"arguments\":{\"format\":\"celsius\",\"location\":\"Paris, FR\"}}},"
				"{\"function\":{\"name\":\"now\",\"arguments\":{}}}]},"
				"\"done_reason\":\"stop\",\"done\":true,\"prompt_eval_count\":122,\"eval_count\":33}",
				&res, &err), "ollama calls: %s", err ? err : "");
	CHECK(res.ntool_calls == 2 && strcmp(res.finish_reason, "tool_calls") == 0 &&
		  strcmp(res.tool_calls[0].id, "call_1") == 0 && strcmp(res.tool_calls[1].id, "call_2") == 0 &&
		  strcmp(res.tool_calls[0].arguments,
				 "{\"format\": \"celsius\", \"location\": \"Paris, FR\"}") == 0 &&
		  strcmp(res.content, "") == 0,
		  "ollama calls read: %d %s", res.ntool_calls,
		  res.ntool_calls ? res.tool_calls[0].arguments : "");
	expect_bad(&aig_dialect_ollama,
			   "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":"
			   "{\"name\":\"f\",\"arguments\":[1]}}]},\"done\":true}",
			   "are neither");
	expect_bad(&aig_dialect_ollama,
			   "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"name\":\"f\"}]},\"done\":true}",
			   "tool call 0 has no function");
	CHECK(aig_json_live_docs() == 0, "json-c trees left: %d", aig_json_live_docs());
	fuzz_arena_reset();
}

static void
test_caps(void)
{
	CHECK(aig_dialect_openai.caps == (AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_IMAGE_URLS |
									  AIG_CAP_DOCUMENTS | AIG_CAP_JSON_SCHEMA) &&
		  aig_dialect_openai.max_image_kb == 20480, "openai caps");
	CHECK((aig_dialect_azure_openai.caps & AIG_CAP_DOCUMENTS) == 0 &&
		  (aig_dialect_azure_openai.caps & AIG_CAP_TOOLS) != 0, "azure caps");
	CHECK(aig_dialect_ollama.caps == (AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_JSON_SCHEMA),
		  "ollama caps: no image URLs, no documents");
}

int
main(void)
{
	test_build();
	test_parse();
	test_caps();
	printf("tools_openai_test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
