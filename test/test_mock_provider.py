#!/usr/bin/env python3
"""
test/test_mock_provider.py -- self-test of test/mock_provider.py (the fake provider upstream).

Owns nothing else: starts the mock on port 0 in a subprocess, exercises every dialect's
routes, the special models, a set of faults, keep-alive and the control endpoints with
urllib/http.client, then stops the subprocess by PID with SIGTERM and expects exit code 0.

    python3 test/test_mock_provider.py        # exit code 0 on success
"""

import base64
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "mock_provider.py")
SAMPLES = os.path.join(HERE, "samples")

BASE = None          # "http://127.0.0.1:PORT", set once the mock listens
PORT = None

OPENAI_KEY = {"Authorization": "Bearer sk-test"}
ANTHROPIC_HDR = {"x-api-key": "ak-test", "anthropic-version": "2023-06-01"}
GEMINI_KEY = {"x-goog-api-key": "gk-test"}
AZURE_KEY = {"api-key": "az-test"}


# ---- helpers --------------------------------------------------------------------------------

def call(path, body=None, headers=None, method=None, raw=None, timeout=10):
    """-> (status, headers, body bytes); HTTP errors are returned, not raised."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    req = urllib.request.Request(BASE + path, data=data, headers=hdrs,
                                 method=method or ("POST" if data is not None else "GET"))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def call_json(*args, **kwargs):
    status, headers, body = call(*args, **kwargs)
    return status, headers, json.loads(body)


def chat_openai(model, text="hello there", headers=OPENAI_KEY, path="/v1/chat/completions"):
    return call_json(path, {"model": model, "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": text}]},
        headers)


def gemini_path(model, method="generateContent"):
    return f"/v1beta/models/{quote(model, safe='')}:{method}"


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_eq(got, want, what=""):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


# ---- tests: one normal call per dialect -----------------------------------------------------

def test_openai_chat():
    s, _, b = chat_openai("gpt-4o", "what is up")
    expect_eq(s, 200, "status")
    msg = b["choices"][0]
    expect_eq(msg["message"]["content"], "mock reply from openai gpt-4o: what is up", "content")
    expect_eq(msg["finish_reason"], "stop", "finish")
    # input words: "be brief" + "what is up" = 5, +1
    expect_eq(b["usage"]["prompt_tokens"], 6, "prompt_tokens")
    expect_eq(b["usage"]["completion_tokens"], 8, "completion_tokens")
    expect_eq(b["usage"]["total_tokens"], 14, "total_tokens")
    expect_eq(b["object"], "chat.completion", "object")
    # any prefix ending in /chat/completions is OpenAI
    s, _, b = chat_openai("m", "x", path="/anything/v1/chat/completions")
    expect_eq(b["choices"][0]["message"]["content"], "mock reply from openai m: x", "prefix")


def test_azure_chat():
    path = "/openai/deployments/my-dep/chat/completions?api-version=2024-10-21"
    s, _, b = call_json(path, {"messages": [{"role": "user", "content": "hi az"}]}, AZURE_KEY)
    expect_eq(s, 200, "status")
    expect_eq(b["choices"][0]["message"]["content"], "mock reply from azure my-dep: hi az",
              "content")
    s, _, b = call_json("/openai/deployments/my-dep/chat/completions",
                        {"messages": []}, AZURE_KEY)
    expect_eq(s, 404, "missing api-version")
    expect(set(b["error"]) == {"message", "type", "param", "code"}, "azure error envelope")
    s, _, b = call_json(path, {"messages": []}, OPENAI_KEY)
    expect_eq(s, 401, "azure wants api-key")


def test_anthropic_chat():
    body = {"model": "claude-x", "system": "you are terse", "max_tokens": 10,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hey you"}]}]}
    s, _, b = call_json("/v1/messages", body, ANTHROPIC_HDR)
    expect_eq(s, 200, "status")
    expect_eq(b["content"],
              [{"type": "text", "text": "mock reply from anthropic claude-x: hey you"}], "content")
    expect_eq(b["stop_reason"], "end_turn", "stop_reason")
    expect_eq(b["usage"]["input_tokens"], 6, "input_tokens")
    s, _, b = call_json("/v1/messages", body, {"x-api-key": "ak"})
    expect_eq(s, 400, "missing anthropic-version")
    expect_eq(b["error"]["type"], "invalid_request_error", "type")
    s, _, b = call_json("/v1/messages", body, {"x-api-key": "bad-key", "anthropic-version": "1"})
    expect_eq(s, 401, "bad key")
    expect_eq(b, {"type": "error", "request_id": "req_mock",
                  "error": {"type": "authentication_error", "message": b["error"]["message"]}},
              "anthropic envelope")


def test_cohere_chat():
    s, _, b = call_json("/v2/chat", {"model": "command-r", "messages": [
        {"role": "user", "content": "one two"}]}, OPENAI_KEY)
    expect_eq(s, 200, "status")
    expect_eq(b["message"]["content"][0]["text"], "mock reply from cohere command-r: one two",
              "text")
    expect_eq(b["finish_reason"], "COMPLETE", "finish")
    expect_eq(b["usage"]["billed_units"]["input_tokens"], 3, "input_tokens")
    s, _, b = call_json("/v2/chat", {"model": "c", "messages": []})
    expect_eq(s, 401, "missing key")
    expect_eq(set(b), {"id", "message"}, "cohere envelope")


PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJ"
           "RU5ErkJggg==")    # a 1x1 PNG, 70 bytes


def test_anthropic_tools():
    tools = [{"name": "get_weather", "description": "Weather of a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}]
    ask = {"role": "user", "content": 'Weather in "Paris"?'}
    body = {"model": "claude-x", "max_tokens": 50, "messages": [ask], "tools": tools,
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True}}
    s, _, b = call_json("/v1/messages", body, ANTHROPIC_HDR)
    expect_eq(s, 200, "status")
    expect_eq(b["stop_reason"], "tool_use", "stop_reason")
    use = b["content"][0]
    expect_eq((use["type"], use["name"], use["input"], use["caller"]),
              ("tool_use", "get_weather", {"city": "Paris"}, {"type": "direct"}), "tool_use")
    expect(use["id"].startswith("toolu_"), "tool_use id")
    # the round trip: the call replayed, two results in one user turn
    body["messages"] = [ask, {"role": "assistant", "content": [
        {"type": "tool_use", "id": use["id"], "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": use["id"], "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "rain"}]}]}]
    s, _, b = call_json("/v1/messages", body, ANTHROPIC_HDR)
    expect_eq(s, 200, "status (results)")
    expect_eq(b["content"][0]["text"], "tool results: get_weather=sunny; get_weather=rain", "results")
    # a tool_use without its tool_result right after it, and a result for no call: 400
    bad = dict(body, messages=body["messages"][:2] + [{"role": "user", "content": "go on"}])
    expect_eq(call_json("/v1/messages", bad, ANTHROPIC_HDR)[0], 400, "missing tool_result")
    bad = dict(body, messages=[ask, {"role": "assistant", "content": "hm"},
                               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}])
    expect_eq(call_json("/v1/messages", bad, ANTHROPIC_HDR)[0], 400, "tool_result without tool_use")
    bad = dict(body, tool_choice={"type": "none", "disable_parallel_tool_use": True})
    expect_eq(call_json("/v1/messages", bad, ANTHROPIC_HDR)[0], 400, "none takes no parallel switch")
    bad = dict(body, tools=[{"name": "x y", "input_schema": {"type": "object"}}])
    expect_eq(call_json("/v1/messages", bad, ANTHROPIC_HDR)[0], 400, "tool name pattern")
    # tool_choice none: text
    s, _, b = call_json("/v1/messages", dict(body, messages=[ask], tool_choice={"type": "none"}),
                        ANTHROPIC_HDR)
    expect_eq(b["stop_reason"], "end_turn", "tool_choice none")
    # the recorded tool_use answer
    s, _, raw = call("/v1/messages", dict(body, model="recorded-tools", messages=[ask]), ANTHROPIC_HDR)
    expect_eq(raw, sample("anthropic_tool_use.json"), "recorded-tools")


def test_anthropic_structured_and_images():
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
              "required": ["name"]}
    body = {"model": "claude-x", "max_tokens": 50,
            "messages": [{"role": "user", "content": 'Extract "Ada"'}],
            "tools": [{"name": "aig_structured_output", "input_schema": schema}],
            "tool_choice": {"type": "tool", "name": "aig_structured_output"}}
    s, _, b = call_json("/v1/messages", body, ANTHROPIC_HDR)
    expect_eq(s, 200, "status")
    expect_eq((b["content"][0]["type"], b["content"][0]["name"], b["content"][0]["input"]),
              ("tool_use", "aig_structured_output", {"name": "Ada", "n": 1}), "structured")
    s, _, b = call_json("/v1/messages", dict(body, model="claude-x+badjson"), ANTHROPIC_HDR)
    expect_eq(b["content"][0]["input"], {"unexpected": True}, "badjson")
    s, _, b = call_json("/v1/messages", dict(body, model="claude-x+notjson"), ANTHROPIC_HDR)
    expect_eq(b["content"][0]["type"], "text", "notjson")
    # beside the caller's tools with tool_choice any: a tool call first, then (results in)
    # the final answer through aig_structured_output
    weather = {"name": "get_weather", "input_schema": {"type": "object", "properties": {
        "city": {"type": "string"}}}}
    body2 = dict(body, tools=[weather] + body["tools"], tool_choice={"type": "any"})
    s, _, b = call_json("/v1/messages", body2, ANTHROPIC_HDR)
    expect_eq(b["content"][0]["name"], "get_weather", "a tool call first")
    body2["messages"] = body["messages"] + [
        {"role": "assistant", "content": [{k: b["content"][0][k] for k in ("type", "id", "name", "input")}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": b["content"][0]["id"],
                                      "content": "sunny"}]}]
    s, _, b = call_json("/v1/messages", body2, ANTHROPIC_HDR)
    expect_eq((b["content"][0]["name"], sorted(b["content"][0]["input"])),
              ("aig_structured_output", ["n", "name"]), "then the structured answer")
    pdf = base64.b64encode(b"%PDF-1.4 tiny").decode()
    body = {"model": "claude-x", "max_tokens": 50, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is it"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf}}]}]}
    s, _, b = call_json("/v1/messages", body, ANTHROPIC_HDR)
    expect_eq(s, 200, "status (images)")
    expect(b["content"][0]["text"].endswith(
        " [image/png 70 bytes] [url https://example.com/a.png] [application/pdf 13 bytes]"),
        f"attachments: {b['content'][0]['text']!r}")
    body["messages"][0]["content"][1]["source"]["data"] = "not base64!"
    expect_eq(call_json("/v1/messages", body, ANTHROPIC_HDR)[0], 400, "bad base64")
    body["messages"][0]["content"][1]["source"].update(data=PNG_1PX, media_type="image/bmp")
    expect_eq(call_json("/v1/messages", body, ANTHROPIC_HDR)[0], 400, "bad media type")


def test_cohere_tools():
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                               "parameters": {"type": "object", "properties": {
                                                   "city": {"type": "string"}}}}}]
    ask = {"role": "user", "content": 'Weather in "Oslo"?'}
    body = {"model": "command-a", "messages": [ask], "tools": tools, "tool_choice": "REQUIRED"}
    s, _, b = call_json("/v2/chat", body, OPENAI_KEY)
    expect_eq(s, 200, "status")
    expect_eq(b["finish_reason"], "TOOL_CALL", "finish")
    call_ = b["message"]["tool_calls"][0]
    expect_eq((call_["type"], call_["function"]["name"], json.loads(call_["function"]["arguments"])),
              ("function", "get_weather", {"city": "Oslo"}), "tool call")
    expect(isinstance(b["message"]["tool_plan"], str), "tool_plan")
    body["messages"] = [ask, {"role": "assistant", "tool_plan": b["message"]["tool_plan"],
                              "tool_calls": [call_]},
                        {"role": "tool", "tool_call_id": call_["id"], "content": "cold"}]
    s, _, b = call_json("/v2/chat", body, OPENAI_KEY)
    expect_eq(b["message"]["content"][0]["text"], "tool results: get_weather=cold", "results")
    bad = dict(body, messages=[ask, {"role": "tool", "tool_call_id": "nope", "content": "x"}])
    expect_eq(call_json("/v2/chat", bad, OPENAI_KEY)[0], 400, "tool message without a call")
    expect_eq(call_json("/v2/chat", dict(body, tool_choice="ANY"), OPENAI_KEY)[0], 400, "tool_choice enum")
    expect_eq(call_json("/v2/chat", dict(body, response_format={"type": "json_object"}), OPENAI_KEY)[0],
              400, "response_format with tools")
    s, _, raw = call("/v2/chat", dict(body, model="recorded-tools", messages=[ask]), OPENAI_KEY)
    expect_eq(raw, sample("cohere_v2_chat_tool_call.json"), "recorded-tools")
    # images as data: URLs and URLs; a JSON answer of the schema
    s, _, b = call_json("/v2/chat", {"model": "command-a-vision", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_1PX}},
        {"type": "image_url", "image_url": {"url": "https://example.com/b.jpg"}}]}],
        "response_format": {"type": "json_object", "json_schema": {
            "type": "object", "properties": {"seen": {"type": "boolean"}}}}}, OPENAI_KEY)
    expect_eq(s, 200, "status (vision)")
    expect_eq(b["message"]["content"][0]["text"], '{"seen": true}', "json answer")
    s, _, b = call_json("/v2/chat", {"model": "command-a-vision", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_1PX}},
        {"type": "image_url", "image_url": {"url": "https://example.com/b.jpg"}}]}]}, OPENAI_KEY)
    expect(b["message"]["content"][0]["text"].endswith(" [image/png 70 bytes] [url https://example.com/b.jpg]"),
           "attachments")


def test_ollama_chat():
    s, _, b = call_json("/api/chat", {"model": "llama3.2", "stream": False, "messages": [
        {"role": "user", "content": "yo"}]})
    expect_eq(s, 200, "status (no key needed)")
    expect_eq(b["message"]["content"], "mock reply from ollama llama3.2: yo", "content")
    expect_eq((b["done"], b["done_reason"]), (True, "stop"), "done")
    expect_eq(b["prompt_eval_count"], 2, "prompt_eval_count")
    s, _, b = call_json("/api/chat", {"model": "m", "messages": []},
                        {"Authorization": "Bearer badx"})
    expect_eq((s, list(b)), (401, ["error"]), "ollama bad key")


def test_gemini_chat():
    body = {"systemInstruction": {"parts": [{"text": "sys text"}]},
            "contents": [{"role": "user", "parts": [{"text": "first"}]},
                         {"role": "model", "parts": [{"text": "reply"}]},
                         {"role": "user", "parts": [{"text": "second q"}]}]}
    s, _, b = call_json(gemini_path("gemini-1.5-flash"), body, GEMINI_KEY)
    expect_eq(s, 200, "status")
    cand = b["candidates"][0]
    expect_eq(cand["content"]["parts"][0]["text"],
              "mock reply from gemini gemini-1.5-flash: second q", "text")
    expect_eq(cand["finishReason"], "STOP", "finish")
    expect_eq(b["usageMetadata"]["promptTokenCount"], 7, "promptTokenCount")
    s, _, b = call_json(gemini_path("g"), body, OPENAI_KEY)
    expect_eq((s, b["error"]["status"]), (401, "UNAUTHENTICATED"), "gemini missing key")


# ---- embeddings -----------------------------------------------------------------------------

def test_embeddings():
    s, _, b = call_json("/v1/embeddings", {"model": "e", "input": ["alpha", "beta gamma"]},
                        OPENAI_KEY)
    expect_eq(s, 200, "openai status")
    expect_eq([d["index"] for d in b["data"]], [0, 1], "indexes")
    v_alpha = b["data"][0]["embedding"]
    expect_eq(len(v_alpha), 8, "default dim")
    expect(all(-1 <= x <= 1 for x in v_alpha), "range")
    expect_eq(b["usage"]["prompt_tokens"], 4, "prompt_tokens")

    s, _, b = call_json("/v1/embeddings", {"model": "e", "input": "alpha", "dimensions": 8,
                                           "encoding_format": "base64"}, OPENAI_KEY)
    decoded = struct.unpack("<8f", base64.b64decode(b["data"][0]["embedding"]))
    expect(all(abs(a - c) < 1e-6 for a, c in zip(decoded, v_alpha)), "base64 = float32 of floats")

    s, _, b = call_json("/openai/deployments/d/embeddings?api-version=1",
                        {"input": "alpha", "dimensions": 3}, AZURE_KEY)
    expect_eq(b["data"][0]["embedding"], v_alpha[:3], "azure, dims 3, same text same vector")

    s, _, b = call_json("/v2/embed", {"model": "embed-v4.0", "texts": ["alpha"],
                                      "input_type": "search_query", "embedding_types": ["float"],
                                      "output_dimension": 16}, OPENAI_KEY)
    expect_eq(len(b["embeddings"]["float"][0]), 16, "cohere dim")
    expect_eq(b["embeddings"]["float"][0][:8], v_alpha, "cohere vector")

    s, _, b = call_json("/api/embed", {"model": "nomic", "input": ["alpha", "x"]})
    expect_eq(b["embeddings"][0], v_alpha, "ollama vector")
    expect_eq(len(b["embeddings"]), 2, "ollama count")

    reqs = [{"model": "models/g", "content": {"parts": [{"text": t}]}, "outputDimensionality": 4}
            for t in ("alpha", "beta")]
    s, _, b = call_json(gemini_path("text-embedding-004", "batchEmbedContents"),
                        {"requests": reqs}, GEMINI_KEY)
    expect_eq([len(e["values"]) for e in b["embeddings"]], [4, 4], "gemini batch")
    expect_eq(b["embeddings"][0]["values"], v_alpha[:4], "gemini vector")
    s, _, b = call_json(gemini_path("text-embedding-004", "embedContent"),
                        {"content": {"parts": [{"text": "alpha"}]}}, GEMINI_KEY)
    expect_eq(b["embedding"]["values"], v_alpha, "gemini single")


# ---- special models -------------------------------------------------------------------------

def test_echo():
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
    s, _, b = call_json("/v1/chat/completions?x=1", body,
                        {"Authorization": "Bearer sk-echo", "X-Test-Case": "abc",
                         "User-Agent": "not-echoed"})
    expect_eq(s, 200, "status")
    want = json.dumps({"method": "POST", "path": "/v1/chat/completions", "query": "x=1",
                       "headers": {"authorization": "Bearer sk-echo", "x-test-case": "abc"},
                       "body": body}, sort_keys=True, separators=(",", ":"))
    expect_eq(b["choices"][0]["message"]["content"], want, "echo content")
    # percent-encoded Gemini model segment is decoded
    s, _, b = call_json(gemini_path("echo"), {"contents": []}, GEMINI_KEY)
    echo = json.loads(b["candidates"][0]["content"]["parts"][0]["text"])
    expect_eq(echo["headers"], {"x-goog-api-key": "gk-test"}, "gemini echo headers")


def test_recorded():
    cases = [
        ("/v1/chat/completions", {"model": "recorded"}, OPENAI_KEY, "openai_chat_completion.json"),
        ("/v1/chat/completions", {"model": "recorded-ollama-compat"}, OPENAI_KEY,
         "ollama_v1_chat_completions.json"),
        ("/v1/embeddings", {"model": "recorded-base64", "input": "x"}, OPENAI_KEY,
         "openai_embeddings_base64.json"),
        ("/v1/messages", {"model": "recorded"}, ANTHROPIC_HDR, "anthropic_messages.json"),
        ("/v2/embed", {"model": "recorded", "texts": ["x"]}, OPENAI_KEY, "cohere_v2_embed.json"),
        ("/api/chat", {"model": "recorded"}, {}, "ollama_api_chat.DOCS_EXAMPLE.json"),
        (gemini_path("recorded"), {"contents": []}, GEMINI_KEY, "gemini_generate_content.json"),
    ]
    for path, body, headers, name in cases:
        s, _, raw = call(path, body, headers)
        expect_eq(s, 200, f"{name} status")
        expect(raw == sample(name), f"{name} verbatim")
    s, _, raw = call("/v1/chat/completions", {"model": "recorded-error"}, OPENAI_KEY)
    expect((s, raw) == (404, sample("openai_error_404_model_not_found.json")), "openai 404 sample")
    s, _, raw = call("/v1/embeddings", {"model": "recorded-error"},
                     {"Authorization": "Bearer bad1"})
    expect((s, raw) == (401, sample("openai_error_401_invalid_api_key.json")), "openai 401 sample")
    s, _, raw = call("/api/embed", {"model": "recorded-error", "input": "x"})
    expect((s, raw) == (400, sample("ollama_error_400_context.json")), "ollama 400 sample")


# ---- faults ---------------------------------------------------------------------------------

def test_status_and_retry_after():
    s, h, b = chat_openai("gpt+status=429+retry_after=2")
    expect_eq(s, 429, "status")
    expect_eq(h["Retry-After"], "2", "Retry-After")
    expect_eq(b["error"]["message"], "mock error 429", "message")
    expect_eq(b["error"]["code"], "rate_limit_exceeded", "code")
    s, h, b = call_json(gemini_path("g+status=429+retry_after_ms=1500"), {"contents": []},
                        GEMINI_KEY)
    expect_eq(h["retry-after-ms"], "1500", "retry-after-ms")
    expect_eq(b["error"]["details"], [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                       "retryDelay": "1.5s"}], "RetryInfo")
    s, h, b = call_json("/v1/messages", {"model": "c+status=529"}, ANTHROPIC_HDR)
    expect_eq((s, b["error"]["type"]), (529, "overloaded_error"), "anthropic 529")
    s, _, b = chat_openai("gpt+bogus=1")
    expect_eq(s, 400, "unknown directive")


def test_redirect():
    # urllib would follow it: look at the raw answer
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    conn.request("POST", "/v1/chat/completions", json.dumps({"model": "m+redirect"}),
                 {"Content-Type": "application/json", **OPENAI_KEY})
    r = conn.getresponse()
    r.read()
    conn.close()
    expect_eq(r.status, 302, "status")
    expect_eq(r.headers["Location"], f"{BASE}/redirected/v1/chat/completions", "Location")


def test_fail_first():
    model = "gpt+fail_first=2+seq=ff-test"
    got = [chat_openai(model)[0] for _ in range(3)]
    expect_eq(got, [503, 503, 200], "fail_first")
    call("/_mock/reset", {})
    expect_eq(chat_openai(model)[0], 503, "counter reset")


def test_body_faults():
    s, h, raw = call("/v1/chat/completions", {"model": "m+malformed"}, OPENAI_KEY)
    expect_eq(s, 200, "malformed status")
    try:
        json.loads(raw)
        raise AssertionError("malformed body parsed")
    except ValueError:
        pass
    full = sample("openai_chat_completion.json")
    s, _, raw = call("/v1/chat/completions", {"model": "recorded+truncated"}, OPENAI_KEY)
    expect_eq((s, raw), (200, full[: len(full) // 2]), "truncated")
    expect_eq(call("/v1/chat/completions", {"model": "m+empty"}, OPENAI_KEY)[2], b"", "empty")
    s, h, raw = call("/v1/chat/completions", {"model": "m+html"}, OPENAI_KEY)
    expect((s, h.get_content_type()) == (502, "text/html"), "html")
    s, h, raw = call("/v1/chat/completions", {"model": "m+wrong_ctype"}, OPENAI_KEY)
    expect_eq(h.get_content_type(), "text/plain", "wrong_ctype")
    json.loads(raw)
    s, _, raw = call("/v2/chat", {"model": "m+invalid_utf8"}, OPENAI_KEY)
    expect(b"\xff\xfe" in raw, "invalid_utf8 bytes")
    s, _, b = call_json("/v1/chat/completions", {"model": "m+null_content"}, OPENAI_KEY)
    expect_eq(b["choices"][0]["message"]["content"], None, "null_content")
    s, _, b = call_json(gemini_path("g+null_content"), {"contents": []}, GEMINI_KEY)
    expect("content" not in b["candidates"][0], "gemini null_content")
    s, _, b = call_json("/v1/chat/completions", {"model": "m+wrong_shape"}, OPENAI_KEY)
    expect_eq(b, {"result": "ok"}, "wrong_shape")
    s, _, raw = call("/v1/chat/completions", {"model": "m+oversized=100000"}, OPENAI_KEY)
    expect(99000 <= len(raw) <= 101000 and json.loads(raw)["choices"], "oversized")
    t0 = time.monotonic()
    s, _, raw = call("/api/chat", {"model": "m+trickle=1+latency=50"})
    expect(s == 200 and time.monotonic() - t0 >= 0.05, "trickle + latency")


def test_more_body_faults():
    s, h, raw = call("/v1/chat/completions", {"model": "m+html200"}, OPENAI_KEY)
    expect((s, h.get_content_type()) == (200, "text/html") and raw.startswith(b"<!DOCTYPE html>"),
           "html200")
    # invalid UTF-8 in an error message
    s, _, raw = call("/v1/chat/completions", {"model": "m+status=500+invalid_utf8"}, OPENAI_KEY)
    expect(s == 500 and b"mock error 500\xff\xfe" in raw, "invalid_utf8 in an error body")
    s, _, raw = call(gemini_path("g+null_content+invalid_utf8"), {"contents": []}, GEMINI_KEY)
    expect(b'"finishReason":"STOP\xff\xfe"' in raw, "invalid_utf8 in gemini's finishReason")
    s, _, raw = call("/v1/messages", {"model": "m+null_content+invalid_utf8", "messages": []},
                     ANTHROPIC_HDR)
    expect(b'"stop_reason":"end_turn\xff\xfe"' in raw, "invalid_utf8 in anthropic's stop_reason")
    s, _, b = call_json("/v1/messages", {"model": "m+status=503+intl_error"}, ANTHROPIC_HDR)
    expect(s == 503 and b["error"]["message"].startswith("服务器繁忙")
           and len(b["error"]["message"].encode()) == 720, "intl_error")
    # wrong_type: each dialect's own body, the reply text a number
    s, _, b = call_json("/v1/chat/completions", {"model": "m+wrong_type", "messages": [
        {"role": "user", "content": "x"}]}, OPENAI_KEY)
    expect_eq(b["choices"][0]["message"]["content"], 42, "openai wrong_type")
    s, _, b = call_json("/v1/messages", {"model": "m+wrong_type", "messages": []}, ANTHROPIC_HDR)
    expect_eq(b["content"][0], {"type": "text", "text": 42}, "anthropic wrong_type")
    s, _, b = call_json("/v2/chat", {"model": "m+wrong_type", "messages": []}, OPENAI_KEY)
    expect_eq(b["message"]["content"][0]["text"], 42, "cohere wrong_type")
    s, _, b = call_json("/api/chat", {"model": "m+wrong_type", "messages": []})
    expect_eq(b["message"]["content"], 42, "ollama wrong_type")
    s, _, b = call_json(gemini_path("g+wrong_type"), {"contents": []}, GEMINI_KEY)
    expect_eq(b["candidates"][0]["content"]["parts"][0]["text"], 42, "gemini wrong_type")
    expect_eq(b["modelVersion"], "g+wrong_type", "gemini wrong_type leaves other strings")
    s, _, b = call_json("/v1/embeddings", {"model": "e+wrong_type", "input": ["a", "b"]},
                        OPENAI_KEY)
    expect(all(isinstance(x, str) for x in b["data"][1]["embedding"]), "openai embed wrong_type")
    s, _, b = call_json(gemini_path("e+wrong_type", "batchEmbedContents"),
                        {"requests": [{"content": {"parts": [{"text": "a"}]}}]}, GEMINI_KEY)
    expect(all(isinstance(x, str) for x in b["embeddings"][0]["values"]), "gemini embed wrong_type")
    # trickle in chunks: the whole body, in about len/chunk pieces
    t0 = time.monotonic()
    s, _, b = call_json("/api/chat", {"model": "m+trickle=20+chunk=64", "messages": [
        {"role": "user", "content": "slow"}]})
    elapsed = time.monotonic() - t0
    expect_eq(b["message"]["content"], "mock reply from ollama m+trickle=20+chunk=64: slow",
              "chunked trickle body")
    expect(elapsed >= 0.04, f"chunked trickle took {elapsed:.3f}s")
    # reset_mid: the headers and part of the body arrive before the reset
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    body = json.dumps({"model": "m+reset_mid", "messages": []}).encode()
    sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    got = b""
    try:
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            got += piece
    except ConnectionResetError:
        pass
    sock.close()
    head, _, part = got.partition(b"\r\n\r\n")
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
                 .split(b":")[1])
    expect(head.startswith(b"HTTP/1.1 200") and 0 < len(part) < length,
           f"reset_mid: {len(part)} of {length} body bytes")


def test_connection_faults():
    for model in ("m+reset", "m+reset_mid"):
        try:
            call("/v1/chat/completions", {"model": model}, OPENAI_KEY)
            raise AssertionError(f"{model}: got a response")
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
            pass
    try:
        call("/v1/chat/completions", {"model": "m+hang"}, OPENAI_KEY, timeout=0.3)
        raise AssertionError("hang answered")
    except (TimeoutError, socket.timeout, urllib.error.URLError):
        pass


# ---- plumbing -------------------------------------------------------------------------------

def test_routes_and_bad_json():
    s, _, b = call_json("/nope", {"model": "x"})
    expect_eq((s, b), (404, {"error": "no such route"}), "unknown route")
    s, _, b = call_json("/v1/messages", raw=b"{not json", headers=ANTHROPIC_HDR)
    expect_eq((s, b["type"], b["error"]["type"]), (400, "error", "invalid_request_error"),
              "anthropic bad json")
    s, _, b = call_json("/api/embed", raw=b"[1,")
    expect_eq((s, list(b)), (400, ["error"]), "ollama bad json")


def test_keepalive_and_stats():
    call("/_mock/reset", {})
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    body = json.dumps({"model": "ka", "messages": [{"role": "user", "content": "x"}]})
    hdrs = {"Content-Type": "application/json", **OPENAI_KEY}
    for _ in range(2):
        conn.request("POST", "/v1/chat/completions", body, hdrs)
        r = conn.getresponse()
        expect_eq(r.status, 200, "keep-alive status")
        r.read()
    _, _, st = call_json("/_mock/stats")
    expect_eq(st["connections"], 1, "connections")
    expect_eq(st["requests"], 2, "requests")
    expect_eq(st["by_path"], {"/v1/chat/completions": 2}, "by_path")
    expect_eq(st["by_model"], {"ka": 2}, "by_model")
    expect_eq(st["open_connections"], 1, "open_connections")

    # many requests over the same connection, fast (no Nagle/delayed-ACK stalls)
    n = 1000
    t0 = time.monotonic()
    for _ in range(n):
        conn.request("POST", "/v1/chat/completions", body, hdrs)
        r = conn.getresponse()
        r.read()
    elapsed = time.monotonic() - t0
    conn.close()
    _, _, st = call_json("/_mock/stats")
    expect_eq((st["connections"], st["requests"]), (1, n + 2), "still one connection")
    expect(elapsed < 5, f"{n} keep-alive requests took {elapsed:.2f}s")
    print(f"    ({n} keep-alive requests in {elapsed:.2f}s)")

    _, _, last = call_json("/_mock/last")
    expect_eq((last["method"], last["path"], last["body"]["model"]),
              ("POST", "/v1/chat/completions", "ka"), "last")
    expect_eq(last["headers"]["authorization"], "Bearer sk-test", "last headers")


# ---- driver ---------------------------------------------------------------------------------

def start_mock(tmpdir):
    port_file = os.path.join(tmpdir, "port")
    proc = subprocess.Popen([sys.executable, MOCK, "--port", "0", "--port-file", port_file],
                            stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("mock provider did not start")
        time.sleep(0.02)
    with open(port_file) as f:
        port = int(f.read())
    line = proc.stdout.readline().strip()
    expect_eq(line, f"mock provider listening on 127.0.0.1:{port}", "banner")
    return proc, port


def main():
    global BASE, PORT
    tests = [(name, fn) for name, fn in globals().items() if name.startswith("test_")]
    with tempfile.TemporaryDirectory() as tmpdir:
        proc, PORT = start_mock(tmpdir)
        BASE = f"http://127.0.0.1:{PORT}"
        failures = 0
        t0 = time.monotonic()
        try:
            for name, fn in tests:
                try:
                    fn()
                    print(f"ok   {name}")
                except Exception as e:
                    failures += 1
                    print(f"FAIL {name}: {type(e).__name__}: {e}")
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                rc = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = "killed"
        if rc != 0:
            failures += 1
            print(f"FAIL shutdown: exit code {rc} after SIGTERM")
        else:
            print("ok   shutdown on SIGTERM")
    print(f"{len(tests) + 1 - failures} passed, {failures} failed "
          f"in {time.monotonic() - t0:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
