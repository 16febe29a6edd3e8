/*
 * redact.c — replacing personal data in prompts with numbered placeholders
 * and putting it back in answers (see redact.h for what is matched, the
 * precedence between kinds and the boundaries).
 *
 * redact_scan.c marks which bytes are personal data; one pass here then
 * copies the unmarked bytes and puts "[KIND_n]" for each match, numbering
 * each distinct value once per redaction map (an open-addressing hash of
 * the originals), so the same value gets the same placeholder throughout a
 * call and aig_unredact() can map the placeholders back.
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "governance/redact.h"
#include "governance/redact_scan.h"

static const char *const pii_names[PII_NKINDS] = {
	"EMAIL", "PHONE", "CARD", "IBAN", "IP", "SSN"
};

/* one distinct original value */
typedef struct RedEntry
{
	char	   *orig;			/* NUL-terminated copy */
	int			len;
	uint32		hash;
	int			kind;
	int			number;			/* the n of "[KIND_n]", from 1 */
} RedEntry;

struct AigRedaction
{
	MemoryContext cxt;			/* where entries live */
	RedEntry   *entries;
	int			nentries;
	int			maxentries;
	int		   *slots;			/* open addressing: entry index + 1, 0 = free */
	int			nslots;			/* power of 2 */
	int		   *bynum[PII_NKINDS];	/* bynum[k][n - 1] = entry index */
	int			maxbynum[PII_NKINDS];
	int			nbynum[PII_NKINDS];
};

static uint32
hash_value(int kind, const char *s, int len)
{
	uint32		h = 2166136261u ^ (uint32) kind;
	int			i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) s[i];
		h *= 16777619u;
	}
	return h;
}

static void
map_rehash(AigRedaction *map, int nslots)
{
	int		   *slots = palloc0(sizeof(int) * nslots);
	int			i;

	for (i = 0; i < map->nentries; i++)
	{
		uint32		j = map->entries[i].hash & (nslots - 1);

		while (slots[j] != 0)
			j = (j + 1) & (nslots - 1);
		slots[j] = i + 1;
	}
	if (map->slots)
		pfree(map->slots);
	map->slots = slots;
	map->nslots = nslots;
}

/* the entry for this original, added (in map->cxt) if new */
static const RedEntry *
map_lookup_add(AigRedaction *map, int kind, const char *s, int len)
{
	uint32		h = hash_value(kind, s, len);
	uint32		j = h & (map->nslots - 1);
	MemoryContext old;
	RedEntry   *e;
	int			idx;

	while (map->slots[j] != 0)
	{
		e = &map->entries[map->slots[j] - 1];
		if (e->hash == h && e->kind == kind && e->len == len &&
			memcmp(e->orig, s, len) == 0)
			return e;
		j = (j + 1) & (map->nslots - 1);
	}

	old = MemoryContextSwitchTo(map->cxt);
	if (map->nentries == map->maxentries)
	{
		map->maxentries *= 2;
		map->entries = repalloc(map->entries,
								sizeof(RedEntry) * map->maxentries);
	}
	if (map->nbynum[kind] == map->maxbynum[kind])
	{
		if (map->maxbynum[kind] == 0)
		{
			map->maxbynum[kind] = 8;
			map->bynum[kind] = palloc(sizeof(int) * map->maxbynum[kind]);
		}
		else
		{
			map->maxbynum[kind] *= 2;
			map->bynum[kind] = repalloc(map->bynum[kind],
										sizeof(int) * map->maxbynum[kind]);
		}
	}
	idx = map->nentries++;
	e = &map->entries[idx];
	e->orig = palloc(len + 1);
	memcpy(e->orig, s, len);
	e->orig[len] = '\0';
	e->len = len;
	e->hash = h;
	e->kind = kind;
	e->number = ++map->nbynum[kind];
	map->bynum[kind][e->number - 1] = idx;
	map->slots[j] = idx + 1;
	if (map->nentries * 2 > map->nslots)
		map_rehash(map, map->nslots * 2);
	MemoryContextSwitchTo(old);
	return &map->entries[idx];
}

AigRedaction *
aig_redaction_new(void)
{
	AigRedaction *map = palloc0(sizeof(AigRedaction));

	map->cxt = CurrentMemoryContext;
	map->maxentries = 16;
	map->entries = palloc(sizeof(RedEntry) * map->maxentries);
	map_rehash(map, 64);
	return map;
}

char *
aig_redact(AigRedaction *map, const char *text, int *count)
{
	size_t		len;
	uint8	   *mark;
	StringInfoData buf;
	size_t		i;
	int			n = 0;

	if (count)
		*count = 0;
	if (text == NULL)
		return pstrdup("");
	if (map == NULL)
		map = aig_redaction_new();

	len = strlen(text);
	if (len == 0)
		return pstrdup("");
	mark = palloc0(len);
	aig_pii_mark((const unsigned char *) text, len, mark);

	initStringInfo(&buf);
	i = 0;
	while (i < len)
	{
		size_t		j = i;

		if (mark[i] & MARK_START)
		{
			int			kind = mark[i] & ~MARK_START;
			const RedEntry *e;

			j = i + 1;
			while (j < len && mark[j] == MARK_CONT)
				j++;
			e = map_lookup_add(map, kind, text + i, (int) (j - i));
			appendStringInfo(&buf, "[%s_%d]", pii_names[kind], e->number);
			n++;
		}
		else
		{
			while (j < len && mark[j] == 0)
				j++;
			appendBinaryStringInfo(&buf, text + i, (int) (j - i));
		}
		i = j;
	}
	pfree(mark);
	if (count)
		*count = n;
	return buf.data;
}

char *
aig_unredact(const AigRedaction *map, const char *text)
{
	StringInfoData buf;
	const char *p;
	const char *run;

	if (text == NULL)
		return pstrdup("");
	if (map == NULL || map->nentries == 0)
		return pstrdup(text);

	initStringInfo(&buf);
	run = p = text;
	while ((p = strchr(p, '[')) != NULL)
	{
		const RedEntry *e = NULL;
		const char *q = NULL;
		int			k;

		for (k = 0; k < PII_NKINDS && e == NULL; k++)
		{
			size_t		nl = strlen(pii_names[k]);
			int			num = 0;
			int			nd = 0;

			if (strncmp(p + 1, pii_names[k], nl) != 0 || p[1 + nl] != '_')
				continue;
			q = p + 2 + nl;
			if (*q == '0')
				continue;
			while (nd < 9 && *q >= '0' && *q <= '9')
			{
				num = num * 10 + (*q - '0');
				nd++;
				q++;
			}
			if (nd == 0 || *q != ']' || num > map->nbynum[k])
				continue;
			e = &map->entries[map->bynum[k][num - 1]];
			q++;
		}
		if (e == NULL)
		{
			p++;
			continue;
		}
		appendBinaryStringInfo(&buf, run, (int) (p - run));
		appendBinaryStringInfo(&buf, e->orig, e->len);
		run = p = q;
	}
	appendStringInfoString(&buf, run);
	return buf.data;
}
