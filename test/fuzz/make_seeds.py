#!/usr/bin/env python3
"""test/fuzz/make_seeds.py — write the seed corpus of one fuzz target.

    python3 test/fuzz/make_seeds.py TARGET OUTDIR [MAX_LEN]

Dialect targets (openai, anthropic, ...) get every recorded body of
test/samples/ and every hand-written body of test/fuzz/seeds/dialect/, each
once per parser in the input format of fuzz_dialect.c: b"0" + body
(parse_chat), b"1" + body (parse_embed), b"2" + status byte + body
(parse_error; the status is the "error_NNN" of the file name, else 500,
and 429 as well for error bodies).  Bodies longer than 4096 bytes also get
a shrunken copy (number lists cut to 8 values, base64 vectors to 8 floats)
so that the fuzzer works on small inputs; bodies over MAX_LEN (default
16384) are only kept shrunken.

The json target gets every body as it is, plus test/fuzz/seeds/json/*
(escapes, surrogates, numbers, nesting).

The redact target gets test/fuzz/seeds/redact/* as they are; the structured
target every body plus test/fuzz/seeds/structured/* (response_format, "\n--\n",
answer).

The oauth target gets test/fuzz/seeds/oauth/* (token endpoints' answers and
errors) in the input format of fuzz_oauth.c: b"0" + body (parse_token),
b"1" + status byte + body (parse_error).

The batch targets (batch_openai, batch_anthropic) get the Batch API bodies
of test/samples/ (names holding "batch", but gemini's) and
test/fuzz/seeds/batch/*, a JSONL file also line by line, each once per
parser in the input format of fuzz_batch.c: b"0" + body (parse_upload),
b"1" + body (parse_status), b"2" + body (parse_item).
"""
import base64
import binascii
import hashlib
import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))

# must match statuses[] in fuzz_dialect.c; the seed byte is "@" + index
STATUSES = [400, 401, 403, 404, 408, 413, 422, 429,
            500, 502, 503, 504, 529, 418, 200, 0]


def status_byte(status):
    if status not in STATUSES:
        status = 500
    return bytes([ord("@") + STATUSES.index(status)])


def shrink(value):
    if isinstance(value, list):
        if len(value) > 8 and all(isinstance(v, (int, float)) for v in value):
            return value[:8]
        return [shrink(v) for v in value[:8]]
    if isinstance(value, dict):
        return {k: shrink(v) for k, v in value.items()}
    if isinstance(value, str) and len(value) > 64:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value[:64]
        return base64.b64encode(raw[:32]).decode()
    return value


def bodies(max_len):
    dirs = [os.path.join(ROOT, "test", "samples"),
            os.path.join(ROOT, "test", "fuzz", "seeds", "dialect")]
    for d in dirs:
        for name in sorted(os.listdir(d)):
            if name.endswith(".md"):
                continue
            with open(os.path.join(d, name), "rb") as f:
                body = f.read()
            m = re.search(r"error_(\d{3})", name)
            status = int(m.group(1)) if m else None
            if len(body) <= max_len:
                yield name, body, status
            if len(body) > 4096:
                try:
                    small = json.dumps(shrink(json.loads(body)),
                                       separators=(",", ":")).encode()
                except ValueError:
                    continue
                yield name + ".small", small, status


def batch_bodies(max_len):
    files = [os.path.join(ROOT, "test", "samples", n)
             for n in sorted(os.listdir(os.path.join(ROOT, "test", "samples")))
             if "batch" in n and not n.startswith("gemini") and not n.endswith(".md")]
    d = os.path.join(ROOT, "test", "fuzz", "seeds", "batch")
    files += [os.path.join(d, n) for n in sorted(os.listdir(d))]
    for path in files:
        with open(path, "rb") as f:
            body = f.read()
        if len(body) <= max_len:
            yield body
        lines = [ln for ln in body.split(b"\n") if ln.strip()]
        if len(lines) > 1:
            for ln in lines:
                yield ln[:max_len]


def write(outdir, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def main():
    target, outdir = sys.argv[1], sys.argv[2]
    max_len = int(sys.argv[3]) if len(sys.argv) > 3 else 16384
    os.makedirs(outdir, exist_ok=True)
    n = 0
    if target == "redact":
        d = os.path.join(ROOT, "test", "fuzz", "seeds", "redact")
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                write(outdir, f.read()[:max_len])
            n += 1
    elif target == "structured":
        for _name, body, _status in bodies(max_len):
            write(outdir, body)
            n += 1
        d = os.path.join(ROOT, "test", "fuzz", "seeds", "structured")
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                write(outdir, f.read()[:max_len])
            n += 1
    elif target == "oauth":
        d = os.path.join(ROOT, "test", "fuzz", "seeds", "oauth")
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                body = f.read()[:max_len - 2]
            write(outdir, b"0" + body)
            write(outdir, b"1" + b"\x01" + body)
            n += 2
    elif target == "json":
        for _name, body, _status in bodies(max_len):
            write(outdir, body)
            n += 1
        d = os.path.join(ROOT, "test", "fuzz", "seeds", "json")
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                write(outdir, f.read()[:max_len])
            n += 1
    elif target.startswith("batch_"):
        for body in batch_bodies(max_len - 1):
            for mode in (b"0", b"1", b"2"):
                write(outdir, mode + body)
                n += 1
    else:
        for _name, body, status in bodies(max_len - 2):
            write(outdir, b"0" + body)
            write(outdir, b"1" + body)
            write(outdir, b"2" + status_byte(status or 500) + body)
            n += 3
            if status is not None:
                write(outdir, b"2" + status_byte(429) + body)
                n += 1
    print(f"{n} seeds for {target}")


if __name__ == "__main__":
    main()
