/*
 * redact_scan.h — between the redactor (redact.c) and its detectors
 * (redact_scan.c): the kinds of personal data and how a match is marked.
 */
#ifndef AIG_REDACT_SCAN_H
#define AIG_REDACT_SCAN_H

#include "postgres.h"

typedef enum AigPiiKind
{
	PII_EMAIL = 0,
	PII_PHONE,
	PII_CARD,
	PII_IBAN,
	PII_IP,
	PII_SSN,
	PII_NKINDS
} AigPiiKind;

#define MARK_START	0x80		/* first byte of a match; low bits = kind */
#define MARK_CONT	0x40		/* other bytes of a match */

/*
 * Mark the personal data in text[0..len): mark (len bytes, zeroed by the
 * caller) gets MARK_START | kind on the first byte of each match and
 * MARK_CONT on its other bytes.
 */
extern void aig_pii_mark(const unsigned char *text, size_t len, uint8 *mark);

#endif							/* AIG_REDACT_SCAN_H */
