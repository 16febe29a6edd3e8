"""
test/mock_batches.py -- the provider Batch APIs of the mock provider (test/mock_provider.py).

Owns: OpenAI's Files + Batch API and Anthropic's Message Batches API as the providers' OpenAPI
documents describe them (/work/shared/provider-specs: openai-openapi.yaml Batch, OpenAIFile,
CreateBatchRequest, BatchError, BatchRequestCounts; anthropic-openapi.json MessageBatch,
RequestCounts, MessageBatchIndividualRequestParams, MessageBatchIndividualResponse,
SucceededResult, ErroredResult, CanceledResult, ExpiredResult, ErrorResponse), a bounded
thread-safe in-memory store of files and batches, and a small multipart/form-data parser.
It does not answer model requests itself: every batch line is answered, once, when the batch
ends, by the mock's own live-route logic (a callback from mock_provider.py), so a line's body
gets exactly what POST /v1/chat/completions, /v1/embeddings or /v1/messages answers for it.

Routes (any path prefix; auth as the live routes: OpenAI "Authorization: Bearer K", Anthropic
"x-api-key: K" + "anthropic-version"; a missing key or one starting with "bad" -> 401):
    POST .../files                     multipart/form-data: purpose=batch, file=<JSONL>
    GET  .../files/{id}                the File object
    GET  .../files/{id}/content        the file's bytes (application/octet-stream)
    POST .../batches                   {"input_file_id","endpoint","completion_window":"24h",
                                        "metadata"?}
    GET  .../batches/{id}              the Batch object; each GET advances it (see below)
    POST .../batches/{id}/cancel       -> "cancelling"; "cancelled" on the next GET
    POST .../v1/messages/batches       {"requests":[{"custom_id","params"}]}
    GET  .../v1/messages/batches/{id}  the MessageBatch object; each GET advances it
    POST .../v1/messages/batches/{id}/cancel     -> "canceling"; ended on the next GET
    GET  .../v1/messages/batches/{id}/results    JSONL (application/x-jsonl) once ended

Directives in the model of the FIRST line (OpenAI body.model, Anthropic params.model), next to
the mock's usual ones (the live routes accept and ignore these two):
    batch_polls=N   the batch ends on the Nth GET (default 2; 0 counts as 1)
    batch_end=E     how it ends instead of normally: OpenAI expired | failed | cancelled,
                    Anthropic expired | canceled (either spelling is taken by both)
Per-line directives work as on the live routes (status=400, fail_first, refuse=, badjson,
tools, schemas...); connection-level ones (latency, hang, reset, reset_mid, trickle, chunk,
malformed, truncated, empty, html, html200, wrong_ctype, redirect) are ignored for batch lines.
"""

import collections
import datetime
import json
import re
import threading
import time
import uuid

MAX_BATCHES = 1000                  # the store keeps the newest ones
MAX_FILES = 3000
MAX_STORED_BYTES = 1 << 30          # all files together
DEFAULT_POLLS = 2
OPENAI_MAX_LINES = 50000            # OpenAI: 50,000 requests and 200 MB per input file
OPENAI_MAX_BYTES = 200 * 1024 * 1024
ANTHROPIC_MAX_REQUESTS = 100000     # Anthropic: 100,000 requests or 256 MB per batch
ANTHROPIC_MAX_BYTES = 256 * 1024 * 1024
OPENAI_URLS = {"/v1/chat/completions": "chat", "/v1/embeddings": "embed"}
OPENAI_ENDPOINTS = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions",
                    "/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos")
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
END_NAMES = {"expired": "expired", "failed": "failed", "cancelled": "cancelled",
             "canceled": "cancelled"}
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."
CANCELLED_MESSAGE = "This request was not executed because the batch was cancelled."

ROUTES = [
    (re.compile(r"^(?P<prefix>.*)/v1/messages/batches$"), "POST", "anthropic", "create"),
    (re.compile(r"^(?P<prefix>.*)/v1/messages/batches/(?P<id>[^/]+)$"), "GET", "anthropic", "get"),
    (re.compile(r"^(?P<prefix>.*)/v1/messages/batches/(?P<id>[^/]+)/cancel$"), "POST", "anthropic", "cancel"),
    (re.compile(r"^(?P<prefix>.*)/v1/messages/batches/(?P<id>[^/]+)/results$"), "GET", "anthropic", "results"),
    (re.compile(r"^(?P<prefix>.*)/files$"), "POST", "openai", "upload"),
    (re.compile(r"^(?P<prefix>.*)/files/(?P<id>[^/]+)$"), "GET", "openai", "file"),
    (re.compile(r"^(?P<prefix>.*)/files/(?P<id>[^/]+)/content$"), "GET", "openai", "content"),
    (re.compile(r"^(?P<prefix>.*)/batches$"), "POST", "openai", "create"),
    (re.compile(r"^(?P<prefix>.*)/batches/(?P<id>[^/]+)$"), "GET", "openai", "get"),
    (re.compile(r"^(?P<prefix>.*)/batches/(?P<id>[^/]+)/cancel$"), "POST", "openai", "cancel"),
]


class BatchError(Exception):
    """A refused batch request: status, message and (OpenAI) param/code."""

    def __init__(self, status, message, param=None, code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def match(path):
    """-> (method, provider, operation, prefix, id or None) for a batch path, else None."""
    for pattern, method, provider, op in ROUTES:
        m = pattern.match(path)
        if m:
            return method, provider, op, m.group("prefix"), m.groupdict().get("id")
    return None


def new_id(prefix, n=24):
    return prefix + uuid.uuid4().hex[:n]


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def jsonl(objs):
    return b"".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
                    for o in objs)


# --------------------------------------------------------------------------------------------
# multipart/form-data (RFC 7578): what curl_mime and the SDKs send
# --------------------------------------------------------------------------------------------

def header_params(value):
    """'form-data; name="file"; filename="a.jsonl"' -> ("form-data", {"name": ..., ...})."""
    params = {}
    head, _, rest = value.partition(";")
    for m in re.finditer(r'\s*([^=;\s]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]*)\s*;?', rest):
        params[m.group(1).lower()] = (re.sub(r"\\(.)", r"\1", m.group(3)) if m.group(3) is not None
                                      else m.group(2).strip())
    return head.strip().lower(), params


def parse_multipart(content_type, raw):
    """-> {field name: (filename or None, bytes)}; BatchError(400) for a malformed body."""
    ctype, params = header_params(content_type or "")
    if ctype != "multipart/form-data":
        raise BatchError(400, "mock: the body must be multipart/form-data")
    boundary = params.get("boundary")
    if not boundary or len(boundary) > 70:
        raise BatchError(400, "mock: multipart/form-data without a valid boundary")
    delim = b"--" + boundary.encode("latin-1")
    start = 0 if raw.startswith(delim) else raw.find(b"\r\n" + delim)
    if start < 0:
        raise BatchError(400, "mock: multipart body without its boundary")
    if start > 0:
        start += 2
    fields = {}
    pos = start + len(delim)
    while True:
        if raw.startswith(b"--", pos):
            return fields                   # the close delimiter
        eol = raw.find(b"\r\n", pos)
        if eol < 0 or raw[pos:eol].strip(b" \t"):
            raise BatchError(400, "mock: malformed multipart delimiter line")
        head_end = raw.find(b"\r\n\r\n", eol)
        if head_end < 0:
            raise BatchError(400, "mock: multipart part without a header end")
        headers = {}
        if head_end > eol:
            for line in raw[eol + 2:head_end].split(b"\r\n"):
                name, colon, value = line.decode("latin-1").partition(":")
                if not colon:
                    raise BatchError(400, "mock: malformed multipart part header")
                headers[name.strip().lower()] = value.strip()
        nxt = raw.find(b"\r\n" + delim, head_end + 4)
        if nxt < 0:
            raise BatchError(400, "mock: multipart body without its close delimiter")
        disp, dparams = header_params(headers.get("content-disposition", ""))
        if disp != "form-data" or "name" not in dparams:
            raise BatchError(400, "mock: a multipart part without Content-Disposition: form-data; name=")
        fields[dparams["name"]] = (dparams.get("filename"), raw[head_end + 4:nxt])
        pos = nxt + 2 + len(delim)


# --------------------------------------------------------------------------------------------
# Validation of what the providers document
# --------------------------------------------------------------------------------------------

def batch_directives(model):
    """The batch_polls / batch_end directives of a model name -> (polls, end or None)."""
    polls, end = DEFAULT_POLLS, None
    for part in (model.split("+")[1:] if isinstance(model, str) else []):
        name, _, value = part.partition("=")
        if name == "batch_polls":
            if not value.isdigit():
                raise BatchError(400, f"mock: bad value in directive {part!r}")
            polls = max(1, int(value))
        elif name == "batch_end":
            if value not in END_NAMES:
                raise BatchError(400, f"mock: batch_end must be expired, failed or cancelled, not {value!r}")
            end = END_NAMES[value]
    return polls, end


def openai_lines(data):
    """The BatchRequestInput lines of an uploaded JSONL file -> (url, [(custom_id, body)])."""
    if len(data) > OPENAI_MAX_BYTES:
        raise BatchError(400, f"mock: the file is {len(data)} bytes; at most {OPENAI_MAX_BYTES} are allowed",
                         "file", "file_too_large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BatchError(400, "mock: the file is not UTF-8 text", "file", "invalid_file_format") from None
    items, seen, url = [], set(), None
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        def bad(why, code="invalid_batch_line"):
            return BatchError(400, f"mock: line {n} of the file: {why}", "file", code)
        try:
            obj = json.loads(line)
        except ValueError:
            raise bad("not valid JSON") from None
        if not isinstance(obj, dict):
            raise bad("not a JSON object")
        cid = obj.get("custom_id")
        if not isinstance(cid, str) or not cid:
            raise bad("'custom_id' must be a non-empty string")
        if cid in seen:
            raise bad(f"duplicate custom_id {cid!r}", "duplicate_custom_id")
        if obj.get("method") != "POST":
            raise bad("'method' must be \"POST\"")
        if obj.get("url") not in OPENAI_URLS:
            raise bad(f"'url' must be one of {sorted(OPENAI_URLS)}", "invalid_url")
        if url is not None and obj["url"] != url:
            raise bad(f"'url' {obj['url']!r} differs from the first line's {url!r}; "
                      "all requests of a batch use one endpoint", "mismatched_url")
        body = obj.get("body")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            raise bad("'body' must be an object with a string 'model'")
        url = obj["url"]
        seen.add(cid)
        items.append((cid, body))
        if len(items) > OPENAI_MAX_LINES:
            raise BatchError(400, f"mock: the file has more than {OPENAI_MAX_LINES} requests",
                             "file", "too_many_requests")
    if not items:
        raise BatchError(400, "mock: the file has no requests", "file", "empty_file")
    return url, items


def check_metadata(meta):
    """OpenAI's Metadata: up to 16 string pairs, keys up to 64 and values up to 512 characters."""
    if meta is None:
        return
    if not isinstance(meta, dict) or len(meta) > 16 or not all(
            isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 512
            for k, v in meta.items()):
        raise BatchError(400, "mock: 'metadata' must be an object of at most 16 string pairs "
                              "(keys up to 64, values up to 512 characters)", "metadata")


def anthropic_requests(body, size):
    """CreateMessageBatchParams -> [(custom_id, params)]."""
    if size > ANTHROPIC_MAX_BYTES:
        raise BatchError(413, f"mock: request_too_large: the batch is {size} bytes; at most "
                              f"{ANTHROPIC_MAX_BYTES} are allowed")
    if not isinstance(body, dict):
        raise BatchError(400, "mock: the body must be a JSON object")
    extra = [k for k in body if k != "requests"]
    if extra:
        raise BatchError(400, f"mock: {extra[0]}: Extra inputs are not permitted")
    reqs = body.get("requests")
    if not isinstance(reqs, list) or not reqs:
        raise BatchError(400, "mock: requests: Field required (a non-empty list)")
    if len(reqs) > ANTHROPIC_MAX_REQUESTS:
        raise BatchError(400, f"mock: requests: List should have at most {ANTHROPIC_MAX_REQUESTS} items")
    out, seen = [], set()
    for i, r in enumerate(reqs):
        if not isinstance(r, dict):
            raise BatchError(400, f"mock: requests.{i}: Input should be an object")
        extra = [k for k in r if k not in ("custom_id", "params")]
        if extra:
            raise BatchError(400, f"mock: requests.{i}.{extra[0]}: Extra inputs are not permitted")
        cid = r.get("custom_id")
        if not isinstance(cid, str) or not CUSTOM_ID.match(cid):
            raise BatchError(400, f"mock: requests.{i}.custom_id: String should match pattern "
                                  "'^[a-zA-Z0-9_-]{1,64}$'")
        if cid in seen:
            raise BatchError(400, f"mock: requests.{i}.custom_id: duplicate custom_id {cid!r}; "
                                  "custom_id values must be unique within a batch")
        p = r.get("params")
        if not isinstance(p, dict):
            raise BatchError(400, f"mock: requests.{i}.params: Field required (an object)")
        if not isinstance(p.get("model"), str):
            raise BatchError(400, f"mock: requests.{i}.params.model: Field required")
        mt = p.get("max_tokens")
        if isinstance(mt, bool) or not isinstance(mt, int) or mt < 1:
            raise BatchError(400, f"mock: requests.{i}.params.max_tokens: Field required (an integer >= 1)")
        if not isinstance(p.get("messages"), list):
            raise BatchError(400, f"mock: requests.{i}.params.messages: Field required (a list)")
        seen.add(cid)
        out.append((cid, p))
    return out


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------

class Batch:
    """One batch of either provider; items are (custom_id, request body)."""

    def __init__(self, provider, bid, items, kind, polls_needed, end, headers):
        self.provider = provider
        self.id = bid
        self.items = items
        self.kind = kind                # "chat" | "embed" (the live route answering a line)
        self.polls_needed = polls_needed
        self.end = end                  # None | expired | failed | cancelled
        self.headers = headers          # of the creating request: the lines' auth and version
        self.polls = 0
        self.created = time.time()
        self.times = {}                 # OpenAI *_at / Anthropic ended_at, cancel_initiated_at
        self.status = "validating" if provider == "openai" else "in_progress"
        self.counts = None              # set when it ends
        self.usage = None
        self.errors = None
        self.output_file_id = self.error_file_id = None
        self.results = None             # Anthropic: the results JSONL
        # OpenAI only
        self.endpoint = self.input_file_id = self.metadata = self.model = None
        # Anthropic only
        self.results_url = None


class BatchStore:
    """Files and batches of both providers, bounded (oldest evicted) and thread-safe: every
    operation runs under self.lock, including answering a batch's lines when it ends (the
    answer callback takes no lock of this store and never sleeps)."""

    def __init__(self, dialects, fixup=None):
        self.dialects = dialects        # {"openai": ..., "anthropic": ...}: auth and error shapes
        self.fixup = fixup or (lambda b: b)   # applied to generated JSONL bytes
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.files = collections.OrderedDict()
            self.file_bytes = 0
            self.batches = collections.OrderedDict()
            self.items_answered = 0
            self.batches_created = 0

    def counters(self):
        with self.lock:
            return {"batch_items_answered": self.items_answered,
                    "batches_created": self.batches_created}

    def listing(self):
        """GET /_mock/batches: what the store holds, for tests."""
        with self.lock:
            return {"batches": [{"id": b.id, "provider": b.provider, "status": b.status,
                                 "items": len(b.items), "polls": b.polls,
                                 "polls_needed": b.polls_needed, "end": b.end}
                                for b in self.batches.values()],
                    "files": len(self.files)}

    # ---- entry point ----

    def handle(self, route, req, answer, host):
        """One batch request -> (status, body bytes, content type).
        route: match()'s tuple; req: .method .headers (lower-case) .raw .body;
        answer(provider, kind, body, headers) -> (status, JSON value) answers one line."""
        method, provider, op, prefix, oid = route
        dialect = self.dialects[provider]
        try:
            if req.method != method:
                raise BatchError(405, f"mock: {req.method} is not allowed here")
            problem = dialect.check(req)
            if problem:
                raise BatchError(problem[0], problem[1])
            key = dialect.api_key(req)
            if not key or key.startswith("bad"):
                raise BatchError(401, "mock: invalid API key" if key else "mock: missing API key",
                                 code="invalid_api_key")
            with self.lock:
                if provider == "openai":
                    status, obj, raw, ctype = self._openai(op, oid, req, answer)
                else:
                    status, obj, raw, ctype = self._anthropic(op, oid, req, answer, host, prefix)
        except BatchError as e:
            if provider == "openai":
                err = {"error": {"message": e.message,
                                 "type": "invalid_request_error" if e.status < 500 else "server_error",
                                 "param": e.param, "code": e.code}}
            else:
                err = dialect.error(e.status, e.message)
            return e.status, json.dumps(err, ensure_ascii=False).encode("utf-8"), "application/json"
        if raw is None:
            raw = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return status, raw, ctype

    # ---- files ----

    def _add_file(self, fid, data, filename, purpose, extra=None):
        f = {"id": fid, "bytes": len(data), "created_at": int(time.time()), "filename": filename,
             "purpose": purpose, "data": data}
        f.update(extra or {})
        self.files[fid] = f
        self.file_bytes += len(data)
        while len(self.files) > MAX_FILES or (self.file_bytes > MAX_STORED_BYTES and len(self.files) > 1):
            _, old = self.files.popitem(last=False)
            self.file_bytes -= old["bytes"]
        return f

    @staticmethod
    def _file_object(f):
        return {"id": f["id"], "object": "file", "bytes": f["bytes"], "created_at": f["created_at"],
                "filename": f["filename"], "purpose": f["purpose"], "status": "processed"}

    def _file(self, fid):
        f = self.files.get(fid)
        if f is None:
            raise BatchError(404, f"No such File object: {fid}", "id")
        return f

    # ---- OpenAI ----

    def _openai(self, op, oid, req, answer):
        if op == "upload":
            form = parse_multipart(req.headers.get("content-type"), req.raw)
            if "purpose" not in form:
                raise BatchError(400, "mock: 'purpose' is required", "purpose")
            purpose = form["purpose"][1].decode("utf-8", "replace").strip()
            if purpose != "batch":
                raise BatchError(400, f"mock: 'purpose' must be 'batch' (the mock serves batch "
                                      f"input files only), not {purpose!r}", "purpose")
            if "file" not in form or not form["file"][0]:
                raise BatchError(400, "mock: 'file' is required: a file part with a filename", "file")
            filename, data = form["file"]
            url, items = openai_lines(data)
            f = self._add_file(new_id("file-"), data, filename, "batch", {"url": url, "items": items})
            return 200, self._file_object(f), None, "application/json"
        if op == "file":
            return 200, self._file_object(self._file(oid)), None, "application/json"
        if op == "content":
            return 200, None, self._file(oid)["data"], "application/octet-stream"
        if op == "create":
            return 200, self._openai_create(req.body, req.headers), None, "application/json"
        b = self.batches.get(oid)
        if b is None or b.provider != "openai":
            raise BatchError(404, f"No batch found with id '{oid}'.", "batch_id")
        if op == "cancel":
            if b.status in ("validating", "in_progress"):
                b.status = "cancelling"
                b.times["cancelling_at"] = int(time.time())
            elif b.status != "cancelling":
                raise BatchError(400, f"Cannot cancel a batch with status '{b.status}'.")
        else:
            self._openai_advance(b, answer)
        return 200, self._openai_object(b), None, "application/json"

    def _openai_create(self, body, headers):
        if not isinstance(body, dict):
            raise BatchError(400, "mock: the body must be a JSON object")
        for field in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body.get(field), str):
                raise BatchError(400, f"mock: '{field}' is required (a string)", field,
                                 "missing_required_parameter")
        f = self.files.get(body["input_file_id"])
        if f is None or f["purpose"] != "batch":
            raise BatchError(400, f"mock: input_file_id {body['input_file_id']!r} names no file "
                                  "uploaded with purpose 'batch'", "input_file_id")
        if body["endpoint"] not in OPENAI_ENDPOINTS:
            raise BatchError(400, f"mock: 'endpoint' must be one of {list(OPENAI_ENDPOINTS)}", "endpoint")
        if body["endpoint"] != f["url"]:
            raise BatchError(400, f"mock: the input file's requests use {f['url']!r}, not the batch "
                                  f"endpoint {body['endpoint']!r}", "endpoint", "mismatched_endpoint")
        if body["completion_window"] != "24h":
            raise BatchError(400, "mock: 'completion_window' must be '24h'", "completion_window")
        check_metadata(body.get("metadata"))
        model = f["items"][0][1]["model"]
        polls, end = batch_directives(model)
        b = Batch("openai", new_id("batch_"), f["items"], OPENAI_URLS[f["url"]], polls, end, headers)
        b.endpoint, b.input_file_id, b.metadata, b.model = f["url"], f["id"], body.get("metadata"), model
        self._add_batch(b)
        return self._openai_object(b)

    def _add_batch(self, b):
        self.batches[b.id] = b
        self.batches_created += 1
        while len(self.batches) > MAX_BATCHES:
            self.batches.popitem(last=False)

    def _openai_advance(self, b, answer):
        """One GET: validating -> in_progress ... -> the end on the batch_polls-th GET."""
        b.polls += 1
        now = int(time.time())
        if b.status == "cancelling":
            return self._openai_finish(b, "cancelled", answer)
        if b.status not in ("validating", "in_progress"):
            return None
        if b.polls >= b.polls_needed:
            return self._openai_finish(b, b.end or "completed", answer)
        if b.end != "failed":       # a failing batch fails while it is validated
            b.status = "in_progress"
            b.times.setdefault("in_progress_at", now)
        return None

    def _openai_finish(self, b, how, answer):
        now = int(time.time())
        n = len(b.items)
        if how == "failed":
            b.status = "failed"
            b.times["failed_at"] = now
            b.counts = {"total": 0, "completed": 0, "failed": 0}
            b.errors = {"object": "list", "data": [{
                "code": "token_limit_exceeded",
                "message": f"Enqueued token limit reached for {b.model.split('+')[0]} in organization "
                           "org-mock. Please try submitting fewer requests or wait for your "
                           "in-progress batches to complete.",
                "param": None, "line": None}]}
            return None
        b.times.setdefault("in_progress_at", now)
        b.times["finalizing_at"] = now
        ok, failed = [], []
        usage = {"input_tokens": 0, "output_tokens": 0}
        if how in ("expired", "cancelled"):
            code, msg = (("batch_expired", EXPIRED_MESSAGE) if how == "expired"
                         else ("batch_cancelled", CANCELLED_MESSAGE))
            failed = [{"id": new_id("batch_req_"), "custom_id": cid, "response": None,
                       "error": {"code": code, "message": msg}} for cid, _ in b.items]
            b.status = how
            b.times["expired_at" if how == "expired" else "cancelled_at"] = now
            if how == "cancelled":
                b.times.setdefault("cancelling_at", now)
        else:
            for cid, body in b.items:
                status, obj = answer("openai", b.kind, body, b.headers)
                self.items_answered += 1
                line = {"id": new_id("batch_req_"), "custom_id": cid,
                        "response": {"status_code": status, "request_id": new_id("req_", 32),
                                     "body": obj},
                        "error": None}
                (ok if 200 <= status < 300 else failed).append(line)
                u = obj.get("usage") if 200 <= status < 300 and isinstance(obj, dict) else None
                if isinstance(u, dict):
                    for src, dst in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens")):
                        if isinstance(u.get(src), int) and not isinstance(u.get(src), bool):
                            usage[dst] += u[src]
            b.status = "completed"
            b.times["completed_at"] = now
        b.counts = {"total": n, "completed": len(ok), "failed": len(failed)}
        b.usage = {"input_tokens": usage["input_tokens"], "input_tokens_details": {"cached_tokens": 0},
                   "output_tokens": usage["output_tokens"],
                   "output_tokens_details": {"reasoning_tokens": 0},
                   "total_tokens": usage["input_tokens"] + usage["output_tokens"]}
        b.output_file_id = self._add_file(new_id("file-"), self.fixup(jsonl(ok)),
                                          f"{b.id}_output.jsonl", "batch_output")["id"]
        if failed:
            b.error_file_id = self._add_file(new_id("file-"), self.fixup(jsonl(failed)),
                                             f"{b.id}_error.jsonl", "batch_output")["id"]
        return None

    def _openai_object(self, b):
        t = b.times
        counts = b.counts
        if counts is None:
            counts = {"total": 0 if b.status == "validating" else len(b.items), "completed": 0, "failed": 0}
        return {
            "id": b.id, "object": "batch", "endpoint": b.endpoint, "model": b.model,
            "errors": b.errors, "input_file_id": b.input_file_id, "completion_window": "24h",
            "status": b.status, "output_file_id": b.output_file_id, "error_file_id": b.error_file_id,
            "created_at": int(b.created), "in_progress_at": t.get("in_progress_at"),
            "expires_at": int(b.created) + 86400 if "in_progress_at" in t else None,
            "finalizing_at": t.get("finalizing_at"), "completed_at": t.get("completed_at"),
            "failed_at": t.get("failed_at"), "expired_at": t.get("expired_at"),
            "cancelling_at": t.get("cancelling_at"), "cancelled_at": t.get("cancelled_at"),
            "request_counts": counts,
            "usage": b.usage or {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0},
                                 "output_tokens": 0, "output_tokens_details": {"reasoning_tokens": 0},
                                 "total_tokens": 0},
            "metadata": b.metadata,
        }

    # ---- Anthropic ----

    def _anthropic(self, op, oid, req, answer, host, prefix):
        if op == "create":
            items = anthropic_requests(req.body if req.body_ok else None, len(req.raw))
            polls, end = batch_directives(items[0][1]["model"])
            if end == "failed":
                raise BatchError(400, "mock: batch_end for Anthropic is expired or canceled")
            b = Batch("anthropic", new_id("msgbatch_"), items, "chat", polls, end, req.headers)
            b.results_url = f"http://{host}{prefix}/v1/messages/batches/{b.id}/results"
            self._add_batch(b)
            return 200, self._anthropic_object(b), None, "application/json"
        b = self.batches.get(oid)
        if b is None or b.provider != "anthropic":
            raise BatchError(404, f"mock: no message batch with id {oid!r}")
        if op == "cancel":
            if b.status == "in_progress":
                b.status = "canceling"
                b.times["cancel_initiated_at"] = time.time()
            elif b.status != "canceling":
                raise BatchError(400, f"mock: message batch {b.id} has ended; it cannot be canceled")
        elif op == "get":
            b.polls += 1
            if b.status == "canceling":
                self._anthropic_finish(b, "cancelled", answer)
            elif b.status == "in_progress" and b.polls >= b.polls_needed:
                self._anthropic_finish(b, b.end, answer)
        else:
            if b.status != "ended":
                raise BatchError(400, f"mock: message batch {b.id} has not ended yet; its results "
                                      "are available once processing_status is 'ended'")
            return 200, None, b.results, "application/x-jsonl"
        return 200, self._anthropic_object(b), None, "application/json"

    def _anthropic_finish(self, b, how, answer):
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        lines = []
        for cid, params in b.items:
            if how in ("expired", "cancelled"):
                kind = "expired" if how == "expired" else "canceled"
                result = {"type": kind}
            else:
                status, obj = answer("anthropic", "chat", params, b.headers)
                self.items_answered += 1
                ok = 200 <= status < 300
                kind = "succeeded" if ok else "errored"
                result = {"type": kind, "message": obj} if ok else {"type": kind, "error": obj}
            counts[kind] += 1
            lines.append({"custom_id": cid, "result": result})
        if how == "cancelled":
            b.times.setdefault("cancel_initiated_at", time.time())
        b.results = self.fixup(jsonl(lines))
        b.counts = counts
        b.status = "ended"
        b.times["ended_at"] = time.time()

    def _anthropic_object(self, b):
        t = b.times
        ended = b.status == "ended"
        counts = b.counts or {"processing": len(b.items), "succeeded": 0, "errored": 0,
                              "canceled": 0, "expired": 0}
        return {
            "id": b.id, "type": "message_batch", "processing_status": b.status,
            "request_counts": counts,
            "ended_at": rfc3339(t["ended_at"]) if ended else None,
            "created_at": rfc3339(b.created), "expires_at": rfc3339(b.created + 86400),
            "archived_at": None,
            "cancel_initiated_at": rfc3339(t["cancel_initiated_at"]) if "cancel_initiated_at" in t else None,
            "results_url": b.results_url if ended else None,
        }
