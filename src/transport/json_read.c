/*
 * json_read.c — the one-pass JSON reader of provider bodies (see
 * json_read.h for the node layout and what it accepts).
 *
 * The parser is iterative: an explicit stack of open containers, no
 * recursion, so a hostile body cannot exhaust the C stack; its depth is
 * capped at AIG_JSON_MAX_DEPTH.  Strings are scanned with memchr for the
 * closing quote and for backslashes (escapes are checked here, so that
 * unescaping later cannot fail); numbers follow the RFC 8259 grammar.
 * Running out of input inside a value is "truncated", anything else that
 * breaks the grammar is "malformed".
 */
#include "postgres.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>

#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "transport/json_read.h"

typedef enum ParseStatus
{
	PS_OK,
	PS_TRUNCATED,
	PS_MALFORMED
} ParseStatus;

typedef struct Parser
{
	const char *s;
	size_t		len;
	size_t		pos;
	AigJson    *nodes;
	int			nnodes;
	int			cap;
	const char *why;			/* for PS_MALFORMED */
} Parser;

/* one ordinary palloc chunk (1 GB) holds them all: ~44 million values */
#define MAX_NODES ((int) (MaxAllocSize / sizeof(AigJson)))

static ParseStatus
malformed(Parser *ps, const char *why)
{
	ps->why = why;
	return PS_MALFORMED;
}

/* a new node at ps->pos; -1 when there would be too many */
static int
new_node(Parser *ps, AigJsonType type)
{
	AigJson    *n;

	if (ps->nnodes == ps->cap)
	{
		int			cap;

		if (ps->cap >= MAX_NODES)
			return -1;
		cap = ps->cap < MAX_NODES / 2 ? ps->cap * 2 : MAX_NODES;
		ps->nodes = (AigJson *) repalloc(ps->nodes, sizeof(AigJson) * cap);
		ps->cap = cap;
	}
	n = &ps->nodes[ps->nnodes];
	n->p = ps->s + ps->pos;
	n->len = 0;
	n->size = 1;
	n->count = 0;
	n->type = (uint8) type;
	n->flags = 0;
	return ps->nnodes++;
}

static inline void
skip_space(Parser *ps)
{
	while (ps->pos < ps->len)
	{
		char		c = ps->s[ps->pos];

		if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
			break;
		ps->pos++;
	}
}

static inline bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		(c >= 'A' && c <= 'F');
}

/* at the opening quote: checks the string, leaves pos after the closing one */
static ParseStatus
scan_string(Parser *ps, AigJson *node)
{
	const char *s = ps->s;
	size_t		start = ps->pos + 1;
	size_t		i = start;
	size_t		len = ps->len;
	const char *q;

	node->p = s + start;
	q = NULL;
	for (;;)
	{
		size_t		qpos;
		const char *b;

		/* the next quote: found again only when an escape took the last one
		 * (so a string with many escapes is still read in linear time) */
		if (q == NULL || q < s + i)
		{
			q = memchr(s + i, '"', len - i);
			if (q == NULL)
				return PS_TRUNCATED;
		}
		qpos = q - s;
		b = memchr(s + i, '\\', qpos - i);
		if (b == NULL)
		{
			if (memchr(s + i, '\0', qpos - i) != NULL)
				return malformed(ps, "NUL character in a string");
			if (qpos - start > INT32_MAX)
				return malformed(ps, "string too long");
			node->len = (int32) (qpos - start);
			ps->pos = qpos + 1;
			return PS_OK;
		}
		/* an escape before the quote: check it and go on after it */
		if (memchr(s + i, '\0', b - (s + i)) != NULL)
			return malformed(ps, "NUL character in a string");
		node->flags |= AIG_JSON_ESCAPED;
		i = b - s + 1;
		if (i >= len)
			return PS_TRUNCATED;
		switch (s[i])
		{
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				i++;
				break;
			case 'u':
				for (int k = 1; k <= 4; k++)
				{
					if (i + k >= len)
						return PS_TRUNCATED;
					if (!is_hex(s[i + k]))
						return malformed(ps, "invalid \\u escape");
				}
				i += 5;
				break;
			default:
				return malformed(ps, "invalid escape");
		}
	}
}

static ParseStatus scan_literal(Parser *ps, AigJson *node, const char *word,
								AigJsonType type);

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * At '-' or a digit.  at_top: the number is the whole document, so the
 * end of input may end it.
 */
static ParseStatus
scan_number(Parser *ps, AigJson *node, bool at_top)
{
	const char *s = ps->s;
	size_t		len = ps->len;
	size_t		i = ps->pos;
	bool		integer = true;
	ParseStatus st;

#define NEED_MORE() do { if (i >= len) return PS_TRUNCATED; } while (0)
	if (s[i] == '-')
	{
		i++;
		NEED_MORE();
	}
	if (s[i] == 'I')
	{
		/* -Infinity (Python's json writes it): a number, not an integer */
		ps->pos = i;
		if ((st = scan_literal(ps, node, "Infinity", AIG_JSON_NUMBER)) != PS_OK)
			return st;
		node->len++;			/* the '-' (node->p is still on it) */
		return PS_OK;
	}
	if (s[i] == '0')
		i++;
	else if (is_digit(s[i]))
		while (i < len && is_digit(s[i]))
			i++;
	else
		return malformed(ps, "unexpected character");
	if (i < len && s[i] == '.')
	{
		integer = false;
		i++;
		NEED_MORE();
		if (!is_digit(s[i]))
			return malformed(ps, "unexpected character");
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		integer = false;
		i++;
		NEED_MORE();
		if (s[i] == '+' || s[i] == '-')
		{
			i++;
			NEED_MORE();
		}
		if (!is_digit(s[i]))
			return malformed(ps, "unexpected character");
		while (i < len && is_digit(s[i]))
			i++;
	}
#undef NEED_MORE
	/* inside a container the value must be followed by something */
	if (i >= len && !at_top)
		return PS_TRUNCATED;
	if (i - ps->pos > INT32_MAX)
		return malformed(ps, "number too long");
	node->len = (int32) (i - ps->pos);
	if (integer)
		node->flags |= AIG_JSON_INTEGER;
	ps->pos = i;
	return PS_OK;
}

static ParseStatus
scan_literal(Parser *ps, AigJson *node, const char *word, AigJsonType type)
{
	size_t		n = strlen(word);

	for (size_t k = 0; k < n; k++)
	{
		if (ps->pos + k >= ps->len)
			return PS_TRUNCATED;
		if (ps->s[ps->pos + k] != word[k])
			return malformed(ps, "unexpected character");
	}
	node->type = (uint8) type;
	node->len = (int32) n;
	ps->pos += n;
	return PS_OK;
}

static ParseStatus
parse_document(Parser *ps)
{
	int			stack[AIG_JSON_MAX_DEPTH];
	int			depth = 0;
	ParseStatus st;

	for (;;)
	{
		int			idx;
		char		c;

		/* ---- a value is expected ---- */
		skip_space(ps);
		if (ps->pos >= ps->len)
			return PS_TRUNCATED;
		c = ps->s[ps->pos];
		if (c == '{' || c == '[')
		{
			bool		obj = (c == '{');

			if (depth >= AIG_JSON_MAX_DEPTH)
				return malformed(ps, "nesting too deep");
			idx = new_node(ps, obj ? AIG_JSON_OBJECT : AIG_JSON_ARRAY);
			if (idx < 0)
				return malformed(ps, "too many values");
			stack[depth++] = idx;
			ps->pos++;
			skip_space(ps);
			if (ps->pos >= ps->len)
				return PS_TRUNCATED;
			if (ps->s[ps->pos] == (obj ? '}' : ']'))
				goto close_container;
			if (!obj)
				continue;		/* the first element */
			goto member_key;
		}
		idx = new_node(ps, AIG_JSON_NULL);
		if (idx < 0)
			return malformed(ps, "too many values");
		switch (c)
		{
			case '"':
				ps->nodes[idx].type = AIG_JSON_STRING;
				st = scan_string(ps, &ps->nodes[idx]);
				break;
			case 't':
				st = scan_literal(ps, &ps->nodes[idx], "true", AIG_JSON_TRUE);
				break;
			case 'f':
				st = scan_literal(ps, &ps->nodes[idx], "false", AIG_JSON_FALSE);
				break;
			case 'n':
				st = scan_literal(ps, &ps->nodes[idx], "null", AIG_JSON_NULL);
				break;
			case 'N':			/* NaN, Infinity: see json_read.h */
				st = scan_literal(ps, &ps->nodes[idx], "NaN", AIG_JSON_NUMBER);
				break;
			case 'I':
				st = scan_literal(ps, &ps->nodes[idx], "Infinity", AIG_JSON_NUMBER);
				break;
			default:
				if (c != '-' && !is_digit(c))
					return malformed(ps, "unexpected character");
				ps->nodes[idx].type = AIG_JSON_NUMBER;
				st = scan_number(ps, &ps->nodes[idx], depth == 0);
				break;
		}
		if (st != PS_OK)
			return st;

		/* ---- a value is complete: what follows it ---- */
after_value:
		if (depth == 0)
			return PS_OK;
		ps->nodes[stack[depth - 1]].count++;
		skip_space(ps);
		if (ps->pos >= ps->len)
			return PS_TRUNCATED;
		c = ps->s[ps->pos];
		if (ps->nodes[stack[depth - 1]].type == AIG_JSON_ARRAY)
		{
			if (c == ',')
			{
				ps->pos++;
				continue;		/* the next element */
			}
			if (c != ']')
				return malformed(ps, "unexpected character");
			goto close_container;
		}
		if (c == '}')
			goto close_container;
		if (c != ',')
			return malformed(ps, "unexpected character");
		ps->pos++;

		/* ---- an object member's key and colon ---- */
member_key:
		skip_space(ps);
		if (ps->pos >= ps->len)
			return PS_TRUNCATED;
		if (ps->s[ps->pos] != '"')
			return malformed(ps, "unexpected character");
		idx = new_node(ps, AIG_JSON_STRING);
		if (idx < 0)
			return malformed(ps, "too many values");
		st = scan_string(ps, &ps->nodes[idx]);
		if (st != PS_OK)
			return st;
		skip_space(ps);
		if (ps->pos >= ps->len)
			return PS_TRUNCATED;
		if (ps->s[ps->pos] != ':')
			return malformed(ps, "unexpected character");
		ps->pos++;
		continue;				/* the member's value */

		/* ---- at the closing bracket of stack[depth - 1] ---- */
close_container:
		{
			AigJson    *open = &ps->nodes[stack[--depth]];
			size_t		end = ps->pos + 1;

			if ((size_t) (end - (open->p - ps->s)) > INT32_MAX)
				return malformed(ps, "value too long");
			open->len = (int32) (end - (open->p - ps->s));
			open->size = ps->nnodes - (int) (open - ps->nodes);
			ps->pos = end;
		}
		goto after_value;
	}
}

const AigJson *
aig_json_parse(const char *body, size_t len, char **errmsg)
{
	Parser		ps;
	ParseStatus st;

	*errmsg = NULL;
	if (body == NULL || len == 0)
	{
		*errmsg = pstrdup("empty response body");
		return NULL;
	}
	ps.s = body;
	ps.len = len;
	ps.pos = 0;
	ps.nnodes = 0;
	/* a guess that fits most bodies at once; grows by doubling */
	ps.cap = (int) Min(len / 6 + 16, 65536);
	ps.nodes = (AigJson *) palloc(sizeof(AigJson) * ps.cap);
	ps.why = NULL;

	st = parse_document(&ps);
	if (st == PS_OK)
	{
		skip_space(&ps);
		if (ps.pos < ps.len)
			st = malformed(&ps, "trailing data");
	}
	if (st == PS_OK)
		return ps.nodes;
	pfree(ps.nodes);
	if (st == PS_TRUNCATED)
		*errmsg = pstrdup("truncated JSON in response body");
	else
		*errmsg = psprintf("malformed JSON in response body: %s", ps.why);
	return NULL;
}

/* ---------------------------------------------------------------------
 * Accessors
 * ---------------------------------------------------------------------
 */

/* does key node k hold exactly key[0..klen)? */
static bool
key_is(const AigJson *k, const char *key, size_t klen)
{
	if (!(k->flags & AIG_JSON_ESCAPED))
		return (size_t) k->len == klen && memcmp(k->p, key, klen) == 0;
	else
	{
		size_t		dlen = 0;
		char	   *d = aig_jstring(k, &dlen);
		bool		eq = (d != NULL && dlen == klen && memcmp(d, key, klen) == 0);

		pfree(d);
		return eq;
	}
}

const AigJson *
aig_jget(const AigJson *obj, const char *key)
{
	const AigJson *k;
	const AigJson *found = NULL;
	size_t		klen;

	if (!aig_jis(obj, AIG_JSON_OBJECT))
		return NULL;
	klen = strlen(key);
	k = obj + 1;
	for (int i = 0; i < obj->count; i++)
	{
		const AigJson *v = k + 1;

		if (key_is(k, key, klen))
			found = v;
		k = v + v->size;
	}
	return found;
}

const AigJson *
aig_jelem(const AigJson *arr, int i)
{
	const AigJson *e;

	if (!aig_jis(arr, AIG_JSON_ARRAY) || i < 0 || i >= arr->count)
		return NULL;
	e = arr + 1;
	while (i-- > 0)
		e += e->size;
	return e;
}

const AigJson *
aig_jpath(const AigJson *obj,...)
{
	va_list		ap;
	const char *key;

	va_start(ap, obj);
	while (obj != NULL && (key = va_arg(ap, const char *)) != NULL)
		obj = aig_jget(obj, key);
	va_end(ap);
	return obj;
}

static int
hex4(const char *p)
{
	int			v = 0;

	for (int k = 0; k < 4; k++)
	{
		char		c = p[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else
			v |= c - 'A' + 10;
	}
	return v;
}

/*
 * Unescape string node v into dst (room for v->len bytes: unescaping never
 * lengthens, \uXXXX (6 bytes) gives at most 3, a surrogate pair (12) 4,
 * and U+FFFD (3) replaces at least 6); returns the length written.
 */
static size_t
unescape(const AigJson *v, char *dst)
{
	char	   *o = dst;
	const char *p = v->p;
	const char *end = v->p + v->len;

	if (!(v->flags & AIG_JSON_ESCAPED))
	{
		memcpy(dst, p, v->len);
		return v->len;
	}
	while (p < end)
	{
		const char *b = memchr(p, '\\', end - p);
		pg_wchar	cp;

		if (b == NULL)
		{
			memcpy(o, p, end - p);
			o += end - p;
			break;
		}
		memcpy(o, p, b - p);
		o += b - p;
		p = b + 1;				/* the escape letter (checked by the parser) */
		switch (*p++)
		{
			case 'b':
				*o++ = '\b';
				continue;
			case 'f':
				*o++ = '\f';
				continue;
			case 'n':
				*o++ = '\n';
				continue;
			case 'r':
				*o++ = '\r';
				continue;
			case 't':
				*o++ = '\t';
				continue;
			case 'u':
				break;
			default:			/* " \ / */
				*o++ = p[-1];
				continue;
		}
		cp = hex4(p);
		p += 4;
		if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 &&
			p[0] == '\\' && p[1] == 'u')
		{
			pg_wchar	lo = hex4(p + 2);

			if (lo >= 0xDC00 && lo <= 0xDFFF)
			{
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
		}
		if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
			cp = 0xFFFD;		/* NUL, or a surrogate without its pair */
		unicode_to_utf8(cp, (unsigned char *) o);
		o += pg_utf_mblen((unsigned char *) o);
	}
	return o - dst;
}

char *
aig_jstring(const AigJson *v, size_t *len)
{
	char	   *out;
	size_t		n;

	if (!aig_jis(v, AIG_JSON_STRING))
		return NULL;
	out = palloc(v->len + 1);
	n = unescape(v, out);
	out[n] = '\0';
	if (len)
		*len = n;
	return out;
}

bool
aig_jstring_append(const AigJson *v, StringInfo buf)
{
	if (!aig_jis(v, AIG_JSON_STRING))
		return false;
	enlargeStringInfo(buf, v->len);
	buf->len += (int) unescape(v, buf->data + buf->len);
	buf->data[buf->len] = '\0';
	return true;
}

bool
aig_jstring_eq(const AigJson *v, const char *s)
{
	return aig_jis(v, AIG_JSON_STRING) && key_is(v, s, strlen(s));
}

char *
aig_jstr(const AigJson *obj, const char *key)
{
	return aig_jstring(aig_jget(obj, key), NULL);
}

/*
 * A number token as a NUL-terminated string (strtod/strtoll need one: the
 * token is followed by more body): in buf when it fits, else palloc'd.
 */
#define NUMBUF 64

static char *
number_text(const AigJson *v, char *buf)
{
	char	   *s = v->len < NUMBUF ? buf : palloc(v->len + 1);

	memcpy(s, v->p, v->len);
	s[v->len] = '\0';
	return s;
}

double
aig_jnumber(const AigJson *v)
{
	char		buf[NUMBUF];
	char	   *s;
	double		d;

	if (!aig_jis(v, AIG_JSON_NUMBER))
		return 0;
	s = number_text(v, buf);
	d = strtod(s, NULL);		/* LC_NUMERIC is always C in a backend */
	if (s != buf)
		pfree(s);
	return d;
}

bool
aig_jint64(const AigJson *v, int64 *out)
{
	char		buf[NUMBUF];
	char	   *s;

	if (!aig_jis_integer(v))
		return false;
	s = number_text(v, buf);
	/* saturates at LLONG_MIN / LLONG_MAX (ERANGE) */
	*out = (int64) strtoll(s, NULL, 10);
	if (s != buf)
		pfree(s);
	return true;
}

int64
aig_jtokens(const AigJson *obj, const char *key)
{
	const AigJson *v = aig_jget(obj, key);
	int64		n;

	if (aig_jint64(v, &n))
		return (n >= 0 && n <= PG_INT32_MAX) ? n : -1;
	if (aig_jis(v, AIG_JSON_NUMBER))
	{
		double		d = aig_jnumber(v);

		if (!(d >= 0 && d <= (double) PG_INT32_MAX))	/* NaN fails too */
			return -1;
		return (int64) d;
	}
	return -1;
}
