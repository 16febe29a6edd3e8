/*
 * redact_scan.c — the PII detectors of the redactor: which bytes of a text
 * are an email address, IBAN, card number, SSN, IP address or phone number
 * (see redact.h for what is matched, the precedence between kinds and the
 * boundaries).  redact.c turns the marks into placeholders.
 *
 * How it works: a byte array "mark", as long as the text, records which
 * bytes a match has taken (the first byte of a match holds its kind).  The
 * detectors run one after another in precedence order.  Each one walks the
 * text and tries a bounded parse at each possible start.  A match is kept
 * only if none of its bytes is marked yet.  Every parse looks at a bounded
 * window (at most a few hundred bytes), so the total time is linear.
 *
 * All byte reads go through at(), which returns 0 outside [0, len).  So the
 * parsers may look ahead and behind freely.  "pos - 1" at pos 0 wraps to
 * SIZE_MAX and also reads as 0.
 */
#include "postgres.h"

#include "governance/redact_scan.h"

typedef struct Scan
{
	const unsigned char *s;
	size_t		n;
	uint8	   *mark;
} Scan;

/* limits, all from the formats themselves */
#define EMAIL_LOCAL_MAX		64
#define EMAIL_DOMAIN_MAX	253
#define EMAIL_LABEL_MAX		63
#define IBAN_MAX			34
#define IBAN_MIN			15
#define CARD_MIN			13
#define CARD_MAX			19
#define PHONE_MIN			8
#define PHONE_MAX			15

/* ---------------------------------------------------------------- chars */

static inline int
at(const Scan *sc, size_t i)
{
	return i < sc->n ? sc->s[i] : 0;
}

static inline bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_alnum(int c)
{
	return is_digit(c) || is_alpha(c);
}

/* part of a "word": a match may not start or end next to one of these */
static inline bool
is_word(int c)
{
	return is_alnum(c) || c == '_';
}

static inline bool
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool
is_email_local(int c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static inline bool
is_label(int c)
{
	return is_alnum(c) || c == '-';
}

/*
 * Numeric kinds: the digits at pos must not continue a word, nor a longer
 * number through '.' or '-' (a decimal, version, date or range).
 */
static bool
num_left_ok(const Scan *sc, size_t pos)
{
	int			p = at(sc, pos - 1);

	if (is_word(p))
		return false;
	if ((p == '.' || p == '-') && is_digit(at(sc, pos - 2)))
		return false;
	return true;
}

static bool
num_right_ok(const Scan *sc, size_t end)
{
	int			c = at(sc, end);

	if (is_word(c))
		return false;
	if ((c == '.' || c == '-') && is_digit(at(sc, end + 1)))
		return false;
	return true;
}

/* is [pos, end) still entirely unmarked? */
static bool
span_free(const Scan *sc, size_t pos, size_t end)
{
	size_t		i;

	for (i = pos; i < end; i++)
		if (sc->mark[i] != 0)
			return false;
	return true;
}

static void
span_claim(Scan *sc, size_t pos, size_t end, int kind)
{
	size_t		i;

	sc->mark[pos] = (uint8) (MARK_START | kind);
	for (i = pos + 1; i < end; i++)
		sc->mark[i] = MARK_CONT;
}

/* --------------------------------------------------------------- EMAIL */

/*
 * Every '@' is looked at once: the local part is the run of local-part
 * characters just before it (at most 64 are read), the domain the labels just
 * after it (at most 253 bytes are read).
 */
static void
detect_emails(Scan *sc)
{
	size_t		a;

	for (a = 0; a < sc->n; a++)
	{
		size_t		st;
		size_t		p;
		size_t		best_end = 0;
		int			k = 0;
		int			nlabels = 0;

		if (sc->s[a] != '@')
			continue;

		/* local part */
		st = a;
		while (k <= EMAIL_LOCAL_MAX && is_email_local(at(sc, st - 1)))
		{
			st--;
			k++;
		}
		if (k > EMAIL_LOCAL_MAX)
			continue;
		while (st < a && sc->s[st] == '.')
			st++;
		if (st == a || sc->s[a - 1] == '.')
			continue;

		/* domain: labels joined by single dots; remember the last TLD */
		p = a + 1;
		for (;;)
		{
			size_t		ls = p;
			bool		letters_only = true;

			while (is_label(at(sc, p)) && p - (a + 1) <= EMAIL_DOMAIN_MAX)
			{
				if (!is_alpha(sc->s[p]))
					letters_only = false;
				p++;
			}
			if (p == ls || p - (a + 1) > EMAIL_DOMAIN_MAX ||
				p - ls > EMAIL_LABEL_MAX ||
				sc->s[ls] == '-' || sc->s[p - 1] == '-')
				break;
			if (nlabels >= 1 && letters_only && p - ls >= 2)
				best_end = p;
			nlabels++;
			if (at(sc, p) == '.' && is_label(at(sc, p + 1)))
				p++;
			else
				break;
		}
		if (best_end == 0 || is_word(at(sc, best_end)))
			continue;
		if (span_free(sc, st, best_end))
			span_claim(sc, st, best_end, PII_EMAIL);
	}
}

/* ---------------------------------------------------------------- IBAN */

static bool
iban_valid(const char *buf, int nb)
{
	int			r = 0;
	int			digits = 0;
	int			i;

	for (i = 4; i < nb; i++)
		if (is_digit(buf[i]))
			digits++;
	if (digits < 7)
		return false;
	/* mod 97 of BBAN + country + check digits, letters as 10..35 */
	for (i = 0; i < nb; i++)
	{
		int			c = buf[(i + 4) % nb];

		if (is_digit(c))
			r = (r * 10 + (c - '0')) % 97;
		else
			r = (r * 100 + (c - 'A' + 10)) % 97;
	}
	return r == 1;
}

static inline char
upper(int c)
{
	return (char) ((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
}

static size_t
match_iban(const Scan *sc, size_t pos)
{
	char		buf[IBAN_MAX];
	int			nb;
	int			cd;
	size_t		p;
	int			i;

	if (!is_alpha(at(sc, pos)) || !is_alpha(at(sc, pos + 1)) ||
		!is_digit(at(sc, pos + 2)) || !is_digit(at(sc, pos + 3)) ||
		is_word(at(sc, pos - 1)))
		return 0;
	cd = (at(sc, pos + 2) - '0') * 10 + (at(sc, pos + 3) - '0');
	if (cd < 2 || cd > 98)
		return 0;
	for (i = 0; i < 4; i++)
		buf[i] = upper(at(sc, pos + i));
	nb = 4;
	p = pos + 4;

	if (is_alnum(at(sc, p)))
	{
		/* one token */
		while (is_alnum(at(sc, p)))
		{
			if (nb == IBAN_MAX)
				return 0;
			buf[nb++] = upper(at(sc, p));
			p++;
		}
		if (nb < IBAN_MIN || is_word(at(sc, p)))
			return 0;
		return iban_valid(buf, nb) ? p - pos : 0;
	}
	else if (at(sc, p) == ' ')
	{
		/* groups of 4 after single spaces; the last one may be shorter */
		size_t		ends[IBAN_MAX / 4 + 2];
		int			lens[IBAN_MAX / 4 + 2];
		int			ncand = 0;

		while (at(sc, p) == ' ' && is_alnum(at(sc, p + 1)))
		{
			size_t		q = p + 1;
			int			g = 0;

			while (g < 5 && is_alnum(at(sc, q)))
			{
				g++;
				q++;
			}
			if (g > 4 || nb + g > IBAN_MAX || is_word(at(sc, q)))
				break;
			for (i = 0; i < g; i++)
				buf[nb++] = upper(at(sc, p + 1 + i));
			p = q;
			ends[ncand] = p;
			lens[ncand] = nb;
			ncand++;
			if (g < 4)
				break;
		}
		while (ncand-- > 0)
		{
			if (lens[ncand] >= IBAN_MIN && iban_valid(buf, lens[ncand]))
				return ends[ncand] - pos;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- CARD */

static bool
luhn_ok(const char *d, int nd)
{
	int			sum = 0;
	int			i;

	for (i = 0; i < nd; i++)
	{
		int			v = d[nd - 1 - i] - '0';

		if (i & 1)
		{
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/* a '+' shortly before, with only phone punctuation between: a phone */
static bool
plus_before(const Scan *sc, size_t pos)
{
	int			k;

	for (k = 1; k <= 6; k++)
	{
		int			c = at(sc, pos - k);

		if (c == '+')
			return true;
		if (!(is_digit(c) || c == ' ' || c == '-' || c == '.' ||
			  c == '(' || c == ')'))
			return false;
	}
	return false;
}

static size_t
match_card(const Scan *sc, size_t pos)
{
	char		digits[CARD_MAX];
	size_t		ends[CARD_MAX];
	int			lens[CARD_MAX];
	int			ncand = 0;
	int			nd = 0;
	int			run = 0;
	int			sep;
	int			c0 = at(sc, pos);
	size_t		p;

	if (c0 < '2' || c0 > '6' || !num_left_ok(sc, pos) || plus_before(sc, pos))
		return 0;
	while (run <= CARD_MAX && is_digit(at(sc, pos + run)))
		run++;
	if (run >= CARD_MIN)
	{
		/* one run of digits */
		if (run > CARD_MAX || !num_right_ok(sc, pos + run))
			return 0;
		for (nd = 0; nd < run; nd++)
			digits[nd] = (char) at(sc, pos + nd);
		return luhn_ok(digits, nd) ? (size_t) run : 0;
	}
	if (run != 4)
		return 0;
	sep = at(sc, pos + 4);
	if (sep != ' ' && sep != '-')
		return 0;
	for (nd = 0; nd < 4; nd++)
		digits[nd] = (char) at(sc, pos + nd);
	p = pos + 4;
	while (at(sc, p) == sep && is_digit(at(sc, p + 1)))
	{
		int			g = 0;
		int			i;

		while (g <= 7 && is_digit(at(sc, p + 1 + g)))
			g++;
		if (g > 7 || nd + g > CARD_MAX)
			break;
		for (i = 0; i < g; i++)
			digits[nd++] = (char) at(sc, p + 1 + i);
		p += 1 + g;
		ends[ncand] = p;
		lens[ncand] = nd;
		ncand++;
	}
	while (ncand-- > 0)
	{
		if (lens[ncand] >= CARD_MIN && num_right_ok(sc, ends[ncand]) &&
			luhn_ok(digits, lens[ncand]))
			return ends[ncand] - pos;
	}
	return 0;
}

/* ----------------------------------------------------------------- SSN */

static size_t
match_ssn(const Scan *sc, size_t pos)
{
	static const char shape[] = "ddd-dd-dddd";
	int			v[11];
	int			i;
	int			area;

	if (!num_left_ok(sc, pos))
		return 0;
	for (i = 0; i < 11; i++)
	{
		int			c = at(sc, pos + i);

		if (shape[i] == 'd' ? !is_digit(c) : c != '-')
			return 0;
		v[i] = c - '0';
	}
	if (!num_right_ok(sc, pos + 11))
		return 0;
	area = v[0] * 100 + v[1] * 10 + v[2];
	if (area == 0 || area == 666 || area >= 900)
		return 0;
	if (v[4] == 0 && v[5] == 0)
		return 0;
	if (v[7] == 0 && v[8] == 0 && v[9] == 0 && v[10] == 0)
		return 0;
	return 11;
}

/* ------------------------------------------------------------------ IP */

/* a dotted quad at pos (no boundary checks); its length or 0 */
static size_t
parse_ipv4(const Scan *sc, size_t pos)
{
	size_t		p = pos;
	int			k;

	for (k = 0; k < 4; k++)
	{
		int			val = 0;
		int			nd = 0;

		if (k > 0)
		{
			if (at(sc, p) != '.')
				return 0;
			p++;
		}
		while (nd < 3 && is_digit(at(sc, p)))
		{
			val = val * 10 + (at(sc, p) - '0');
			nd++;
			p++;
		}
		if (nd == 0 || is_digit(at(sc, p)) || val > 255)
			return 0;
	}
	return p - pos;
}

static size_t
match_ipv4(const Scan *sc, size_t pos)
{
	int			prev = at(sc, pos - 1);
	size_t		len;
	int			c;

	if (!is_digit(at(sc, pos)) || !num_left_ok(sc, pos) ||
		prev == '.' || prev == '+')
		return 0;
	len = parse_ipv4(sc, pos);
	if (len == 0)
		return 0;
	c = at(sc, pos + len);
	if (is_word(c) || (c == '.' && is_alnum(at(sc, pos + len + 1))) ||
		(c == '-' && is_digit(at(sc, pos + len + 1))))
		return 0;
	return len;
}

static size_t
match_ipv6(const Scan *sc, size_t pos)
{
	size_t		p = pos;
	int			groups = 0;		/* explicit groups, an IPv4 tail counts 2 */
	int			colons = 0;
	bool		compressed = false;
	bool		has_digit = false;
	bool		has_lower = false;
	bool		has_upper = false;
	int			prev = at(sc, pos - 1);
	int			c;

	if (is_word(prev) || prev == ':' || prev == '.')
		return 0;
	if (at(sc, p) == ':')
	{
		if (at(sc, p + 1) != ':' || !is_hex(at(sc, p + 2)))
			return 0;
		compressed = true;
		colons = 2;
		p += 2;
	}
	else if (!is_hex(at(sc, p)))
		return 0;

	for (;;)
	{
		int			g = 0;
		bool		all_dec = true;
		size_t		l4;
		int			i;

		while (g < 5 && is_hex(at(sc, p + g)))
		{
			if (!is_digit(at(sc, p + g)))
				all_dec = false;
			g++;
		}
		if (g == 0 || g > 4)
			return 0;
		if (all_dec && at(sc, p + g) == '.' && (l4 = parse_ipv4(sc, p)) != 0)
		{
			/* IPv4 tail */
			p += l4;
			groups += 2;
			has_digit = true;
			break;
		}
		for (i = 0; i < g; i++)
		{
			c = at(sc, p + i);
			if (is_digit(c))
				has_digit = true;
			else if (c >= 'a')
				has_lower = true;
			else
				has_upper = true;
		}
		p += g;
		groups++;
		if (groups > 8)
			return 0;
		if (at(sc, p) != ':')
			break;
		if (at(sc, p + 1) == ':')
		{
			if (compressed)
				return 0;		/* a second "::" */
			compressed = true;
			colons += 2;
			p += 2;
			if (!is_hex(at(sc, p)))
				break;			/* trailing "::" */
		}
		else if (is_hex(at(sc, p + 1)))
		{
			colons++;
			p++;
		}
		else
			break;				/* a lone ':' after the address */
	}

	if (compressed ? groups > 7 : groups != 8)
		return 0;
	if (colons < 2 || !has_digit || (has_lower && has_upper))
		return 0;
	if (!(has_lower || has_upper || compressed || groups >= 6))
		return 0;
	c = at(sc, p);
	if (is_word(c) || c == ':' || (c == '.' && is_alnum(at(sc, p + 1))))
		return 0;
	return p - pos;
}

/* --------------------------------------------------------------- PHONE */

static size_t
match_phone_intl(const Scan *sc, size_t pos)
{
	size_t		p = pos + 1;
	bool		open = false;
	int			nd = 0;
	int			ngroups = 0;
	int			ndots = 0;
	int			nothersep = 0;
	bool		rest_are_3 = true;
	int			c;

	if (at(sc, pos) != '+' || is_word(at(sc, pos - 1)) || at(sc, pos - 1) == '+')
		return 0;
	if (at(sc, p) == '(')
	{
		open = true;
		p++;
	}
	if (!is_digit(at(sc, p)) || at(sc, p) == '0')
		return 0;

	for (;;)
	{
		int			g = 0;
		int			sep = 0;
		bool		op = open;
		size_t		q;

		while (is_digit(at(sc, p)))
		{
			g++;
			p++;
			if (++nd > PHONE_MAX)
				return 0;
		}
		if (ngroups > 0 && g != 3)
			rest_are_3 = false;
		ngroups++;

		/* separator: ") ", ")", " (", "(", or one of " .-" */
		q = p;
		c = at(sc, q);
		if (c == ')' && op)
		{
			q++;
			op = false;
			c = at(sc, q);
			if (c == ' ' || c == '-' || c == '.')
			{
				sep = c;
				q++;
			}
		}
		else if (c == ' ' || c == '-' || c == '.')
		{
			sep = c;
			q++;
			if (at(sc, q) == '(' && !op)
			{
				q++;
				op = true;
			}
		}
		else if (c == '(' && !op)
		{
			q++;
			op = true;
		}
		else
			break;
		if (!is_digit(at(sc, q)))
			break;				/* not followed by more digits: the end */
		open = op;
		p = q;
		if (sep == '.')
			ndots++;
		else if (sep != 0)
			nothersep++;
	}

	if (open || nd < PHONE_MIN)
		return 0;
	if (ndots == 1 || (ndots > 0 && nothersep == 0 && rest_are_3))
		return 0;
	c = at(sc, p);
	if (is_word(c) ||
		((c == '.' || c == '-' || c == ',') && is_digit(at(sc, p + 1))))
		return 0;
	return p - pos;
}

static bool
digits_at(const Scan *sc, size_t p, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (!is_digit(at(sc, p + i)))
			return false;
	return true;
}

/* (NXX) NXX-XXXX, (NXX)NXX.XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX at p; end or 0 */
static size_t
na_core(const Scan *sc, size_t p)
{
	size_t		area;
	size_t		exch;
	size_t		end;

	if (at(sc, p) == '(')
	{
		size_t		q;
		int			s;

		if (!digits_at(sc, p + 1, 3) || at(sc, p + 4) != ')')
			return 0;
		area = p + 1;
		q = p + 5;
		if (at(sc, q) == ' ')
			q++;
		s = at(sc, q + 3);
		if (!digits_at(sc, q, 3) || (s != '-' && s != '.') ||
			!digits_at(sc, q + 4, 4))
			return 0;
		exch = q;
		end = q + 8;
	}
	else
	{
		int			s = at(sc, p + 3);

		if (!digits_at(sc, p, 3) || (s != '-' && s != '.') ||
			!digits_at(sc, p + 4, 3) || at(sc, p + 7) != s ||
			!digits_at(sc, p + 8, 4))
			return 0;
		area = p;
		exch = p + 4;
		end = p + 12;
	}
	if (at(sc, area) < '2' || at(sc, exch) < '2' || !num_right_ok(sc, end))
		return 0;
	return end;
}

static size_t
match_phone_na(const Scan *sc, size_t pos)
{
	int			c = at(sc, pos);
	size_t		end;

	if (c == '(')
	{
		if (is_word(at(sc, pos - 1)))
			return 0;
	}
	else if (!is_digit(c) || !num_left_ok(sc, pos))
		return 0;

	/* trunk prefix "1 ", "1-", "1." */
	if (c == '1')
	{
		int			s = at(sc, pos + 1);

		if ((s == ' ' || s == '-' || s == '.') &&
			(at(sc, pos + 2) == '(' || is_digit(at(sc, pos + 2))) &&
			(end = na_core(sc, pos + 2)) != 0)
			return end - pos;
	}
	end = na_core(sc, pos);
	return end ? end - pos : 0;
}

/* -------------------------------------------------------------- driver */

typedef size_t (*match_fn) (const Scan *sc, size_t pos);

static void
detect(Scan *sc, match_fn fn, int kind)
{
	size_t		i = 0;

	while (i < sc->n)
	{
		size_t		len;

		if (sc->mark[i] == 0 && (len = fn(sc, i)) != 0 &&
			span_free(sc, i, i + len))
		{
			span_claim(sc, i, i + len, kind);
			i += len;
		}
		else
			i++;
	}
}

void
aig_pii_mark(const unsigned char *text, size_t len, uint8 *mark)
{
	Scan		sc;

	sc.s = text;
	sc.n = len;
	sc.mark = mark;
	/* precedence order, see redact.h */
	detect_emails(&sc);
	detect(&sc, match_iban, PII_IBAN);
	detect(&sc, match_card, PII_CARD);
	detect(&sc, match_ssn, PII_SSN);
	detect(&sc, match_ipv6, PII_IP);
	detect(&sc, match_ipv4, PII_IP);
	detect(&sc, match_phone_intl, PII_PHONE);
	detect(&sc, match_phone_na, PII_PHONE);
}
