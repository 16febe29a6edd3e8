#!/usr/bin/env python3
"""
test/mock_provider.py -- the fake AI-provider upstream for every ai_gateway test and the demo.

Owns: one HTTP/1.1 keep-alive server on 127.0.0.1 that speaks seven provider dialects on one
port (OpenAI / openai_compatible, Azure OpenAI, Anthropic, Cohere v2, Ollama native, Gemini,
AWS Bedrock with SigV4 verification),
the fault-injection grammar encoded in model names, and the /_mock/* control endpoints.
Its self-test is test/test_mock_provider.py.  Python 3.11 standard library only.

    python3 test/mock_provider.py [--host 127.0.0.1] [--port 0] [--port-file FILE] [--samples DIR]

Routes (POST, JSON body; any path prefix is accepted, so base_url ".../v1" or "/x/v1" work):
    openai     .../chat/completions, .../embeddings           Authorization: Bearer K
    azure      .../openai/deployments/{model}/chat/completions|embeddings?api-version=...
                                                              api-key: K (no api-version -> 404)
    anthropic  .../v1/messages                                x-api-key: K, anthropic-version
    cohere     .../v2/chat, .../v2/embed                      Authorization: Bearer K
    ollama     .../api/chat, .../api/embed                    no key needed
    gemini     .../models/{model}:generateContent|batchEmbedContents|embedContent
                                                              x-goog-api-key: K
    bedrock    .../model/{model}/converse, .../model/{model}/invoke
                                                              SigV4 (verified) or Bearer K
    mistral    /mistral/.../chat/completions, .../embeddings  as openai; unknown members -> 422
    groq       /groq/.../chat/completions                     as openai; messages[].name -> 400
    deepseek   /deepseek/[...]/chat/completions               as openai; json_schema or image
                                                              parts -> 400 (see "Presets")
A missing required key, or any key starting with "bad", gets a 401 in the dialect's format.

Model names (for Azure and Gemini the percent-decoded path segment):
    echo                     content = compact JSON of what arrived (method, path, query,
                             auth/version + x-test-* headers, parsed body); embeddings
                             routes add it as a top-level "mock_echo" field instead
    recorded[-base64|-ollama-compat|-tools|-error]   the recorded sample bodies of test/samples/
    anything else            "mock reply from <dialect> <model>: <last user text>"
    ...+directive+directive  faults: latency=MS status=CODE retry_after=S retry_after_date=S
                             retry_after_ms=MS fail_first=N seq=NAME reset reset_mid hang
                             trickle=MS malformed truncated empty html wrong_ctype
                             invalid_utf8 wrong_shape null_content oversized=BYTES
                             echo_key (an error message that repeats the key received;
                             pad=N puts N "x" before it, so the key sits at a cut)
                             echo_prompt (a failure's message quotes the last user message)
                             redirect (302 to the same path under /redirected on this server)
                             chunk=BYTES html200 wrong_type intl_error (see "Fault details")
                             refuse=KIND (a documented refusal: see "Refusals")
                             bytes_per_input=N (embeddings: N bytes of padding per input)
                             badjson notjson badjson_first=N (a structured answer that misses the schema /
                             is not JSON: see "Tools, structured output and images")
                             badargs (a tool call whose arguments are not a JSON object:
                             openai/azure/compat "[1, 2]", ollama [1, 2])
Control: GET /_mock/stats, POST /_mock/reset, GET /_mock/last, GET /_mock/batches.

Batch APIs (test/mock_batches.py; GET and POST): OpenAI .../files (multipart upload, purpose
batch), .../files/{id}[/content], .../batches[/{id}[/cancel]]; Anthropic
.../v1/messages/batches[/{id}[/cancel|/results]].  Each GET of a batch advances it; it ends
on the Nth GET (directive batch_polls=N on the first line's model, default 2), normally or as
batch_end=expired|failed|cancelled says.  Lines are answered by the live routes' logic.
/_mock/stats: batch_items_answered, batches_created; /_mock/batches lists the store.

OAuth tokens (see "Token endpoints" below the dialects):
    POST .../token                    Google's JWT bearer grant (RS256 checked with `openssl`
                                      against the key posted to /_mock/jwt_key)
    POST .../{tenant}/oauth2/v2.0/token   Microsoft Entra ID client credentials
    vertex  .../v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent
                                      Authorization: Bearer <a token the mock issued>
    azure   as above with Authorization: Bearer <a token the mock issued> instead of api-key
    Token URL query: expires_in=S latency=MS status=CODE echo_secret (the error repeats the
    client secret / assertion received).  Model directive unauth_once: the first request of
    the model (or of seq=NAME) gets a 401 and its token is revoked (a token revoked early).  /_mock/stats: tokens_issued,
    tokens_by_grant, unauth_once (401s given).  POST /_mock/jwt_key: the PEM public key.

Fault details:
    trickle=MS      headers at once, then the body in pieces with MS ms between them;
                    chunk=BYTES sets the piece size (default 1 byte)
    reset_mid       headers and half the body, then a TCP RST
    html            a proxy's 502 HTML page (text/html);  html200: a 200 text/html page
                    (a captive portal / login page) instead of the API's JSON
    wrong_ctype     the normal JSON body labelled text/plain
    invalid_utf8    bytes FF FE in the reply text; with a failure status (status=,
                    fail_first=) in the error message instead; with null_content at the
                    end of the finish reason (finish_reason, stop_reason, finishReason...)
    wrong_shape     valid JSON without the dialect's fields ({"result": "ok"})
    wrong_type      the dialect's own body with the reply text replaced by the number 42
                    (choices[0].message.content, content[0].text, parts[0].text, ...);
                    on embedding routes every vector's numbers as strings (a base64
                    vector: the number 42)
    intl_error      with a failure status: a long non-ASCII error message (as providers
                    with localized messages send), 3-byte UTF-8 characters

Refusals (refuse=KIND, chat routes; 200 with the dialect's usage, no text):
    refusal         openai/azure: message.content null + message.refusal text;
                    anthropic: content [] + stop_reason "refusal"; gemini: a candidate
                    without content, finishReason SAFETY; cohere: finish_reason ERROR_TOXIC
    filter          openai/azure: content null, finish_reason "content_filter"
    length          the output limit before any text: finish_reason "length" (openai),
                    stop_reason "max_tokens" (anthropic), MAX_TOKENS (gemini, cohere)
    prompt          gemini: no candidates, promptFeedback.blockReason SAFETY
    RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII   gemini: that finishReason, no content
    partial         anthropic: some text, then stop_reason "refusal"
    prompt_filter   openai/azure: HTTP 400, error.code content_filter,
                    innererror.code ResponsibleAIPolicyViolation (Azure's prompt filter)

Presets (the OpenAI format with a provider's own rules, chosen by path prefix; the gateway's
preset kinds must send what these accept):
    /mistral/   a member outside Mistral's request schema (e.g. "seed": Mistral's is
                random_seed) -> 422 with pydantic's detail list (extra_forbidden); a tool
                call id that is not 9 letters or digits -> 400
    /groq/      messages[].name -> 400
    /deepseek/  response_format other than text/json_object, a non-text content part, or
                json_object without the word "json" in the prompt -> 400

Counting: "requests", "by_path", "by_model" count provider requests (not /_mock/*).
"connections" counts the TCP connections that carried at least one provider request since
start/reset (a keep-alive connection opened before a reset counts again once it is used
after it), so a stats query on a fresh connection does not count itself; "open_connections"
is how many of those are open right now; "tcp_accepted" counts every accepted connection.
"""

import argparse
import base64
import email.utils
import functools
import hashlib
import hmac
import itertools
import json
import os
import re
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import mock_batches     # the provider Batch APIs (test/mock_batches.py, next to this file)

DEFAULT_DIM = 8
MAX_DIM = 65536
HANG_SECONDS = 120.0
RESET_MID_PAUSE = 0.05          # let the client see the partial body before the RST
INVALID_UTF8_MARK = "@@mock-invalid-utf8@@"
INTL_ERROR = "服务器繁忙，请稍后重试。" * 20      # 720 bytes of 3-byte characters
MALFORMED_BODY = b'{"choices": [ {"message": oops'
HTML_OK_BODY = (b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
                b"<body><form action=\"/login\"><p>Please sign in to continue.</p></form></body>\n"
                b"</html>\n")
HTML_BODY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
             b"</body>\r\n</html>\r\n")
# Headers echoed by the "echo" model besides x-test-*: every dialect's auth/version headers,
# so a test also sees a key that arrived in the wrong header.
ECHO_HEADERS = frozenset(("authorization", "api-key", "x-api-key", "x-goog-api-key",
                          "anthropic-version",
                          "http-referer", "x-title"))  # OpenRouter's attribution headers
GEMINI_EMBED_ONE_SAMPLE = "gemini_embed_content (derived from gemini_batch_embed_contents.json)"
EXTRA_REASONS = {529: "Site Overloaded"}
RECORDED_MODELS = frozenset(("recorded", "recorded-base64", "recorded-ollama-compat"))
RECORDED_MODELS |= {"recorded-tools"}     # documented tool-call answers (tools_openai)

_ids = itertools.count(1)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

class ClientError(Exception):
    """A problem with the request, answered in the dialect's error format."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def text_of(content):
    """Plain text of a message content: a string, a list of parts/blocks, or a part."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(t for t in (text_of(p) for p in content) if t)
    if isinstance(content, dict):
        text = content.get("text")
        return text if isinstance(text, str) else ""
    return ""


def word_count(texts):
    return sum(len(t.split()) for t in texts)


def dimension(value):
    if value is None:
        return DEFAULT_DIM
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIM:
        raise ClientError(400, f"mock: bad embedding dimension {value!r}")
    return value


@functools.lru_cache(maxsize=4096)
def embed_vector(text, dim):
    """Deterministic vector in [-1, 1]: SHAKE-256 of the text read as little-endian uint32s,
    so a shorter vector of the same text is a prefix of a longer one.  Cached (a tuple)."""
    raw = hashlib.shake_256(text.encode("utf-8")).digest(4 * dim)
    return tuple(round(u / 2147483647.5 - 1.0, 6) for u in struct.unpack(f"<{dim}I", raw))


def float32_base64(vector):
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def string_list(value, field):
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        return [v if isinstance(v, str) else json.dumps(v) for v in value]
    raise ClientError(400, f"mock: '{field}' must be a string or a non-empty list")


def documented_limits(body, what):
    """400 like the real API for a value its published document refuses.
    what: {field: ("max_items", n) | ("range", lo, hi) | ("enum", values)}"""
    for field, rule in what.items():
        value = body
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        if rule[0] == "max_items" and isinstance(value, list) and len(value) > rule[1]:
            raise ClientError(400, f"mock: '{field}' has {len(value)} items; at most {rule[1]} are allowed")
        if rule[0] == "range" and isinstance(value, (int, float)) and not rule[1] <= value <= rule[2]:
            raise ClientError(400, f"mock: '{field}' must be between {rule[1]} and {rule[2]}")
        if rule[0] == "enum" and value not in rule[1]:
            raise ClientError(400, f"mock: '{field}' must be one of {sorted(rule[1])}")


def messages_of(body, field="messages"):
    msgs = body.get(field) or []
    if not isinstance(msgs, list):
        raise ClientError(400, f"mock: '{field}' must be a list")
    return [m for m in msgs if isinstance(m, dict)]


def replace_value(obj, old, new):
    """obj with every value equal to old (in dicts and lists, recursively) replaced by new."""
    if isinstance(obj, dict):
        return {k: replace_value(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [replace_value(v, old, new) for v in obj]
    return new if obj == old else obj


def stringify_vectors(obj):
    """obj with every non-empty list (or tuple) of numbers turned into a list of strings."""
    if isinstance(obj, dict):
        return {k: stringify_vectors(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if obj and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in obj):
            return [str(v) for v in obj]
        return [stringify_vectors(v) for v in obj]
    return obj


def replace_b64_vectors(obj):
    """obj with every "embedding" given as a base64 string replaced by the number 42."""
    if isinstance(obj, dict):
        return {k: 42 if k == "embedding" and isinstance(v, str) else replace_b64_vectors(v)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [replace_b64_vectors(v) for v in obj]
    return obj


def last_with_role(msgs, roles, get_text):
    for m in reversed(msgs):
        if m.get("role") in roles:
            return get_text(m)
    return ""



# --------------------------------------------------------------------------------------------
# Tools, structured output and images: what every dialect shares.  A dialect reads its own
# request shape into a ChatSpec (chat_spec) and writes its own tool-call body
# (tool_call_body); the decisions below are the same for all of them:
#   - the request carries tool results (the last message is a tool result): the reply text is
#     "tool results: NAME=CONTENT; ..." (so a test sees what came back to the model);
#   - else it offers tools and tool_choice is not "none": one call of the forced tool, or of the
#     first one, with arguments made from its parameters schema (schema_value); a string
#     argument is the first "quoted" text of the last user message, or that whole message;
#   - else it asks for a JSON schema: the reply is a JSON value of that schema (badjson: a
#     value that misses the required members; notjson: text that is not JSON);
#   - images and documents that arrived are listed at the end of the reply text:
#     " [image/png 68 bytes]" (decoded size), " [url https://...]".
# --------------------------------------------------------------------------------------------

class ChatSpec:
    def __init__(self):
        self.tools = []             # [{"name": ..., "parameters": {schema}}] in order
        self.tool_choice = "auto"   # auto | none | required | <tool name>
        self.tool_results = []      # [(name or call id, content text)] after the last user turn
        self.schema = None          # JSON schema asked for, or None
        self.json_mode = False      # JSON asked for without a schema
        self.attachments = []       # [(media type, decoded bytes)] or [("url", url)]


def response_format_spec(body, spec):
    """The OpenAI-style "response_format" most dialects share (OpenAI, Azure, compatible,
    Cohere v2): json_schema -> spec.schema, json_object -> spec.json_mode."""
    rf = body.get("response_format") if isinstance(body, dict) else None
    if not isinstance(rf, dict):
        return
    if rf.get("type") == "json_schema":
        js = rf.get("json_schema") if isinstance(rf.get("json_schema"), dict) else rf
        spec.schema = js.get("schema") if isinstance(js.get("schema"), dict) else {"type": "object"}
    elif rf.get("type") == "json_object":
        spec.json_mode = True


def quoted_or_all(text):
    m = re.search(r'"([^"]+)"', text or "")
    return m.group(1) if m else (text or "")


def schema_value(schema, text, depth=0):
    """A JSON value of the schema: objects with every property (required ones at least),
    strings from text, numbers 1, booleans true, arrays of one item, enums their first."""
    if not isinstance(schema, dict) or depth > 8:
        return text
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema_value(schema[key][0], text, depth + 1)
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if isinstance(t, str):
        t = t.lower()               # Gemini writes OBJECT, STRING, ...
    if t == "object" or (t is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {k: schema_value(v, text, depth + 1) for k, v in props.items()}
    if t == "array":
        return [schema_value(schema.get("items") or {}, text, depth + 1)]
    if t == "integer":
        return 1
    if t == "number":
        return 1.5
    if t == "boolean":
        return True
    if t == "null":
        return None
    return text


def tool_arguments(tool, last_user):
    args = schema_value(tool.get("parameters") or {"type": "object"}, quoted_or_all(last_user))
    return args if isinstance(args, dict) else {}


def attachment_note(spec):
    notes = []
    for kind, what in spec.attachments:
        notes.append(f"[url {what}]" if kind == "url" else f"[{kind} {what} bytes]")
    return (" " + " ".join(notes)) if notes else ""


def decoded_size(b64):
    try:
        return len(base64.b64decode(b64, validate=True))
    except (ValueError, TypeError):
        raise ClientError(400, "mock: image data is not valid base64")

# --------------------------------------------------------------------------------------------
# Dialects: how each provider reads keys, shapes errors, reads inputs and shapes successes.
# --------------------------------------------------------------------------------------------

class Dialect:
    name = ""
    key_required = True
    finish_value = "stop"           # the finish reason of a chat_body (invalid_utf8+null_content)
    # model name -> {route kind -> sample file}
    recorded = {}
    recorded_error = None           # (sample file, status)
    recorded_auth_error = None      # (sample file, status) for "recorded-error" with a bad key

    def api_key(self, req):
        auth = req.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None

    def check(self, req):
        """Dialect-specific request check before auth: None or (status, message)."""
        return None

    def error(self, status, message, retry_delay=None):
        raise NotImplementedError

    def chat_texts(self, body):
        """-> (all input texts incl. system, text of the last user message)"""
        raise NotImplementedError

    def chat_body(self, model, reply, tin, tout, null_content):
        raise NotImplementedError

    def refuse(self, obj, kind):
        """The chat body obj turned into the documented refusal `kind` (see Refusals)."""
        raise ClientError(400, f"mock: {self.name} has no refusal {kind!r}")

    def chat_spec(self, body):
        """-> ChatSpec: the tools, tool results, schema and attachments the request carries"""
        return ChatSpec()

    def tool_call_body(self, model, calls, tin, tout):
        """The success body asking for calls: [(call id, tool name, arguments dict)]."""
        raise ClientError(400, f"mock: {self.name} has no tool calls yet")

    def structured_body(self, model, value, tin, tout, spec):
        """The success body carrying the JSON value of spec.schema (default: as text)."""
        return self.chat_body(model, value if isinstance(value, str) else
                              json.dumps(value, ensure_ascii=False), tin, tout, False)

    def embed_texts(self, body, kind):
        """-> list of (text, dimension), one per input, in order"""
        raise ClientError(404, "mock: this provider has no embeddings route")

    def embed_body(self, model, body, kind, vectors, tin):
        raise NotImplementedError



# ---- OpenAI Chat Completions / Ollama /api/chat: tools, tool results, parts (tools_openai) ----
# Shapes from OpenAI's OpenAPI document (test/specs/openai.json: ChatCompletionTool,
# ChatCompletionToolChoiceOption, ChatCompletionRequestToolMessage, ...ContentPartImage,
# ...ContentPartFile) and Ollama's docs/api.md ("Chat request (with tools)", "with images").

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DATA_URL = re.compile(r"^data:(?P<mt>[\w.+-]+/[\w.+-]+);base64,(?P<b64>.*)$", re.S)


def function_tools(body):
    """body["tools"] ([{"type":"function","function":{"name","parameters"}}]) -> ChatSpec tools."""
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list) or not tools:
        raise ClientError(400, "mock: 'tools' must be a non-empty list")
    out = []
    for i, t in enumerate(tools):
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict):
            raise ClientError(400, f"mock: tools[{i}] is not a function tool")
        if not isinstance(fn.get("name"), str) or not TOOL_NAME.match(fn["name"]):
            raise ClientError(400, f"mock: tools[{i}].function.name is invalid")
        params = fn.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict):
            raise ClientError(400, f"mock: tools[{i}].function.parameters must be an object")
        out.append({"name": fn["name"], "parameters": params})
    return out


def data_url_size(url, what, media_prefix):
    m = DATA_URL.match(url)
    if not m:
        raise ClientError(400, f"mock: {what} is not a base64 data URL")
    if not m.group("mt").startswith(media_prefix):
        raise ClientError(400, f"mock: {what} has media type {m.group('mt')!r}")
    return m.group("mt"), decoded_size(m.group("b64"))


def openai_part_attachments(parts, spec, file_parts):
    for j, p in enumerate(parts):
        kind = p.get("type") if isinstance(p, dict) else None
        if kind == "text":
            continue
        if kind == "image_url":
            url = (p.get("image_url") or {}).get("url") if isinstance(p.get("image_url"), dict) else None
            if not isinstance(url, str):
                raise ClientError(400, f"mock: content[{j}].image_url.url is required")
            if url.startswith("data:"):
                spec.attachments.append(data_url_size(url, f"content[{j}].image_url.url", "image/"))
            elif url.startswith(("http://", "https://")):
                spec.attachments.append(("url", url))
            else:
                raise ClientError(400, f"mock: content[{j}].image_url.url is not a URL")
        elif kind == "file" and file_parts:
            f = p.get("file")
            if not isinstance(f, dict) or not isinstance(f.get("file_data"), str):
                raise ClientError(400, f"mock: content[{j}].file.file_data is required")
            if not isinstance(f.get("filename"), str):
                raise ClientError(400, f"mock: content[{j}].file.filename is required with file_data")
            spec.attachments.append(data_url_size(f["file_data"], f"content[{j}].file.file_data",
                                                  "application/pdf"))
        else:
            raise ClientError(400, f"mock: content[{j}] has an unsupported type {kind!r}")


def bad_arguments(model):
    """badargs: the tool call's arguments are not a JSON object (a bad answer)."""
    return "badargs" in model.split("+")[1:]


def sniff_image(raw):
    for magic, mt in ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                      (b"GIF8", "image/gif"), (b"RIFF", "image/webp")):
        if raw.startswith(magic):
            return mt
    return "image"


def tool_results_after_last_user(msgs, name_of):
    last_user = max((i for i, m in enumerate(msgs) if m.get("role") == "user"), default=-1)
    return [(name_of(m), text_of(m.get("content")))
            for m in msgs[last_user + 1:] if m.get("role") == "tool"]


class OpenAI(Dialect):
    name = "openai"
    recorded = {
        "recorded": {"chat": "openai_chat_completion.json",
                     "embed": "openai_embeddings_float.json"},
        "recorded-base64": {"embed": "openai_embeddings_base64.json"},
        "recorded-ollama-compat": {"chat": "ollama_v1_chat_completions.json"},
        "recorded-tools": {"chat": "openai_chat_tool_calls.DOCS_EXAMPLE.json"},
    }
    recorded_error = ("openai_error_404_model_not_found.json", 404)
    recorded_auth_error = ("openai_error_401_invalid_api_key.json", 401)
    CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}

    def error_code(self, status):
        return self.CODES.get(status)

    def error(self, status, message, retry_delay=None):
        if status == 429:
            etype = "requests"
        elif status >= 500:
            etype = "server_error"
        else:
            etype = "invalid_request_error"
        return {"error": {"message": message, "type": etype, "param": None,
                          "code": self.error_code(status)}}

    def chat_texts(self, body):
        documented_limits(body, {"stop": ("max_items", 4), "temperature": ("range", 0, 2),
                                 "top_p": ("range", 0, 1)})
        msgs = messages_of(body)
        get = lambda m: text_of(m.get("content"))
        return [get(m) for m in msgs], last_with_role(msgs, ("user",), get)

    def chat_body(self, model, reply, tin, tout, null_content):
        return {
            "id": f"chatcmpl-mock{next(_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": None if null_content else reply,
                            "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": {
                "prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0,
                                              "rejected_prediction_tokens": 0},
            },
            "service_tier": "default",
            "system_fingerprint": "fp_mock",
        }

    file_parts = True               # Azure's 2024-10-21 document has no file parts

    def chat_spec(self, body):
        spec = ChatSpec()
        spec.tools = function_tools(body)
        choice = body.get("tool_choice")
        if (choice is not None or "parallel_tool_calls" in body) and not spec.tools:
            raise ClientError(400, "mock: tool_choice and parallel_tool_calls are only allowed "
                                   "when 'tools' are specified")
        if isinstance(choice, dict):
            fn = choice.get("function")
            if choice.get("type") != "function" or not isinstance(fn, dict) or \
                    fn.get("name") not in [t["name"] for t in spec.tools]:
                raise ClientError(400, "mock: tool_choice names no tool of 'tools'")
            spec.tool_choice = fn["name"]
        elif choice is not None:
            if choice not in ("auto", "none", "required"):
                raise ClientError(400, f"mock: bad tool_choice {choice!r}")
            spec.tool_choice = choice
        if "parallel_tool_calls" in body and not isinstance(body["parallel_tool_calls"], bool):
            raise ClientError(400, "mock: parallel_tool_calls must be a boolean")
        msgs = messages_of(body)
        call_names = {}
        for i, m in enumerate(msgs):
            role = m.get("role")
            content = m.get("content")
            if role == "assistant" and m.get("tool_calls") is not None:
                for c in m["tool_calls"] if isinstance(m["tool_calls"], list) else [None]:
                    fn = c.get("function") if isinstance(c, dict) else None
                    if not isinstance(fn, dict) or not isinstance(c.get("id"), str) or \
                            c.get("type") != "function" or not isinstance(fn.get("name"), str):
                        raise ClientError(400, f"mock: messages[{i}].tool_calls is malformed")
                    if not isinstance(fn.get("arguments"), str):
                        raise ClientError(400, f"mock: messages[{i}].tool_calls[].function.arguments "
                                               "must be a string")
                    try:
                        json.loads(fn["arguments"])
                    except ValueError:
                        raise ClientError(400, f"mock: messages[{i}] arguments are not JSON") from None
                    call_names[c["id"]] = fn["name"]
            elif role == "tool":
                if m.get("tool_call_id") not in call_names:
                    raise ClientError(400, f"mock: messages[{i}] with role 'tool' must be a response "
                                           "to a preceding message with 'tool_calls'")
            if role == "user" and isinstance(content, list):
                openai_part_attachments(content, spec, self.file_parts)
        spec.tool_results = tool_results_after_last_user(
            msgs, lambda m: call_names.get(m.get("tool_call_id"), m.get("tool_call_id")))
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") == "json_schema":
            js = rf.get("json_schema")
            if not isinstance(js, dict) or not isinstance(js.get("schema", {}), dict):
                raise ClientError(400, "mock: response_format.json_schema is malformed")
            spec.schema = js.get("schema") or {"type": "object"}
        elif isinstance(rf, dict) and rf.get("type") == "json_object":
            spec.json_mode = True
        return spec

    def tool_call_body(self, model, calls, tin, tout):
        obj = self.chat_body(model, "", tin, tout, True)
        choice = obj["choices"][0]
        choice["message"]["tool_calls"] = [
            {"id": cid, "type": "function",
             "function": {"name": name, "arguments": "[1, 2]" if bad_arguments(model) else
                          json.dumps(args, ensure_ascii=False)}}
            for cid, name, args in calls]
        choice["finish_reason"] = "tool_calls"
        return obj

    def prompt_filter(self):
        """Azure's documented prompt filter: HTTP 400, code content_filter."""
        return {"error": {"message": "The response was filtered due to the prompt triggering "
                                     "Azure OpenAI's content management policy.",
                          "type": None, "param": "prompt", "code": "content_filter", "status": 400,
                          "innererror": {"code": "ResponsibleAIPolicyViolation",
                                         "content_filter_result": {
                                             "violence": {"filtered": True, "severity": "high"}}}}}

    def refuse(self, obj, kind):
        choice = obj["choices"][0]
        choice["message"]["content"] = None
        if kind == "refusal":
            choice["message"]["refusal"] = "I'm sorry, but I can't help with that request."
        elif kind in ("filter", "length"):
            choice["finish_reason"] = "content_filter" if kind == "filter" else "length"
        else:
            return super().refuse(obj, kind)
        return obj

    def embed_texts(self, body, kind):
        if "input" not in body:
            raise ClientError(400, "mock: 'input' is required")
        dim = dimension(body.get("dimensions"))
        texts = string_list(body["input"], "input")
        if any(t == "" for t in texts):
            raise ClientError(400, "mock: '$.input' is invalid: an input is empty")
        return [(t, dim) for t in texts]

    def embed_body(self, model, body, kind, vectors, tin):
        as_b64 = body.get("encoding_format") == "base64"
        data = [{"object": "embedding", "index": i,
                 "embedding": float32_base64(v) if as_b64 and v is not None else v}
                for i, v in enumerate(vectors)]
        return {"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tin, "total_tokens": tin}}


class Azure(OpenAI):
    name = "azure"
    file_parts = False

    def api_key(self, req):
        return req.headers.get("api-key")

    def check(self, req):
        if "api-version" not in parse_qs(req.query):
            return 404, "Resource not found"
        return None

    def error_code(self, status):
        return str(status)


# ---- presets: OpenAI-compatible APIs with a quirk the gateway must honour (path prefixes
# /mistral/, /groq/, /deepseek/; every other preset is plain OpenAI under any prefix) ----

class Mistral(OpenAI):
    """Mistral's API validates the body with a closed schema: a member it does not know gets
    HTTP 422 {"object": "error", "message": {"detail": [{"type": "extra_forbidden", "loc":
    ["body", <member>], "msg": "Extra inputs are not permitted"}]}, ...} -- "seed" among them
    (Mistral's name is random_seed).  tool_choice: auto, none, any, required or a named tool.
    Tool call ids (tool_calls[].id, tool_call_id) must be 9 letters or digits (HTTP 400)."""
    name = "mistral"
    MEMBERS = frozenset(("model", "messages", "temperature", "top_p", "max_tokens", "stream",
                         "stop", "random_seed", "response_format", "tools", "tool_choice",
                         "presence_penalty", "frequency_penalty", "n", "prediction",
                         "parallel_tool_calls", "safe_prompt", "prompt_mode",
                         "input", "encoding_format"))

    def check(self, req):
        if not isinstance(req.body, dict):
            return None
        extra = [k for k in req.body if k not in self.MEMBERS]
        if extra:
            return 422, {"detail": [{"type": "extra_forbidden", "loc": ["body", k],
                                     "msg": "Extra inputs are not permitted",
                                     "input": req.body[k]} for k in extra]}
        for m in messages_of(req.body):
            ids = [m.get("tool_call_id")] if "tool_call_id" in m else []
            ids += [c.get("id") for c in (m.get("tool_calls") or []) if isinstance(c, dict)]
            for cid in ids:
                if not (isinstance(cid, str) and re.fullmatch(r"[A-Za-z0-9]{9}", cid)):
                    return 400, f"Tool call id was {cid} but must be a-z, A-Z, 0-9, with a length of 9."
        choice = req.body.get("tool_choice")
        if isinstance(choice, str) and choice not in ("auto", "none", "any", "required"):
            return 422, {"detail": [{"type": "enum", "loc": ["body", "tool_choice"],
                                     "msg": "Input should be 'auto', 'none', 'any' or 'required'",
                                     "input": choice}]}
        return None

    def chat_spec(self, body):
        """As OpenAI's, with Mistral's tool_choice "any" read as "required"."""
        if isinstance(body, dict) and body.get("tool_choice") == "any":
            body = dict(body, tool_choice="required")
        return super().chat_spec(body)

    def error(self, status, message, retry_delay=None):
        if status == 422 and isinstance(message, str):
            # its validation errors are always pydantic's list
            message = {"detail": [{"type": "value_error", "loc": ["body"], "msg": message,
                                   "input": None}]}
        return {"object": "error", "message": message,
                "type": "invalid_request_error" if status < 500 else "internal_server_error",
                "param": None, "code": None}


class Groq(OpenAI):
    """Groq's OpenAI compatibility: messages[].name is not supported (HTTP 400)."""
    name = "groq"

    def check(self, req):
        if isinstance(req.body, dict):
            for i, m in enumerate(messages_of(req.body)):
                if "name" in m:
                    return 400, f"'messages.{i}' : property 'name' is unsupported"
        return None


class DeepSeek(OpenAI):
    """DeepSeek: response_format "text" or "json_object" only, and json_object wants the word
    "json" in the prompt; message content is text only (no image parts)."""
    name = "deepseek"

    def check(self, req):
        if not isinstance(req.body, dict):
            return None
        rf = req.body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") not in ("text", "json_object"):
            return 400, "This response_format type is unavailable now"
        for i, m in enumerate(messages_of(req.body)):
            parts = m.get("content")
            if isinstance(parts, list):
                for p in parts:
                    if isinstance(p, dict) and p.get("type") != "text":
                        return 400, (f"Failed to deserialize the JSON body into the target type: "
                                     f"messages[{i}]: unknown variant `{p.get('type')}`, expected `text`")
        if isinstance(rf, dict) and rf.get("type") == "json_object":
            texts = [text_of(m.get("content")) for m in messages_of(req.body)]
            if not any("json" in (t or "").lower() for t in texts):
                return 400, ("Prompt must contain the word 'json' in some form to use "
                             "'response_format' of type 'json_object'.")
        return None

    def chat_spec(self, body):
        """json_object with "JSON schema: {...}" in a system message (what the gateway's
        deepseek preset sends for a json_schema request): the model follows that schema."""
        spec = super().chat_spec(body)
        rf = body.get("response_format")
        if spec.schema is None and isinstance(rf, dict) and rf.get("type") == "json_object":
            for m in messages_of(body):
                if m.get("role") != "system":
                    continue
                text = text_of(m.get("content")) or ""
                at = text.find("JSON schema: ")
                if at >= 0:
                    try:
                        schema = json.loads(text[at + len("JSON schema: "):])
                    except ValueError:
                        continue
                    if isinstance(schema, dict):
                        spec.schema = schema
                        break
        return spec


class Anthropic(Dialect):
    name = "anthropic"
    finish_value = "end_turn"
    recorded = {"recorded": {"chat": "anthropic_messages.json"},
                "recorded-tools": {"chat": "anthropic_tool_use.json"}}
    recorded_error = ("anthropic_error_404_not_found.json", 404)
    TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
             404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}

    def api_key(self, req):
        return req.headers.get("x-api-key")

    def check(self, req):
        if not req.headers.get("anthropic-version"):
            return 400, "anthropic-version: header is required"
        return None

    def error(self, status, message, retry_delay=None):
        etype = self.TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": etype, "message": message},
                "request_id": "req_mock"}

    def chat_texts(self, body):
        documented_limits(body, {"temperature": ("range", 0, 1), "top_p": ("range", 0, 1)})
        msgs = messages_of(body)
        get = lambda m: text_of(m.get("content"))
        texts = [text_of(body.get("system"))] + [get(m) for m in msgs]
        return texts, last_with_role(msgs, ("user",), get)

    def chat_body(self, model, reply, tin, tout, null_content):
        return {
            "id": f"msg_mock{next(_ids)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [] if null_content else [{"type": "text", "text": reply}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": tin, "output_tokens": tout,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "service_tier": "standard",
            },
        }

    def refuse(self, obj, kind):
        if kind not in ("refusal", "length", "partial"):
            return super().refuse(obj, kind)
        if kind != "partial":
            obj["content"] = []
        obj["stop_reason"] = "max_tokens" if kind == "length" else "refusal"
        return obj

    # ---- tools, structured output, images (the Messages API's shapes) ----
    SO_TOOL = "aig_structured_output"   # the gateway's forced structured-output tool
    IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

    def chat_spec(self, body):
        spec = ChatSpec()
        tools = body.get("tools") or []
        if not isinstance(tools, list):
            raise ClientError(400, "mock: tools must be a list")
        for t in tools:
            if (not isinstance(t, dict) or not isinstance(t.get("name"), str) or
                    not re.fullmatch(r"[a-zA-Z0-9_-]{1,128}", t["name"])):
                raise ClientError(400, "mock: tools.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")
            schema = t.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise ClientError(400, f"mock: tools.{t['name']}.input_schema.type: Field required ('object')")
        names = [t["name"] for t in tools]
        choice = body.get("tool_choice")
        if choice is not None:
            ctype = choice.get("type") if isinstance(choice, dict) else None
            if ctype not in ("auto", "any", "tool", "none"):
                raise ClientError(400, "mock: tool_choice.type must be one of auto, any, tool, none")
            if ctype == "none" and "disable_parallel_tool_use" in choice:
                raise ClientError(400, "mock: tool_choice.none: Extra inputs are not permitted")
            if ctype in ("any", "tool") and not tools:
                raise ClientError(400, "mock: tool_choice may only be specified while providing tools")
            if ctype == "tool" and choice.get("name") not in names:
                raise ClientError(400, f"mock: tool_choice names tool {choice.get('name')!r}, which is not in tools")
            spec.tool_choice = {"auto": "auto", "any": "required", "none": "none"}.get(
                ctype, choice.get("name"))
        forced = [t for t in tools if t["name"] == self.SO_TOOL]
        spec.tools = [{"name": t["name"], "parameters": t["input_schema"]}
                      for t in tools if t["name"] != self.SO_TOOL]
        forced_now = forced and spec.tool_choice == self.SO_TOOL
        msgs = messages_of(body)
        self._check_tool_turns(msgs)
        if msgs and msgs[-1].get("role") == "user" and isinstance(msgs[-1].get("content"), list):
            calls = {}
            if len(msgs) > 1 and isinstance(msgs[-2].get("content"), list):
                calls = {b.get("id"): b.get("name") for b in msgs[-2]["content"]
                         if isinstance(b, dict) and b.get("type") == "tool_use"}
            for b in msgs[-1]["content"]:
                if isinstance(b, dict) and b.get("type") == "tool_result":
                    spec.tool_results.append((calls.get(b.get("tool_use_id"), b.get("tool_use_id")),
                                              text_of(b.get("content"))))
        for m in msgs:
            if m.get("role") == "user" and isinstance(m.get("content"), list):
                for b in m["content"]:
                    self._attachment(spec, b)
        # the gateway's structured-output tool answers when it is forced, or when it is offered
        # beside the caller's tools with tool_choice "any" and their results are in: the
        # model's final answer
        if forced and (forced_now or (spec.tool_choice == "required" and spec.tool_results)):
            schema = forced[0]["input_schema"]
            if schema == {"type": "object"}:
                spec.json_mode = True       # json_object: any object
            else:
                spec.schema = schema
            spec.tools, spec.tool_results, spec.tool_choice = [], [], "auto"
        return spec

    @staticmethod
    def _check_tool_turns(msgs):
        """400 as the API answers: every tool_use of an assistant turn needs its tool_result in
        the user turn right after it, and a tool_result needs that tool_use."""
        for i, m in enumerate(msgs):
            blocks = m.get("content") if isinstance(m.get("content"), list) else []
            if m.get("role") == "assistant":
                ids = [b.get("id") for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"]
                for b in blocks:
                    if (isinstance(b, dict) and b.get("type") == "tool_use" and
                            (not isinstance(b.get("id"), str) or not re.fullmatch(r"[a-zA-Z0-9_-]+", b["id"])
                             or not isinstance(b.get("input"), dict))):
                        raise ClientError(400, f"mock: messages.{i}: a tool_use block needs an id "
                                               "matching ^[a-zA-Z0-9_-]+$ and an input object")
                if ids and i + 1 < len(msgs):
                    nxt = msgs[i + 1].get("content")
                    got = [b.get("tool_use_id") for b in (nxt if isinstance(nxt, list) else [])
                           if isinstance(b, dict) and b.get("type") == "tool_result"]
                    if msgs[i + 1].get("role") != "user" or set(got) != set(ids):
                        raise ClientError(400, f"mock: messages.{i + 1}: tool_use ids were found without "
                                               "tool_result blocks immediately after: " + ", ".join(ids))
            elif m.get("role") == "user" and any(isinstance(b, dict) and b.get("type") == "tool_result"
                                                 for b in blocks):
                prev = msgs[i - 1].get("content") if i > 0 else None
                ids = {b.get("id") for b in (prev if isinstance(prev, list) else [])
                       if isinstance(b, dict) and b.get("type") == "tool_use"}
                for b in blocks:
                    if isinstance(b, dict) and b.get("type") == "tool_result" and b.get("tool_use_id") not in ids:
                        raise ClientError(400, f"mock: messages.{i}: unexpected tool_use_id found in "
                                               "tool_result blocks: " + str(b.get("tool_use_id")))

    def _attachment(self, spec, block):
        if not isinstance(block, dict) or block.get("type") not in ("image", "document"):
            return
        src = block.get("source") if isinstance(block.get("source"), dict) else {}
        if src.get("type") == "url" and isinstance(src.get("url"), str):
            spec.attachments.append(("url", src["url"]))
        elif src.get("type") == "base64":
            mt = src.get("media_type")
            allowed = self.IMAGE_TYPES if block["type"] == "image" else ("application/pdf",)
            if mt not in allowed:
                raise ClientError(400, f"mock: {block['type']}.source.media_type: must be one of {list(allowed)}")
            size = decoded_size(src.get("data") or "")
            if block["type"] == "image" and len(src.get("data") or "") > 5 * 1024 * 1024:
                raise ClientError(400, f"mock: image exceeds 5 MB maximum: {len(src['data'])} bytes > 5242880 bytes")
            spec.attachments.append((mt, size))
        else:
            raise ClientError(400, f"mock: {block['type']}.source: unknown source type {src.get('type')!r}")

    def _message(self, model, content, stop_reason, tin, tout):
        obj = self.chat_body(model, "", tin, tout, True)
        obj["content"] = content
        obj["stop_reason"] = stop_reason
        return obj

    def tool_call_body(self, model, calls, tin, tout):
        return self._message(model, [{"type": "tool_use", "id": "toolu_" + cid.split("_", 1)[-1],
                                      "name": name, "input": args, "caller": {"type": "direct"}}
                                     for cid, name, args in calls], "tool_use", tin, tout)

    def structured_body(self, model, value, tin, tout, spec):
        if not isinstance(value, dict):
            # a model that ignored the forced tool (notjson) answers text
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            return self._message(model, [{"type": "text", "text": text}], "end_turn", tin, tout)
        return self._message(model, [{"type": "tool_use", "id": f"toolu_mock{next(_ids)}",
                                      "name": self.SO_TOOL, "input": value,
                                      "caller": {"type": "direct"}}], "tool_use", tin, tout)


class Cohere(Dialect):
    name = "cohere"
    finish_value = "COMPLETE"
    recorded = {"recorded": {"chat": "cohere_v2_chat.json", "embed": "cohere_v2_embed.json"},
                "recorded-tools": {"chat": "cohere_v2_chat_tool_call.json"}}
    recorded_error = ("cohere_error_404.json", 404)
    EMBEDDING_TYPES = {
        "float": lambda v: v,
        "int8": lambda v: [round(x * 127) for x in v],
        "uint8": lambda v: [round((x + 1) * 127.5) for x in v],
        "base64": float32_base64,
    }

    def error(self, status, message, retry_delay=None):
        return {"id": str(uuid.uuid4()), "message": message}

    def chat_texts(self, body):
        documented_limits(body, {"stop_sequences": ("max_items", 5), "temperature": ("range", 0, 1),
                                 "p": ("range", 0.01, 0.99), "seed": ("range", 0, 2**64 - 1)})
        msgs = messages_of(body)
        get = lambda m: text_of(m.get("content"))
        return [get(m) for m in msgs], last_with_role(msgs, ("user",), get)

    def chat_body(self, model, reply, tin, tout, null_content):
        return {
            "id": str(uuid.uuid4()),
            "message": {"role": "assistant",
                        "content": [] if null_content else [{"type": "text", "text": reply}]},
            "finish_reason": "COMPLETE",
            "usage": {"billed_units": {"input_tokens": tin, "output_tokens": tout},
                      "tokens": {"input_tokens": tin, "output_tokens": tout}},
        }

    def refuse(self, obj, kind):
        if kind not in ("refusal", "length"):
            return super().refuse(obj, kind)
        obj["message"]["content"] = []
        obj["finish_reason"] = "MAX_TOKENS" if kind == "length" else "ERROR_TOXIC"
        return obj

    # ---- tools, structured output, images (API v2's shapes) ----
    def chat_spec(self, body):
        spec = ChatSpec()
        tools = body.get("tools") or []
        if not isinstance(tools, list):
            raise ClientError(400, "mock: tools must be a list")
        for t in tools:
            fn = t.get("function") if isinstance(t, dict) else None
            if (not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict) or
                    not isinstance(fn.get("name"), str) or not isinstance(fn.get("parameters"), dict)):
                raise ClientError(400, "mock: each tool must be {type: function, function: {name, parameters}}")
            spec.tools.append({"name": fn["name"], "parameters": fn["parameters"]})
        choice = body.get("tool_choice")
        if choice is not None:
            if choice not in ("REQUIRED", "NONE"):
                raise ClientError(400, "mock: tool_choice must be one of REQUIRED, NONE")
            if choice == "REQUIRED" and not tools:
                raise ClientError(400, "mock: tool_choice REQUIRED needs the tools parameter")
            spec.tool_choice = choice.lower()
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") == "json_object":
            if tools:
                raise ClientError(400, "mock: response_format is not supported with tools")
            if isinstance(rf.get("json_schema"), dict):
                spec.schema = rf["json_schema"]
            else:
                spec.json_mode = True
        msgs = messages_of(body)
        calls = {}
        for i, m in enumerate(msgs):
            if m.get("role") == "assistant":
                for c in m.get("tool_calls") or []:
                    fn = c.get("function") if isinstance(c, dict) else None
                    if not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str):
                        raise ClientError(400, f"mock: messages[{i}].tool_calls: function.arguments must be a string")
                    try:
                        json.loads(fn["arguments"])
                    except ValueError:
                        raise ClientError(400, f"mock: messages[{i}].tool_calls: arguments is not JSON")
                    calls[c.get("id")] = fn.get("name")
            elif m.get("role") == "tool":
                if m.get("tool_call_id") not in calls:
                    raise ClientError(400, f"mock: messages[{i}]: tool_call_id {m.get('tool_call_id')!r} "
                                           "matches no earlier tool call")
            elif m.get("role") == "user" and isinstance(m.get("content"), list):
                for part in m["content"]:
                    self._attachment(spec, part)
        for m in reversed(msgs):
            if m.get("role") != "tool":
                break
            spec.tool_results.insert(0, (calls.get(m.get("tool_call_id")), text_of(m.get("content"))))
        return spec

    @staticmethod
    def _attachment(spec, part):
        if not isinstance(part, dict) or part.get("type") != "image_url":
            if isinstance(part, dict) and part.get("type") not in ("text", None):
                raise ClientError(400, f"mock: unsupported content type {part.get('type')!r}")
            return
        url = (part.get("image_url") or {}).get("url") if isinstance(part.get("image_url"), dict) else None
        if not isinstance(url, str):
            raise ClientError(400, "mock: image_url.url is required")
        m = re.fullmatch(r"data:([\w/+.-]+);base64,(.*)", url, re.S)
        if m:
            spec.attachments.append((m.group(1), decoded_size(m.group(2))))
        else:
            spec.attachments.append(("url", url))

    def tool_call_body(self, model, calls, tin, tout):
        obj = self.chat_body(model, "", tin, tout, True)
        obj["finish_reason"] = "TOOL_CALL"
        obj["message"] = {
            "role": "assistant",
            "tool_plan": "I will use one or more of the available tools to find the answer",
            "tool_calls": [{"id": f"{name}_{cid.split('_', 1)[-1]}", "type": "function",
                            "function": {"name": name, "arguments": json.dumps(args, separators=(",", ":"))}}
                           for cid, name, args in calls],
        }
        return obj

    def embed_texts(self, body, kind):
        if "texts" not in body:
            raise ClientError(400, "mock: 'texts' is required")
        documented_limits(body, {"input_type": ("enum", {"search_document", "search_query",
                                                         "classification", "clustering", "image"})})
        dim = dimension(body.get("output_dimension"))
        return [(t, dim) for t in string_list(body["texts"], "texts")]

    def embed_body(self, model, body, kind, vectors, tin):
        types = body.get("embedding_types") or ["float"]
        if not isinstance(types, list) or any(t not in self.EMBEDDING_TYPES for t in types):
            raise ClientError(400, f"mock: unsupported embedding_types {types!r}")
        embeddings = {t: [None if v is None else self.EMBEDDING_TYPES[t](v) for v in vectors]
                      for t in types}
        return {
            "id": str(uuid.uuid4()),
            "embeddings": embeddings,
            "texts": body.get("texts"),
            "meta": {"api_version": {"version": "2"},
                     "billed_units": {"input_tokens": tin, "image_tokens": 0}},
            "response_type": "embeddings_by_type",
        }


class Ollama(Dialect):
    name = "ollama"
    key_required = False
    recorded = {"recorded": {"chat": "ollama_api_chat.DOCS_EXAMPLE.json",
                             "embed": "ollama_api_embed.json"},
                "recorded-tools": {"chat": "ollama_api_chat_tools.DOCS_EXAMPLE.json"}}
    recorded_error = ("ollama_error_400_context.json", 400)

    def error(self, status, message, retry_delay=None):
        return {"error": message}

    def chat_texts(self, body):
        msgs = messages_of(body)
        get = lambda m: text_of(m.get("content"))
        return [get(m) for m in msgs], last_with_role(msgs, ("user",), get)

    def chat_body(self, model, reply, tin, tout, null_content):
        return {
            "model": model,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
            "message": {"role": "assistant", "content": None if null_content else reply},
            "done_reason": "stop",
            "done": True,
            "total_duration": 1000000,
            "load_duration": 100000,
            "prompt_eval_count": tin,
            "prompt_eval_duration": 200000,
            "eval_count": tout,
            "eval_duration": 700000,
        }

    def chat_spec(self, body):
        spec = ChatSpec()
        spec.tools = function_tools(body)
        msgs = messages_of(body)
        for i, m in enumerate(msgs):
            images = m.get("images")
            if images is not None:
                if not isinstance(images, list) or not all(isinstance(b, str) for b in images):
                    raise ClientError(400, f"mock: messages[{i}].images must be a list of base64 strings")
                for b in images:
                    size = decoded_size(b)
                    spec.attachments.append((sniff_image(base64.b64decode(b)), size))
            calls = m.get("tool_calls")
            if calls is not None:
                for c in calls if isinstance(calls, list) else [None]:
                    fn = c.get("function") if isinstance(c, dict) else None
                    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or \
                            not isinstance(fn.get("arguments", {}), dict):
                        # Go: cannot unmarshal string into ... api.ToolCallFunctionArguments
                        raise ClientError(400, f"mock: messages[{i}].tool_calls: function.arguments "
                                               "must be an object")
        spec.tool_results = tool_results_after_last_user(
            msgs, lambda m: m.get("tool_name") or "tool")
        fmt = body.get("format")
        if isinstance(fmt, dict):
            spec.schema = fmt
        elif fmt == "json":
            spec.json_mode = True
        elif fmt not in (None, ""):
            raise ClientError(400, f"mock: invalid format {fmt!r}")
        return spec

    def tool_call_body(self, model, calls, tin, tout):
        obj = self.chat_body(model, "", tin, tout, False)
        obj["message"]["tool_calls"] = [{"function": {"name": name, "arguments":
                                                      [1, 2] if bad_arguments(model) else args}}
                                        for _, name, args in calls]
        return obj

    def embed_texts(self, body, kind):
        if "input" not in body:
            raise ClientError(400, "mock: 'input' is required")
        dim = dimension(body.get("dimensions"))
        return [(t, dim) for t in string_list(body["input"], "input")]

    def embed_body(self, model, body, kind, vectors, tin):
        return {"model": model, "embeddings": vectors, "total_duration": 1000000,
                "load_duration": 100000, "prompt_eval_count": tin}


class Gemini(Dialect):
    name = "gemini"
    finish_value = "STOP"
    recorded = {"recorded": {"chat": "gemini_generate_content.json",
                             "embed": "gemini_batch_embed_contents.json",
                             "embed_one": GEMINI_EMBED_ONE_SAMPLE},
                "recorded-tools": {"chat": "gemini_function_call.json"}}
    recorded_error = ("gemini_error_404.json", 404)
    STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

    def api_key(self, req):
        return req.headers.get("x-goog-api-key")

    def error(self, status, message, retry_delay=None):
        gstatus = self.STATUSES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
        err = {"code": status, "message": message, "status": gstatus}
        if status == 429 and retry_delay is not None:
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                               "retryDelay": retry_delay}]
        return {"error": err}

    @staticmethod
    def content_text(content):
        return text_of(content.get("parts")) if isinstance(content, dict) else ""

    def chat_texts(self, body):
        documented_limits(body, {"generationConfig.stopSequences": ("max_items", 5),
                                 "generationConfig.temperature": ("range", 0, 2),
                                 "generationConfig.topP": ("range", 0, 1)})
        contents = messages_of(body, "contents")
        texts = [self.content_text(body.get("systemInstruction"))]
        texts += [self.content_text(c) for c in contents]
        return texts, last_with_role(contents, ("user", None), self.content_text)

    def chat_body(self, model, reply, tin, tout, null_content):
        candidate = {"finishReason": "STOP", "avgLogprobs": -0.01}
        if not null_content:
            candidate["content"] = {"parts": [{"text": reply}], "role": "model"}
        return {
            "candidates": [candidate],
            "modelVersion": model,
            "responseId": f"mock{next(_ids)}",
            "usageMetadata": {
                "promptTokenCount": tin, "candidatesTokenCount": tout,
                "totalTokenCount": tin + tout,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tin}],
                "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": tout}],
            },
        }

    FINISH = {"refusal": "SAFETY", "length": "MAX_TOKENS", "RECITATION": "RECITATION",
              "BLOCKLIST": "BLOCKLIST", "PROHIBITED_CONTENT": "PROHIBITED_CONTENT",
              "SPII": "SPII", "SAFETY": "SAFETY"}

    def refuse(self, obj, kind):
        if kind == "prompt":
            del obj["candidates"]
            obj["promptFeedback"] = {"blockReason": "SAFETY", "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]}
            obj["usageMetadata"]["candidatesTokenCount"] = 0
            return obj
        if kind not in self.FINISH:
            return super().refuse(obj, kind)
        cand = obj["candidates"][0]
        cand.pop("content", None)
        cand["finishReason"] = self.FINISH[kind]
        if kind != "length":
            cand["safetyRatings"] = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                                      "probability": "HIGH", "blocked": True}]
        return obj

    # ---- tools, structured output, images (the API document of revision 20241016) ----
    SCHEMA_KEYS = {"type", "format", "description", "nullable", "enum", "properties", "required",
                   "items", "maxItems", "minItems"}
    SCHEMA_TYPES = {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"}
    FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
    MODES = {"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE"}

    def check_schema(self, schema, where, depth=0):
        """400 like the real API for a Schema its document does not have (it refuses unknown
        members: 'Invalid JSON payload received. Unknown name ...')."""
        if not isinstance(schema, dict) or depth > 40:
            raise ClientError(400, f"mock: {where} must be a Schema object")
        for key in schema:
            if key not in self.SCHEMA_KEYS:
                raise ClientError(400, f'Invalid JSON payload received. Unknown name "{key}" at \'{where}\'')
        if schema.get("type") not in self.SCHEMA_TYPES:
            raise ClientError(400, f"mock: {where}.type must be one of {sorted(self.SCHEMA_TYPES)}")
        if schema["type"] == "OBJECT" and not schema.get("properties"):
            raise ClientError(400, f"* GenerateContentRequest.{where}.properties: "
                                   "should be non-empty for OBJECT type")
        for key in ("minItems", "maxItems"):
            if key in schema and not (isinstance(schema[key], str) and schema[key].isdigit()):
                raise ClientError(400, f"mock: {where}.{key} must be an int64 string")
        if "enum" in schema and not (isinstance(schema["enum"], list) and
                                     all(isinstance(e, str) for e in schema["enum"])):
            raise ClientError(400, f"mock: {where}.enum must be a list of strings")
        props = schema.get("properties", {})
        if not isinstance(props, dict):
            raise ClientError(400, f"mock: {where}.properties must be an object")
        for name, sub in props.items():
            self.check_schema(sub, f"{where}.properties[{name}]", depth + 1)
        if "items" in schema:
            self.check_schema(schema["items"], f"{where}.items", depth + 1)

    def _tools(self, body, spec):
        tools = body.get("tools", [])
        if not isinstance(tools, list):
            raise ClientError(400, "mock: 'tools' must be a list")
        for i, tool in enumerate(tools):
            decls = tool.get("functionDeclarations", []) if isinstance(tool, dict) else None
            if not isinstance(decls, list):
                raise ClientError(400, f"mock: tools[{i}].functionDeclarations must be a list")
            for j, f in enumerate(decls):
                where = f"tools[{i}].function_declarations[{j}]"
                name = f.get("name") if isinstance(f, dict) else None
                if not isinstance(name, str) or not self.FUNCTION_NAME.match(name):
                    raise ClientError(400, f"mock: {where}.name is missing or invalid")
                params = f.get("parameters")
                if params is not None:
                    self.check_schema(params, f"{where}.parameters")
                spec.tools.append({"name": name, "parameters": params or {"type": "OBJECT"}})
        fcc = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        mode = fcc.get("mode", "AUTO")
        if mode not in self.MODES:
            raise ClientError(400, f"mock: functionCallingConfig.mode must be one of {sorted(self.MODES)}")
        allowed = fcc.get("allowedFunctionNames")
        if allowed is not None:
            if mode != "ANY":
                raise ClientError(400, "mock: allowedFunctionNames is only for mode ANY")
            if not isinstance(allowed, list) or not all(
                    any(t["name"] == a for t in spec.tools) for a in allowed):
                raise ClientError(400, "mock: allowedFunctionNames must name declared functions")
        if mode == "NONE":
            spec.tool_choice = "none"
        elif mode == "ANY":
            spec.tool_choice = allowed[0] if allowed and len(allowed) == 1 else "required"

    def _parts(self, contents, spec):
        for i, c in enumerate(contents):
            if c.get("role") not in (None, "user", "model"):
                raise ClientError(400, f"mock: contents[{i}].role must be 'user' or 'model'")
            parts = c.get("parts")
            if not isinstance(parts, list) or not parts:
                raise ClientError(400, f"mock: contents[{i}].parts must be a non-empty list")
            for j, p in enumerate(parts):
                where = f"contents[{i}].parts[{j}]"
                if not isinstance(p, dict) or len(p.keys() & {"text", "inlineData", "fileData",
                                                              "functionCall", "functionResponse"}) != 1:
                    raise ClientError(400, f"mock: {where} must have exactly one kind of data")
                if "inlineData" in p:
                    blob = p["inlineData"]
                    if not isinstance(blob, dict) or not isinstance(blob.get("mimeType"), str):
                        raise ClientError(400, f"mock: {where}.inlineData needs mimeType and data")
                    spec.attachments.append((blob["mimeType"], decoded_size(blob.get("data"))))
                elif "fileData" in p:
                    fd = p["fileData"]
                    if not isinstance(fd, dict) or not isinstance(fd.get("fileUri"), str):
                        raise ClientError(400, f"mock: {where}.fileData needs fileUri")
                    spec.attachments.append(("url", fd["fileUri"]))
                elif "functionCall" in p:
                    fc = p["functionCall"]
                    if (c.get("role") != "model" or not isinstance(fc, dict) or
                            not isinstance(fc.get("name"), str) or
                            not isinstance(fc.get("args", {}), dict)):
                        raise ClientError(400, f"mock: {where}.functionCall must be a model's "
                                               "{name, args}")
                elif "functionResponse" in p:
                    fr = p["functionResponse"]
                    if (c.get("role") == "model" or not isinstance(fr, dict) or
                            not isinstance(fr.get("name"), str) or
                            not isinstance(fr.get("response"), dict)):
                        raise ClientError(400, f"mock: {where}.functionResponse must be a user's "
                                               "{name, response: {...}}")
        # tool results: the functionResponse parts of the last content
        last = contents[-1].get("parts") if contents else []
        for p in last or []:
            if "functionResponse" in p:
                resp = p["functionResponse"]["response"]
                value = resp["result"] if set(resp) == {"result"} else resp
                text = value if isinstance(value, str) else json.dumps(
                    value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
                spec.tool_results.append((p["functionResponse"]["name"], text))

    def chat_spec(self, body):
        spec = ChatSpec()
        self._tools(body, spec)
        self._parts(messages_of(body, "contents"), spec)
        gc = body.get("generationConfig") or {}
        mime = gc.get("responseMimeType")
        for key in ("responseSchema", "responseJsonSchema"):
            if key in gc:
                if mime != "application/json":
                    raise ClientError(400, f"mock: {key} needs responseMimeType application/json")
                if key == "responseSchema":
                    self.check_schema(gc[key], "generation_config.response_schema")
                spec.schema = gc[key]
        if spec.schema is None and mime == "application/json":
            spec.json_mode = True
        return spec

    def tool_call_body(self, model, calls, tin, tout):
        # the recorded shape (test/samples/gemini_function_call.json): no call ids, STOP
        obj = self.chat_body(model, "", tin, tout, False)
        cand = obj["candidates"][0]
        cand["content"]["parts"] = [{"functionCall": {"name": name, "args": args}}
                                    for _id, name, args in calls]
        cand["finishMessage"] = "Model generated function call(s)."
        cand["index"] = 0
        return obj

    TASK_TYPES = {"TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT",
                  "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING",
                  "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY"}

    def embed_texts(self, body, kind):
        for r in [body] + (body.get("requests") if isinstance(body.get("requests"), list) else []):
            if isinstance(r, dict):
                documented_limits(r, {"taskType": ("enum", self.TASK_TYPES)})
        if kind == "embed_one":
            return [(self.content_text(body.get("content")),
                     dimension(body.get("outputDimensionality")))]
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise ClientError(400, "mock: 'requests' must be a non-empty list")
        return [(self.content_text(r.get("content")), dimension(r.get("outputDimensionality")))
                for r in (r if isinstance(r, dict) else {} for r in requests)]

    def embed_body(self, model, body, kind, vectors, tin):
        if kind == "embed_one":
            return {"embedding": {"values": vectors[0]}}
        return {"embeddings": [{"values": v} for v in vectors]}



# --------------------------------------------------------------------------------------------
# AWS Bedrock (Converse chat, InvokeModel embeddings) with SigV4 verification.  Every request
# must carry a valid signature (recomputed here from the request as it arrived, as AWS does:
# the path as sent percent-encoded once more, the sorted query, the signed headers, the
# payload's SHA-256) or a Bedrock API key (Bearer; one starting with "bad" is refused).
# Known credentials: AWS's documented example pair, and a temporary one that is only valid
# with its session token.  Errors are {"message"} with the exception in x-amzn-ErrorType.
# --------------------------------------------------------------------------------------------

AWS_CREDENTIALS = {
    # access key id -> (secret access key, session token or None)
    "AKIDEXAMPLE": ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    "ASIAMOCKTEMPORARY": ("mockTemporarySecretKey/EXAMPLE0123456789",
                          "mock-session-token-EXAMPLE-0123456789"),
}
AWS_SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you "
                          "provided. Check your AWS Secret Access Key and signing method. Consult "
                          "the service documentation for details.")
AWS_SIGV4_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/"
                          r"(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
                          r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<sig>[0-9a-f]{64})$")
AWS_ERROR_TYPES = {400: "ValidationException", 401: "UnrecognizedClientException",
                   403: "AccessDeniedException", 404: "ResourceNotFoundException",
                   408: "ModelTimeoutException", 424: "ModelErrorException",
                   429: "ThrottlingException", 500: "InternalServerException",
                   503: "ServiceUnavailableException"}


def aws_quote(s, safe="-_.~"):
    from urllib.parse import quote
    return quote(s, safe=safe)


def sigv4_expected(req, akid_secret, date, region, service, signed):
    """The signature AWS computes for req: (hex, canonical request)."""
    from urllib.parse import parse_qsl
    query = sorted((aws_quote(k), aws_quote(v))
                   for k, v in parse_qsl(req.query, keep_blank_values=True))
    lines = []
    for name in signed.split(";"):
        value = req.headers.get(name)
        if value is None:
            raise ClientError(403, f"mock: signed header {name} is missing")
        lines.append(f"{name}:{' '.join(value.split())}\n")
    creq = "\n".join([req.method, aws_quote(req.path or "/", safe="/-_.~"),
                      "&".join(f"{k}={v}" for k, v in query), "".join(lines), signed,
                      hashlib.sha256(req.raw or b"").hexdigest()])
    sts = "\n".join(["AWS4-HMAC-SHA256", req.headers.get("x-amz-date", ""),
                     f"{date}/{region}/{service}/aws4_request",
                     hashlib.sha256(creq.encode()).hexdigest()])

    def hm(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = hm(hm(hm(hm(("AWS4" + akid_secret).encode(), date), region), service), "aws4_request")
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest(), creq


def sigv4_problem(req):
    """None when req is signed with known credentials, else (status, message) as AWS answers."""
    auth = req.headers.get("authorization")
    if not auth:
        return 403, "Missing Authentication Token"
    if auth[:7].lower() == "bearer ":
        if auth[7:].strip().startswith("bad") or not auth[7:].strip():
            return 403, "The security token included in the request is invalid."
        return None
    m = AWS_SIGV4_RE.match(auth)
    if not m:
        return 403, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."
    creds = AWS_CREDENTIALS.get(m["akid"])
    if creds is None:
        return 403, "The security token included in the request is invalid."
    secret, token = creds
    signed = m["signed"].split(";")
    amz_date = req.headers.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or amz_date[:8] != m["date"]:
        return 403, "mock: host and x-amz-date must be signed, and the scope date be the request's"
    if m["service"] != "bedrock":
        return 403, f"Credential should be scoped to correct service: 'bedrock'."
    try:
        when = time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) - time.timezone
    except ValueError:
        return 403, "mock: X-Amz-Date is not of the form YYYYMMDDTHHMMSSZ"
    if abs(when - time.time()) > 15 * 60:
        return 403, f"Signature expired: {amz_date} is now earlier than the allowed window."
    sent_token = req.headers.get("x-amz-security-token")
    if sent_token is not None and "x-amz-security-token" not in signed:
        return 403, "mock: x-amz-security-token is sent but not signed"
    if token is not None and sent_token != token:
        return 403, "The security token included in the request is invalid."
    want, _creq = sigv4_expected(req, secret, m["date"], m["region"], m["service"], m["signed"])
    if not hmac.compare_digest(want, m["sig"]):
        return 403, AWS_SIGNATURE_MISMATCH
    return None


class Bedrock(Dialect):
    name = "bedrock"
    finish_value = "end_turn"
    STRUCT_TOOL = "aig_structured_output"
    VALUE_TOOL = "aig_structured_value"

    def api_key(self, req):
        """The Bearer key, or (what echo_key repeats, as a hostile provider would) the secret
        access key the mock holds for the signature's key id."""
        auth = req.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        m = AWS_SIGV4_RE.match(auth)
        if not m:
            return None
        return AWS_CREDENTIALS.get(m["akid"], (m["akid"], None))[0]

    def check(self, req):
        return sigv4_problem(req)

    def error(self, status, message, retry_delay=None):
        return {"message": message}

    def error_headers(self, status):
        return [("x-amzn-ErrorType", AWS_ERROR_TYPES.get(status, "InternalServerException")
                 + ":http://internal.amazon.com/coral/com.amazon.bedrock/")]

    @staticmethod
    def blocks(m):
        c = m.get("content")
        return [b for b in c if isinstance(b, dict)] if isinstance(c, list) else []

    def chat_texts(self, body):
        documented_limits(body, {"inferenceConfig.temperature": ("range", 0, 1),
                                 "inferenceConfig.topP": ("range", 0, 1)})
        msgs = messages_of(body)
        texts = [text_of(s) for s in body.get("system") or [] if isinstance(s, dict)]
        texts += [text_of(self.blocks(m)) for m in msgs]
        last_user = ""
        for m in reversed(msgs):
            t = text_of([b for b in self.blocks(m) if "text" in b])
            if m.get("role") == "user" and t:
                last_user = t
                break
        return texts, last_user

    def chat_spec(self, body):
        spec = ChatSpec()
        tc = body.get("toolConfig") or {}
        forced = None
        choice = tc.get("toolChoice") or {}
        if "any" in choice:
            spec.tool_choice = "required"
        elif isinstance(choice.get("tool"), dict):
            forced = choice["tool"].get("name")
            spec.tool_choice = forced
        for t in tc.get("tools") or []:
            ts = t.get("toolSpec") if isinstance(t, dict) else None
            if not isinstance(ts, dict):
                raise ClientError(400, "mock: each tool must be {toolSpec: {...}}")
            schema = (ts.get("inputSchema") or {}).get("json")
            if not isinstance(schema, dict):
                raise ClientError(400, "mock: toolSpec.inputSchema.json must be an object")
            if ts.get("name") == self.STRUCT_TOOL:
                if schema == {"type": "object"}:
                    spec.json_mode = True
                else:
                    spec.schema = schema
            elif ts.get("name") == self.VALUE_TOOL:
                spec.schema = (schema.get("properties") or {}).get("value") or {}
                spec.value_wrapped = True
            else:
                spec.tools.append({"name": ts.get("name"), "parameters": schema})
        if forced in (self.STRUCT_TOOL, self.VALUE_TOOL):
            spec.tool_choice = "auto"
        msgs = messages_of(body)
        names = {}
        for m in msgs:
            for b in self.blocks(m):
                if isinstance(b.get("toolUse"), dict):
                    names[b["toolUse"].get("toolUseId")] = b["toolUse"].get("name")
        if (msgs and msgs[-1].get("role") == "user" and names and not tc.get("tools")):
            raise ClientError(400, "The toolConfig field must be defined when using toolUse "
                                   "and toolResult content blocks.")
        if msgs and msgs[-1].get("role") == "user":
            for b in self.blocks(msgs[-1]):
                tr = b.get("toolResult")
                if isinstance(tr, dict):
                    parts = []
                    for c in tr.get("content") or []:
                        if "json" in c:
                            parts.append(json.dumps(c["json"], separators=(",", ":")))
                        else:
                            parts.append(text_of(c))
                    spec.tool_results.append((names.get(tr.get("toolUseId"), tr.get("toolUseId")),
                                              "".join(parts)))
        for m in msgs:
            for b in self.blocks(m):
                for kind in ("image", "document"):
                    part = b.get(kind)
                    if isinstance(part, dict):
                        data = (part.get("source") or {}).get("bytes")
                        if not isinstance(data, str):
                            raise ClientError(400, f"mock: {kind}.source.bytes must be base64 text")
                        fmt = part.get("format")
                        media = f"image/{fmt}" if kind == "image" else f"application/{fmt}"
                        if kind == "document" and not part.get("name"):
                            raise ClientError(400, "mock: a document needs a name")
                        spec.attachments.append((media, decoded_size(data)))
        return spec

    def message_body(self, content, stop, tin, tout):
        return {"output": {"message": {"role": "assistant", "content": content}},
                "stopReason": stop,
                "usage": {"inputTokens": tin, "outputTokens": tout, "totalTokens": tin + tout},
                "metrics": {"latencyMs": 1}}

    def chat_body(self, model, reply, tin, tout, null_content):
        return self.message_body([] if null_content else [{"text": reply}], "end_turn", tin, tout)

    def tool_call_body(self, model, calls, tin, tout):
        return self.message_body([{"toolUse": {"toolUseId": cid, "name": name, "input": args}}
                                  for cid, name, args in calls], "tool_use", tin, tout)

    def structured_body(self, model, value, tin, tout, spec):
        if isinstance(value, str):        # notjson: the model answers in text instead
            return self.chat_body(model, value, tin, tout, False)
        wrapped = getattr(spec, "value_wrapped", False)
        name = self.VALUE_TOOL if wrapped else self.STRUCT_TOOL
        arg = {"value": value} if wrapped else value
        return self.message_body([{"toolUse": {"toolUseId": "tooluse_mock_structured",
                                               "name": name, "input": arg}}],
                                 "tool_use", tin, tout)

    def refuse(self, obj, kind):
        if kind in ("refusal", "guardrail"):
            obj["stopReason"] = "guardrail_intervened"
            obj["output"]["message"]["content"] = [{"text": "Sorry, the model cannot answer this question."}]
        elif kind == "filter":
            obj["stopReason"] = "content_filtered"
            obj["output"]["message"]["content"] = []
        elif kind == "length":
            obj["stopReason"] = "max_tokens"
            obj["output"]["message"]["content"] = []
        else:
            return super().refuse(obj, kind)
        return obj

    def embed_texts(self, body, kind):
        if "inputText" in body:
            if not isinstance(body["inputText"], str):
                raise ClientError(400, "mock: inputText must be a string")
            return [(body["inputText"], dimension(body.get("dimensions")))]
        if "texts" in body:
            if not body.get("input_type"):
                raise ClientError(400, "mock: input_type is required")
            return [(t, dimension(body.get("output_dimension")))
                    for t in string_list(body["texts"], "texts")]
        raise ClientError(400, "mock: expected inputText (titan) or texts (cohere)")

    def embed_body(self, model, body, kind, vectors, tin):
        if "inputText" in body:
            return {"embedding": None if vectors[0] is None else list(vectors[0]),
                    "inputTextTokenCount": tin}
        return {"embeddings": [None if v is None else list(v) for v in vectors],
                "id": "mock-embed", "response_type": "embeddings_floats", "texts": body["texts"]}


class Vertex(Gemini):
    """Vertex AI's Gemini models: Gemini's bodies, an OAuth bearer token the mock issued."""
    name = "vertex"

    def api_key(self, req):
        return Dialect.api_key(self, req)


DIALECTS = {d.name: d for d in (OpenAI(), Azure(), Anthropic(), Cohere(), Ollama(), Gemini(),
                                  Bedrock(), Vertex(), Mistral(), Groq(), DeepSeek())}

# (pattern on the raw path, dialect, route kind); the first match wins, so the specific
# Azure and Gemini shapes come before the generic OpenAI suffixes.
ROUTES = [
    (re.compile(r"^.*/v1/projects/[^/]+/locations/[^/]+/publishers/google/models/"
                r"(?P<model>[^/]+):generateContent$"), "vertex", "chat"),
    (re.compile(r"^.*/model/(?P<model>[^/]+)/converse$"), "bedrock", "chat"),
    (re.compile(r"^.*/model/(?P<model>[^/]+)/invoke$"), "bedrock", "embed"),
    (re.compile(r"^.*/openai/deployments/(?P<model>[^/]+)/chat/completions$"), "azure", "chat"),
    (re.compile(r"^.*/openai/deployments/(?P<model>[^/]+)/embeddings$"), "azure", "embed"),
    (re.compile(r"^.*/models/(?P<model>[^/]+):generateContent$"), "gemini", "chat"),
    (re.compile(r"^.*/models/(?P<model>[^/]+):batchEmbedContents$"), "gemini", "embed"),
    (re.compile(r"^.*/models/(?P<model>[^/]+):embedContent$"), "gemini", "embed_one"),
    (re.compile(r"^.*/v1/messages$"), "anthropic", "chat"),
    (re.compile(r"^.*/v2/chat$"), "cohere", "chat"),
    (re.compile(r"^.*/v2/embed$"), "cohere", "embed"),
    (re.compile(r"^.*/api/chat$"), "ollama", "chat"),
    (re.compile(r"^.*/api/embed$"), "ollama", "embed"),
    (re.compile(r"^/mistral/.*/chat/completions$"), "mistral", "chat"),
    (re.compile(r"^/mistral/.*/embeddings$"), "mistral", "embed"),
    (re.compile(r"^/groq/.*/chat/completions$"), "groq", "chat"),
    (re.compile(r"^/deepseek/(.*/)?chat/completions$"), "deepseek", "chat"),
    (re.compile(r"^.*/chat/completions$"), "openai", "chat"),
    (re.compile(r"^.*/embeddings$"), "openai", "embed"),
]


def route(path):
    """-> (dialect, kind, decoded path model or None), or None for an unknown path."""
    for pattern, dialect, kind in ROUTES:
        m = pattern.match(path)
        if m:
            model = m.groupdict().get("model")
            return DIALECTS[dialect], kind, (unquote(model) if model is not None else None)
    return None


# --------------------------------------------------------------------------------------------
# Fault directives: "model+latency=200+status=429+retry_after=2"
# --------------------------------------------------------------------------------------------

FLAG_DIRECTIVES = frozenset(("reset", "reset_mid", "hang", "malformed", "truncated", "empty",
                             "html", "wrong_ctype", "invalid_utf8", "wrong_shape",
                             "null_content", "echo_key", "echo_prompt", "redirect", "html200", "wrong_type",
                             "intl_error", "badjson", "notjson", "unauth_once"))
FLAG_DIRECTIVES |= {"badargs"}     # tools_openai: see bad_arguments()
VALUE_DIRECTIVES = {"latency": float, "status": int, "retry_after": float,
                    "retry_after_date": float, "retry_after_ms": float, "fail_first": int,
                    "seq": str, "trickle": float, "oversized": int, "chunk": int,
                    "pad": int, "refuse": str, "badjson_first": int, "bytes_per_input": int}
# Batch APIs (test/mock_batches.py): read from a batch's first line; live routes ignore them.
VALUE_DIRECTIVES.update({"batch_polls": int, "batch_end": str})
# What a batch line ignores: faults of a live connection or of the HTTP body's bytes.
BATCH_IGNORED_FLAGS = frozenset(("reset", "reset_mid", "hang", "malformed", "truncated", "empty",
                                 "html", "html200", "wrong_ctype", "redirect"))
BATCH_IGNORED_VALUES = ("latency", "trickle", "chunk")


class Directives:
    def __init__(self, model):
        parts = model.split("+")
        self.base = parts[0]
        self.flags = set()
        self.values = {}
        self.raw = {}
        for part in parts[1:]:
            name, eq, text = part.partition("=")
            if not eq:
                if name not in FLAG_DIRECTIVES:
                    raise ClientError(400, f"mock: unknown directive {part!r}")
                self.flags.add(name)
                continue
            conv = VALUE_DIRECTIVES.get(name)
            if conv is None:
                raise ClientError(400, f"mock: unknown directive {part!r}")
            try:
                value = conv(text)
            except ValueError:
                raise ClientError(400, f"mock: bad value in directive {part!r}") from None
            if conv is not str and value < 0:
                raise ClientError(400, f"mock: negative value in directive {part!r}")
            self.values[name] = value
            self.raw[name] = text
        status = self.values.get("status")
        if status is not None and not 100 <= status <= 599:
            raise ClientError(400, f"mock: bad status {status}")

    def retry_headers(self):
        headers = []
        if "retry_after" in self.values:
            headers.append(("Retry-After", self.raw["retry_after"]))
        if "retry_after_date" in self.values:
            when = time.time() + self.values["retry_after_date"]
            headers.append(("Retry-After", email.utils.formatdate(when, usegmt=True)))
        if "retry_after_ms" in self.values:
            headers.append(("retry-after-ms", self.raw["retry_after_ms"]))
        return headers

    def retry_delay(self):
        """Gemini RetryInfo duration ("2s", "0.25s"), or None when no delay was requested."""
        v = self.values
        if "retry_after" in v:
            secs = v["retry_after"]
        elif "retry_after_date" in v:
            secs = v["retry_after_date"]
        elif "retry_after_ms" in v:
            secs = v["retry_after_ms"] / 1000.0
        else:
            return None
        if secs == int(secs):
            return f"{int(secs)}s"
        return f"{secs:.3f}".rstrip("0") + "s"


# --------------------------------------------------------------------------------------------
# Token endpoints (OAuth 2.0): Google's JWT bearer grant and Microsoft's client credentials
# --------------------------------------------------------------------------------------------

GOOGLE_TOKEN_PATH = re.compile(r"^.*/token$")
ENTRA_TOKEN_PATH = re.compile(r"^.*/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rs256_verify(pubkey_pem, signing_input, signature):
    """Check an RS256 signature with the openssl command-line tool."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        key, data, sig = (os.path.join(tmp, n) for n in ("key.pem", "data", "sig"))
        for path, content in ((key, pubkey_pem), (data, signing_input), (sig, signature)):
            with open(path, "wb") as f:
                f.write(content)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", key, "-signature", sig, data],
                           capture_output=True, timeout=10)
        return r.returncode == 0


class Tokens:
    """Tokens the mock issued: token -> expiry (time.time()), and their counters."""

    def __init__(self):
        self.lock = threading.Lock()
        self.jwt_key = None          # PEM public key of the service account (bytes)
        self.issued = {}             # kept across /_mock/reset: clients still hold them
        self.reset()

    def reset(self):
        with self.lock:
            self.count = 0
            self.by_grant = {}
            self.unauth_given = 0

    def issue(self, grant, expires_in):
        with self.lock:
            self.count += 1
            self.by_grant[grant] = self.by_grant.get(grant, 0) + 1
            token = f"ya29.mock-{grant[:6]}-{self.count}-{uuid.uuid4().hex}"
            self.issued[token] = time.time() + expires_in
            return token

    def problem(self, token):
        """None when token is one the mock issued and it has not expired, else why not."""
        with self.lock:
            expiry = self.issued.get(token or "")
        if expiry is None:
            return "mock: unknown access token"
        if time.time() >= expiry:
            return "mock: access token expired"
        return None

    def revoke(self, token):
        """unauth_once: the token is revoked early (every later use gets a 401)."""
        with self.lock:
            self.issued.pop(token, None)
            self.unauth_given += 1

    def snapshot(self):
        with self.lock:
            return {"tokens_issued": self.count, "tokens_by_grant": dict(self.by_grant),
                    "unauth_once": self.unauth_given}


def token_answer(server, path, query, form):
    """(status, body) of a token request, or None when path is no token endpoint."""
    q = {k: v[-1] for k, v in parse_qs(query).items()}
    m = ENTRA_TOKEN_PATH.match(path)
    if m is None and not GOOGLE_TOKEN_PATH.match(path):
        return None
    if "latency" in q:
        server.stopping.wait(float(q["latency"]) / 1000.0)
    f = {k: v[-1] for k, v in parse_qs(form, keep_blank_values=True).items()}
    expires_in = int(q.get("expires_in", "3599"))

    def refuse(status, error, desc, secret=None):
        if "echo_secret" in q and secret:
            desc += f" (received: {secret})"
        return status, {"error": error, "error_description": desc}

    if "status" in q:
        return refuse(int(q["status"]), "temporarily_unavailable", "mock: token endpoint failure",
                      f.get("client_secret") or f.get("assertion"))
    if m is not None:
        if f.get("grant_type") != "client_credentials":
            return refuse(400, "unsupported_grant_type", "AADSTS70003: grant_type must be client_credentials")
        if f.get("scope") != ENTRA_SCOPE:
            return refuse(400, "invalid_scope", f"AADSTS70011: scope {f.get('scope')!r} is not valid")
        secret = f.get("client_secret", "")
        if not f.get("client_id") or not secret or secret.startswith("bad"):
            return refuse(401, "invalid_client",
                          "AADSTS7000215: Invalid client secret provided.", secret)
        token = server.tokens.issue("client_credentials", expires_in)
        return 200, {"token_type": "Bearer", "expires_in": expires_in,
                     "ext_expires_in": expires_in, "access_token": token}
    if f.get("grant_type") != JWT_BEARER:
        return refuse(400, "unsupported_grant_type", "Invalid grant_type.")
    jwt = f.get("assertion", "")
    parts = jwt.split(".")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, IndexError):
        return refuse(400, "invalid_grant", "Invalid JWT: not three base64url parts.", jwt)
    if header != {"alg": "RS256", "typ": "JWT"}:
        return refuse(400, "invalid_grant", f"Invalid JWT header {header!r}.")
    key = server.tokens.jwt_key
    if key is None or not rs256_verify(key, f"{parts[0]}.{parts[1]}".encode(), signature):
        return refuse(400, "invalid_grant", "Invalid JWT Signature.", jwt)
    now = time.time()
    if claims.get("scope") != GOOGLE_SCOPE:
        return refuse(400, "invalid_scope", f"Invalid scope {claims.get('scope')!r}.")
    if not isinstance(claims.get("aud"), str) or urlsplit(claims["aud"]).path != path:
        return refuse(400, "invalid_grant", f"Invalid JWT: aud {claims.get('aud')!r}.")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > 3600 or \
            exp < now or iat > now + 60 or not claims.get("iss"):
        return refuse(400, "invalid_grant", "Invalid JWT: iat/exp/iss.")
    token = server.tokens.issue("jwt_bearer", expires_in)
    return 200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}


# --------------------------------------------------------------------------------------------
# Counters
# --------------------------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.epoch = 0
        self.open_connections = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.epoch += 1
            self.requests = 0
            self.connections = 0
            self.tcp_accepted = 0
            self.by_path = {}
            self.by_model = {}
            self.seq = {}
            self.last = None

    def accepted(self):
        with self.lock:
            self.tcp_accepted += 1

    def record(self, handler, path, model, last):
        with self.lock:
            self.requests += 1
            self.by_path[path] = self.by_path.get(path, 0) + 1
            if model is not None:
                self.by_model[model] = self.by_model.get(model, 0) + 1
            if handler.conn_epoch != self.epoch:
                handler.conn_epoch = self.epoch
                self.connections += 1
            if not handler.conn_open_counted:
                handler.conn_open_counted = True
                self.open_connections += 1
            self.last = last

    def closed(self, handler):
        if handler.conn_open_counted:
            with self.lock:
                self.open_connections -= 1

    def next_seq(self, name):
        with self.lock:
            n = self.seq.get(name, 0) + 1
            self.seq[name] = n
            return n

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "connections": self.connections,
                    "by_path": dict(self.by_path), "by_model": dict(self.by_model),
                    "open_connections": self.open_connections,
                    "tcp_accepted": self.tcp_accepted}


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------

class Req:
    __slots__ = ("method", "path", "query", "headers", "raw", "body", "body_ok", "model")


class Response:
    __slots__ = ("status", "obj", "raw", "headers", "inputs")

    def __init__(self, status, obj=None, raw=None, inputs=0):
        self.status = status
        self.obj = obj          # a JSON value to serialise, or None when raw bytes are given
        self.raw = raw
        self.headers = []
        self.inputs = inputs    # embedding inputs answered (bytes_per_input)


def load_samples(directory):
    samples = {}
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.endswith(".json"):
                with open(os.path.join(directory, name), "rb") as f:
                    samples[name] = f.read()
    batch = samples.get("gemini_batch_embed_contents.json")
    if batch is not None:
        try:
            first = json.loads(batch)["embeddings"][0]
            samples[GEMINI_EMBED_ONE_SAMPLE] = dumps({"embedding": first})
        except (ValueError, KeyError, IndexError, TypeError):
            pass
    return samples


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ai-gateway-mock"
    disable_nagle_algorithm = True

    # ---- connection bookkeeping ----

    def setup(self):
        super().setup()
        self.conn_epoch = -1
        self.conn_open_counted = False
        self.server.stats.accepted()

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.stats.closed(self)

    def log_message(self, format, *args):
        pass

    def address_string(self):
        return self.client_address[0]

    # ---- dispatch ----

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self):
        try:
            self._handle()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:       # a bug in the mock: say so loudly, answer 500
            traceback.print_exc(file=sys.stderr)
            try:
                self._send(500, dumps({"error": f"mock internal error: {exc}"}))
            except OSError:
                pass
            self.close_connection = True

    def _read_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass            # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        target = urlsplit(self.path)
        try:
            raw = self._read_body()
        except ValueError:
            self.close_connection = True
            return self._send(400, dumps({"error": "bad request framing"}))

        if target.path.startswith("/_mock/"):
            self._body_raw = raw
            return self._control(target.path)

        if self.command == "POST" and "x-www-form-urlencoded" in self.headers.get("content-type", ""):
            answer = token_answer(self.server, target.path, target.query,
                                  raw.decode("utf-8", "replace"))
            if answer is not None:
                self.server.stats.record(self, target.path, None, {
                    "method": "POST", "path": target.path, "query": target.query,
                    "headers": {}, "body": "(token request)"})
                return self._send(answer[0], dumps(answer[1]))

        req = Req()
        req.method = self.command
        req.path = target.path
        req.query = target.query
        req.headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            req.headers[name] = f"{req.headers[name]}, {value}" if name in req.headers else value
        req.raw = raw
        try:
            req.body = json.loads(raw) if raw else None
            req.body_ok = isinstance(req.body, dict)
        except ValueError:
            req.body = raw.decode("utf-8", "replace")
            req.body_ok = False

        batch_route = mock_batches.match(req.path)
        if batch_route is not None:
            return self._batch(batch_route, req)

        found = route(req.path)
        if found is not None and found[2] is not None:
            req.model = found[2]
        elif req.body_ok and isinstance(req.body.get("model"), str):
            req.model = req.body["model"]
        else:
            req.model = None
        last = {"method": req.method, "path": req.path, "query": req.query,
                "headers": dict(req.headers), "body": req.body}
        self.server.stats.record(self, req.path, req.model, last)

        if found is None:
            return self._send(404, dumps({"error": "no such route"}))
        if req.method != "POST":
            return self._send(405, dumps({"error": "method not allowed"}))
        dialect, kind, _ = found
        if req.model is None:
            req.model = ""
        self._provider(dialect, kind, req)

    def _control(self, path):
        stats = self.server.stats
        if path == "/_mock/stats" and self.command == "GET":
            return self._send(200, dumps({**stats.snapshot(), **self.server.tokens.snapshot(),
                                          **self.server.batches.counters()}))
        if path == "/_mock/reset" and self.command in ("POST", "GET"):
            stats.reset()
            self.server.tokens.reset()
            self.server.batches.reset()
            return self._send(200, dumps({"ok": True}))
        if path == "/_mock/jwt_key" and self.command == "POST":
            self.server.tokens.jwt_key = self._body_raw
            return self._send(200, dumps({"ok": True}))
        if path == "/_mock/batches" and self.command == "GET":
            return self._send(200, dumps(self.server.batches.listing()))
        if path == "/_mock/last" and self.command == "GET":
            with stats.lock:
                last = stats.last
            return self._send(200, dumps(last))
        return self._send(404, dumps({"error": "no such route"}))

    # ---- provider requests ----

    def _provider(self, dialect, kind, req):
        if not req.body_ok:
            err = dialect.error(400, "mock: request body is not a valid JSON object")
            return self._send(400, dumps(err))
        try:
            d = Directives(req.model)
        except ClientError as e:
            return self._send(e.status, dumps(dialect.error(e.status, e.message)))

        if "latency" in d.values:
            self.server.stopping.wait(d.values["latency"] / 1000.0)
        if "reset" in d.flags:
            return self._abort()
        if "hang" in d.flags:
            return self._hang()

        try:
            resp = self._answer(dialect, kind, req, d)
        except ClientError as e:
            resp = Response(e.status, dialect.error(e.status, e.message))
        resp.headers += d.retry_headers()
        if resp.status >= 400 and hasattr(dialect, "error_headers"):
            resp.headers += dialect.error_headers(resp.status)
        self._deliver(resp, d)

    def _answer(self, dialect, kind, req, d):
        problem = dialect.check(req)
        if problem:
            return Response(problem[0], dialect.error(*problem))

        bearer = Dialect.api_key(dialect, req)
        if dialect.name == "vertex" or (dialect.name == "azure" and bearer and not req.headers.get("api-key")):
            problem = self.server.tokens.problem(bearer)
            if problem is None and "unauth_once" in d.flags and \
                    self.server.stats.next_seq("unauth_once:" + d.values.get("seq", req.model)) == 1:
                self.server.tokens.revoke(bearer)
                problem = "mock: access token revoked (unauth_once)"
            if problem is not None:
                return Response(401, dialect.error(401, problem))

        key = dialect.api_key(req) or (bearer if dialect.name == "azure" else None)
        if (not key and dialect.key_required) or (key and key.startswith("bad")):
            if d.base == "recorded-error" and dialect.recorded_auth_error:
                return self._recorded(dialect, *dialect.recorded_auth_error)
            message = "mock: invalid API key" if key else "mock: missing API key"
            return Response(401, dialect.error(401, message))

        if "redirect" in d.flags:
            host, port = self.server.server_address[:2]
            resp = Response(302, dialect.error(302, "mock: moved"))
            resp.headers.append(("Location", f"http://{host}:{port}/redirected{req.path}"))
            return resp

        fail = None
        if "fail_first" in d.values:
            n = self.server.stats.next_seq(d.values.get("seq", req.model))
            if n <= d.values["fail_first"]:
                fail = d.values.get("status", 503)
        elif "status" in d.values:
            fail = d.values["status"]
        if fail is not None:
            delay = d.retry_delay() if fail == 429 else None
            message = f"mock error {fail}"
            if "echo_key" in d.flags:
                # as some providers do: the error text repeats the key it got
                message = ("x" * int(d.values.get("pad", 0)) +
                           f"Incorrect API key provided: {key}. Check your key.")
            if "echo_prompt" in d.flags and kind == "chat" and req.body_ok:
                # as some providers do: the error text quotes the request
                message = f"mock error {fail}: cannot answer {dialect.chat_texts(req.body)[1]!r}"
            if "intl_error" in d.flags:
                message = INTL_ERROR
            if "invalid_utf8" in d.flags:
                message += INVALID_UTF8_MARK
            return Response(fail, dialect.error(fail, message, delay))

        if d.base == "recorded-error":
            return self._recorded(dialect, *dialect.recorded_error)
        if d.base in RECORDED_MODELS:
            sample = dialect.recorded.get(d.base, {}).get(kind)
            if sample is None:
                raise ClientError(400, f"mock: no sample {d.base!r} for {dialect.name} {kind}")
            return self._recorded(dialect, sample, 200)

        null_content = "null_content" in d.flags
        if kind == "chat" and d.values.get("refuse") == "prompt_filter":
            if not hasattr(dialect, "prompt_filter"):
                raise ClientError(400, f"mock: {dialect.name} has no refusal 'prompt_filter'")
            return Response(400, dialect.prompt_filter())
        if kind == "chat":
            texts, last_user = dialect.chat_texts(req.body)
            spec = dialect.chat_spec(req.body)
            if spec.schema is None and not spec.json_mode:
                response_format_spec(req.body, spec)
            tin = word_count(texts) + 1
            if d.base != "echo" and not spec.tool_results and spec.tools and spec.tool_choice != "none":
                tool = next((t for t in spec.tools if t.get("name") == spec.tool_choice), spec.tools[0])
                call_id = "call_" + hashlib.sha1(f"{req.model}{last_user}".encode()).hexdigest()[:12]
                calls = [(call_id, tool.get("name"), tool_arguments(tool, last_user))]
                return Response(200, dialect.tool_call_body(req.model, calls, tin, 5))
            if d.base != "echo" and not spec.tool_results and (spec.schema is not None or spec.json_mode):
                bad_turn = ("badjson_first" in d.values and
                            self.server.stats.next_seq(d.values.get("seq", req.model)) <= d.values["badjson_first"])
                if "notjson" in d.flags:
                    value = "Sure! Here is the JSON you asked for."
                elif "badjson" in d.flags or bad_turn:
                    value = {"unexpected": True}
                else:
                    value = schema_value(spec.schema or {"type": "object", "properties": {
                        "answer": {"type": "string"}}}, quoted_or_all(last_user))
                return Response(200, dialect.structured_body(req.model, value, tin, 5, spec))
            if d.base == "echo":
                reply = self._echo_text(req)
            elif spec.tool_results:
                reply = "tool results: " + "; ".join(f"{n}={c}" for n, c in spec.tool_results)
            else:
                reply = f"mock reply from {dialect.name} {req.model}: {last_user}"
            if d.base != "echo":
                reply += attachment_note(spec)
            tout = word_count([reply])
            if "invalid_utf8" in d.flags:
                reply += INVALID_UTF8_MARK
            obj = dialect.chat_body(req.model, reply, tin, tout, null_content)
            if "invalid_utf8" in d.flags and null_content:
                obj = replace_value(obj, dialect.finish_value,
                                    dialect.finish_value + INVALID_UTF8_MARK)
            if "wrong_type" in d.flags:
                obj = replace_value(obj, reply, 42)
            if "refuse" in d.values:
                obj = dialect.refuse(obj, d.values["refuse"])
            return Response(200, obj)

        items = dialect.embed_texts(req.body, kind)
        vectors = [None if null_content else embed_vector(t, dim) for t, dim in items]
        tin = word_count([t for t, _ in items]) + 1
        obj = dialect.embed_body(req.model, req.body, kind, vectors, tin)
        if d.base == "echo":
            obj["mock_echo"] = self._echo_text(req)
        if "invalid_utf8" in d.flags:
            obj["mock_note"] = INVALID_UTF8_MARK
        if "wrong_type" in d.flags:
            obj = stringify_vectors(obj)
            # base64 vectors are strings already: the wrong type is a number
            obj = replace_b64_vectors(obj)
        return Response(200, obj, inputs=len(items))

    def _recorded(self, dialect, sample, status):
        raw = self.server.samples.get(sample)
        if raw is None:
            return Response(500, dialect.error(500, f"mock: sample {sample} not loaded"))
        return Response(status, raw=raw)

    @staticmethod
    def _echo_text(req):
        headers = {k: v for k, v in req.headers.items()
                   if k in ECHO_HEADERS or k.startswith("x-test-")}
        echo = {"method": req.method, "path": req.path, "query": req.query,
                "headers": headers, "body": req.body}
        return json.dumps(echo, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    # ---- provider Batch APIs (test/mock_batches.py) ----

    def _batch(self, batch_route, req):
        """A Files / Batches / Message Batches request: counted like a provider request."""
        body = req.body
        if "multipart/form-data" in req.headers.get("content-type", ""):
            body = f"(multipart upload, {len(req.raw)} bytes)"
        self.server.stats.record(self, req.path, None, {
            "method": req.method, "path": req.path, "query": req.query,
            "headers": dict(req.headers), "body": body})
        host = req.headers.get("host") or "%s:%s" % self.server.server_address[:2]
        status, raw, ctype = self.server.batches.handle(batch_route, req, self._batch_item, host)
        return self._send(status, raw, ctype)

    def _batch_item(self, provider, kind, body, headers):
        """One batch line's answer -> (status, JSON value): what the live route answers for
        body with the same headers, its JSON-level faults kept (status=, refuse=, wrong_shape,
        oversized...) and the connection-level ones ignored (BATCH_IGNORED_*)."""
        dialect = DIALECTS[provider]
        req = Req()
        req.method = "POST"
        req.path = {"chat": "/v1/messages" if provider == "anthropic" else "/v1/chat/completions",
                    "embed": "/v1/embeddings"}[kind]
        req.query = ""
        req.headers = headers
        req.raw = dumps(body)
        req.body = body
        req.body_ok = isinstance(body, dict)
        req.model = body.get("model") if req.body_ok and isinstance(body.get("model"), str) else ""
        try:
            d = Directives(req.model)
            d.flags -= BATCH_IGNORED_FLAGS
            for name in BATCH_IGNORED_VALUES:
                d.values.pop(name, None)
            resp = self._answer(dialect, kind, req, d)
        except ClientError as e:
            return e.status, dialect.error(e.status, e.message)
        obj = resp.obj
        if obj is None:
            try:
                obj = json.loads(resp.raw)
            except ValueError:
                obj = {"mock_raw": resp.raw.decode("utf-8", "replace")}
        if "wrong_shape" in d.flags:
            obj = {"result": "ok"}
        if "bytes_per_input" in d.values and isinstance(obj, dict) and resp.inputs:
            obj["padding"] = "x" * (d.values["bytes_per_input"] * resp.inputs)
        if "oversized" in d.values and isinstance(obj, dict):
            obj["padding"] = ""
            obj["padding"] = "x" * max(0, d.values["oversized"] - len(dumps(obj)))
        return resp.status, obj

    # ---- writing ----

    def _deliver(self, resp, d):
        flags = d.flags
        status = resp.status
        ctype = "application/json"
        if resp.obj is not None:
            obj = resp.obj
            if "wrong_shape" in flags:
                obj = {"result": "ok"}
            if "bytes_per_input" in d.values and isinstance(obj, dict) and resp.inputs:
                obj["padding"] = "x" * (d.values["bytes_per_input"] * resp.inputs)
            if "oversized" in d.values and isinstance(obj, dict):
                obj["padding"] = ""
                obj["padding"] = "x" * max(0, d.values["oversized"] - len(dumps(obj)))
            body = dumps(obj)
            if "invalid_utf8" in flags:
                body = body.replace(INVALID_UTF8_MARK.encode(), b"\xff\xfe")
        else:
            body = resp.raw
        if "malformed" in flags:
            body = MALFORMED_BODY
        if "empty" in flags:
            body = b""
        if "html" in flags:
            status, ctype, body = 502, "text/html; charset=utf-8", HTML_BODY
        if "html200" in flags:
            status, ctype, body = 200, "text/html; charset=utf-8", HTML_OK_BODY
        if "truncated" in flags:
            body = body[: len(body) // 2]
        if "wrong_ctype" in flags:
            ctype = "text/plain; charset=utf-8"

        if "reset_mid" in flags:
            self.wfile.write(self._head(status, ctype, len(body), resp.headers)
                             + body[: len(body) // 2])
            time.sleep(RESET_MID_PAUSE)
            return self._abort()
        if "trickle" in d.values:
            self.wfile.write(self._head(status, ctype, len(body), resp.headers))
            pause = d.values["trickle"] / 1000.0
            step = max(1, d.values.get("chunk", 1))
            for i in range(0, len(body), step):
                if self.server.stopping.wait(pause):
                    return self._abort()
                self.wfile.write(body[i:i + step])
            return
        self._send(status, body, ctype, resp.headers)

    def _head(self, status, ctype, length, extra=()):
        reason = self.responses.get(status, (EXTRA_REASONS.get(status, "Mock Status"),))[0]
        lines = [f"HTTP/1.1 {status} {reason}",
                 f"Date: {email.utils.formatdate(usegmt=True)}",
                 f"Server: {self.server_version}",
                 f"Content-Type: {ctype}",
                 f"Content-Length: {length}"]
        lines += [f"{k}: {v}" for k, v in extra]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, status, body, ctype="application/json", extra=()):
        # Head and body in one write: no Nagle/delayed-ACK stall on keep-alive connections.
        self.wfile.write(self._head(status, ctype, len(body), extra) + body)

    def _abort(self):
        """Close the connection with a TCP RST and no (further) response bytes."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # The real close happens when finish() closes rfile (socket.makefile keeps a ref); the
        # server's later shutdown(SHUT_WR) then fails quietly on the closed socket, so no FIN.
        self.connection.close()

    def _hang(self):
        """Never answer: wait up to HANG_SECONDS, leaving early when the client goes away or
        the server stops, then drop the connection."""
        sock = self.connection
        stopping = self.server.stopping
        deadline = time.monotonic() + HANG_SECONDS
        while not stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        break       # orderly close by the client
                except OSError:
                    break
                stopping.wait(0.1)  # pipelined bytes, client still there
        self._abort()


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, samples):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.samples = samples
        self.stats = Stats()
        self.tokens = Tokens()
        self.batches = mock_batches.BatchStore(
            {"openai": DIALECTS["openai"], "anthropic": DIALECTS["anthropic"]},
            lambda b: b.replace(INVALID_UTF8_MARK.encode(), b"\xff\xfe"))
        self.stopping = threading.Event()
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind would call socket.getfqdn(): a reverse DNS lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):
            return              # clients hanging up mid-request are routine here
        super().handle_error(request, client_address)


def write_port_file(path, port):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description="Fake AI provider upstream for ai_gateway tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the listening port here (atomically)")
    parser.add_argument("--samples", default=os.path.join(here, "samples"),
                        help="directory of recorded provider bodies")
    args = parser.parse_args(argv)

    server = MockServer((args.host, args.port), load_samples(args.samples))
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"mock provider listening on {args.host}:{port}", flush=True)

    def stop(signum, frame):
        server.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
