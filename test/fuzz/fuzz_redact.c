/*
 * fuzz_redact.c — libFuzzer target for the PII redactor (src/governance/redact.c).
 *
 * The input is split at NUL bytes into up to 8 texts (the messages of one
 * request), redacted with one shared map, as the gateway does.  Besides
 * the sanitizers it asserts the contract of redact.h:
 *	- no ereport (fuzz_support.c aborts on one);
 *	- with no replacement the result is the text itself;
 *	- redacting the same text again with the same map gives the same
 *	  result and count (numbering is stable within a map);
 *	- for a text without '[', unredact gives back the original;
 *	- unredact of arbitrary text and redact with a NULL map return.
 * Slow inputs (redact.h promises linear time) are reported by libFuzzer's
 * -timeout.
 */
#include "postgres.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "governance/redact.h"
#include "fuzz_support.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	AigRedaction *map;
	char	   *buf;
	size_t		start = 0;
	int			ntexts = 0;

	/* the input and a NUL after it: texts are the NUL-separated parts */
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';

	map = aig_redaction_new();
	while (start <= size && ntexts < 8)
	{
		const char *text = buf + start;
		size_t		tlen = strlen(text);
		int			count = -1;
		int			count2 = -1;
		char	   *out;
		char	   *out2;
		char	   *back;

		out = aig_redact(map, text, &count);
		FUZZ_CHECK(out != NULL, "redact", "NULL result");
		FUZZ_CHECK(count >= 0, "redact: count", "negative");
		if (count == 0)
			FUZZ_CHECK(strcmp(out, text) == 0, "redact",
					   "text changed with no replacement");
		else
			FUZZ_CHECK(strchr(out, '[') != NULL, "redact",
					   "replacements but no placeholder");

		out2 = aig_redact(map, text, &count2);
		FUZZ_CHECK(count2 == count && strcmp(out2, out) == 0, "redact",
				   "a second pass with the same map differs");

		back = aig_unredact(map, out);
		if (strchr(text, '[') == NULL)
			FUZZ_CHECK(strcmp(back, text) == 0, "unredact",
					   "the round trip does not give the original");

		pfree(out);
		pfree(out2);
		pfree(back);
		pfree(aig_unredact(map, text));
		ntexts++;
		start += tlen + 1;
	}
	/* a throwaway map */
	pfree(aig_redact(NULL, buf, NULL));

	free(buf);
	fuzz_arena_reset();
	return 0;
}
