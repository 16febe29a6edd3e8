-- ai_gateway 0.2.0 -> 0.3.0: governance that holds on every path (issue 13).
-- Each section below is one change; the fresh install script
-- (ai_gateway--0.3.0.sql) has the same objects, and the regression test
-- upgrade.sql compares the two object by object.
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.3.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Audit: records the database refuses are set aside; refusals are audited
------------------------------------------------------------------------------

-- (section: audit)


------------------------------------------------------------------------------
-- Identity: quotas and audit follow the session's login role
------------------------------------------------------------------------------

-- (section: identity)


------------------------------------------------------------------------------
-- Secrets: sealed keys bound to their endpoint, secret headers sealed
------------------------------------------------------------------------------

-- (section: secrets)


------------------------------------------------------------------------------
-- Hooks: run as the role that configured them
------------------------------------------------------------------------------

-- (section: hooks)

ALTER TABLE ai_gateway.routes ADD COLUMN hook_owner regrole;
ALTER TABLE ai_gateway.route_versions ADD COLUMN hook_owner regrole;

-- Hooks configured under 0.2.0: the role that last wrote the route (as
-- config_history recorded it), else the tables' owner.  Written before the
-- owner trigger exists, with the route history left as it is.
ALTER TABLE ai_gateway.routes DISABLE TRIGGER routes_versioned;
UPDATE ai_gateway.routes r
   SET hook_owner = coalesce(
       (SELECT a.oid::regrole FROM ai_gateway.config_history h
          JOIN pg_catalog.pg_roles a ON a.rolname = h.as_role
         WHERE h.table_name = 'routes' AND h.new_row ->> 'name' = r.name
         ORDER BY h.id DESC LIMIT 1),
       (SELECT c.relowner::regrole FROM pg_catalog.pg_class c
         WHERE c.oid = 'ai_gateway.routes'::regclass))
 WHERE r.options ? 'request_hook' OR r.options ? 'response_hook';
ALTER TABLE ai_gateway.routes ENABLE TRIGGER routes_versioned;
UPDATE ai_gateway.route_versions v SET hook_owner = r.hook_owner
  FROM ai_gateway.routes r
 WHERE r.name = v.route AND (v.options ? 'request_hook' OR v.options ? 'response_hook');

-- Who configured a route's hooks: they run with that role's rights
-- (governance/hooks.c).  Set here, from the writing role, whenever a hook
-- is set or changed; a given hook_owner stays only when the writer may act
-- as that role (a superuser's restore, a member's rollback), so nobody can
-- make a hook run as a role it could not become itself.
CREATE FUNCTION ai_gateway.route_hook_owner() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT (NEW.options ? 'request_hook' OR NEW.options ? 'response_hook') THEN
        NEW.hook_owner := NULL;
    ELSIF TG_OP = 'UPDATE'
          AND NEW.options -> 'request_hook' IS NOT DISTINCT FROM OLD.options -> 'request_hook'
          AND NEW.options -> 'response_hook' IS NOT DISTINCT FROM OLD.options -> 'response_hook'
          AND NEW.hook_owner IS NOT DISTINCT FROM OLD.hook_owner THEN
        NULL;       -- hooks untouched: they still run as the role that set them
    ELSIF NEW.hook_owner IS NOT NULL
          AND EXISTS (SELECT FROM pg_catalog.pg_roles WHERE oid = NEW.hook_owner::oid)
          AND pg_catalog.pg_has_role(current_user, NEW.hook_owner::oid, 'MEMBER') THEN
        NULL;       -- a role the writer may act as
    ELSE
        NEW.hook_owner := current_user::regrole;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER routes_hook_owner
    BEFORE INSERT OR UPDATE ON ai_gateway.routes
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.route_hook_owner();
REVOKE ALL ON FUNCTION ai_gateway.route_hook_owner() FROM PUBLIC;

CREATE OR REPLACE FUNCTION ai_gateway.snapshot_route(p_route text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r        ai_gateway.routes%ROWTYPE;
    latest   ai_gateway.route_versions%ROWTYPE;
    tgts     jsonb;
BEGIN
    SELECT * INTO r FROM ai_gateway.routes WHERE name = p_route;
    IF NOT FOUND THEN
        RETURN;     -- deleted: its history stays
    END IF;
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'provider', t.provider, 'model', t.model, 'priority', t.priority,
               'weight', t.weight, 'shadow', t.shadow, 'role', t.role)
               ORDER BY t.priority, t.provider, t.model), '[]')
      INTO tgts
      FROM ai_gateway.route_targets t WHERE t.route = p_route;
    SELECT * INTO latest FROM ai_gateway.route_versions
     WHERE route = p_route ORDER BY version DESC LIMIT 1;
    IF FOUND AND latest.xact = pg_current_xact_id() THEN
        UPDATE ai_gateway.route_versions
           SET strategy = r.strategy, options = r.options, targets = tgts,
               hook_owner = r.hook_owner
         WHERE route = p_route AND version = latest.version;
    ELSIF FOUND AND latest.strategy = r.strategy AND latest.options = r.options
          AND latest.targets = tgts AND latest.hook_owner IS NOT DISTINCT FROM r.hook_owner THEN
        RETURN;     -- no actual change
    ELSE
        INSERT INTO ai_gateway.route_versions (route, version, strategy, options, targets, hook_owner)
        VALUES (p_route, coalesce(latest.version, 0) + 1, r.strategy, r.options, tgts,
                r.hook_owner);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION ai_gateway.rollback_route(route text, version int) RETURNS int
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v ai_gateway.route_versions%ROWTYPE;
    n int;
BEGIN
    SELECT * INTO v FROM ai_gateway.route_versions rv
     WHERE rv.route = rollback_route.route AND rv.version = rollback_route.version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'route "%" has no version %', route, version
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'SELECT version, created_at FROM ai_gateway.route_versions WHERE route = ... lists them.';
    END IF;
    -- the version's hook owner stays only if the caller may act as it
    -- (ai_gateway.route_hook_owner); else the caller becomes the owner
    INSERT INTO ai_gateway.routes AS r (name, strategy, options, hook_owner)
    VALUES (v.route, v.strategy, v.options, v.hook_owner)
        ON CONFLICT (name) DO UPDATE SET strategy = excluded.strategy, options = excluded.options,
                                         hook_owner = excluded.hook_owner;
    DELETE FROM ai_gateway.route_targets t WHERE t.route = v.route;
    INSERT INTO ai_gateway.route_targets (route, provider, model, priority, weight, shadow, role)
    SELECT v.route, e->>'provider', e->>'model', (e->>'priority')::int, (e->>'weight')::int,
           (e->>'shadow')::boolean, (e->>'role')::name
      FROM jsonb_array_elements(v.targets) e;
    SELECT max(rv.version) INTO n FROM ai_gateway.route_versions rv WHERE rv.route = v.route;
    RETURN n;
END $$;


------------------------------------------------------------------------------
-- Validation: NULL roles refused, finite prices, limits and weights
------------------------------------------------------------------------------

-- (section: validation)


------------------------------------------------------------------------------
-- Scheduling: fair job queue, per-role queue depth
------------------------------------------------------------------------------

-- (section: scheduling)


------------------------------------------------------------------------------
-- Cache: per-role cap, maximum TTL
------------------------------------------------------------------------------

-- (section: cache)
