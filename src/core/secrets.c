/*
 * secrets.c — provider secrets at rest: AES-256-GCM with OpenSSL libcrypto.
 *
 * The master key is 32 random bytes in a file: ai_gateway.master_key_file
 * when set (superuser-only, postgresql.conf), else ai_gateway.key in the data
 * directory, created on first use with mode 0600 (written to a temporary
 * file, then link()ed into place, so concurrent first uses agree on one key).
 * The key is read once per backend.
 *
 * A sealed secret is "aigk2:" + base64(nonce[12] | ciphertext | tag[16]).
 * Its authenticated data binds it to its endpoint: what it is (the api_key,
 * or header "name" of options.headers), the provider's name and kind, and
 * the origin (scheme://host:port) of its base URL.  A sealed value copied to
 * another provider, or left in place when the endpoint changes, does not
 * open: an administrator who repoints base_url at its own server cannot make
 * the gateway send it the key.  ai_gateway 0.2.0 sealed keys as "aigk1:"
 * with a constant AAD; those open only for their migration
 * (core/provider_secrets.c).
 *
 * Also here: the masked form shown in place of a key, and scrubbing a
 * provider's secrets out of any text (a provider error may echo them back).
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/base64.h"
#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "base/compat.h"
#include "core/secrets.h"
#include "providers/provider.h"

char	   *aig_master_key_file = NULL;

#define AIG_KEY_LEN 32
#define AIG_NONCE_LEN 12
#define AIG_TAG_LEN 16
#define AIG_LEGACY_AAD "ai_gateway.providers.api_key"

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

/*
 * AAD of a secret (purpose "api_key" or "header:<lower-case name>") of
 * provider name/kind whose base URL has origin.
 */
static char *
secret_aad(const char *purpose, const char *provider, const char *kind, const char *origin)
{
	return psprintf("ai_gateway.providers.%s\n%s\n%s\n%s", purpose, provider, kind, origin);
}

char *
aig_secret_encrypt(const char *plain, const char *purpose, const char *provider,
				   const char *kind, const char *origin)
{
	char	   *aad = secret_aad(purpose, provider, kind, origin);
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
		EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *) aad,
						  strlen(aad)) == 1 &&
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
	pfree(aad);

	b64 = palloc(strlen(AIG_SECRET_PREFIX) + pg_b64_enc_len(rawlen) + 1);
	strcpy(b64, AIG_SECRET_PREFIX);
	b64len = aig_b64_encode(raw, rawlen,
						    b64 + strlen(AIG_SECRET_PREFIX), pg_b64_enc_len(rawlen));
	if (b64len < 0)
		elog(ERROR, "could not base64-encode the sealed key");
	b64[strlen(AIG_SECRET_PREFIX) + b64len] = '\0';
	pfree(raw);
	return b64;
}

/* Open sealed (format prefix) with aad; NULL and *why when it does not open. */
static char *
secret_open(const char *sealed, const char *prefix, const char *aad, const char **why)
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
	if (strncmp(sealed, prefix, strlen(prefix)) != 0)
	{
		*why = "it is not in the sealed format";
		return NULL;
	}
	load_master_key();
	b64 = sealed + strlen(prefix);
	b64len = strlen(b64);
	raw = palloc(pg_b64_dec_len(b64len) + 1);
	rawlen = aig_b64_decode(b64, b64len, raw, pg_b64_dec_len(b64len));
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
		EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *) aad,
						  strlen(aad)) == 1 &&
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
		*why = "it was sealed for another endpoint (provider name, kind, base URL origin) or by another cluster's master key";
		return NULL;
	}
	plain[ctlen] = '\0';
	return plain;
}

char *
aig_secret_decrypt(const char *sealed, const char *purpose, const char *provider,
				   const char *kind, const char *origin, const char **why)
{
	char	   *aad = secret_aad(purpose, provider, kind, origin);
	char	   *plain = secret_open(sealed, AIG_SECRET_PREFIX, aad, why);

	pfree(aad);
	return plain;
}

char *
aig_secret_decrypt_legacy(const char *sealed, const char **why)
{
	return secret_open(sealed, AIG_LEGACY_PREFIX, AIG_LEGACY_AAD, why);
}

bool
aig_secret_is_sealed(const char *value)
{
	return strncmp(value, AIG_SECRET_PREFIX, strlen(AIG_SECRET_PREFIX)) == 0;
}

bool
aig_secret_is_legacy(const char *value)
{
	return strncmp(value, AIG_LEGACY_PREFIX, strlen(AIG_LEGACY_PREFIX)) == 0;
}

/*
 * "scheme://host:port" of url, lower-cased, the port made explicit (80 for
 * http, 443 for https); "" when url has no scheme.
 */
char *
aig_secret_origin(const char *url)
{
	const char *sep = url ? strstr(url, "://") : NULL;
	const char *host;
	const char *end;
	const char *colon;
	const char *bracket;
	char	   *scheme;
	char	   *hostport;

	if (sep == NULL)
		return pstrdup("");
	scheme = pnstrdup(url, sep - url);
	host = sep + 3;
	end = host + strcspn(host, "/?#");
	hostport = pnstrdup(host, end - host);
	for (char *c = scheme; *c; c++)
		*c = pg_tolower((unsigned char) *c);
	for (char *c = hostport; *c; c++)
		*c = pg_tolower((unsigned char) *c);
	colon = strrchr(hostport, ':');
	bracket = strrchr(hostport, ']');
	if (colon == NULL || (bracket != NULL && colon < bracket))
		return psprintf("%s://%s:%s", scheme, hostport,
						strcmp(scheme, "https") == 0 ? "443" : "80");
	return psprintf("%s://%s", scheme, hostport);
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
 * len bytes of provider text with every secret of provider p masked: its
 * key, its sealed headers, and any other header value long enough to be a
 * credential (8 bytes).  A palloc'd copy; *outlen its length.
 */
char *
aig_secret_scrub_provider(const AigProvider *p, const char *s, size_t len, size_t *outlen)
{
	char	   *out = aig_secret_scrub_bytes(s, len, p->api_key, outlen);

	/* the OAuth access token the request carried (core/token_cache.c) */
	if (p->access_token != NULL)
		out = aig_secret_scrub_bytes(out, *outlen, p->access_token, outlen);

	for (int i = 0; i < p->nsecrets; i++)
	{
		const char *cred = strrchr(p->secrets[i], ' ');

		out = aig_secret_scrub_bytes(out, *outlen, p->secrets[i], outlen);
		/* "Bearer <token>": a provider may echo the token alone */
		if (cred != NULL && strlen(cred + 1) >= 8)
			out = aig_secret_scrub_bytes(out, *outlen, cred + 1, outlen);
	}
	for (int i = 0; i < p->nextra_headers; i++)
	{
		const char *v = strchr(p->extra_headers[i], ':');

		if (v == NULL)
			continue;
		for (v++; *v == ' '; v++)
			;
		if (strlen(v) >= 8)
			out = aig_secret_scrub_bytes(out, *outlen, v, outlen);
	}
	return out;
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
