#!/usr/bin/env bash
# test/demo.sh — the README's demo: builds and installs ai_gateway, starts a
# throwaway cluster and the bundled mock provider, runs example queries, and
# stops everything.  With OPENAI_API_KEY and/or ANTHROPIC_API_KEY set, the
# examples also go to the real providers (the key is passed to the server
# via options.api_key_env, so it never appears in SQL).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$AIG_ROOT"

make -s -j2 PG_CONFIG="$PG_CONFIG"
if [ "$(id -u)" = 0 ]; then make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
else sudo make -s install PG_CONFIG="$PG_CONFIG" >/dev/null; fi

work=$(mktemp -d /tmp/aig_demo.XXXXXX)
chmod 755 "$work"
trap 'aig_cleanup; rm -rf "$work"' EXIT
aig_start_mock MOCK_PORT
port=$(aig_free_port)
# the server inherits the environment: real keys reach it as env vars
# (a provider batch is polled every second here: the default is a minute)
aig_start_cluster "$work/cluster" "$port" "ai_gateway.batch_poll_interval = 1000"
echo "throwaway cluster on 127.0.0.1:$port, mock provider on 127.0.0.1:$MOCK_PORT"
echo

real_providers=""
[ -n "${OPENAI_API_KEY:-}" ] && real_providers+="('openai_real', 'openai', NULL, '{\"api_key_env\": \"OPENAI_API_KEY\"}'),"
[ -n "${ANTHROPIC_API_KEY:-}" ] && real_providers+="('anthropic_real', 'anthropic', NULL, '{\"api_key_env\": \"ANTHROPIC_API_KEY\"}'),"

aig_psql "$port" -d postgres -e -v mock="http://127.0.0.1:$MOCK_PORT" <<SQL
CREATE EXTENSION ai_gateway;

-- providers: the mock speaks every dialect; keys are sealed on write
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('openai',    'openai',    :'mock' || '/v1', 'sk-demo-not-a-real-key-1234'),
    ('anthropic', 'anthropic', :'mock',          'sk-ant-demo-not-real-5678'),
    ('gemini',    'gemini',    :'mock',          'AIza-demo-not-real-9012');
SELECT name, kind, api_key FROM ai_gateway.providers;

-- a route: try openai first, fall back to anthropic
INSERT INTO ai_gateway.routes (name, options) VALUES ('summarize', '{"system_prompt": "Summarize in one sentence."}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('summarize', 'openai', 'gpt-4o-mini', 1),
    ('summarize', 'anthropic', 'claude-3-5-haiku-latest', 2);
INSERT INTO ai_gateway.models VALUES ('openai', 'gpt-4o-mini', 0.15, 0.60, 128000);

CREATE TABLE docs (id int, body text);
INSERT INTO docs VALUES (1, 'PostgreSQL is a relational database.'), (2, 'Extensions add features to it.');
SELECT id, ai_complete(body, 'summarize') AS summary FROM docs;

-- the normalized result of any provider
SELECT jsonb_pretty(ai_chat('[{"role": "user", "content": "Say hello"}]', 'gemini/gemini-2.0-flash') - 'latency_ms');

-- failover: the first target errors, the second answers
UPDATE ai_gateway.route_targets SET model = 'gpt-4o-mini+status=503' WHERE provider = 'openai';
SELECT r->>'provider' AS answered_by, r->>'attempts' AS attempts, r->>'content' AS content
FROM ai_chat('[{"role": "user", "content": "Are you there?"}]', 'summarize') r;

-- a whole query at once: 20 prompts, 8 in flight
SELECT count(completion) AS answered, count(error) AS failed
FROM ai_complete_batch(array(SELECT 'Question ' || g FROM generate_series(1, 20) g), 'gemini/gemini-2.0-flash',
                       NULL, '{"concurrency": 8}');

-- a background job, and its result
SELECT ai_complete_async('Summarize PostgreSQL in one line', 'anthropic/claude-3-5-haiku-latest') AS job \gset
SELECT ai_result(:job, 5000) -> 'result' ->> 'content' AS job_result;

-- work that can wait, at half the price: the provider's Batch API
SELECT ai_complete_async('Summarize MVCC in one line', 'openai/gpt-4o-mini', NULL, '{"batch": true}') AS batch_job \gset
SELECT r -> 'result' ->> 'content' AS batch_result, r -> 'result' ->> 'cost_usd' AS cost_usd
FROM ai_result(:batch_job, 15000) r;
SELECT provider, remote_id, remote_status, items FROM ai_gateway.provider_batches;

-- the response cache: the second call is answered without a request
SELECT r->>'cached' AS cached, r->>'attempts' AS attempts, r->>'content' AS content
FROM ai_chat('[{"role": "user", "content": "What is a cache?"}]', 'openai/gpt-4o-mini', '{"cache": true}') r;
SELECT r->>'cached' AS cached, r->>'attempts' AS attempts, r->>'content' AS content
FROM ai_chat('[{"role": "user", "content": "What is a cache?"}]', 'openai/gpt-4o-mini', '{"cache": true}') r;

-- every call left an audit row, written by the background worker
SELECT ai_gateway.audit_flush();
SELECT route, provider, model, status, attempts, input_tokens, output_tokens, cost_usd
FROM ai_gateway.audit_log ORDER BY id LIMIT 6;

-- embeddings, one text or many (real[], castable to pgvector's vector)
SELECT array_length(ai_embed('hello world', 'openai/text-embedding-3-small'), 1) AS dims;
SELECT ordinality, embedding[1:3] FROM ai_embed(array['a', 'b', 'c'], 'gemini/text-embedding-004');

-- structured extraction: a JSON value of the schema, checked, from every row
CREATE TABLE tickets (id int PRIMARY KEY, body text);
INSERT INTO tickets VALUES (1, 'Customer "Ada" says the export is broken'), (2, 'Customer "Linus" wants a refund');
SELECT id, ai_extract(body, '{"type": "object", "properties": {"customer": {"type": "string"}},
                              "required": ["customer"]}', 'anthropic/claude-3-5-haiku-latest') AS fields
FROM tickets;

-- SQL functions as tools: the model calls item_price, which reads a table as the caller
CREATE TABLE stock (item text PRIMARY KEY, price numeric);
INSERT INTO stock VALUES ('widget', 9.5);
CREATE FUNCTION item_price(item text) RETURNS numeric LANGUAGE sql STABLE
    AS \$\$ SELECT price FROM stock WHERE stock.item = item_price.item \$\$;
SELECT ai_complete_tools('What does a "widget" cost?', ARRAY['item_price(text)']::regprocedure[],
                         'openai/gpt-4o-mini') AS answer;

-- an image from a bytea column (the mock names what arrived)
SELECT ai_complete('What is in the picture?',
    decode('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
           '1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082', 'hex'),
    'gemini/gemini-2.0-flash') AS described;

-- errors carry SQLSTATEs and name the provider, never the key
\set ON_ERROR_STOP 0
\set VERBOSITY verbose
SELECT ai_complete('hi', 'openai/gpt-4o-mini+status=401');
\set VERBOSITY default
SQL

if [ -n "$real_providers" ]; then
	echo
	echo "== real providers"
	aig_psql "$port" -d postgres -e <<SQL
INSERT INTO ai_gateway.providers (name, kind, base_url, options) VALUES ${real_providers%,};
SELECT name, ai_complete('In five words: what is PostgreSQL?',
       name || CASE kind WHEN 'openai' THEN '/gpt-4o-mini' ELSE '/claude-3-5-haiku-latest' END) AS answer
FROM ai_gateway.providers WHERE name LIKE '%_real';
SQL
else
	echo
	echo "(set OPENAI_API_KEY or ANTHROPIC_API_KEY to also call the real providers)"
fi
