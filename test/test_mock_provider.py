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


# ---- bedrock (SigV4) ------------------------------------------------------------------------

AWS_AKID = "AKIDEXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def sigv4_headers(method, path, body, akid=AWS_AKID, secret=AWS_SECRET, token=None,
                  host=None, amz_date=None, region="us-east-1", service="bedrock"):
    """Headers signing a request (an independent signer: checked against AWS's get-vanilla)."""
    import hashlib
    import hmac
    host = host or f"127.0.0.1:{PORT}"
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    hdrs = {"host": host, "x-amz-date": amz_date}
    if token:
        hdrs["x-amz-security-token"] = token
    if body is not None:
        hdrs["content-type"] = "application/json"
    signed = ";".join(sorted(hdrs))
    creq = "\n".join([method, quote(path, safe="/-_.~"), "",
                      "".join(f"{k}:{hdrs[k]}\n" for k in sorted(hdrs)), signed,
                      hashlib.sha256(body or b"").hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in hdrs.items() if k != "host"}
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={akid}/{scope}, "
                            f"SignedHeaders={signed}, Signature={sig}")
    return out


def bedrock_call(model, body, action="converse", **kw):
    path = f"/model/{quote(model, safe='')}/{action}"
    raw = json.dumps(body).encode()
    status, headers, data = call(path, raw=raw, headers=sigv4_headers("POST", path, raw, **kw))
    return status, headers, json.loads(data)


def test_bedrock_signer_matches_aws():
    # the test's own signer against AWS's published get-vanilla vector
    h = sigv4_headers("GET", "/", None, host="example.amazonaws.com",
                      amz_date="20150830T123600Z", service="service")
    expect(h["Authorization"].endswith(
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        "get-vanilla signature")


def test_bedrock_chat():
    body = {"system": [{"text": "be brief"}],
            "messages": [{"role": "user", "content": [{"text": "hello there"}]}],
            "inferenceConfig": {"maxTokens": 50}}
    s, h, b = bedrock_call("anthropic.claude-3-haiku-20240307-v1:0", body)
    expect_eq(s, 200, "status")
    expect_eq(b["output"]["message"]["content"][0]["text"],
              "mock reply from bedrock anthropic.claude-3-haiku-20240307-v1:0: hello there", "text")
    expect_eq((b["stopReason"], b["usage"]["inputTokens"]), ("end_turn", 5), "stop, usage")
    # a wrong secret: AWS's mismatch answer, its type in x-amzn-ErrorType
    s, h, b = bedrock_call("m", body, secret="wrong-secret-key")
    expect_eq(s, 403, "wrong secret")
    expect(b["message"].startswith("The request signature we calculated does not match"), b)
    expect(h["x-amzn-ErrorType"].startswith("AccessDeniedException"), "error type header")
    # a body changed after signing
    path = "/model/m/converse"
    raw = json.dumps(body).encode()
    s, _, b = call(path, raw=raw + b" ", headers=sigv4_headers("POST", path, raw))
    expect_eq(s, 403, "tampered body")
    # no auth; unknown key id; temporary credentials need their token
    s, _, b = call(path, raw=raw)
    expect_eq((s, json.loads(b)["message"]), (403, "Missing Authentication Token"), "no auth")
    s, _, _ = bedrock_call("m", body, akid="AKIDUNKNOWN")
    expect_eq(s, 403, "unknown key id")
    tmp = ("ASIAMOCKTEMPORARY", "mockTemporarySecretKey/EXAMPLE0123456789")
    s, _, _ = bedrock_call("m", body, akid=tmp[0], secret=tmp[1])
    expect_eq(s, 403, "temporary credentials without a token")
    s, _, _ = bedrock_call("m", body, akid=tmp[0], secret=tmp[1],
                           token="mock-session-token-EXAMPLE-0123456789")
    expect_eq(s, 200, "temporary credentials with their token")
    # a stale signature
    s, _, b = bedrock_call("m", body, amz_date="20150830T123600Z")
    expect((s, b["message"][:17]) == (403, "Signature expired"), b)
    # Bedrock API keys
    s, _, _ = call(path, raw=raw, headers={"Authorization": "Bearer ABSKmock"})
    expect_eq(s, 200, "bearer key")
    s, _, _ = call(path, raw=raw, headers={"Authorization": "Bearer bad-key"})
    expect_eq(s, 403, "bad bearer key")
    # faults keep the dialect's error shape
    s, h, b = bedrock_call("m+status=429", body)
    expect_eq((s, b), (429, {"message": "mock error 429"}), "throttled")
    expect(h["x-amzn-ErrorType"].startswith("ThrottlingException"), "throttling type")


def test_bedrock_tools_structured_images():
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "description": "d", "inputSchema": {
        "json": {"type": "object", "properties": {"city": {"type": "string"}},
                 "required": ["city"]}}}}], "toolChoice": {"auto": {}}}
    msgs = [{"role": "user", "content": [{"text": 'weather in "Paris"?'}]}]
    s, _, b = bedrock_call("m", {"messages": msgs, "toolConfig": tools})
    expect_eq((s, b["stopReason"]), (200, "tool_use"), "tool call")
    use = b["output"]["message"]["content"][0]["toolUse"]
    expect_eq((use["name"], use["input"]), ("get_weather", {"city": "Paris"}), "tool use")
    msgs += [{"role": "assistant", "content": [{"toolUse": use}]},
             {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"],
                                                          "content": [{"text": "sunny"}],
                                                          "status": "success"}}]}]
    s, _, b = bedrock_call("m", {"messages": msgs, "toolConfig": tools})
    expect_eq(b["output"]["message"]["content"][0]["text"], "tool results: get_weather=sunny",
              "tool result")
    s, _, b = bedrock_call("m", {"messages": msgs})
    expect_eq(s, 400, "toolUse blocks without toolConfig")
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    forced = {"tools": [{"toolSpec": {"name": "aig_structured_output",
                                      "inputSchema": {"json": schema}}}],
              "toolChoice": {"tool": {"name": "aig_structured_output"}}}
    s, _, b = bedrock_call("m", {"messages": msgs[:1], "toolConfig": forced})
    use = b["output"]["message"]["content"][0]["toolUse"]
    expect_eq((use["name"], use["input"]), ("aig_structured_output", {"n": 1}), "structured")
    png = base64.b64encode(b"\x89PNG" + b"\0" * 64).decode()
    msgs = [{"role": "user", "content": [{"text": "what is this"}, {"image": {
        "format": "png", "source": {"bytes": png}}}]}]
    s, _, b = bedrock_call("m", {"messages": msgs})
    expect(b["output"]["message"]["content"][0]["text"].endswith("[image/png 68 bytes]"), b)


def test_bedrock_embeddings():
    s, _, b = bedrock_call("amazon.titan-embed-text-v2:0", {"inputText": "alpha"}, "invoke")
    expect_eq((s, len(b["embedding"]), b["inputTextTokenCount"]), (200, 8, 2), "titan")
    _, _, o = call_json("/v1/embeddings", {"model": "e", "input": "alpha"}, OPENAI_KEY)
    expect_eq(b["embedding"], o["data"][0]["embedding"], "same text, same vector")
    s, _, b = bedrock_call("amazon.titan-embed-text-v2:0", {"inputText": "alpha", "dimensions": 4},
                           "invoke")
    expect_eq(len(b["embedding"]), 4, "titan dimensions")
    s, _, b = bedrock_call("cohere.embed-english-v3", {"texts": ["a", "b"],
                                                       "input_type": "search_query"}, "invoke")
    expect_eq((s, len(b["embeddings"])), (200, 2), "cohere on bedrock")


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


# ---- tools, tool results, images and documents: OpenAI, Azure, Ollama (tools_openai) ------

PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                   "days": {"type": "integer"}},
                   "required": ["city"]}}}


def test_openai_tools():
    path, hdr = "/v1/chat/completions", OPENAI_KEY
    ask = [{"role": "user", "content": 'Weather in "Oslo"?'}]
    status, _, obj = call_json(path, {"model": "m", "messages": ask, "tools": [WEATHER_TOOL]}, hdr)
    expect_eq(status, 200, "tool call status")
    choice = obj["choices"][0]
    expect_eq(choice["finish_reason"], "tool_calls", "finish_reason")
    expect_eq(choice["message"]["content"], None, "content of a call")
    tc = choice["message"]["tool_calls"][0]
    expect_eq((tc["type"], tc["function"]["name"]), ("function", "get_weather"), "call")
    expect(isinstance(tc["function"]["arguments"], str), "arguments are JSON text")
    expect_eq(json.loads(tc["function"]["arguments"]), {"city": "Oslo", "days": 1}, "arguments")
    # the round trip: the call replayed, the tool's result -> "tool results: ..."
    msgs = ask + [{"role": "assistant", "content": None, "tool_calls": [tc]},
                  {"role": "tool", "tool_call_id": tc["id"], "content": "12C"}]
    status, _, obj = call_json(path, {"model": "m", "messages": msgs, "tools": [WEATHER_TOOL]}, hdr)
    expect_eq((status, obj["choices"][0]["message"]["content"]),
              (200, "tool results: get_weather=12C"), "tool results")
    # tool_choice none: text; a named choice must name a tool; no tool_choice without tools
    status, _, obj = call_json(path, {"model": "m", "messages": ask, "tools": [WEATHER_TOOL],
                                      "tool_choice": "none"}, hdr)
    expect(obj["choices"][0]["message"]["content"].startswith("mock reply"), "tool_choice none")
    for bad in ({"tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "x"}}},
                {"tool_choice": "auto"}, {"parallel_tool_calls": False},
                {"tools": [{"type": "function", "function": {"name": "bad name"}}]}):
        status, _, obj = call_json(path, dict({"model": "m", "messages": ask}, **bad), hdr)
        expect_eq(status, 400, f"refused: {bad}")
    # a tool message must answer a call; replayed arguments must be a string
    status, _, _ = call_json(path, {"model": "m", "messages": ask + [
        {"role": "tool", "tool_call_id": "call_x", "content": "1"}]}, hdr)
    expect_eq(status, 400, "orphan tool message")
    bad_tc = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}
    status, _, _ = call_json(path, {"model": "m", "messages": ask + [
        {"role": "assistant", "content": None, "tool_calls": [bad_tc]}]}, hdr)
    expect_eq(status, 400, "object arguments refused")
    # image and PDF parts: listed with their decoded sizes; bad base64 is a 400
    parts = [{"type": "text", "text": "look"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_1PX}},
             {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
             {"type": "file", "file": {"filename": "d.pdf",
                                       "file_data": "data:application/pdf;base64,JVBERi0xLjQ="}}]
    status, _, obj = call_json(path, {"model": "m", "messages": [{"role": "user", "content": parts}]}, hdr)
    expect_eq((status, obj["choices"][0]["message"]["content"]),
              (200, "mock reply from openai m: look [image/png 70 bytes] "
                    "[url https://example.com/cat.png] [application/pdf 8 bytes]"), "attachments")
    bad_img = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]
    status, _, _ = call_json(path, {"model": "m", "messages": [{"role": "user", "content": bad_img}]}, hdr)
    expect_eq(status, 400, "bad base64")
    # Azure: the same shapes, but no file parts in its 2024-10-21 document
    apath = "/openai/deployments/d1/chat/completions?api-version=2024-10-21"
    status, _, obj = call_json(apath, {"messages": ask, "tools": [WEATHER_TOOL],
                                       "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                                       "parallel_tool_calls": False}, AZURE_KEY)
    expect_eq((status, obj["choices"][0]["finish_reason"]), (200, "tool_calls"), "azure call")
    status, _, _ = call_json(apath, {"messages": [{"role": "user", "content": parts[3:]}]}, AZURE_KEY)
    expect_eq(status, 400, "azure file part")
    # structured output: json_schema -> a value of the schema; badjson misses it
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    rf = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema, "strict": True}}
    status, _, obj = call_json(path, {"model": "m", "messages": ask, "response_format": rf}, hdr)
    expect_eq(json.loads(obj["choices"][0]["message"]["content"]), {"name": "Oslo"}, "json_schema")
    status, _, obj = call_json(path, {"model": "m+badargs", "messages": ask, "tools": [WEATHER_TOOL]}, hdr)
    expect_eq(obj["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "[1, 2]", "badargs")
    # the documented example answer
    status, _, obj = call_json(path, {"model": "recorded-tools", "messages": ask}, hdr)
    expect_eq(obj["choices"][0]["message"]["tool_calls"][0]["id"], "call_abc123", "recorded-tools")


def test_ollama_tools():
    ask = [{"role": "user", "content": 'Weather in "Oslo"?'}]
    status, _, obj = call_json("/api/chat", {"model": "m", "messages": ask, "stream": False,
                                             "tools": [WEATHER_TOOL]})
    expect_eq(status, 200, "ollama tool call")
    msg = obj["message"]
    expect_eq(msg["content"], "", "ollama call content")
    expect_eq(msg["tool_calls"], [{"function": {"name": "get_weather",
                                                "arguments": {"city": "Oslo", "days": 1}}}],
              "ollama call: arguments an object, no id")
    msgs = ask + [{"role": "assistant", "content": "", "tool_calls": msg["tool_calls"]},
                  {"role": "tool", "content": "12C", "tool_name": "get_weather"}]
    status, _, obj = call_json("/api/chat", {"model": "m", "messages": msgs, "tools": [WEATHER_TOOL]})
    expect_eq(obj["message"]["content"], "tool results: get_weather=12C", "ollama tool results")
    bad = [{"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "f", "arguments": "{\"a\":1}"}}]}]
    status, _, _ = call_json("/api/chat", {"model": "m", "messages": ask + bad})
    expect_eq(status, 400, "ollama string arguments refused")
    status, _, obj = call_json("/api/chat", {"model": "m", "messages": [
        {"role": "user", "content": "look", "images": [PNG_1PX]}]})
    expect_eq(obj["message"]["content"], "mock reply from ollama m: look [image/png 70 bytes]",
              "ollama image")
    status, _, _ = call_json("/api/chat", {"model": "m", "messages": [
        {"role": "user", "content": "look", "images": ["not base64!"]}]})
    expect_eq(status, 400, "ollama bad image")
    status, _, obj = call_json("/api/chat", {"model": "m", "messages": ask, "format": {
        "type": "object", "properties": {"age": {"type": "integer"}}}})
    expect_eq(json.loads(obj["message"]["content"]), {"age": 1}, "ollama format schema")
    status, _, obj = call_json("/api/chat", {"model": "m+badargs", "messages": ask, "tools": [WEATHER_TOOL]})
    expect_eq(obj["message"]["tool_calls"][0]["function"]["arguments"], [1, 2], "ollama badargs")
    status, _, obj = call_json("/api/chat", {"model": "recorded-tools", "messages": ask})
    expect_eq(obj["message"]["tool_calls"][0]["function"]["arguments"]["location"], "Paris, FR",
              "ollama recorded-tools")


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
