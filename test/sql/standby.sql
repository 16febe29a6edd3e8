-- standby: ai_gateway.standby_calls on a primary (the standby itself is
-- tested with a real primary + streaming standby in test/tap/001_standby.pl).
-- The default refuses calls only during recovery: on a primary calls run
-- and are audited in the table, nothing goes to the server log.
SHOW ai_gateway.standby_calls;
SELECT ai_complete('primary call', 'ollama/standby-m') IS NOT NULL AS answered;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT count(*) AS audited FROM ai_gateway.audit_log WHERE model = 'standby-m';
SELECT logged_on_standby FROM ai_gateway.audit_stats();
-- only the two values, only a superuser
SELECT try($$SET ai_gateway.standby_calls = 'allow'$$);
CREATE ROLE standby_user;
SET ROLE standby_user;
SELECT try($$SET ai_gateway.standby_calls = 'unaudited'$$);
RESET ROLE;
DROP ROLE standby_user;
SET ai_gateway.standby_calls = 'unaudited';
SELECT ai_complete('primary call 2', 'ollama/standby-m') IS NOT NULL AS answered;
RESET ai_gateway.standby_calls;
-- async jobs are queued on a primary
SELECT ai_complete_async('later', 'ollama/standby-m') > 0 AS queued;
