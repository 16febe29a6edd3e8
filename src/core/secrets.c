/*
 * secrets.c — provider API keys at rest: AES-256-GCM with OpenSSL libcrypto.
 *
 * The master key is 32 random bytes in a file: ai_gateway.master_key_file
 * when set (superuser-only, postgresql.conf), else ai_gateway.key in the data
 * directory, created on first use with mode 0600 (written to a temporary
 * file, then link()ed into place, so concurrent first uses agree on one key).
 * A sealed key is "aigk1:" + base64(nonce[12] | ciphertext | tag[16]); the
 * constant AAD binds it to this purpose.  The key is read once per backend.
 *
 * Also here: the masked form shown in place of a key, and scrubbing a key
 * out of any text (a provider error may echo it back).
 *
 * The trigger ai_gateway.providers_protect_key() seals whatever plain key an
 * INSERT or UPDATE writes to providers.api_key into api_key_encrypted and
 * leaves only the mask in api_key.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "common/base64.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/guc.h"

#include "core/secrets.h"

char	   *aig_master_key_file = NULL;

#define AIG_KEY_LEN 32
#define AIG_NONCE_LEN 12
#define AIG_TAG_LEN 16
#define AIG_AAD "ai_gateway.providers.api_key"

static unsigned char master_key[AIG_KEY_LEN];
static bool master_key_loaded = false;

static char *
master_key_path(void)
{
	if (aig_master_key_file && aig_master_key_file[0])
		return pstrdup(aig_master_key_file);
	return psprintf("%s/ai_gateway.key", DataDir);
}

static bool
read_master_key(const char *path, unsigned char *key)
{
	int			fd;
	struct stat st;
	char		buf[AIG_KEY_LEN * 2 + 2];
	ssize_t		n;

	fd = open(path, O_RDONLY | PG_BINARY, 0);
	if (fd < 0)
	{
		if (errno == ENOENT)
			return false;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open ai_gateway master key file \"%s\": %m", path)));
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		close(fd);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("ai_gateway master key file \"%s\" is readable by other users", path),
				 errhint("Run chmod 0600 on the file; it must belong to the server's user only.")));
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == AIG_KEY_LEN)
	{
		memcpy(key, buf, AIG_KEY_LEN);
		return true;
	}
	/* also accept 64 hex digits, optionally newline-terminated */
	if (n == AIG_KEY_LEN * 2 || (n == AIG_KEY_LEN * 2 + 1 && buf[n - 1] == '\n'))
	{
		for (int i = 0; i < AIG_KEY_LEN; i++)
		{
			char		hex[3] = {buf[2 * i], buf[2 * i + 1], '\0'};
			char	   *end;
			long		v = strtol(hex, &end, 16);

			if (*end != '\0')
				goto bad;
			key[i] = (unsigned char) v;
		}
		return true;
	}
bad:
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("ai_gateway master key file \"%s\" is not a 32-byte key", path),
			 errhint("The file must hold 32 raw bytes or 64 hexadecimal digits.")));
	return false;				/* keep compiler quiet */
}

static void
create_master_key(const char *path)
{
	unsigned char key[AIG_KEY_LEN];
	char	   *tmp = psprintf("%s.tmp.%d", path, MyProcPid);
	int			fd;

	if (!pg_strong_random(key, sizeof(key)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random master key")));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY, S_IRUSR | S_IWUSR);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create ai_gateway master key file \"%s\": %m", tmp)));
	if (write(fd, key, sizeof(key)) != sizeof(key) || pg_fsync(fd) != 0)
	{
		int			save = errno;

		close(fd);
		unlink(tmp);
		errno = save;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write ai_gateway master key file \"%s\": %m", tmp)));
	}
	close(fd);
	/* link() fails if another backend won the race: then use its key */
	if (link(tmp, path) != 0 && errno != EEXIST)
	{
		int			save = errno;

		unlink(tmp);
		errno = save;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create ai_gateway master key file \"%s\": %m", path)));
	}
	unlink(tmp);
	explicit_bzero(key, sizeof(key));
}

static void
load_master_key(void)
{
	char	   *path;

	if (master_key_loaded)
		return;
	path = master_key_path();
	if (!read_master_key(path, master_key))
	{
		create_master_key(path);
		if (!read_master_key(path, master_key))
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read ai_gateway master key file \"%s\"", path)));
	}
	master_key_loaded = true;
	pfree(path);
}

char *
aig_secret_encrypt(const char *plain)
{
	size_t		plen = strlen(plain);
	size_t		rawlen = AIG_NONCE_LEN + plen + AIG_TAG_LEN;
	unsigned char *raw = palloc(rawlen);
	EVP_CIPHER_CTX *ctx;
	int			outl = 0,
				finl = 0;
	bool		ok;
	char	   *b64;
	int			b64len;

	load_master_key();
	if (!pg_strong_random(raw, AIG_NONCE_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random nonce")));
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AIG_NONCE_LEN, NULL) == 1 &&
		EVP_EncryptInit_ex(ctx, NULL, NULL, master_key, raw) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *) AIG_AAD,
						  strlen(AIG_AAD)) == 1 &&
		EVP_EncryptUpdate(ctx, raw + AIG_NONCE_LEN, &outl,
						  (const unsigned char *) plain, (int) plen) == 1 &&
		EVP_EncryptFinal_ex(ctx, raw + AIG_NONCE_LEN + outl, &finl) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AIG_TAG_LEN,
							raw + AIG_NONCE_LEN + plen) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encrypt the API key")));

	b64 = palloc(strlen(AIG_SECRET_PREFIX) + pg_b64_enc_len(rawlen) + 1);
	strcpy(b64, AIG_SECRET_PREFIX);
	b64len = pg_b64_encode((const char *) raw, rawlen,
						   b64 + strlen(AIG_SECRET_PREFIX), pg_b64_enc_len(rawlen));
	if (b64len < 0)
		elog(ERROR, "could not base64-encode the sealed key");
	b64[strlen(AIG_SECRET_PREFIX) + b64len] = '\0';
	pfree(raw);
	return b64;
}

char *
aig_secret_decrypt(const char *sealed, const char **why)
{
	const char *b64;
	int			b64len;
	unsigned char *raw;
	int			rawlen;
	int			ctlen;
	char	   *plain;
	EVP_CIPHER_CTX *ctx;
	int			outl = 0,
				finl = 0;
	bool		ok;

	*why = NULL;
	if (strncmp(sealed, AIG_SECRET_PREFIX, strlen(AIG_SECRET_PREFIX)) != 0)
	{
		*why = "it is not in the sealed format";
		return NULL;
	}
	load_master_key();
	b64 = sealed + strlen(AIG_SECRET_PREFIX);
	b64len = strlen(b64);
	raw = palloc(pg_b64_dec_len(b64len) + 1);
	rawlen = pg_b64_decode(b64, b64len, (char *) raw, pg_b64_dec_len(b64len));
	if (rawlen < AIG_NONCE_LEN + AIG_TAG_LEN)
	{
		*why = "it is corrupt";
		return NULL;
	}
	ctlen = rawlen - AIG_NONCE_LEN - AIG_TAG_LEN;
	plain = palloc(ctlen + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AIG_NONCE_LEN, NULL) == 1 &&
		EVP_DecryptInit_ex(ctx, NULL, NULL, master_key, raw) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *) AIG_AAD,
						  strlen(AIG_AAD)) == 1 &&
		EVP_DecryptUpdate(ctx, (unsigned char *) plain, &outl,
						  raw + AIG_NONCE_LEN, ctlen) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AIG_TAG_LEN,
							raw + AIG_NONCE_LEN + ctlen) == 1 &&
		EVP_DecryptFinal_ex(ctx, (unsigned char *) plain + outl, &finl) == 1;
	EVP_CIPHER_CTX_free(ctx);
	pfree(raw);
	if (!ok)
	{
		explicit_bzero(plain, ctlen + 1);
		pfree(plain);
		*why = "the master key does not open it (was it sealed by another cluster?)";
		return NULL;
	}
	plain[ctlen] = '\0';
	return plain;
}

/* "****" followed by the last four characters of a long key. */
char *
aig_secret_mask(const char *plain)
{
	size_t		len = strlen(plain);

	if (len >= 16)
		return psprintf("%s%s", AIG_MASK_PREFIX, plain + len - 4);
	return pstrdup(AIG_MASK_PREFIX);
}

bool
aig_secret_is_mask(const char *value)
{
	return strncmp(value, AIG_MASK_PREFIX, strlen(AIG_MASK_PREFIX)) == 0;
}

/*
 * len bytes of s with every occurrence of secret replaced by the mask
 * prefix (a palloc'd, NUL-terminated copy; *outlen its length).  Secrets
 * shorter than 4 bytes are left alone (they would mask ordinary text).
 */
char *
aig_secret_scrub_bytes(const char *s, size_t len, const char *secret, size_t *outlen)
{
	StringInfoData buf;
	size_t		slen = secret ? strlen(secret) : 0;
	const char *p = s;
	const char *end = s + len;
	const char *hit;

	initStringInfo(&buf);
	if (slen >= 4)
		while ((hit = memmem(p, end - p, secret, slen)) != NULL)
		{
			appendBinaryStringInfo(&buf, p, hit - p);
			appendStringInfoString(&buf, AIG_MASK_PREFIX);
			p = hit + slen;
		}
	appendBinaryStringInfo(&buf, p, end - p);
	*outlen = buf.len;
	return buf.data;
}

/*
 * BEFORE INSERT OR UPDATE trigger on ai_gateway.providers: a plain key in
 * api_key is sealed into api_key_encrypted and replaced by its mask.  A value
 * that already is a mask (an UPDATE of other columns, or a pg_dump restore)
 * leaves api_key_encrypted as the row carries it.
 */
PG_FUNCTION_INFO_V1(aig_providers_protect_key);
Datum
aig_providers_protect_key(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	TupleDesc	tupdesc;
	int			key_att,
				enc_att;
	bool		isnull;
	Datum		d;
	char	   *plain;
	int			cols[2];
	Datum		vals[2];
	bool		nulls[2];

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "aig_providers_protect_key must be a BEFORE ROW trigger");

	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	tupdesc = trigdata->tg_relation->rd_att;
	key_att = SPI_fnumber(tupdesc, "api_key");
	enc_att = SPI_fnumber(tupdesc, "api_key_encrypted");
	if (key_att <= 0 || enc_att <= 0)
		elog(ERROR, "ai_gateway.providers lacks the api_key columns");

	d = heap_getattr(tuple, key_att, tupdesc, &isnull);
	if (isnull)
	{
		/* no key: drop any sealed one too */
		cols[0] = enc_att;
		vals[0] = (Datum) 0;
		nulls[0] = true;
		return PointerGetDatum(heap_modify_tuple_by_cols(tuple, tupdesc, 1,
														 cols, vals, nulls));
	}
	plain = TextDatumGetCString(d);
	if (aig_secret_is_mask(plain))
		return PointerGetDatum(tuple);
	if (plain[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("api_key must not be empty"),
				 errhint("Use NULL for a provider that needs no key.")));

	cols[0] = key_att;
	vals[0] = CStringGetTextDatum(aig_secret_mask(plain));
	nulls[0] = false;
	cols[1] = enc_att;
	vals[1] = CStringGetTextDatum(aig_secret_encrypt(plain));
	nulls[1] = false;
	explicit_bzero(plain, strlen(plain));
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, tupdesc, 2,
													 cols, vals, nulls));
}

/* Define ai_gateway.master_key_file (called from _PG_init). */
void
aig_secrets_define_gucs(void)
{
	DefineCustomStringVariable("ai_gateway.master_key_file",
							   "File holding the 32-byte key that encrypts provider API keys.",
							   "Empty means ai_gateway.key in the data directory, created on first use.",
							   &aig_master_key_file,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}
