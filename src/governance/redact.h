/*
 * redact.h — finding and replacing personal data in prompts
 *
 * aig_redact() finds these kinds of personal data and replaces each one with a
 * placeholder "[KIND_n]".  Each kind is numbered separately, from 1, per map:
 *
 *   EMAIL  local@domain.tld.  The local part is [A-Za-z0-9._%+-] plus '_',
 *          1-64 characters, leading dots dropped, not ending in '.'.  The
 *          domain is [A-Za-z0-9-] labels (no leading or trailing '-', at most
 *          63 characters each, 253 in all) joined by single dots.  The last
 *          label is a TLD of at least 2 letters only.  "foo@bar" has no TLD
 *          and is not matched.
 *   IBAN   2 letters, 2 check digits (02-98), then 11-30 letters and digits,
 *          15-34 characters in all.  It may be written as one token, or in
 *          groups of 4 split by single spaces ("DE89 3704 0044 0532 0130 00").
 *          Letters may be in either case.  The ISO 7064 mod-97 check must
 *          give 1, and the account part must hold at least 7 digits.  For
 *          grouped input, the longest run of groups that passes is taken.
 *   CARD   13-19 digits that pass the Luhn check and start with 2-6 (the
 *          ranges of the major networks).  A card is either one run of
 *          digits or groups split by one kind of separator (single spaces or
 *          single hyphens).  The first group has 4 digits and the others 1-7
 *          ("4111 1111 1111 1111", "3782-822463-10005").  It is not matched
 *          when a '+' comes just before the number (a phone number's country
 *          code).
 *   SSN    ddd-dd-dddd with hyphens only.  Area 000, 666 and 900-999, group
 *          00 and serial 0000 are not matched.
 *   IP     IPv4: four dotted decimal octets, each 0-255 with 1-3 digits,
 *          not part of a longer dotted number ("1.2.3.4.5", "999.1.1.1" and
 *          "x.1.2.3.4" are not matched).  A ":port" or "/prefix" after it
 *          stays outside the match.
 *          IPv6: groups of 1-4 hex digits with at most one "::", which must
 *          give exactly 8 groups (or fewer with "::"), optionally ending in an
 *          IPv4 quad.  It needs at least 2 colons, at least one decimal digit,
 *          and at least one hex letter, a "::" or 6 groups or more.  Hex
 *          letters must be all one case.  So times such as 12:30:45, C++
 *          scopes such as "Abc::Def" and MAC addresses are not matched.
 *   PHONE  International: '+' (not after a letter or digit), a country code
 *          that does not start with 0, and 8-15 digits in all.  Groups may
 *          be split by one of ' ', '.', '-', optionally with parentheses
 *          around one group: "+1 (415) 555-0132", "+44 (0) 20 7946 0958",
 *          "+33 1 23 45 67 89", "+14155550132".  A single '.' is not
 *          enough, since "+3.14159265" looks like a number.  Neither is
 *          '.' between groups of exactly 3 digits after the first
 *          ("+12.345.678", a number with thousands separators).
 *          North American: (NXX) NXX-XXXX, (NXX) NXX.XXXX, NXX-NXX-XXXX,
 *          NXX.NXX.XXXX (the same separator twice), where N is 2-9.  A trunk
 *          "1" may come first, followed by ' ', '-' or '.' ("1-800-555-0199").
 *          Digits with no separators at all ("4155550132", which may be an
 *          order number) are not matched, and neither are dates
 *          ("2024-01-15"), versions or decimals.
 *
 * Boundaries: a match never starts or ends inside a longer word.  The
 * characters just before and after a match must not be ASCII letters, digits
 * or '_'.  Bytes >= 0x80 (UTF-8 text) count as boundaries.  For numeric kinds
 * (CARD, SSN, IP, PHONE), "<digit>." or "<digit>-" just before the match and
 * ".<digit>" or "-<digit>" just after it also stop a match, because the
 * digits then belong to a longer number (a date, version, decimal, range).
 *
 * Precedence: the kinds are searched in the order EMAIL, IBAN, CARD, SSN,
 * IP (IPv6, then IPv4), PHONE (international, then North American).  A match
 * that overlaps any text already taken by an earlier kind is dropped.  So
 * digits that form a valid card number (or IBAN, SSN or IP) are never taken
 * for a phone number, and digits inside an e-mail address are never matched
 * on their own.  There is one exception, made before precedence applies:
 * digits right after a '+' are a phone number's country code, so CARD does
 * not start there, and PHONE gets them.  Within one kind, matches are taken
 * left to right without overlap.
 *
 * Numbering: the same original text (same kind, same bytes) always gets the
 * same placeholder within one map, across all aig_redact() calls on that map.
 * So all the messages of one request share one set of numbers.  The map's
 * entries live in the memory context that was current at
 * aig_redaction_new(), so later calls may run in shorter-lived contexts.
 * Results are allocated in the context current at each call.
 *
 * Robustness: any NUL-terminated byte string is accepted (invalid UTF-8
 * included).  Nothing is read past the NUL, and the functions never ereport
 * except on out-of-memory.  Like any palloc'd string, the input and result
 * must stay under 1 GB.  Time is linear in the input length, since every
 * detector looks at a bounded window around each position.  The extra
 * memory is one byte per input byte, plus the map.
 */
#ifndef AIG_REDACT_H
#define AIG_REDACT_H

typedef struct AigRedaction AigRedaction;	/* opaque: the placeholder ->
											 * original map of one call */

/* New empty map in CurrentMemoryContext. */
extern AigRedaction *aig_redaction_new(void);

/*
 * Returns a palloc'd copy of text (UTF-8, NUL-terminated) with every PII
 * occurrence replaced by a placeholder like "[EMAIL_1]", "[PHONE_2]",
 * "[CARD_1]", "[IBAN_1]", "[IP_1]", "[SSN_1]".  The same original value gets
 * the same placeholder within one map (so several messages of one call share
 * numbering).  *count (may be NULL) gets the number replaced.  A NULL map
 * uses a throwaway map.  A NULL text gives "".
 */
extern char *aig_redact(AigRedaction *map, const char *text, int *count);

/*
 * Replaces placeholders of map found in text by their originals (for
 * "reversible" mode); palloc'd result.  Unknown placeholders are left as
 * they are.  A NULL map leaves the text unchanged.
 */
extern char *aig_unredact(const AigRedaction *map, const char *text);

#endif							/* AIG_REDACT_H */
