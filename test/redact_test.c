/*
 * redact_test.c — standalone test of the PII redactor (src/governance/redact.c and
 * src/governance/redact_scan.c; no server needed).
 *
 * Includes redact_scan.c and redact.c directly.  palloc, pstrdup, repalloc
 * and StringInfo come from PostgreSQL's frontend libpgcommon.a and
 * libpgport.a, where palloc is malloc.  This file defines CurrentMemoryContext, which the
 * inline MemoryContextSwitchTo() uses.  Build and run: bash
 * test/redact_test.sh.
 */
#include "../src/governance/redact_scan.c"
#include "../src/governance/redact.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>

MemoryContext CurrentMemoryContext = NULL;

static int	failures = 0;
static int	checks = 0;
static double time_limit = 2.0;	/* seconds per long-input case */

#define FAIL(...) do { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } while (0)

/* redact text with a fresh map; compare with expected (NULL: unchanged) */
static void
expect_map(AigRedaction *map, const char *text, const char *expected, int line)
{
	int			count = -1;
	char	   *out;
	char	   *back;

	checks++;
	if (expected == NULL)
		expected = text;
	out = aig_redact(map, text, &count);
	if (strcmp(out, expected) != 0)
	{
		failures++;
		fprintf(stderr, "FAIL line %d:\n  input:    \"%s\"\n  expected: \"%s\"\n  got:      \"%s\"\n",
				line, text, expected, out);
		return;
	}
	/* every placeholder here was produced by this map: round trip */
	back = aig_unredact(map, out);
	if (strchr(text, '[') == NULL && strcmp(back, text) != 0)
	{
		failures++;
		fprintf(stderr, "FAIL line %d: unredact(\"%s\") gave \"%s\", want \"%s\"\n",
				line, out, back, text);
	}
	pfree(out);
	pfree(back);
}

static void
expect_at(const char *text, const char *expected, int line)
{
	expect_map(aig_redaction_new(), text, expected, line);
}

#define EXPECT(text, expected) expect_at((text), (expected), __LINE__)
#define UNCHANGED(text) expect_at((text), NULL, __LINE__)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ per kind */

static void
test_email(void)
{
	EXPECT("mail john.doe@example.com now", "mail [EMAIL_1] now");
	EXPECT("john_doe+tag@mail.example.co.uk.", "[EMAIL_1].");
	EXPECT("<Jane.O-Neil%x@sub-domain.Example.ORG>", "<[EMAIL_1]>");
	EXPECT("mailto:a@b.io, c@d.de", "mailto:[EMAIL_1], [EMAIL_2]");
	EXPECT("...dots@lead.com", "...[EMAIL_1]");
	EXPECT("x@mail.example.com.123", "[EMAIL_1].123");
	EXPECT("4111111111111111@example.com", "[EMAIL_1]");
	EXPECT("user@192.168.1.1", "user@[IP_1]");
	EXPECT("caf\xc3\xa9 bob@example.fr", "caf\xc3\xa9 [EMAIL_1]");
	UNCHANGED("foo@bar");
	UNCHANGED("write to foo@bar without a TLD");
	UNCHANGED("foo@bar.c");
	UNCHANGED("foo@bar.123");
	UNCHANGED("foo@bar.com_x");
	UNCHANGED("foo@-bar.com");
	UNCHANGED("foo@bar-.com");
	UNCHANGED("foo.@bar.com");
	UNCHANGED("@example.com");
	UNCHANGED("a@.com");
	UNCHANGED("twitter @handle and user@ home");
	UNCHANGED("decorators: @app.route('/x')");
}

static void
test_phone(void)
{
	EXPECT("+1 (415) 555-0132", "[PHONE_1]");
	EXPECT("call +44 20 7946 0958.", "call [PHONE_1].");
	EXPECT("+33 1 23 45 67 89", "[PHONE_1]");
	EXPECT("tel:+14155550132", "tel:[PHONE_1]");
	EXPECT("+44 (0) 20 7946 0958", "[PHONE_1]");
	EXPECT("+1.415.555.0132", "[PHONE_1]");
	EXPECT("+49-30-1234567", "[PHONE_1]");
	EXPECT("+49 1512 3456 7890", "[PHONE_1]");
	EXPECT("(415) 555-0132", "[PHONE_1]");
	EXPECT("(415)555-0132", "[PHONE_1]");
	EXPECT("415-555-0132", "[PHONE_1]");
	EXPECT("415.555.0132", "[PHONE_1]");
	EXPECT("1-800-555-0199", "[PHONE_1]");
	EXPECT("call 415-555-0132, or 415-555-0133", "call [PHONE_1], or [PHONE_2]");
	EXPECT("\xe7\x94\xb5\xe8\xaf\x9d\xef\xbc\x9a" "415-555-0132",
		   "\xe7\x94\xb5\xe8\xaf\x9d\xef\xbc\x9a" "[PHONE_1]");
	UNCHANGED("order 4155550132 shipped");
	UNCHANGED("on 2024-01-15 at noon");
	UNCHANGED("dates 2024-01-15/2024-02-01");
	UNCHANGED("+3.14159265");
	UNCHANGED("+12.345.678");
	UNCHANGED("+1234567");
	UNCHANGED("+0 123 456 789");
	UNCHANGED("x+14155550132");
	UNCHANGED("2+14155550132");
	UNCHANGED("123-456-7890");
	UNCHANGED("415-055-0132");
	UNCHANGED("415-555.0132");
	UNCHANGED("ref 415-555-0132-7");
	UNCHANGED("v415.555.0132");
	UNCHANGED("3.415.555.0132");
	UNCHANGED("call 555-0132 maybe");
	UNCHANGED("+1 (415 555 0132");
	UNCHANGED("ISBN 978-3-16-148410-0");
	UNCHANGED("+1234567890123456");
}

static void
test_card(void)
{
	EXPECT("4111 1111 1111 1111", "[CARD_1]");
	EXPECT("card: 4111-1111-1111-1111.", "card: [CARD_1].");
	EXPECT("4111111111111111", "[CARD_1]");
	EXPECT("5555555555554444", "[CARD_1]");
	EXPECT("amex 378282246310005 ok", "amex [CARD_1] ok");
	EXPECT("amex 3782 822463 10005", "amex [CARD_1]");
	EXPECT("visa13 4222222222222", "visa13 [CARD_1]");
	EXPECT("19: 6011 0009 9013 9424 (discover)", "19: [CARD_1] (discover)");
	EXPECT("4111 1111 1111 1111 2024", "[CARD_1] 2024");
	EXPECT("4111111111111111 and 4111 1111 1111 1111",
		   "[CARD_1] and [CARD_2]");
	UNCHANGED("4111 1111 1111 1112");	/* Luhn fails */
	UNCHANGED("4111111111111112");
	UNCHANGED("1234567812345670");	/* Luhn ok, but no card starts with 1 */
	UNCHANGED("0000 0000 0000 0000");
	UNCHANGED("4111-1111 1111-1111");	/* mixed separators */
	UNCHANGED("4111  1111  1111  1111");	/* double spaces */
	UNCHANGED("41111111111111111111");	/* 20 digits */
	UNCHANGED("4111-1111-1111-1111-2");
	UNCHANGED("x4111111111111111");
	UNCHANGED("3.4111111111111111");
	UNCHANGED("4111111111111111.5");
	UNCHANGED("41 11 11 11 11 11 11 11");
}

static void
test_iban(void)
{
	EXPECT("DE89 3704 0044 0532 0130 00", "[IBAN_1]");
	EXPECT("IBAN: DE89 3704 0044 0532 0130 00 is mine", "IBAN: [IBAN_1] is mine");
	EXPECT("GB82WEST12345698765432", "[IBAN_1]");
	EXPECT("gb82west12345698765432", "[IBAN_1]");
	EXPECT("GB82 WEST 1234 5698 7654 32.", "[IBAN_1].");
	EXPECT("FR14 2004 1010 0505 0001 3M02 606", "[IBAN_1]");
	EXPECT("NO9386011117947", "[IBAN_1]");
	EXPECT("DE89370400440532013000 and DE89 3704 0044 0532 0130 00",
		   "[IBAN_1] and [IBAN_2]");
	EXPECT("DE89 3704 0044 0532 0130 00 1234 5678", "[IBAN_1] 1234 5678");
	UNCHANGED("DE88 3704 0044 0532 0130 00");	/* bad checksum */
	UNCHANGED("DE88370400440532013000");
	UNCHANGED("GB82WEST12345698765433");
	UNCHANGED("XGB82WEST12345698765432");
	UNCHANGED("GB82WEST12345698765432X9");
	UNCHANGED("DE89 3704 0044");	/* too short */
	UNCHANGED("DE89  3704 0044 0532 0130 00");	/* double space */
	UNCHANGED("AB12 this that with from over");
}

static void
test_ip(void)
{
	EXPECT("host 10.0.0.1 up", "host [IP_1] up");
	EXPECT("192.168.1.254:8080", "[IP_1]:8080");
	EXPECT("net 10.0.0.0/8.", "net [IP_1]/8.");
	EXPECT("255.255.255.255", "[IP_1]");
	EXPECT("0.0.0.0", "[IP_1]");
	EXPECT("2001:db8::8a2e:370:7334", "[IP_1]");
	EXPECT("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[IP_1]");
	EXPECT("2001:DB8:0:0:8:800:200C:417A", "[IP_1]");
	EXPECT("ping ::1 now", "ping [IP_1] now");
	EXPECT("fe80::1%eth0", "[IP_1]%eth0");
	EXPECT("[2001:db8::1]:443", "[[IP_1]]:443");
	EXPECT("::ffff:192.0.2.128", "[IP_1]");
	EXPECT("1:2:3:4:5:6:7:8", "[IP_1]");
	UNCHANGED("999.1.1.1");
	UNCHANGED("256.1.1.1");
	UNCHANGED("version 1.2.3.4.5");
	UNCHANGED("1.2.3");
	UNCHANGED("v1.2.3.4");
	UNCHANGED("1.2.3.4a");
	UNCHANGED("1.2.3.1234");
	UNCHANGED("at 12:30:45 sharp");
	UNCHANGED("12:30");
	UNCHANGED("a::b");
	UNCHANGED("std::vector<int> v; Abc::Def(); Foo::bar");
	UNCHANGED("mac 00:1a:2b:3c:4d:5e");
	UNCHANGED("1:2:3:4:5:6:7");
	UNCHANGED("1:2:3:4:5:6:7:8:9");
	UNCHANGED("1::2::3");
	UNCHANGED("Ab12::cD34");
	UNCHANGED("12345::1");
	UNCHANGED(":::");
	UNCHANGED("x::1");
}

static void
test_ssn(void)
{
	EXPECT("SSN 123-45-6789.", "SSN [SSN_1].");
	EXPECT("078-05-1120", "[SSN_1]");
	UNCHANGED("000-12-3456");
	UNCHANGED("666-12-3456");
	UNCHANGED("900-12-3456");
	UNCHANGED("999-12-3456");
	UNCHANGED("123-00-4567");
	UNCHANGED("123-45-0000");
	UNCHANGED("123 45 6789");
	UNCHANGED("123-45-67890");
	UNCHANGED("1123-45-6789");
	UNCHANGED("123-45-6789-1");
	UNCHANGED("a123-45-6789");
}

/* ---------------------------------------------------------- combined */

static void
test_mixed(void)
{
	const char *in =
		"Contact Jane at jane@corp.example.com, +1 (415) 555-0132 or 10.1.2.3; "
		"card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, "
		"SSN 123-45-6789, office 415-555-0133. Again: jane@corp.example.com "
		"and 4111111111111111 from fe80::1.";
	const char *want =
		"Contact Jane at [EMAIL_1], [PHONE_1] or [IP_1]; "
		"card [CARD_1], IBAN [IBAN_1], "
		"SSN [SSN_1], office [PHONE_2]. Again: [EMAIL_1] "
		"and [CARD_2] from [IP_2].";
	AigRedaction *map = aig_redaction_new();
	int			count = -1;
	char	   *out = aig_redact(map, in, &count);
	char	   *back;

	checks++;
	if (strcmp(out, want) != 0)
		FAIL("mixed:\n  got:  %s\n  want: %s", out, want);
	if (count != 10)
		FAIL("mixed: count %d, want 10", count);
	back = aig_unredact(map, out);
	if (strcmp(back, in) != 0)
		FAIL("mixed roundtrip: %s", back);

	/* ordinary prose and numbers: nothing to redact */
	out = aig_redact(map, "Version 1.2.3.4.5 released 2024-01-15 at 12:30:45; "
					 "order 4155550132, pi 3.14159, total $1,234.56, "
					 "see RFC 5321 section 4.5.3.1.1 and std::map<a, b>; "
					 "ratio 16:9, build 20240115123456, room +5.",
					 &count);
	checks++;
	if (count != 0)
		FAIL("prose: %d replacements: %s", count, out);
}

static void
test_numbering(void)
{
	AigRedaction *map = aig_redaction_new();
	int			count = -1;
	char	   *out;

	out = aig_redact(map, "a@x.com and a@x.com and b@x.com", &count);
	checks++;
	if (strcmp(out, "[EMAIL_1] and [EMAIL_1] and [EMAIL_2]") != 0 || count != 3)
		FAIL("same email twice: %s (%d)", out, count);

	/* a second message of the same call continues the numbering */
	out = aig_redact(map, "from b@x.com to c@x.com, ip 10.0.0.1", &count);
	checks++;
	if (strcmp(out, "from [EMAIL_2] to [EMAIL_3], ip [IP_1]") != 0 || count != 3)
		FAIL("shared numbering: %s (%d)", out, count);

	/* the reply may quote placeholders in any order */
	out = aig_unredact(map, "[EMAIL_3] wrote to [EMAIL_1] from [IP_1]");
	checks++;
	if (strcmp(out, "c@x.com wrote to a@x.com from 10.0.0.1") != 0)
		FAIL("unredact: %s", out);

	/* unknown or malformed placeholders stay */
	out = aig_unredact(map, "[EMAIL_4] [EMAIL_0] [EMAIL_01] [EMAIL_1 [email_1] "
					   "[FOO_1] [IP_2] [EMAIL_] [EMAIL_-1] [EMAIL_99999999999] "
					   "[[EMAIL_2]] [EMAIL_1][IP_1] [");
	checks++;
	if (strcmp(out, "[EMAIL_4] [EMAIL_0] [EMAIL_01] [EMAIL_1 [email_1] "
			   "[FOO_1] [IP_2] [EMAIL_] [EMAIL_-1] [EMAIL_99999999999] "
			   "[b@x.com] a@x.com10.0.0.1 [") != 0)
		FAIL("unredact unknown: %s", out);

	/* other kinds keep their own counters */
	out = aig_redact(map, "SSN 123-45-6789 and card 4111111111111111", &count);
	checks++;
	if (strcmp(out, "SSN [SSN_1] and card [CARD_1]") != 0 || count != 2)
		FAIL("per-kind numbering: %s", out);

	/* the same text as different kinds would get different numbers, and
	 * the same bytes always the same placeholder */
	out = aig_redact(map, "4111111111111111", &count);
	checks++;
	if (strcmp(out, "[CARD_1]") != 0)
		FAIL("repeat card: %s", out);

	/* a fresh map knows nothing */
	out = aig_unredact(aig_redaction_new(), "[EMAIL_1]");
	checks++;
	if (strcmp(out, "[EMAIL_1]") != 0)
		FAIL("empty map unredact: %s", out);
}

static void
test_edges(void)
{
	int			count = -1;
	char	   *out;

	out = aig_redact(aig_redaction_new(), "", &count);
	checks++;
	if (strcmp(out, "") != 0 || count != 0)
		FAIL("empty string");
	out = aig_redact(aig_redaction_new(), NULL, &count);
	checks++;
	if (strcmp(out, "") != 0 || count != 0)
		FAIL("NULL text");
	out = aig_redact(NULL, "x a@b.co", NULL);
	checks++;
	if (strcmp(out, "x [EMAIL_1]") != 0)
		FAIL("NULL map: %s", out);
	out = aig_unredact(NULL, "[EMAIL_1]");
	checks++;
	if (strcmp(out, "[EMAIL_1]") != 0)
		FAIL("NULL map unredact");
	out = aig_unredact(aig_redaction_new(), NULL);
	checks++;
	if (strcmp(out, "") != 0)
		FAIL("NULL text unredact");

	/* matches at the very start and end, and truncated forms at the end */
	EXPECT("a@b.co", "[EMAIL_1]");
	EXPECT("10.0.0.1", "[IP_1]");
	UNCHANGED("a@b.c");
	UNCHANGED("a@");
	UNCHANGED("+");
	UNCHANGED("+1 (");
	UNCHANGED("(415) 555-013");
	UNCHANGED("415-555-013");
	UNCHANGED("123-45-678");
	UNCHANGED("DE89 ");
	UNCHANGED("4111 ");
	UNCHANGED("1.2.3.");
	UNCHANGED("fe80:");
	UNCHANGED("::");
	UNCHANGED("[");
	UNCHANGED("@");
	UNCHANGED("a placeholder-looking [EMAIL_1] stays");
}

/* ------------------------------------------------------- long inputs */

static char *
repeat(const char *unit, size_t total)
{
	size_t		ul = strlen(unit);
	char	   *s = malloc(total + 1);
	size_t		i;

	for (i = 0; i < total; i++)
		s[i] = unit[i % ul];
	s[total] = '\0';
	return s;
}

static void
timed(const char *name, const char *text, int min_count, int max_count)
{
	double		t0 = now();
	int			count = -1;
	AigRedaction *map = aig_redaction_new();
	char	   *out = aig_redact(map, text, &count);
	char	   *back = aig_unredact(map, out);
	double		dt = now() - t0;

	checks++;
	if (dt > time_limit)
		FAIL("%s: %.3f s (limit %.1f)", name, dt, time_limit);
	if (count < min_count || count > max_count)
		FAIL("%s: count %d not in [%d, %d]", name, count, min_count, max_count);
	if (strchr(text, '[') == NULL && strcmp(back, text) != 0)
		FAIL("%s: roundtrip differs", name);
	printf("  %-34s %8zu bytes  %7d matches  %.3f s\n", name, strlen(text), count, dt);
	pfree(out);
	pfree(back);
}

static void
test_long(void)
{
	const size_t MB = 1024 * 1024;
	static const char *const units[][2] = {
		{"digits+separators", NULL},
		{"1 ", "0"}, {"1-", "0"}, {"1.", "0"}, {"1:", "0"}, {"12:", "0"},
		{"1111 ", "0"}, {"4111 1111 1111 1111 ", "1"},
		{"4111-1111-1111-1111-", "0"},
		{"4111111111111111 ", "1"}, {"a@", "0"}, {"a@b.", "0"}, {"a.", "0"},
		{"+1 ", "0"}, {"+(1) ", "0"}, {"(415) ", "0"}, {"415-555-", "0"},
		{"::", "0"}, {"1::", "0"}, {"ab12:", "0"}, {"DE89 ", "0"},
		{"DE89 3704 ", "0"}, {"10.0.0.", "0"}, {"123-45-", "0"},
		{"[EMAIL_1", "0"}, {"[", "0"}, {"@", "0"}, {"a", "0"},
	};
	size_t		i;
	char	   *s;
	StringInfoData buf;

	/* 1 MB of random digits and separators */
	srand(12345);
	s = malloc(MB + 1);
	for (i = 0; i < MB; i++)
	{
		static const char alpha[] = "0123456789 -.()+:/";

		s[i] = alpha[rand() % (sizeof(alpha) - 1)];
	}
	s[MB] = '\0';
	timed("random digits and separators", s, 0, INT_MAX);
	free(s);

	for (i = 1; i < lengthof(units); i++)
	{
		char		name[64];

		s = repeat(units[i][0], MB);
		snprintf(name, sizeof(name), "repeat \"%s\"", units[i][0]);
		timed(name, s, units[i][1][0] == '0' ? 0 : 1,
			  units[i][1][0] == '0' ? 0 : INT_MAX);
		free(s);
	}

	/* a 1 MB local part before the '@': too long to be an address */
	s = repeat("a", MB);
	memcpy(s + MB - 10, "@mail.com", 9);
	timed("1 MB local part", s, 0, 0);
	free(s);

	/* a 1 MB domain */
	s = repeat("ab.", MB);
	s[1] = '@';
	s[2] = 'x';
	timed("1 MB domain", s, 1, 1);
	free(s);

	/* 1 MB digits without separators */
	s = repeat("4", MB);
	timed("1 MB of one digit run", s, 0, 0);
	free(s);

	/* many distinct values: exercises the map's hash table */
	initStringInfo(&buf);
	for (i = 0; buf.len < (int) (2 * MB); i++)
		appendStringInfo(&buf, "user%zu@example.com 10.%zu.%zu.%zu ",
						 i, (i >> 16) & 255, (i >> 8) & 255, i & 255);
	timed("distinct emails and IPs (2 MB)", buf.data, (int) (2 * i), (int) (2 * i));

	/* unredact of many placeholders */
	{
		AigRedaction *map = aig_redaction_new();
		int			count;
		char	   *out = aig_redact(map, buf.data, &count);
		double		t0 = now();
		char	   *back = aig_unredact(map, out);

		checks++;
		if (strcmp(back, buf.data) != 0)
			FAIL("long unredact roundtrip");
		if (now() - t0 > time_limit)
			FAIL("long unredact slow");
	}
}

/* ------------------------------------------------------- random bytes */

static void
test_random(int rounds)
{
	static const char *const frags[] = {
		"@", ".", "-", "+", "(", ")", " ", ":", "::", "[", "]", "_",
		"4111", "1111", "0132", "415", "555", "10", "255", "1", "0",
		"example", "com", "DE89", "3704", "GB82", "WEST", "fe80", "ab",
		"[EMAIL_1]", "[IP_", "\xc3\xa9", "\xff", "\x80", "\n",
	};
	int			r;
	unsigned int seed = 4242;

	for (r = 0; r < rounds; r++)
	{
		size_t		cap = 1 + (size_t) (rand_r(&seed) % 600);
		char	   *tmp = malloc(cap + 64);
		char	   *s;
		size_t		len = 0;
		bool		bytes = (r & 1) == 0;
		AigRedaction *map;
		int			count;
		char	   *out;
		char	   *back;
		bool		has_bracket;

		while (len < cap)
		{
			if (bytes)
			{
				int			b = rand_r(&seed) % 255 + 1;	/* no NUL inside */

				tmp[len++] = (char) b;
			}
			else
			{
				const char *f = frags[rand_r(&seed) % lengthof(frags)];
				size_t		fl = strlen(f);

				memcpy(tmp + len, f, fl);
				len += fl;
			}
		}
		/* exact-size copy, so that sanitizers catch any read past the NUL */
		s = malloc(len + 1);
		memcpy(s, tmp, len);
		s[len] = '\0';
		free(tmp);

		has_bracket = strchr(s, '[') != NULL;
		map = aig_redaction_new();
		out = aig_redact(map, s, &count);
		back = aig_unredact(map, out);
		if (!has_bracket && strcmp(back, s) != 0)
		{
			FAIL("random round %d: roundtrip differs", r);
			break;
		}
		if (!has_bracket)
		{
			/* each replacement put exactly one '[' */
			int			nb = 0;
			const char *p;

			for (p = out; (p = strchr(p, '[')) != NULL; p++)
				nb++;
			if (nb != count)
			{
				FAIL("random round %d: count %d but %d placeholders", r, count, nb);
				break;
			}
		}
		/* redacting the redacted text again finds nothing new */
		{
			int			count2;
			char	   *again = aig_redact(map, out, &count2);

			if (!has_bracket && strcmp(again, out) != 0 && count2 > 0)
			{
				/* a placeholder may create a new boundary; that is fine,
				 * but the result must still be a valid string */
				if (strlen(again) == 0 && strlen(out) != 0)
					FAIL("random round %d: second pass emptied text", r);
			}
			pfree(again);
		}
		pfree(out);
		pfree(back);
		free(s);
	}
	checks++;
}

int
main(int argc, char **argv)
{
	int			rounds = 20000;
	const char *env = getenv("REDACT_TEST_TIME_LIMIT");

	if (env)
		time_limit = atof(env);
	if (getenv("REDACT_TEST_ROUNDS"))
		rounds = atoi(getenv("REDACT_TEST_ROUNDS"));

	test_email();
	test_phone();
	test_card();
	test_iban();
	test_ip();
	test_ssn();
	test_mixed();
	test_numbering();
	test_edges();
	printf("long inputs:\n");
	test_long();
	test_random(rounds);

	printf("%d checks, %d failures\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
