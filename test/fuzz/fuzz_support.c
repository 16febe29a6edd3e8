/*
 * fuzz_support.c — the backend symbols the fuzz targets need when src/
 * code is compiled standalone (see fuzz_support.h):
 *
 *	- palloc and friends over malloc, each chunk on a list, so that
 *	  fuzz_arena_reset() frees what the code under test allocated for one
 *	  input (as a memory context reset would).  Anything malloc'd outside
 *	  this arena (json-c's objects, in the json target) and not freed is a
 *	  leak that libFuzzer's
 *	  LeakSanitizer reports.  Requests over MaxAllocSize abort, as the
 *	  backend would raise an ERROR there.
 *	- MemoryContextRegisterResetCallback: the callbacks run at
 *	  fuzz_arena_reset(), before the chunks are freed (as a context reset
 *	  runs them); transport/json.c ties its json-c trees to them.
 *	- escape_json, a stand-in for the backend's (utils/adt/json.c) with the
 *	  same output: '"', '\\', \b \f \n \r \t by letter, other bytes below
 *	  0x20 as \u00XX, everything else as it is.  In the server the real
 *	  one runs (the dialects regression test checks the bodies).
 *	- CurrentMemoryContext, PG_exception_stack, error_context_stack.
 *	- errstart/errfinish and the errmsg family: an ereport at ERROR or
 *	  above prints its message and location and aborts (a finding: the
 *	  parsers and the redactor must return, never raise); lower levels are
 *	  dropped.
 *
 * StringInfo, psprintf, base64 and the UTF-8 helpers come from
 * PostgreSQL's frontend libpgcommon.a / libpgport.a (linked by run.sh).
 * The palloc symbols defined here keep fe_memutils.o out of the link.
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/stringinfo.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "fuzz_support.h"

MemoryContext CurrentMemoryContext = NULL;
sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;

/* ------------------------------------------------------------ arena */

typedef union FuzzChunk
{
	struct
	{
		union FuzzChunk *prev;
		union FuzzChunk *next;
		size_t		size;
	}			h;
	long double align_ld;		/* keep the payload maximally aligned */
	int64		align_i;
} FuzzChunk;

static FuzzChunk *chunks = NULL;
static long nchunks = 0;

static void *
chunk_alloc(size_t size, bool zero)
{
	FuzzChunk  *c;

	if (size > MaxAllocHugeSize - sizeof(FuzzChunk))
		fuzz_fail("palloc request size out of range", NULL);
	c = zero ? calloc(1, sizeof(FuzzChunk) + size) :
		malloc(sizeof(FuzzChunk) + size);
	if (c == NULL)
		fuzz_fail("out of memory", NULL);
	c->h.size = size;
	c->h.prev = NULL;
	c->h.next = chunks;
	if (chunks)
		chunks->h.prev = c;
	chunks = c;
	nchunks++;
	return c + 1;
}

static void
chunk_unlink(FuzzChunk *c)
{
	if (c->h.prev)
		c->h.prev->h.next = c->h.next;
	else
		chunks = c->h.next;
	if (c->h.next)
		c->h.next->h.prev = c->h.prev;
	nchunks--;
}

void *
palloc(Size size)
{
	if (!AllocSizeIsValid(size))
		fuzz_fail("invalid memory alloc request size (palloc)", NULL);
	return chunk_alloc(size, false);
}

void *
palloc0(Size size)
{
	if (!AllocSizeIsValid(size))
		fuzz_fail("invalid memory alloc request size (palloc0)", NULL);
	return chunk_alloc(size, true);
}

void *
palloc_extended(Size size, int flags)
{
	if (((flags & MCXT_ALLOC_HUGE) == 0 && !AllocSizeIsValid(size)) ||
		!AllocHugeSizeIsValid(size))
		fuzz_fail("invalid memory alloc request size (palloc_extended)", NULL);
	return chunk_alloc(size, (flags & MCXT_ALLOC_ZERO) != 0);
}

void
pfree(void *pointer)
{
	FuzzChunk  *c;

	if (pointer == NULL)
		fuzz_fail("pfree(NULL)", NULL);
	c = (FuzzChunk *) pointer - 1;
	chunk_unlink(c);
	free(c);
}

void *
repalloc(void *pointer, Size size)
{
	FuzzChunk  *c;
	FuzzChunk  *n;

	if (pointer == NULL)
		fuzz_fail("repalloc(NULL)", NULL);
	if (!AllocSizeIsValid(size))
		fuzz_fail("invalid memory alloc request size (repalloc)", NULL);
	c = (FuzzChunk *) pointer - 1;
	chunk_unlink(c);
	n = realloc(c, sizeof(FuzzChunk) + size);
	if (n == NULL)
		fuzz_fail("out of memory", NULL);
	n->h.size = size;
	n->h.prev = NULL;
	n->h.next = chunks;
	if (chunks)
		chunks->h.prev = n;
	chunks = n;
	nchunks++;
	return n + 1;
}

char *
pstrdup(const char *in)
{
	size_t		len = strlen(in);
	char	   *out = palloc(len + 1);

	memcpy(out, in, len + 1);
	return out;
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

static MemoryContextCallback *callbacks = NULL;

void
MemoryContextRegisterResetCallback(MemoryContext context,
								   MemoryContextCallback *cb)
{
	cb->next = callbacks;
	callbacks = cb;
}

void
fuzz_arena_reset(void)
{
	/* callbacks first: they live in chunks and may pfree */
	while (callbacks != NULL)
	{
		MemoryContextCallback *cb = callbacks;

		callbacks = cb->next;
		cb->func(cb->arg);
	}
	while (chunks != NULL)
	{
		FuzzChunk  *next = chunks->h.next;

		free(chunks);
		chunks = next;
	}
	nchunks = 0;
}

long
fuzz_arena_live(void)
{
	return nchunks;
}

/* ------------------------------------------------------------ escape_json */

void
escape_json(StringInfo buf, const char *str)
{
	appendStringInfoCharMacro(buf, '"');
	for (const char *p = str; *p; p++)
	{
		switch (*p)
		{
			case '\b':
				appendStringInfoString(buf, "\\b");
				break;
			case '\f':
				appendStringInfoString(buf, "\\f");
				break;
			case '\n':
				appendStringInfoString(buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(buf, "\\r");
				break;
			case '\t':
				appendStringInfoString(buf, "\\t");
				break;
			case '"':
				appendStringInfoString(buf, "\\\"");
				break;
			case '\\':
				appendStringInfoString(buf, "\\\\");
				break;
			default:
				if ((unsigned char) *p < ' ')
					appendStringInfo(buf, "\\u%04x", (int) *p);
				else
					appendStringInfoCharMacro(buf, *p);
				break;
		}
	}
	appendStringInfoCharMacro(buf, '"');
}

/* ------------------------------------------------------------ ereport */

static int	cur_elevel;
static char cur_message[1024];

bool
errstart(int elevel, const char *domain)
{
	if (elevel < ERROR)
		return false;
	cur_elevel = elevel;
	cur_message[0] = '\0';
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	fprintf(stderr, "ereport(%s) reached at %s:%d (%s): %s\n",
			cur_elevel >= FATAL ? "FATAL" : "ERROR",
			filename ? filename : "?", lineno, funcname ? funcname : "?",
			cur_message);
	fuzz_fail("the code under test raised an error (it must return instead)",
			  cur_message);
}

int
errcode(int sqlerrcode)
{
	return 0;
}

static void
set_message(const char *fmt, va_list ap)
{
	vsnprintf(cur_message, sizeof(cur_message), fmt, ap);
}

int
errmsg(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	set_message(fmt, ap);
	va_end(ap);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	set_message(fmt, ap);
	va_end(ap);
	return 0;
}

int
errhint(const char *fmt,...)
{
	return 0;
}

int
errdetail(const char *fmt,...)
{
	return 0;
}

void
pg_re_throw(void)
{
	fuzz_fail("pg_re_throw reached", NULL);
}

/* ------------------------------------------------------------ checks */

void
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz check failed: %s%s%s\n", what,
			detail ? ": " : "", detail ? detail : "");
	abort();
}

bool
fuzz_valid_utf8(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		int			n;
		uint32		cp;
		uint32		min;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1, cp = c & 0x1F, min = 0x80;
		else if (c >= 0xE0 && c <= 0xEF)
			n = 2, cp = c & 0x0F, min = 0x800;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (len - i - 1 < (size_t) n)
			return false;		/* fewer than n continuation bytes left */
		for (int k = 1; k <= n; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

bool
fuzz_clean_message(const char *s)
{
	size_t		len = strlen(s);

	for (size_t i = 0; i < len; i++)
		if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return fuzz_valid_utf8(s, len);
}
