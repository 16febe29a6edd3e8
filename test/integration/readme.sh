#!/usr/bin/env bash
# readme.sh — every ```sql block of README.md runs as written, in order, in a
# fresh cluster configured with the README's own postgresql.conf lines (its
# Getting started) and a fresh database named as there, with the bundled mock
# as every provider: before the README's CREATE EXTENSION, an event trigger
# adds a BEFORE INSERT OR UPDATE trigger to ai_gateway.providers that points
# each provider's base_url (and an Entra ID provider's token_url) at the mock
# (named to run before the key-sealing
# trigger, so keys are bound to the mock's origin).  A block fails the test on
# any ERROR or WARNING.  A block may be marked, on the line right before it:
#   <!-- not run: REASON -->   never run (REASON must be given)
#   <!-- needs: pgvector -->   run when the vector extension is available,
#                              else reported as "skipped: pgvector not installed"
#                              (a failure with AIG_REQUIRE_PGVECTOR=1: test/pg_versions.sh)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
: "${WORK:?run from test/run_all.sh}" "${MOCK_PORT:?}"
readme="$AIG_ROOT/README.md"
dir="$WORK/readme_cluster"
blocks="$WORK/readme_blocks"
rm -rf "$blocks"
mkdir -p "$blocks"
chmod 755 "$blocks"

# the README's blocks: blocks/NNN.sql (+ NNN.skip / NNN.needs), and its
# postgresql.conf lines (the plain block with shared_preload_libraries)
python3 - "$readme" "$blocks" <<'PY'
import re, sys, pathlib
text = pathlib.Path(sys.argv[1]).read_text().split("\n")
out = pathlib.Path(sys.argv[2])
n, i, marker = 0, 0, None
while i < len(text):
    line = text[i]
    m = re.match(r"^<!--\s*(not run|needs):\s*(.*?)\s*-->$", line)
    if m:
        marker = m.groups()
        i += 1
        continue
    if line.startswith("```"):
        lang = line[3:].strip()
        j = i + 1
        while not text[j].startswith("```"):
            j += 1
        body = "\n".join(text[i + 1:j]) + "\n"
        if lang == "sql":
            n += 1
            (out / f"{n:03d}.sql").write_text(body)
            (out / f"{n:03d}.line").write_text(str(i + 1))
            if marker and marker[0] == "not run":
                if not marker[1]:
                    sys.exit(f"README.md:{i}: 'not run' needs a reason")
                (out / f"{n:03d}.skip").write_text(marker[1])
            elif marker:
                (out / f"{n:03d}.needs").write_text(marker[1])
        elif lang == "" and "shared_preload_libraries" in body and not (out / "conf").exists():
            (out / "conf").write_text(body)
        elif marker:
            sys.exit(f"README.md:{i}: a marker before a block that is not ```sql")
        marker = None
        i = j + 1
        continue
    if line.strip():
        marker = None
    i += 1
PY
[ -f "$blocks/conf" ] || fail "README.md has no postgresql.conf block"
mapfile -t conf < <(grep -v '^\s*\(#\|$\)' "$blocks/conf")
db=$(sed -n "s/^ai_gateway.database *= *'\(.*\)'/\1/p" "$blocks/conf")
[ -n "$db" ] || fail "the README's postgresql.conf block names no ai_gateway.database"

port=$(aig_free_port)
trap aig_cleanup EXIT
aig_start_cluster "$dir" "$port" "${conf[@]}"
aig_psql "$port" -d postgres -c "CREATE DATABASE $db" >/dev/null
# the mock as every provider, installed before the README creates the extension
aig_psql "$port" -d "$db" -v mock="http://127.0.0.1:$MOCK_PORT" >/dev/null <<'SQL'
SELECT set_config('readme.mock', :'mock', false);
CREATE FUNCTION readme_mock_url() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    NEW.base_url := current_setting('readme.mock')
        || CASE WHEN NEW.kind IN ('openai', 'openai_compatible') THEN '/v1' ELSE '' END;
    IF NEW.kind = 'azure_openai' AND NEW.options ->> 'auth' = 'entra_id' THEN
        NEW.options := NEW.options || jsonb_build_object('token_url',
            current_setting('readme.mock') || '/' || (NEW.options ->> 'tenant_id')
            || '/oauth2/v2.0/token');
    END IF;
    RETURN NEW;
END $f$;
CREATE FUNCTION readme_on_create_extension() RETURNS event_trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF to_regclass('ai_gateway.providers') IS NOT NULL AND NOT EXISTS (
        SELECT FROM pg_trigger WHERE tgname = 'aaa_readme_mock'
                                 AND tgrelid = 'ai_gateway.providers'::regclass) THEN
        CREATE TRIGGER aaa_readme_mock BEFORE INSERT OR UPDATE ON ai_gateway.providers
            FOR EACH ROW EXECUTE FUNCTION public.readme_mock_url();
    END IF;
END $f$;
CREATE EVENT TRIGGER readme_mock ON ddl_command_end WHEN TAG IN ('CREATE EXTENSION')
    EXECUTE FUNCTION readme_on_create_extension();
SQL
aig_psql "$port" -d postgres -c "ALTER DATABASE $db SET readme.mock = 'http://127.0.0.1:$MOCK_PORT'" >/dev/null
have_vector=$(aig_psql "$port" -d "$db" -At -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")

ran=0
skipped=0
for f in "$blocks"/*.sql; do
	b=${f%.sql}
	where="README.md:$(cat "$b.line")"
	if [ -f "$b.skip" ]; then
		echo "  not run: $where ($(cat "$b.skip"))"
		skipped=$((skipped + 1))
		continue
	fi
	if [ -f "$b.needs" ]; then
		[ "$(cat "$b.needs")" = pgvector ] || fail "$where: unknown requirement '$(cat "$b.needs")'"
		if [ "$have_vector" = 0 ] && [ -n "${AIG_REQUIRE_PGVECTOR:-}" ]; then
			fail "$where needs pgvector, which AIG_REQUIRE_PGVECTOR says is installed"
		fi
		if [ "$have_vector" = 0 ]; then
			echo "  skipped: pgvector not installed: $where"
			skipped=$((skipped + 1))
			continue
		fi
	fi
	if ! out=$(aig_psql "$port" -d "$db" -f "$f" 2>&1); then
		echo "$out" | tail -n 20
		fail "$where: the README's SQL block fails"
	fi
	if echo "$out" | grep -q 'WARNING:'; then
		echo "$out" | grep -A3 'WARNING:'
		fail "$where: the README's SQL block warns"
	fi
	ran=$((ran + 1))
done
[ "$ran" -ge 6 ] || fail "only $ran README blocks ran"
pass "$ran SQL blocks of README.md ran as written against the mock ($skipped not run)"

# what Getting started promises: a cost for a model of the shipped list, and the async job answered
r=$(aig_psql "$port" -d "$db" -At -c "SELECT (ai_chat('[{\"role\":\"user\",\"content\":\"hi\"}]', 'summarize'))->>'cost_usd' IS NOT NULL,
	(SELECT count(*) FROM ai_gateway.jobs WHERE status = 'succeeded') > 0")
[ "$r" = "t|t" ] || fail "Getting started: cost_usd or the async job: $r"
pass "cost_usd comes from the shipped prices; the README's async job succeeded"
