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
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
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


def test_presets():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 7}
    s, _, b = call_json("/mistral/v1/chat/completions", body, OPENAI_KEY)
    expect_eq(s, 422, "mistral refuses seed")
    expect_eq(b["message"]["detail"][0]["loc"], ["body", "seed"], "mistral detail")
    body["random_seed"] = body.pop("seed")
    s, _, b = call_json("/mistral/v1/chat/completions", body, OPENAI_KEY)
    expect_eq(s, 200, "mistral random_seed")
    expect_eq(b["choices"][0]["message"]["content"], "mock reply from mistral m: hi", "mistral")
    calls = {"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "1"}]}
    s, _, b = call_json("/mistral/v1/chat/completions", calls, OPENAI_KEY)
    expect_eq(s, 400, "mistral refuses a tool call id of another form")
    calls["messages"][1]["tool_calls"][0]["id"] = calls["messages"][2]["tool_call_id"] = "aB3xK9mP2"
    s, _, b = call_json("/mistral/v1/chat/completions", calls, OPENAI_KEY)
    expect_eq(s, 200, "mistral tool call ids")
    named = {"model": "m", "messages": [{"role": "user", "content": "hi", "name": "bob"}]}
    s, _, b = call_json("/groq/openai/v1/chat/completions", named, OPENAI_KEY)
    expect_eq(s, 400, "groq refuses messages[].name")
    s, _, b = call_json("/v1/chat/completions", named, OPENAI_KEY)
    expect_eq(s, 200, "openai takes messages[].name")
    schema = {"model": "m", "messages": [{"role": "user", "content": "hi"}],
              "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}}
    s, _, b = call_json("/deepseek/chat/completions", schema, OPENAI_KEY)
    expect_eq(s, 400, "deepseek refuses json_schema")
    schema["response_format"] = {"type": "json_object"}
    s, _, b = call_json("/deepseek/chat/completions", schema, OPENAI_KEY)
    expect_eq(s, 400, "deepseek json_object wants 'json' in the prompt")
    schema["messages"][0]["content"] = "hi, in JSON"
    s, _, b = call_json("/deepseek/chat/completions", schema, OPENAI_KEY)
    expect_eq(s, 200, "deepseek json_object")
    img = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}
    s, _, b = call_json("/deepseek/v1/chat/completions", img, OPENAI_KEY)
    expect_eq(s, 400, "deepseek refuses image parts")


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


def test_gemini_tools():
    """Gemini's function calling, responseSchema and inline/file data (section tools_gemini)."""
    weather = {"name": "get_weather", "description": "weather of a city",
               "parameters": {"type": "OBJECT", "properties": {
                   "city": {"type": "STRING"}, "days": {"type": "INTEGER"}},
                   "required": ["city"]}}
    ask = [{"role": "user", "parts": [{"text": 'weather in "Oslo" please'}]}]
    body = {"contents": ask, "tools": [{"functionDeclarations": [weather]}]}
    s, _, b = call_json(gemini_path("gemini-2.0-flash"), body, GEMINI_KEY)
    expect_eq(s, 200, "tool call status")
    cand = b["candidates"][0]
    expect_eq(cand["content"]["parts"], [{"functionCall": {
        "name": "get_weather", "args": {"city": "Oslo", "days": 1}}}], "functionCall part")
    expect_eq((cand["finishReason"], cand["content"]["role"]), ("STOP", "model"), "finish")
    # mode NONE: text; ANY + allowedFunctionNames: that function
    other = {"name": "noop", "parameters": {"type": "OBJECT", "properties": {
        "x": {"type": "BOOLEAN"}}}}
    body["tools"] = [{"functionDeclarations": [weather, other]}]
    body["toolConfig"] = {"functionCallingConfig": {"mode": "NONE"}}
    s, _, b = call_json(gemini_path("g"), body, GEMINI_KEY)
    expect("text" in b["candidates"][0]["content"]["parts"][0], "mode NONE answers text")
    body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY",
                                                    "allowedFunctionNames": ["noop"]}}
    s, _, b = call_json(gemini_path("g"), body, GEMINI_KEY)
    expect_eq(b["candidates"][0]["content"]["parts"][0]["functionCall"],
              {"name": "noop", "args": {"x": True}}, "forced function")
    # the round trip: the model's call, then the function's answer as a user turn
    turn = ask + [{"role": "model", "parts": [{"functionCall": {
        "name": "get_weather", "args": {"city": "Oslo"}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}},
            {"functionResponse": {"name": "noop", "response": {"result": {"ok": 1}}}}]}]
    s, _, b = call_json(gemini_path("g"), {"contents": turn, "tools": body["tools"]}, GEMINI_KEY)
    expect_eq(b["candidates"][0]["content"]["parts"][0]["text"],
              'tool results: get_weather=sunny; noop={"ok":1}', "tool results")
    # what the document refuses
    bad = dict(weather, parameters=dict(weather["parameters"], additionalProperties=False))
    s, _, b = call_json(gemini_path("g"), {"contents": ask, "tools": [
        {"functionDeclarations": [bad]}]}, GEMINI_KEY)
    expect_eq(s, 400, "additionalProperties refused")
    expect('Unknown name "additionalProperties"' in b["error"]["message"], "unknown name")
    s, _, b = call_json(gemini_path("g"), {"contents": ask, "tools": [{"functionDeclarations": [
        {"name": "f", "parameters": {"type": "OBJECT"}}]}]}, GEMINI_KEY)
    expect_eq(s, 400, "OBJECT without properties refused")
    s, _, b = call_json(gemini_path("g"), {"contents": ask, "generationConfig": {
        "responseMimeType": "application/json", "responseSchema": {"type": "OBJECT", "properties": {
            "meta": {"type": "OBJECT"}}}}}, GEMINI_KEY)
    expect_eq(s, 400, "nested OBJECT without properties refused")
    expect("should be non-empty for OBJECT type" in b["error"]["message"], "non-empty message")
    s, _, _ = call_json(gemini_path("g"), {"contents": ask, "tools": [{"functionDeclarations": [
        {"name": "f", "parameters": {"type": "object", "properties": {
            "a": {"type": "string"}}}}]}]}, GEMINI_KEY)
    expect_eq(s, 400, "lower-case type refused")
    s, _, _ = call_json(gemini_path("g"), {"contents": [{"role": "function", "parts": [
        {"text": "x"}]}]}, GEMINI_KEY)
    expect_eq(s, 400, "role function refused")


def test_gemini_schema_and_media():
    schema = {"type": "OBJECT", "properties": {"name": {"type": "STRING"},
                                               "tags": {"type": "ARRAY", "maxItems": "2",
                                                        "items": {"type": "STRING"}}}}
    ask = [{"role": "user", "parts": [{"text": 'extract "Ada"'}]}]
    s, _, b = call_json(gemini_path("g"), {"contents": ask, "generationConfig": {
        "responseMimeType": "application/json", "responseSchema": schema}}, GEMINI_KEY)
    expect_eq(json.loads(b["candidates"][0]["content"]["parts"][0]["text"]),
              {"name": "Ada", "tags": ["Ada"]}, "responseSchema answer")
    s, _, b = call_json(gemini_path("g"), {"contents": ask, "generationConfig": {
        "responseSchema": schema}}, GEMINI_KEY)
    expect_eq(s, 400, "responseSchema without responseMimeType")
    s, _, b = call_json(gemini_path("g"), {"contents": ask, "generationConfig": {
        "responseMimeType": "application/json"}}, GEMINI_KEY)
    expect_eq(json.loads(b["candidates"][0]["content"]["parts"][0]["text"]),
              {"answer": "Ada"}, "json mode answer")
    png = base64.b64encode(b"\x89PNG" + b"\0" * 64).decode()
    media = [{"role": "user", "parts": [
        {"text": "what is this"},
        {"inlineData": {"mimeType": "image/png", "data": png}},
        {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/a.pdf"}}]}]
    s, _, b = call_json(gemini_path("g"), {"contents": media}, GEMINI_KEY)
    expect_eq(b["candidates"][0]["content"]["parts"][0]["text"],
              "mock reply from gemini g: what is this [image/png 68 bytes] "
              "[url https://example.com/a.pdf]", "attachments")
    media[0]["parts"][1]["inlineData"]["data"] = "not base64!"
    s, _, b = call_json(gemini_path("g"), {"contents": media}, GEMINI_KEY)
    expect_eq(s, 400, "bad base64")
    s, _, b = call_json(gemini_path("recorded-tools"), {"contents": ask}, GEMINI_KEY)
    expect_eq(b, json.loads(sample("gemini_function_call.json")), "recorded-tools sample")


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


def form(path, fields):
    data = urllib.parse.urlencode(fields).encode()
    return call_json(path, raw=data, headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_entra_tokens():
    fields = {"grant_type": "client_credentials", "client_id": "c1", "client_secret": "s3cret",
              "scope": "https://cognitiveservices.azure.com/.default"}
    before = call_json("/_mock/stats")[2]["tokens_issued"]
    status, _, body = form("/tenant-1/oauth2/v2.0/token?expires_in=60", fields)
    expect_eq((status, body["token_type"], body["expires_in"]), (200, "Bearer", 60), "token")
    token = body["access_token"]
    expect_eq(call_json("/_mock/stats")[2]["tokens_issued"], before + 1, "tokens_issued")
    status, _, body = form("/tenant-1/oauth2/v2.0/token?echo_secret=1",
                           {**fields, "client_secret": "bad-s3cret"})
    expect_eq((status, body["error"]), (401, "invalid_client"), "bad secret")
    expect("bad-s3cret" in body["error_description"], "echo_secret")
    path = "/openai/deployments/gpt/chat/completions?api-version=2024-10-21"
    msgs = {"messages": [{"role": "user", "content": "hi"}]}
    status, _, body = call_json(path, msgs, {"Authorization": f"Bearer {token}"})
    expect_eq(status, 200, "azure with the token")
    status, _, _ = call_json(path, msgs, {"Authorization": "Bearer not-issued"})
    expect_eq(status, 401, "azure with an unknown token")
    upath = "/openai/deployments/gpt%2Bunauth_once/chat/completions?api-version=2024-10-21"
    expect_eq(call_json(upath, msgs, {"Authorization": f"Bearer {token}"})[0], 401, "unauth_once")
    expect_eq(call_json(path, msgs, {"Authorization": f"Bearer {token}"})[0], 401, "revoked")


def test_google_jwt_and_vertex():
    with tempfile.TemporaryDirectory() as tmp:
        key, pub = os.path.join(tmp, "k.pem"), os.path.join(tmp, "k.pub")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", key], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                       capture_output=True)
        call("/_mock/jwt_key", raw=open(pub, "rb").read())
        now = int(time.time())
        enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        head = enc(b'{"alg":"RS256","typ":"JWT"}')
        claims = enc(json.dumps({"iss": "sa@p.iam", "scope": "https://www.googleapis.com/auth/cloud-platform",
                                 "aud": BASE + "/token", "iat": now, "exp": now + 3600}).encode())
        with open(os.path.join(tmp, "in"), "w") as f:
            f.write(f"{head}.{claims}")
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, os.path.join(tmp, "in")],
                             check=True, capture_output=True).stdout
    grant = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}
    status, _, body = form("/token", {**grant, "assertion": f"{head}.{claims}.{enc(sig)}"})
    expect_eq(status, 200, f"jwt grant {body}")
    token = body["access_token"]
    status, _, body = form("/token", {**grant, "assertion": f"{head}.{claims}.{enc(b'x' * 256)}"})
    expect_eq((status, body["error_description"]), (400, "Invalid JWT Signature."), "bad signature")
    vpath = "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent"
    req = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    status, _, body = call_json(vpath, req, {"Authorization": f"Bearer {token}"})
    expect_eq(body["candidates"][0]["content"]["parts"][0]["text"],
              "mock reply from vertex gemini-2.0-flash: hi", "vertex reply")
    expect_eq(call_json(vpath, req, {"Authorization": "Bearer nope"})[0], 401, "vertex unknown token")


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


# ---- provider Batch APIs (test/mock_batches.py): OpenAI Files + Batches, Anthropic Message
# Batches; shapes from openai-openapi.yaml (Batch, OpenAIFile, BatchError, BatchRequestCounts)
# and anthropic-openapi.json (MessageBatch, RequestCounts, MessageBatchIndividualResponse) --

OPENAI_BATCH_KEYS = {"id", "object", "endpoint", "model", "errors", "input_file_id",
                     "completion_window", "status", "output_file_id", "error_file_id",
                     "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at",
                     "failed_at", "expired_at", "cancelling_at", "cancelled_at", "request_counts",
                     "usage", "metadata"}
MESSAGE_BATCH_KEYS = {"id", "type", "processing_status", "request_counts", "ended_at",
                      "created_at", "expires_at", "archived_at", "cancel_initiated_at",
                      "results_url"}
RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"


def multipart(fields, boundary="mockBoundary7MA4YWxkTrZu0gW"):
    """fields: [(name, filename or None, bytes)] -> (content type, body) as curl_mime sends."""
    out = b""
    for name, filename, data in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
        if filename:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    return f"multipart/form-data; boundary={boundary}", out + f"--{boundary}--\r\n".encode()


def batch_line(cid, body, url="/v1/chat/completions"):
    return json.dumps({"custom_id": cid, "method": "POST", "url": url, "body": body})


def upload(lines, purpose="batch", headers=OPENAI_KEY, filename="batch.jsonl"):
    data = ("\n".join(lines) + "\n").encode() if isinstance(lines, list) else lines
    ctype, body = multipart([("purpose", None, purpose.encode()), ("file", filename, data)])
    return call_json("/v1/files", raw=body, headers={**headers, "Content-Type": ctype})


def openai_batch(lines, **create):
    s, _, f = upload(lines)
    expect_eq(s, 200, f"upload: {f}")
    body = {"input_file_id": f["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    body.update(create)
    s, _, b = call_json("/v1/batches", body, OPENAI_KEY)
    expect_eq(s, 200, f"create: {b}")
    return f, b


def file_lines(fid):
    s, h, raw = call(f"/v1/files/{fid}/content", headers=OPENAI_KEY)
    expect_eq((s, h.get("Content-Type")), (200, "application/octet-stream"), "file content")
    return raw, [json.loads(x) for x in raw.decode().splitlines()]


def without_ids(obj):
    """A chat/messages body without the members that differ from call to call."""
    return {k: v for k, v in obj.items() if k not in ("id", "created")}


def test_openai_batch():
    ask = [{"role": "user", "content": 'Weather in "Oslo"?'}]
    first = {"model": "gpt-4o-mini+batch_polls=3", "messages": [{"role": "user", "content": "2+2?"}]}
    failing = {"model": "gpt-4o-mini+status=400", "messages": ask}
    tools = {"model": "gpt-4o-mini", "messages": ask, "tools": [WEATHER_TOOL],
             "tool_choice": "required"}
    lines = [batch_line("req-1", first), batch_line("req-2", failing), batch_line("req-3", tools)]
    _, _, before = call_json("/_mock/stats")
    f, b = openai_batch(lines, metadata={"job": "nightly"})
    data = ("\n".join(lines) + "\n").encode()
    expect_eq(f, {"id": f["id"], "object": "file", "bytes": len(data), "created_at": f["created_at"],
                  "filename": "batch.jsonl", "purpose": "batch", "status": "processed"}, "file object")
    expect(f["id"].startswith("file-") and isinstance(f["created_at"], int), "file id")
    expect_eq(set(b), OPENAI_BATCH_KEYS, "batch keys")
    expect(b["id"].startswith("batch_"), "batch id")
    expect_eq((b["object"], b["endpoint"], b["status"], b["errors"], b["input_file_id"],
               b["completion_window"], b["output_file_id"], b["error_file_id"], b["in_progress_at"],
               b["metadata"], b["request_counts"]),
              ("batch", "/v1/chat/completions", "validating", None, f["id"], "24h", None, None, None,
               {"job": "nightly"}, {"total": 0, "completed": 0, "failed": 0}), "created batch")
    path = "/v1/batches/" + b["id"]
    s, _, g1 = call_json(path, headers=OPENAI_KEY)
    expect_eq((s, g1["status"], g1["request_counts"]),
              (200, "in_progress", {"total": 3, "completed": 0, "failed": 0}), "first poll")
    expect_eq(g1["expires_at"], g1["created_at"] + 86400, "expires_at")
    s, _, g2 = call_json(path, headers=OPENAI_KEY)
    expect_eq((g2["status"], g2["output_file_id"]), ("in_progress", None), "second poll (batch_polls=3)")
    s, _, g3 = call_json(path, headers=OPENAI_KEY)
    expect_eq((g3["status"], g3["request_counts"]), ("completed", {"total": 3, "completed": 2, "failed": 1}),
              "third poll completes")
    expect(all(isinstance(g3[k], int) for k in ("in_progress_at", "finalizing_at", "completed_at")),
           "completion times")
    expect_eq((g3["failed_at"], g3["expired_at"], g3["cancelled_at"]), (None, None, None), "no other end")
    expect(g3["output_file_id"].startswith("file-") and g3["error_file_id"].startswith("file-"), "files")
    raw, out = file_lines(g3["output_file_id"])
    expect_eq([o["custom_id"] for o in out], ["req-1", "req-3"], "output lines")
    for o in out:
        expect_eq(set(o), {"id", "custom_id", "response", "error"}, "output line keys")
        expect_eq(set(o["response"]), {"status_code", "request_id", "body"}, "response keys")
        expect(o["id"].startswith("batch_req_") and o["response"]["request_id"].startswith("req_"), "ids")
        expect_eq((o["response"]["status_code"], o["error"]), (200, None), "success line")
    # exactly what the live route answers for the same body
    for o, body in zip(out, (first, tools)):
        s, _, live = call_json("/v1/chat/completions", body, OPENAI_KEY)
        expect_eq(without_ids(o["response"]["body"]), without_ids(live), "line body = live answer")
    call_msg = out[1]["response"]["body"]["choices"][0]
    expect_eq((call_msg["finish_reason"], call_msg["message"]["tool_calls"][0]["function"]["arguments"]),
              ("tool_calls", '{"city": "Oslo", "days": 1}'), "tool line")
    expect_eq(g3["usage"]["total_tokens"], sum(o["response"]["body"]["usage"]["total_tokens"] for o in out),
              "usage sums the lines")
    raw_err, err = file_lines(g3["error_file_id"])
    expect_eq(len(err), 1, "one error line")
    expect_eq((err[0]["custom_id"], err[0]["error"], err[0]["response"]["status_code"],
               err[0]["response"]["body"]),
              ("req-2", None, 400, {"error": {"message": "mock error 400", "type": "invalid_request_error",
                                              "param": None, "code": None}}), "error line")
    # answered once: later polls and downloads give the same bytes and files
    s, _, g4 = call_json(path, headers=OPENAI_KEY)
    expect_eq((g4["status"], g4["output_file_id"], g4["error_file_id"]),
              ("completed", g3["output_file_id"], g3["error_file_id"]), "stable batch")
    expect_eq(file_lines(g3["output_file_id"])[0], raw, "stable output file")
    expect_eq(file_lines(g3["error_file_id"])[0], raw_err, "stable error file")
    _, _, after = call_json("/_mock/stats")
    expect_eq(after["batch_items_answered"] - before["batch_items_answered"], 3, "items answered once")
    expect(after["by_path"].get(path, 0) >= 4, "polls counted per path")
    s, _, meta = call_json(f"/v1/files/{g3['output_file_id']}", headers=OPENAI_KEY)
    expect_eq((meta["object"], meta["purpose"], meta["bytes"]), ("file", "batch_output", len(raw)), "output file")
    s, _, listing = call_json("/_mock/batches")
    mine = [x for x in listing["batches"] if x["id"] == b["id"]]
    expect_eq(mine, [{"id": b["id"], "provider": "openai", "status": "completed", "items": 3,
                      "polls": 4, "polls_needed": 3, "end": None}], "/_mock/batches")
    # the input file reads back as uploaded; an embeddings batch answers like /v1/embeddings
    expect_eq(file_lines(f["id"])[0], data, "input file content")
    emb = {"model": "text-embedding-3-small+batch_polls=1", "input": ["a b", "c"], "dimensions": 4}
    f2, b2 = openai_batch([batch_line("e1", emb, "/v1/embeddings")], endpoint="/v1/embeddings")
    s, _, g = call_json("/v1/batches/" + b2["id"], headers=OPENAI_KEY)
    expect_eq((g["status"], g["error_file_id"]), ("completed", None), "embeddings batch, no error file")
    s, _, live = call_json("/v1/embeddings", emb, OPENAI_KEY)
    expect_eq(file_lines(g["output_file_id"])[1][0]["response"]["body"], live, "embedding line = live")


def test_openai_batch_refusals():
    good = batch_line("a", {"model": "m", "messages": []})

    def refused(result, status, what, needle=None):
        s, _, b = result
        expect_eq(s, status, what)
        expect_eq(set(b["error"]), {"message", "type", "param", "code"}, f"{what}: OpenAI error shape")
        if needle:
            expect(needle in b["error"]["message"], f"{what}: {b['error']['message']!r} lacks {needle!r}")
        return b["error"]

    refused(call_json("/v1/files", raw=b"--x\r\nnot a part", headers={
        **OPENAI_KEY, "Content-Type": "multipart/form-data; boundary=x"}), 400, "bad multipart")
    refused(call_json("/v1/files", raw=b"{}", headers=OPENAI_KEY), 400, "not multipart")
    e = refused(upload([good], purpose="fine-tune"), 400, "purpose", "purpose")
    expect_eq(e["param"], "purpose", "purpose param")
    refused(upload([good, "{not json"]), 400, "bad line", "line 2")
    refused(upload([good, batch_line("b", {"messages": []})]), 400, "no model", "line 2")
    refused(upload([good, good]), 400, "duplicate custom_id", "line 2")
    refused(upload([good, batch_line("b", {"model": "m"}, "/v1/embeddings")]), 400, "mixed urls", "line 2")
    refused(upload([batch_line("a", {"model": "m"}, "/v1/completions")]), 400, "unsupported url", "line 1")
    refused(upload([json.dumps({"custom_id": "a", "method": "GET", "url": "/v1/chat/completions",
                                "body": {"model": "m"}})]), 400, "method", "line 1")
    refused(upload(b"\n\n"), 400, "empty file")
    e = refused(upload([good], headers={}), 401, "no key")
    expect_eq(e["code"], "invalid_api_key", "401 code")
    refused(upload([good], headers={"Authorization": "Bearer bad-key"}), 401, "bad key")
    s, _, f = upload([good])
    create = {"input_file_id": f["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    refused(call_json("/v1/batches", dict(create, endpoint="/v1/embeddings"), OPENAI_KEY), 400, "endpoint")
    refused(call_json("/v1/batches", dict(create, completion_window="48h"), OPENAI_KEY), 400, "window")
    refused(call_json("/v1/batches", dict(create, input_file_id="file-nope"), OPENAI_KEY), 400, "no file")
    refused(call_json("/v1/batches", dict(create, metadata={"k": 1}), OPENAI_KEY), 400, "metadata")
    refused(call_json("/v1/batches", create, {}), 401, "create without key")
    refused(call_json("/v1/batches/batch_nope", headers=OPENAI_KEY), 404, "unknown batch")
    refused(call_json("/v1/batches/batch_nope/cancel", {}, OPENAI_KEY), 404, "cancel unknown")
    refused(call_json("/v1/files/file-nope/content", headers=OPENAI_KEY), 404, "unknown file")
    refused(call_json("/v1/files", headers=OPENAI_KEY), 405, "GET /files")
    s, _, bf = upload([batch_line("a", {"model": "m+batch_end=sometime", "messages": []})])
    refused(call_json("/v1/batches", dict(create, input_file_id=bf["id"]), OPENAI_KEY), 400, "batch_end")


def test_openai_batch_ends():
    msgs = [{"role": "user", "content": "hi"}]
    # expired: every line in the error file with batch_expired, an empty output file
    _, b = openai_batch([batch_line("x1", {"model": "m+batch_end=expired", "messages": msgs}),
                         batch_line("x2", {"model": "m", "messages": msgs})])
    path = "/v1/batches/" + b["id"]
    s, _, g = call_json(path, headers=OPENAI_KEY)
    expect_eq(g["status"], "in_progress", "expired: first poll")
    s, _, g = call_json(path, headers=OPENAI_KEY)
    expect_eq((g["status"], g["request_counts"], g["completed_at"]),
              ("expired", {"total": 2, "completed": 0, "failed": 2}, None), "expired")
    expect(isinstance(g["expired_at"], int), "expired_at")
    expect_eq(file_lines(g["output_file_id"])[0], b"", "expired: empty output file")
    err = file_lines(g["error_file_id"])[1]
    expect_eq([(e["custom_id"], e["response"], e["error"]) for e in err],
              [(c, None, {"code": "batch_expired", "message": "This request could not be executed "
                          "before the completion window expired."}) for c in ("x1", "x2")], "expired lines")
    # failed: errors list, no files
    _, b = openai_batch([batch_line("f1", {"model": "gpt-4o+batch_end=failed+batch_polls=1", "messages": msgs})])
    s, _, g = call_json("/v1/batches/" + b["id"], headers=OPENAI_KEY)
    expect_eq((g["status"], g["output_file_id"], g["error_file_id"], g["in_progress_at"]),
              ("failed", None, None, None), "failed")
    expect(isinstance(g["failed_at"], int), "failed_at")
    expect_eq((g["errors"]["object"], set(g["errors"]["data"][0])), ("list", {"code", "message", "param", "line"}),
              "failed errors (BatchError)")
    expect_eq(g["errors"]["data"][0]["code"], "token_limit_exceeded", "failed code")
    # cancelled by the client: cancelling, then cancelled on the next GET
    _, b = openai_batch([batch_line("c1", {"model": "m+batch_polls=5", "messages": msgs})])
    s, _, g = call_json(f"/v1/batches/{b['id']}/cancel", {}, OPENAI_KEY)
    expect_eq((s, g["status"]), (200, "cancelling"), "cancel")
    expect(isinstance(g["cancelling_at"], int), "cancelling_at")
    s, _, g = call_json("/v1/batches/" + b["id"], headers=OPENAI_KEY)
    expect_eq((g["status"], g["request_counts"]), ("cancelled", {"total": 1, "completed": 0, "failed": 1}),
              "cancelled")
    expect_eq(file_lines(g["error_file_id"])[1][0]["error"]["code"], "batch_cancelled", "cancelled line")
    s, _, e = call_json(f"/v1/batches/{b['id']}/cancel", {}, OPENAI_KEY)
    expect_eq(s, 400, "cancel an ended batch")
    # batch_end=cancelled ends the same way without a cancel request
    _, b = openai_batch([batch_line("c2", {"model": "m+batch_end=cancelled+batch_polls=1", "messages": msgs})])
    s, _, g = call_json("/v1/batches/" + b["id"], headers=OPENAI_KEY)
    expect_eq(g["status"], "cancelled", "batch_end=cancelled")
    # connection-level directives of a line are ignored, JSON-level ones kept
    _, b = openai_batch([batch_line("h", {"model": "m+hang+latency=5000+batch_polls=1", "messages": msgs}),
                         batch_line("w", {"model": "m+wrong_shape", "messages": msgs})])
    t0 = time.monotonic()
    s, _, g = call_json("/v1/batches/" + b["id"], headers=OPENAI_KEY, timeout=5)
    expect(time.monotonic() - t0 < 2, "hang/latency ignored")
    bodies = [o["response"]["body"] for o in file_lines(g["output_file_id"])[1]]
    expect_eq(bodies[1], {"result": "ok"}, "wrong_shape kept")
    expect_eq(bodies[0]["choices"][0]["message"]["content"],
              "mock reply from openai m+hang+latency=5000+batch_polls=1: hi", "hang line answered")


def anthropic_params(model, text="hi", **extra):
    return dict({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]}, **extra)


def test_anthropic_batch():
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]}}]
    reqs = [{"custom_id": "my-custom-id-1", "params": anthropic_params("claude-x+batch_polls=2", "2+2?")},
            {"custom_id": "my_id_2", "params": anthropic_params("claude-x+status=400")},
            {"custom_id": "id3", "params": anthropic_params("claude-x", 'Weather in "Paris"?', tools=tools,
                                                            tool_choice={"type": "any"})}]
    s, _, b = call_json("/v1/messages/batches", {"requests": reqs}, ANTHROPIC_HDR)
    expect_eq(s, 200, f"create: {b}")
    expect_eq(set(b), MESSAGE_BATCH_KEYS, "MessageBatch keys")
    expect(b["id"].startswith("msgbatch_"), "id")
    expect_eq((b["type"], b["processing_status"], b["request_counts"], b["ended_at"], b["archived_at"],
               b["cancel_initiated_at"], b["results_url"]),
              ("message_batch", "in_progress",
               {"processing": 3, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
               None, None, None, None), "created")
    expect(re.match(RFC3339, b["created_at"]) and re.match(RFC3339, b["expires_at"]), "RFC 3339 times")
    path = "/v1/messages/batches/" + b["id"]
    s, _, e = call_json(path + "/results", headers=ANTHROPIC_HDR)
    expect_eq((s, e["type"], e["error"]["type"]), (400, "error", "invalid_request_error"), "results too early")
    s, _, g = call_json(path, headers=ANTHROPIC_HDR)
    expect_eq((g["processing_status"], g["results_url"]), ("in_progress", None), "first poll")
    s, _, g = call_json(path, headers=ANTHROPIC_HDR)
    expect_eq((g["processing_status"], g["request_counts"]),
              ("ended", {"processing": 0, "succeeded": 2, "errored": 1, "canceled": 0, "expired": 0}), "ended")
    expect(re.match(RFC3339, g["ended_at"]), "ended_at")
    expect_eq(g["results_url"], f"{BASE}{path}/results", "results_url is absolute")
    s, h, raw = call(g["results_url"][len(BASE):], headers=ANTHROPIC_HDR)
    expect_eq((s, h.get("Content-Type")), (200, "application/x-jsonl"), "results")
    res = [json.loads(x) for x in raw.decode().splitlines()]
    expect_eq([(r["custom_id"], r["result"]["type"]) for r in res],
              [("my-custom-id-1", "succeeded"), ("my_id_2", "errored"), ("id3", "succeeded")], "result types")
    expect_eq(set(res[0]), {"custom_id", "result"}, "result line keys")
    s, _, live = call_json("/v1/messages", reqs[0]["params"], ANTHROPIC_HDR)
    expect_eq(without_ids(res[0]["result"]["message"]), without_ids(live), "message = live answer")
    expect_eq(res[1]["result"], {"type": "errored", "error": {
        "type": "error", "error": {"type": "invalid_request_error", "message": "mock error 400"},
        "request_id": "req_mock"}}, "errored result (ErrorResponse)")
    expect_eq((res[2]["result"]["message"]["stop_reason"], res[2]["result"]["message"]["content"][0]["input"]),
              ("tool_use", {"city": "Paris"}), "tool line")
    expect_eq(call(path + "/results", headers=ANTHROPIC_HDR)[2], raw, "stable results")
    # auth as /v1/messages
    s, _, e = call_json(path, headers={"x-api-key": "ak"})
    expect_eq((s, e["error"]["type"]), (400, "invalid_request_error"), "no anthropic-version")
    s, _, e = call_json(path + "/results", headers={**ANTHROPIC_HDR, "x-api-key": "bad"})
    expect_eq((s, e["error"]["type"]), (401, "authentication_error"), "bad key")
    s, _, e = call_json("/v1/messages/batches/msgbatch_nope", headers=ANTHROPIC_HDR)
    expect_eq((s, e["type"], e["error"]["type"]), (404, "error", "not_found_error"), "unknown batch")


def test_anthropic_batch_refusals_and_ends():
    def refused(body, what, status=400):
        s, _, e = call_json("/v1/messages/batches", body, ANTHROPIC_HDR)
        expect_eq((s, e.get("type"), e.get("error", {}).get("type")),
                  (status, "error", "invalid_request_error"), what)
        return e["error"]["message"]

    ok = {"custom_id": "a", "params": anthropic_params("c")}
    msg = refused({"requests": [{"custom_id": "has space", "params": anthropic_params("c")}]}, "bad custom_id")
    expect("custom_id" in msg, "custom_id named")
    refused({"requests": [{"custom_id": "x" * 65, "params": anthropic_params("c")}]}, "custom_id too long")
    refused({"requests": [ok, ok]}, "duplicate custom_id")
    refused({"requests": []}, "no requests")
    refused({"requests": [ok], "extra": 1}, "extra member")
    refused({"requests": [{"custom_id": "a", "params": {"model": "c", "messages": []}}]}, "no max_tokens")
    refused({"requests": [{"custom_id": "a", "params": anthropic_params("c+batch_end=failed")}]}, "no failed end")
    s, _, e = call_json("/v1/messages/batches", {"requests": [ok]}, {"anthropic-version": "2023-06-01"})
    expect_eq((s, e["error"]["type"]), (401, "authentication_error"), "no key")
    # canceled by the client
    s, _, b = call_json("/v1/messages/batches", {"requests": [ok, dict(ok, custom_id="b")]}, ANTHROPIC_HDR)
    path = "/v1/messages/batches/" + b["id"]
    s, _, c = call_json(path + "/cancel", {}, ANTHROPIC_HDR)
    expect_eq((s, c["processing_status"]), (200, "canceling"), "canceling")
    expect(re.match(RFC3339, c["cancel_initiated_at"]), "cancel_initiated_at")
    s, _, g = call_json(path, headers=ANTHROPIC_HDR)
    expect_eq((g["processing_status"], g["request_counts"]),
              ("ended", {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 2, "expired": 0}), "canceled")
    res = [json.loads(x) for x in call(path + "/results", headers=ANTHROPIC_HDR)[2].decode().splitlines()]
    expect_eq(res, [{"custom_id": "a", "result": {"type": "canceled"}},
                    {"custom_id": "b", "result": {"type": "canceled"}}], "canceled results")
    s, _, _ = call_json(path + "/cancel", {}, ANTHROPIC_HDR)
    expect_eq(s, 400, "cancel an ended batch")
    # batch_end=expired
    s, _, b = call_json("/v1/messages/batches", {"requests": [
        {"custom_id": "e", "params": anthropic_params("c+batch_end=expired+batch_polls=1")}]}, ANTHROPIC_HDR)
    s, _, g = call_json("/v1/messages/batches/" + b["id"], headers=ANTHROPIC_HDR)
    expect_eq(g["request_counts"]["expired"], 1, "expired count")
    res = call(g["results_url"][len(BASE):], headers=ANTHROPIC_HDR)[2]
    expect_eq(json.loads(res), {"custom_id": "e", "result": {"type": "expired"}}, "expired result")
    # any prefix; /_mock/reset empties the store
    s, _, b = call_json("/proxy/v1/messages/batches", {"requests": [ok]}, ANTHROPIC_HDR)
    expect_eq(s, 200, "prefixed create")
    call_json("/proxy/v1/messages/batches/" + b["id"], headers=ANTHROPIC_HDR)
    s, _, g = call_json("/proxy/v1/messages/batches/" + b["id"], headers=ANTHROPIC_HDR)
    expect_eq(g["results_url"], f"{BASE}/proxy/v1/messages/batches/{b['id']}/results", "prefixed results_url")
    call("/_mock/reset", {})
    s, _, listing = call_json("/_mock/batches")
    expect_eq(listing, {"batches": [], "files": 0}, "reset empties the store")
    s, _, st = call_json("/_mock/stats")
    expect_eq((st["batch_items_answered"], st["batches_created"]), (0, 0), "reset counters")
    s, _, _ = call_json("/v1/messages/batches/" + b["id"], headers=ANTHROPIC_HDR)
    expect_eq(s, 404, "gone after reset")


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
