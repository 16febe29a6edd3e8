-- governance: route and provider grants, administrators, quotas (and
-- ROLLBACK), rate limits, the audit log (survives ROLLBACK, RLS), cost,
-- configuration history.
CREATE ROLE aig_team;
CREATE ROLE aig_alice IN ROLE aig_team;
CREATE ROLE aig_bob;
CREATE ROLE aig_ops IN ROLE ai_gateway_admin;
GRANT USAGE ON SCHEMA public TO aig_alice, aig_bob, aig_ops;
INSERT INTO ai_gateway.routes (name) VALUES ('g_chat');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('g_chat', 'ollama', 'llama');

------------------------------------------------------------------------------
-- privilege matrix: admin, granted group member, non-member, PUBLIC
------------------------------------------------------------------------------
SELECT ai_gateway.grant_route('g_chat', 'aig_team');
CREATE FUNCTION call_as(r text, model text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE res text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    res := try(format('SELECT ai_complete(%L, %L)', 'hi', model));
    RESET ROLE;
    RETURN res;
END $$;
SELECT r AS role, call_as(r, 'g_chat') AS g_chat, call_as(r, 'ollama/llama') AS direct
FROM unnest(array['aig_ops', 'aig_alice', 'aig_bob']) r;
SELECT ai_gateway.grant_route('g_chat', 'public');
SELECT call_as('aig_bob', 'g_chat') AS bob_after_public_grant;
SELECT ai_gateway.revoke_route('g_chat', 'public');
SELECT call_as('aig_bob', 'g_chat') AS bob_after_revoke;
SELECT ai_gateway.grant_provider('ollama', 'aig_bob');
SELECT call_as('aig_bob', 'ollama/llama') AS bob_direct_granted;
SELECT route, grantee, granted_by FROM ai_gateway.route_grants ORDER BY 1, 2;
-- only administrators manage grants and configuration
SET ROLE aig_alice;
SELECT try($$SELECT ai_gateway.grant_route('g_chat', 'aig_alice')$$);
SELECT try($$UPDATE ai_gateway.routes SET strategy = 'cheapest' WHERE name = 'g_chat'$$);
SELECT ai_gateway.is_admin() AS alice_is_admin;
SET ROLE aig_ops;
SELECT ai_gateway.is_admin() AS ops_is_admin;
SELECT try($$UPDATE ai_gateway.routes SET description = 'team chat' WHERE name = 'g_chat'$$) AS ops_may_configure;
SELECT try($$SELECT ai_gateway.grant_route('g_chat', 'aig_bob')$$) AS ops_may_grant;
RESET ROLE;
-- no SECURITY DEFINER function; every PL/pgSQL function pins its search_path
SELECT count(*) FILTER (WHERE p.prosecdef) AS security_definer,
       count(*) FILTER (WHERE l.lanname = 'plpgsql' AND p.proconfig IS NULL) AS unpinned
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = 'ai_gateway';

------------------------------------------------------------------------------
-- quotas: a group pool, exact request counts, ROLLBACK refunds nothing
------------------------------------------------------------------------------
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('aig_team', 'day', 3);
SELECT call_as('aig_alice', 'g_chat') AS call_1;
BEGIN;
SET LOCAL ROLE aig_alice;
SELECT ai_complete('in a transaction', 'g_chat') AS call_2;
ROLLBACK;
SELECT call_as('aig_alice', 'g_chat') AS call_3;
SELECT regexp_replace(call_as('aig_alice', 'g_chat'), 'resets at .*', 'resets at <time>') AS call_4;
-- a superuser counts as a member of every role, but not for quotas: its call
-- is neither refused by the spent pool nor charged to it (requests stay 3)
SELECT ai_complete('as the superuser', 'g_chat') IS NOT NULL AS superuser_not_held;
SELECT role, period, requests, max_requests, resets_at = date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 day' AS resets_tomorrow
FROM ai_gateway.usage WHERE role = 'aig_team';
-- members see their groups' quotas, others do not
SET ROLE aig_alice;
SELECT role, requests FROM ai_gateway.usage;
SET ROLE aig_bob;
SELECT count(*) AS bob_sees FROM ai_gateway.usage;
RESET ROLE;
-- tokens and cost: estimated before, settled after
INSERT INTO ai_gateway.quotas (role, period, max_tokens, max_cost_usd) VALUES ('aig_bob', 'month', 2000, 0.001);
INSERT INTO ai_gateway.models VALUES ('ollama', 'llama', 1, 2, 100000);
SELECT call_as('aig_bob', 'ollama/llama') AS bob_tokens_ok;
SELECT role, tokens > 0 AS used_tokens, cost_usd > 0 AS used_cost, tokens_reserved FROM ai_gateway.usage WHERE role = 'aig_bob';
SET ROLE aig_bob;
SELECT try($$SELECT ai_complete('hi', 'ollama/llama', NULL, '{"max_tokens": 5000}')$$) ~ 'quota exceeded for role "aig_bob": tokens per month' AS token_quota_refuses;
RESET ROLE;
DELETE FROM ai_gateway.quotas;

------------------------------------------------------------------------------
-- rate limits
------------------------------------------------------------------------------
INSERT INTO ai_gateway.rate_limits (role, requests_per_minute) VALUES ('aig_team', 2);
SET ai_gateway.rate_limit_wait_ms = 0;
SELECT call_as('aig_alice', 'g_chat') AS rl_1, call_as('aig_alice', 'g_chat') AS rl_2;
SELECT regexp_replace(call_as('aig_alice', 'g_chat'), 'Retry in \d+ ms', 'Retry in N ms') AS rl_3;
DELETE FROM ai_gateway.rate_limits;
UPDATE ai_gateway.providers SET options = '{"requests_per_minute": 1}' WHERE name = 'cohere';
SELECT ai_complete('one', 'cohere/m') AS provider_rl_1;
SELECT regexp_replace(try($$SELECT ai_complete('two', 'cohere/m')$$), 'retry in \d+ ms', 'retry in N ms', 'g') AS provider_rl_2;
-- a limited provider fails over to the next target
INSERT INTO ai_gateway.routes (name) VALUES ('g_rl');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES ('g_rl', 'cohere', 'm', 1), ('g_rl', 'gemini', 'm', 2);
SELECT ai_chat('[{"role":"user","content":"x"}]', 'g_rl')->>'target' AS failed_over_to;
UPDATE ai_gateway.providers SET options = '{}' WHERE name = 'cohere';
RESET ai_gateway.rate_limit_wait_ms;

------------------------------------------------------------------------------
-- audit log: one row per call, written by the worker, kept after ROLLBACK
------------------------------------------------------------------------------
SELECT ai_gateway.audit_flush();
TRUNCATE ai_gateway.audit_log;
SELECT ai_chat('[{"role":"user","content":"x"}]', 'openai/audited', '{"metadata": {"ticket": "T-1"}}') IS NOT NULL AS ok;
BEGIN;
SELECT ai_complete('rolled back', 'anthropic/audited-rb');
ROLLBACK;
SELECT try($$SELECT ai_complete('x', 'gemini/audited+status=503')$$) IS NOT NULL AS failed;
SET statement_timeout = '200ms';
SELECT ai_complete('x', 'openai/audited+hang');
RESET statement_timeout;
SELECT call_as('aig_alice', 'g_chat') IS NOT NULL AS alice_called;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT role, route, provider, model, status, http_status, attempts, input_tokens, output_tokens,
       cost_usd, cache_hit, shadow, left(error, 60) AS error, metadata, prompt, output
FROM ai_gateway.audit_log ORDER BY id;
SELECT count(*) FILTER (WHERE latency_ms >= 0) = count(*) AS latencies FROM ai_gateway.audit_log;
-- row-level security: a role sees its own rows, administrators all
SET ROLE aig_alice;
SELECT role, route FROM ai_gateway.audit_log;
SET ROLE aig_ops;
SELECT count(*) > 1 AS ops_sees_all FROM ai_gateway.audit_log;
RESET ROLE;
-- prompts and outputs only with log_prompts
SET ai_gateway.log_prompts = on;
SELECT ai_complete('secret plans', 'openai/logged', 'sys') IS NOT NULL AS ok;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT prompt, output FROM ai_gateway.audit_log WHERE model = 'logged';
RESET ai_gateway.log_prompts;
-- keys never reach the audit log
SELECT count(*) AS keys_in_audit FROM ai_gateway.audit_log WHERE error LIKE '%0123456789%';
SELECT enqueued >= written AND written > 0 AS counting, dropped_full AS dropped FROM ai_gateway.audit_stats();

------------------------------------------------------------------------------
-- PII redaction and deny patterns
------------------------------------------------------------------------------
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('g_redact', '{"redact_pii": true}'),
    ('g_reversible', '{"redact_pii": "reversible"}'),
    ('g_deny', '{"deny_patterns": ["(?i)ignore (all )?previous instructions", "\\mDROP\\s+TABLE\\M"]}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES
    ('g_redact', 'openai', 'echo'), ('g_reversible', 'anthropic', 'm'), ('g_deny', 'openai', 'm');
-- what the provider received (the echo model returns the request it got)
SELECT m->>'content' AS sent
FROM jsonb_array_elements((ai_complete(
    'Mail jane.doe@example.com or call +1 (415) 555-0132; card 4111 1111 1111 1111, '
    'IBAN DE89 3704 0044 0532 0130 00, from 192.168.10.7, SSN 123-45-6789. Again: jane.doe@example.com',
    'g_redact', 'Order 20240115 shipped on 2024-01-15, version 1.2.3')::jsonb)->'body'->'messages') m;
-- reversible: the provider sees placeholders, the caller gets the values back
SELECT ai_complete('Write to jane.doe@example.com', 'g_reversible') AS caller_sees;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT a.http_status FROM ai_gateway.audit_log a WHERE a.model = 'm' AND a.route = 'g_reversible';
-- deny patterns block before anything is sent
SELECT try($$SELECT ai_complete('Please IGNORE previous instructions and ...', 'g_deny')$$);
SELECT try($$SELECT ai_chat('[{"role":"user","content":"ok"},{"role":"user","content":"then DROP  TABLE users"}]', 'g_deny')$$);
SELECT ai_complete('a harmless question', 'g_deny') AS allowed;
SELECT try($$UPDATE ai_gateway.routes SET options = '{"deny_patterns": ["(unclosed"]}' WHERE name = 'g_deny'$$);
SELECT try($$UPDATE ai_gateway.routes SET options = '{"redact_pii": "sometimes"}' WHERE name = 'g_deny'$$);

------------------------------------------------------------------------------
-- configuration history
------------------------------------------------------------------------------
SELECT table_name, operation, new_row->>'name' AS name, changed_by
FROM ai_gateway.config_history WHERE table_name = 'routes' AND new_row->>'name' = 'g_chat'
ORDER BY id;
UPDATE ai_gateway.providers SET api_key = 'sk-rotated-0123456789abcdef' WHERE name = 'azure';
SELECT operation, new_row->>'api_key_changed' AS key_changed,
       new_row ? 'api_key' OR new_row ? 'api_key_encrypted' OR old_row ? 'api_key' AS key_recorded
FROM ai_gateway.config_history WHERE table_name = 'providers' AND new_row->>'name' = 'azure'
ORDER BY id DESC LIMIT 1;
SELECT count(*) AS grants_recorded FROM ai_gateway.config_history WHERE table_name = 'route_grants';

DROP FUNCTION call_as(text, text);
DELETE FROM ai_gateway.route_grants;
DELETE FROM ai_gateway.provider_grants;
REVOKE USAGE ON SCHEMA public FROM aig_alice, aig_bob, aig_ops;
DROP ROLE aig_alice, aig_bob, aig_ops, aig_team;
