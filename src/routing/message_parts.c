/*
 * message_parts.c — image and document content parts of chat messages:
 * the part shapes callers write (the gateway's {"type": "image", "data",
 * "media_type"} or {"type": "image", "url"}, OpenAI's image_url and file
 * parts, "document" for PDFs), checked and normalized into AigContentPart.
 *
 * Bytes arrive base64-encoded (ai_image() makes such a part from a bytea).
 * They are decoded once here: to check the encoding, to enforce
 * ai_gateway.max_image_kb, and to read the file's signature, so a part whose
 * bytes are not the image or PDF its media type says is refused before any
 * provider is paid to refuse it.
 */
#include "postgres.h"

#include "common/base64.h"
#include "mb/pg_wchar.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "base/compat.h"
#include "core/jsonb_util.h"
#include "routing/messages.h"

int			aig_max_image_kb = 20480;

/* The media types a part may have, and the signature each starts with. */
typedef struct MediaSig
{
	const char *media_type;
	AigPartKind kind;
	const char *magic;
	int			magic_len;
	int			offset;			/* where magic starts */
} MediaSig;

static const MediaSig media_sigs[] = {
	{"image/png", AIG_PART_IMAGE, "\x89PNG\r\n\x1a\n", 8, 0},
	{"image/jpeg", AIG_PART_IMAGE, "\xff\xd8\xff", 3, 0},
	{"image/gif", AIG_PART_IMAGE, "GIF8", 4, 0},
	{"image/webp", AIG_PART_IMAGE, "WEBP", 4, 8},	/* after "RIFF" + size */
	{"application/pdf", AIG_PART_DOCUMENT, "%PDF-", 5, 0},
};

/* Define ai_gateway.max_image_kb (called from _PG_init). */
void
aig_message_parts_define_gucs(void)
{
	DefineCustomIntVariable("ai_gateway.max_image_kb",
							"Largest image or document a chat message may carry, in kB (decoded).",
							"A provider's own lower limit applies too.",
							&aig_max_image_kb,
							20480, 1, 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
}

/* The media type of bytes by their signature, or NULL when none fits. */
const char *
aig_sniff_media_type(const unsigned char *bytes, size_t len)
{
	for (int i = 0; i < lengthof(media_sigs); i++)
	{
		const MediaSig *m = &media_sigs[i];

		if (len >= (size_t) (m->offset + m->magic_len) &&
			memcmp(bytes + m->offset, m->magic, m->magic_len) == 0 &&
			(m->offset == 0 || memcmp(bytes, "RIFF", 4) == 0))
			return m->media_type;
	}
	return NULL;
}

static const MediaSig *
media_sig(const char *media_type)
{
	for (int i = 0; i < lengthof(media_sigs); i++)
		if (pg_strcasecmp(media_sigs[i].media_type, media_type) == 0)
			return &media_sigs[i];
	return NULL;
}

/* 22023 naming the part. */
aig_noreturn static void
bad_part(int msg, int part, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("messages[%d].content[%d]: %s", msg, part, what),
			 hint ? errhint("%s", hint) : 0));
}

static char *
string_member(JsonbValue *obj, const char *name)
{
	JsonbValue *v = aig_jsonb_member(obj, name);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Check base64 bytes: the encoding, the size cap and the signature against
 * the media type (or take the type from the signature when none is given).
 */
static void
check_bytes(AigContentPart *p, int msg, int part)
{
	int			srclen = (int) strlen(p->data_b64);
	int			maxlen;
	int			n;
	char	   *raw;
	const char *sniffed;

	if (srclen == 0)
		bad_part(msg, part, "the data is empty", NULL);
	if ((size_t) srclen / 4 * 3 > (size_t) aig_max_image_kb * 1024 + 3)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("messages[%d].content[%d]: the %s is larger than ai_gateway.max_image_kb (%d kB)",
						msg, part, p->kind == AIG_PART_DOCUMENT ? "document" : "image",
						aig_max_image_kb),
				 errhint("Scale the image down, or ask an administrator to raise ai_gateway.max_image_kb.")));
	maxlen = pg_b64_dec_len(srclen);
	raw = palloc(maxlen + 1);
	n = aig_b64_decode(p->data_b64, srclen, raw, maxlen);
	if (n < 0)
		bad_part(msg, part, "the data is not valid base64",
				 "Give the bytes base64-encoded without line breaks, or use ai_image(bytea).");
	if ((size_t) n > (size_t) aig_max_image_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("messages[%d].content[%d]: the %s has %d bytes, more than ai_gateway.max_image_kb (%d kB)",
						msg, part, p->kind == AIG_PART_DOCUMENT ? "document" : "image",
						n, aig_max_image_kb),
				 errhint("Scale the image down, or ask an administrator to raise ai_gateway.max_image_kb.")));
	p->nbytes = n;
	sniffed = aig_sniff_media_type((unsigned char *) raw, n);
	pfree(raw);
	if (sniffed == NULL)
		bad_part(msg, part, "the data is not a PNG, JPEG, GIF or WebP image or a PDF document", NULL);
	if (p->media_type == NULL)
		p->media_type = pstrdup(sniffed);
	else if (pg_strcasecmp(p->media_type, sniffed) != 0)
		bad_part(msg, part,
				 psprintf("the data is %s, not the %s its media_type says", sniffed, p->media_type),
				 NULL);
	p->kind = media_sig(p->media_type)->kind;
}

/* "data:<media type>;base64,<data>" into p; false when url is not a data URL. */
static bool
read_data_url(const char *url, AigContentPart *p, int msg, int part)
{
	const char *comma;
	const char *semi;

	if (pg_strncasecmp(url, "data:", 5) != 0)
		return false;
	comma = strchr(url, ',');
	semi = strchr(url, ';');
	if (comma == NULL || semi == NULL || semi > comma ||
		pg_strncasecmp(semi, ";base64,", 8) != 0)
		bad_part(msg, part, "a data URL must be data:<media type>;base64,<data>", NULL);
	if (semi > url + 5)
		p->media_type = pnstrdup(url + 5, semi - (url + 5));
	p->data_b64 = pstrdup(comma + 1);
	return true;
}

/* An http(s) URL the provider fetches itself. */
static void
check_url(AigContentPart *p, int msg, int part)
{
	size_t		len = strlen(p->url);

	if (!(pg_strncasecmp(p->url, "https://", 8) == 0 || pg_strncasecmp(p->url, "http://", 7) == 0))
		bad_part(msg, part, "an image URL must be an http(s) or data: URL",
				 "Give the bytes instead: ai_image(bytea).");
	if (len > 8192)
		bad_part(msg, part, "the URL is longer than 8192 bytes", NULL);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) p->url[i] <= ' ' || p->url[i] == 0x7f)
			bad_part(msg, part, "the URL contains white space or a control character", NULL);
}

/* A media type given with a part: one of the supported ones. */
static void
check_media_type(AigContentPart *p, int msg, int part)
{
	const MediaSig *m;

	if (p->media_type == NULL)
		return;
	m = media_sig(p->media_type);
	if (m == NULL)
		bad_part(msg, part, psprintf("media type \"%.80s\" is not supported", p->media_type),
				 "Images are image/png, image/jpeg, image/gif or image/webp; documents application/pdf.");
	p->media_type = pstrdup(m->media_type);
}

/*
 * One non-text part (an object whose "type" is not "text") into p; 22023
 * when its shape or bytes are wrong, 54000 beyond ai_gateway.max_image_kb.
 */
void
aig_parse_content_part(JsonbValue *e, const char *type, int msg, int part,
					   AigContentPart *p)
{
	char	   *url = NULL;

	memset(p, 0, sizeof(*p));
	if (strcmp(type, "image") == 0 || strcmp(type, "document") == 0)
	{
		p->kind = strcmp(type, "image") == 0 ? AIG_PART_IMAGE : AIG_PART_DOCUMENT;
		p->media_type = string_member(e, "media_type");
		p->data_b64 = string_member(e, "data");
		url = string_member(e, "url");
		if ((p->data_b64 == NULL) == (url == NULL))
			bad_part(msg, part, psprintf("an %s part needs either \"data\" (base64) or \"url\"", type),
					 "For example ai_image(bytea), or {\"type\": \"image\", \"url\": \"https://...\"}.");
	}
	else if (strcmp(type, "image_url") == 0)
	{
		JsonbValue *iu = aig_jsonb_member(e, "image_url");

		p->kind = AIG_PART_IMAGE;
		url = iu && iu->type == jbvString ? pnstrdup(iu->val.string.val, iu->val.string.len)
			: string_member(iu, "url");
		if (url == NULL)
			bad_part(msg, part, "an image_url part needs \"image_url\": {\"url\": ...}", NULL);
	}
	else if (strcmp(type, "file") == 0)
	{
		JsonbValue *f = aig_jsonb_member(e, "file");

		p->kind = AIG_PART_DOCUMENT;
		url = string_member(f, "file_data");
		if (url == NULL || pg_strncasecmp(url, "data:", 5) != 0)
			bad_part(msg, part, "a file part needs \"file\": {\"file_data\": \"data:application/pdf;base64,...\"}",
					 "Uploaded file ids are not supported; give the bytes.");
	}
	else
		bad_part(msg, part, psprintf("content part type \"%.40s\" is not supported", type),
				 "Parts are text, image, image_url, document and file.");

	if (url != NULL && !read_data_url(url, p, msg, part))
	{
		p->url = url;
		check_url(p, msg, part);
	}
	check_media_type(p, msg, part);
	if (p->data_b64 != NULL)
		check_bytes(p, msg, part);
	else if (p->kind == AIG_PART_DOCUMENT && p->media_type == NULL)
		p->media_type = pstrdup("application/pdf");
}
