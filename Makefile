# ai_gateway — PGXS build.
#   make                      build (warnings are errors)
#   make install              install into the PostgreSQL found by pg_config
#   test/run_all.sh           every test (see README)
EXTENSION    = ai_gateway
MODULE_big   = ai_gateway
DATA         = $(wildcard sql/ai_gateway--*.sql)
SRCS         = $(wildcard src/*/*.c)
OBJS         = $(SRCS:.c=.o)
PG_CPPFLAGS  = -I$(srcdir)/src -Wall -Wextra -Werror -Wno-unused-parameter \
               -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK   = -lcurl -lcrypto -ljson-c
# Calls between ai_gateway's own functions bind inside the library, and
# calls out (libcurl, OpenSSL, the server) go through the GOT without PLT
# stubs: a call touches fewer cache lines (test/bench/bench_overhead.sh).
PG_CFLAGS    = -fno-plt
SHLIB_LINK  += -Wl,-Bsymbolic-functions
# The pg_regress suite needs the mock provider running: test/run_all.sh
# starts it and a throwaway cluster, then runs sql/*.sql (test/schedule).

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

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
