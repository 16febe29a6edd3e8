/*
 * media_api.c — ai_image(bytea, media_type): an image or PDF as the content
 * part a chat message carries ({"type": "image" | "document", "media_type",
 * "data": base64}), the type read from the bytes' signature and checked
 * against a given one, the size held to ai_gateway.max_image_kb.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "base/compat.h"
#include "routing/messages.h"

PG_FUNCTION_INFO_V1(aig_image);

/* ai_image(data bytea, media_type text DEFAULT NULL) RETURNS jsonb */
Datum
aig_image(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	const char *sniffed;
	const char *given = NULL;
	size_t		len;
	int			enclen;
	char	   *b64;
	int			n;
	StringInfoData buf;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	data = PG_GETARG_BYTEA_PP(0);
	len = VARSIZE_ANY_EXHDR(data);
	if (!PG_ARGISNULL(1))
		given = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (len > (size_t) aig_max_image_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the image has %zu bytes, more than ai_gateway.max_image_kb (%d kB)",
						len, aig_max_image_kb),
				 errhint("Scale the image down, or ask an administrator to raise ai_gateway.max_image_kb.")));
	sniffed = aig_sniff_media_type((const unsigned char *) VARDATA_ANY(data), len);
	if (sniffed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the bytes are not a PNG, JPEG, GIF or WebP image or a PDF document"),
				 errhint("Convert the image to one of these formats first.")));
	if (given != NULL && pg_strcasecmp(given, sniffed) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the bytes are %s, not %s", sniffed, given),
				 errhint("Leave media_type out: it is read from the bytes.")));
	enclen = pg_b64_enc_len((int) len);
	b64 = palloc(enclen + 1);
	n = aig_b64_encode(VARDATA_ANY(data), (int) len, b64, enclen);
	if (n < 0)
		elog(ERROR, "base64 encoding failed");
	b64[n] = '\0';
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"type\": \"%s\", \"media_type\": \"%s\", \"data\": \"%s\"}",
					 strcmp(sniffed, "application/pdf") == 0 ? "document" : "image",
					 sniffed, b64);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
