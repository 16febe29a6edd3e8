/*
 * fuzz_support.h — what the libFuzzer targets in test/fuzz/ share with
 * fuzz_support.c: a tracked palloc arena (the stand-in for a memory
 * context, released after every input), stubs of the backend's ereport
 * machinery (an ereport(ERROR) reached from the code under test aborts:
 * parsers and the redactor must never raise one on bad input), and checks
 * the targets assert on what the code returns.
 */
#ifndef AIG_FUZZ_SUPPORT_H
#define AIG_FUZZ_SUPPORT_H

#include "postgres.h"

/* Free everything palloc'd since the last reset (a MemoryContextReset). */
extern void fuzz_arena_reset(void);

/* Number of palloc'd chunks still live. */
extern long fuzz_arena_live(void);

/* Print "fuzz check failed: <what>" (and the optional detail) and abort. */
/* PostgreSQL 18 replaced pg_attribute_noreturn() with a pg_noreturn prefix */
#ifdef pg_attribute_noreturn
extern void fuzz_fail(const char *what, const char *detail) pg_attribute_noreturn();
#else
extern pg_noreturn void fuzz_fail(const char *what, const char *detail);
#endif

#define FUZZ_CHECK(cond, what, detail) \
	do { if (!(cond)) fuzz_fail((what), (detail)); } while (0)

/* s[0..len) is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF) */
extern bool fuzz_valid_utf8(const char *s, size_t len);

/* a NUL-terminated message safe to show: valid UTF-8, no control bytes */
extern bool fuzz_clean_message(const char *s);

#endif							/* AIG_FUZZ_SUPPORT_H */
