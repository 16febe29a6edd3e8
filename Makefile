# ai_gateway — PGXS build.
#   make                      build (warnings are errors)
#   make install              install into the PostgreSQL found by pg_config
#   test/run_all.sh           every test (see README)
EXTENSION    = ai_gateway
MODULE_big   = ai_gateway
DATA         = $(wildcard sql/ai_gateway--*.sql)
SRCS         = $(wildcard src/*.c) $(wildcard src/providers/*.c)
OBJS         = $(SRCS:.c=.o)
PG_CPPFLAGS  = -I$(srcdir)/src -Wall -Wextra -Werror -Wno-unused-parameter \
               -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK   = -lcurl -ljson-c -lcrypto
REGRESS      = $(patsubst sql/%.sql,%,$(filter-out sql/ai_gateway--%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=ai_gateway

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
