# ai_gateway — PGXS build.
#   make                      build (warnings are errors)
#   make install              install into the PostgreSQL found by pg_config
#   make installcheck         the pg_regress suite alone (test/sql, see below)
#   test/run_all.sh           every test (see README)
EXTENSION    = ai_gateway
MODULE_big   = ai_gateway
DATA         = $(wildcard sql/ai_gateway--*.sql)
SRCS         = $(wildcard src/*/*.c)
OBJS         = $(SRCS:.c=.o)
# the extension's version (the control file's default_version), for the User-Agent
EXTVERSION  := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(dir $(firstword $(MAKEFILE_LIST)))ai_gateway.control)
PG_CPPFLAGS  = -I$(srcdir)/src -Wall -Wextra -Werror -Wno-unused-parameter \
               -Wno-missing-field-initializers -Wno-sign-compare \
               -DAIG_VERSION='"$(EXTVERSION)"'
SHLIB_LINK   = -lcurl -lcrypto -ljson-c
# Calls between ai_gateway's own functions bind inside the library, and
# calls out (libcurl, OpenSSL, the server) go through the GOT without PLT
# stubs: a call touches fewer cache lines (test/bench/bench_overhead.sh).
PG_CFLAGS    = -fno-plt
SHLIB_LINK  += -Wl,-Bsymbolic-functions

# pg_regress suite: test/sql/*.sql against test/expected/*.out, in the order
# of test/schedule (a new test is one "test: name" line there, nothing else),
# in database aig_regression (the worker's ai_gateway.database), on a
# temporary instance that pg_regress starts and stops itself with the
# settings of test/regress.conf (ai_gateway preloaded), as pg_cron and
# pgvector do.  After `make install`, as a user other than root:
#   make installcheck                        starts and stops the mock provider
#   MOCK_PORT=8089 make installcheck         uses a mock already running there
#   make installcheck REGRESS_OUT=/tmp/x     results/, regression.diffs, log/
#                                            and the instance go there
#   make installcheck REGRESS_INSTANCE='--host=H --port=P --user=U'
#                      against a running server instead (ai_gateway preloaded,
#                      ai_gateway.database = 'aig_regression': test/asan_check.sh)
# test/installcheck.sh provides the mock; test/run_all.sh calls this target.
REGRESS          = $(shell sed -n 's/^test:[[:space:]]*//p' $(srcdir)/test/schedule)
REGRESS_OUT     ?= .
REGRESS_INSTANCE ?= --temp-instance=$(REGRESS_OUT)/tmp_check \
                    --temp-config=$(srcdir)/test/regress.conf
# the tests send non-ASCII text: UTF8 whatever the caller's locale
REGRESS_OPTS     = --inputdir=$(srcdir)/test --outputdir=$(REGRESS_OUT) \
                   --encoding=UTF8 $(REGRESS_INSTANCE)
# installcheck is defined below (the mock provider around pg_regress)
NO_INSTALLCHECK  = 1

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# pgxs adds --dbname=$(CONTRIB_TESTDB) to REGRESS_OPTS: the database the
# worker serves (test/regress.conf)
CONTRIB_TESTDB   = aig_regression

.PHONY: installcheck
installcheck:
	@test -f '$(pkglibdir)/$(MODULE_big)$(DLSUFFIX)' || \
		{ echo 'make installcheck: ai_gateway is not installed in $(pkglibdir): run make install first' >&2; exit 1; }
	PG_CONFIG='$(PG_CONFIG)' bash $(srcdir)/test/installcheck.sh \
		$(top_builddir)/src/test/regress/pg_regress --bindir='$(bindir)' \
		$(pg_regress_locale_flags) $(EXTRA_REGRESS_OPTS) $(REGRESS_OPTS) $(REGRESS)

# Fuzzing and sanitizers (README "Tests"); both honour PG_CONFIG.
#   make fuzz          libFuzzer targets of the dialect parsers and the PII
#                      redactor, FUZZ_SECONDS (default 60) each: test/fuzz/run.sh
#   make asan-check    pg_regress against an ASan+UBSan build in a sanitized
#                      server, then the normal build reinstalled: test/asan_check.sh
.PHONY: fuzz asan-check
fuzz:
	PG_CONFIG="$(PG_CONFIG)" FUZZ_SECONDS="$(FUZZ_SECONDS)" bash test/fuzz/run.sh
asan-check:
	PG_CONFIG="$(PG_CONFIG)" bash test/asan_check.sh
