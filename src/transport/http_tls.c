/*
 * http_tls.c — TLS and HTTP/2 settings of the backend's transfers.
 *
 * Every handle verifies the peer's certificate and host name
 * (CURLOPT_SSL_VERIFYPEER / VERIFYHOST, set once when the handle is made;
 * nothing in the extension sets them otherwise, and no option or setting
 * turns them off).  Handles ask for HTTP/2 over TLS (ALPN; plain http://
 * stays HTTP/1.1), and a transfer to an https:// URL waits for a
 * connection being set up rather than open a second one
 * (CURLOPT_PIPEWAIT), so a batch's concurrent requests to an HTTP/2
 * upstream share one connection (the multi handle multiplexes:
 * http_wait.c).  TLS settles the protocol in the handshake (ALPN), so an
 * HTTP/1.1 upstream costs that wait one handshake; over plain http://
 * libcurl would learn it only from the first response's headers, which
 * could hold a batch back for a whole completion, so there it does not wait.  All handles of the backend share one TLS session cache
 * and DNS cache (a curl share handle), so a connection opened later — by
 * another handle of a batch, or after the upstream closed an idle one —
 * resumes the TLS session instead of a full handshake.  Connections
 * themselves live in the multi handle's cache (http.c).
 *
 * Which CAs a transfer trusts, chosen per transfer:
 *  - the provider's options.ca_file: a plain file name inside the
 *    directory of ai_gateway.ca_directory (a superuser's setting), a
 *    regular file of at most AIG_CA_FILE_MAX bytes; only its certificates
 *    are trusted (no system CA path).  A provider's writer can thus choose
 *    among the bundles a superuser put there, never make the server read
 *    another file;
 *  - else ai_gateway.ca_bundle when set (with the system CA path);
 *  - else libcurl's built-in bundle and path.
 * libcurl reuses a connection or TLS session only for a transfer with the
 * same CA settings, so providers with different CAs never share one.
 */
#include "postgres.h"

#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "transport/http.h"
#include "transport/http_internal.h"

/* Largest options.ca_file accepted (a PEM bundle of a few hundred CAs). */
#define AIG_CA_FILE_MAX (1024 * 1024)

static CURLSH *tls_share = NULL;

/* libcurl's built-in CA bundle and path (malloc'd; NULL when none) */
static char *default_cainfo = NULL;
static char *default_capath = NULL;
static bool defaults_known = false;

/*
 * The options.ca_file path last found to be a usable file, and when
 * (monotonic µs): a backend's calls through one provider look at the file
 * at most once a second rather than once a call.
 */
#define AIG_CA_CHECK_US 1000000
static char checked_path[MAXPGPATH];
static int64 checked_at_us;

static int64
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* See http.h. */
bool
aig_ca_file_name_ok(const char *name)
{
	if (name == NULL || name[0] == '\0' || name[0] == '.' || strlen(name) > 255)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			return false;
	return true;
}

/* The share handle of the backend's TLS sessions and DNS answers (NULL on OOM). */
static CURLSH *
share_handle(void)
{
	if (tls_share == NULL)
	{
		tls_share = curl_share_init();
		if (tls_share != NULL)
		{
			curl_share_setopt(tls_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
			curl_share_setopt(tls_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		}
	}
	return tls_share;
}

/* What libcurl trusts by default, read from a fresh handle (once). */
static void
learn_defaults(CURL *h)
{
	char	   *v;

	if (defaults_known)
		return;
	defaults_known = true;
#if LIBCURL_VERSION_NUM >= 0x075400		/* 7.84.0: CURLINFO_CAINFO / CAPATH */
	v = NULL;
	if (curl_easy_getinfo(h, CURLINFO_CAINFO, &v) == CURLE_OK && v != NULL)
		default_cainfo = strdup(v);
	v = NULL;
	if (curl_easy_getinfo(h, CURLINFO_CAPATH, &v) == CURLE_OK && v != NULL)
		default_capath = strdup(v);
#else
	(void) v;
#endif
}

/* TLS and HTTP/2 options of a new handle (http.c, aig_http_configure_handle). */
void
aig_http_tls_configure(CURL *h)
{
	CURLSH	   *sh = share_handle();

	learn_defaults(h);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
	if (sh != NULL)
		curl_easy_setopt(h, CURLOPT_SHARE, sh);
}

/*
 * Set the CAs this transfer to url trusts on h (see the file header), and
 * whether it waits to multiplex, unless h already has them (*last:
 * malloc'd key of h's current setting).  False with a message in err
 * (names no secret) when options.ca_file cannot be used; h is then left
 * as it was.
 */
bool
aig_http_tls_select(CURL *h, const char *url, const AigHttpLimits *lim, char **last,
					char *err, size_t errlen)
{
	char		path[MAXPGPATH];
	const char *cainfo;
	const char *capath;
	char		key[MAXPGPATH + 3];
	bool		tls = pg_strncasecmp(url, "https:", 6) == 0;

	if (lim->ca_file != NULL)
	{
		struct stat st;

		if (!aig_ca_file_name_ok(lim->ca_file))
		{
			snprintf(err, errlen, "options.ca_file must be a plain file name in ai_gateway.ca_directory");
			return false;
		}
		if (aig_ca_directory == NULL || aig_ca_directory[0] == '\0')
		{
			snprintf(err, errlen, "options.ca_file \"%s\" cannot be used: ai_gateway.ca_directory is not set",
					 lim->ca_file);
			return false;
		}
		if (snprintf(path, sizeof(path), "%s/%s", aig_ca_directory, lim->ca_file) >= (int) sizeof(path))
		{
			snprintf(err, errlen, "options.ca_file \"%s\": path too long", lim->ca_file);
			return false;
		}
		if (strcmp(path, checked_path) != 0 || mono_us() - checked_at_us > AIG_CA_CHECK_US)
		{
			checked_path[0] = '\0';
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > AIG_CA_FILE_MAX)
			{
				snprintf(err, errlen, "options.ca_file \"%s\" is not a regular file of at most %d bytes in ai_gateway.ca_directory",
						 lim->ca_file, AIG_CA_FILE_MAX);
				return false;
			}
			strlcpy(checked_path, path, sizeof(checked_path));
			checked_at_us = mono_us();
		}
		cainfo = path;
		capath = NULL;
		snprintf(key, sizeof(key), "%cF:%s", tls ? 'S' : 'P', path);
	}
	else if (aig_ca_bundle != NULL && aig_ca_bundle[0] != '\0')
	{
		cainfo = aig_ca_bundle;
		capath = default_capath;
		snprintf(key, sizeof(key), "%cB:%s", tls ? 'S' : 'P', aig_ca_bundle);
	}
	else
	{
		cainfo = default_cainfo;
		capath = default_capath;
		snprintf(key, sizeof(key), "%cD:", tls ? 'S' : 'P');
	}
	if (*last != NULL && strcmp(*last, key) == 0)
		return true;
	free(*last);
	*last = NULL;
	curl_easy_setopt(h, CURLOPT_CAINFO, cainfo);
	curl_easy_setopt(h, CURLOPT_CAPATH, capath);
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, tls ? 1L : 0L);
	*last = strdup(key);		/* NULL on OOM: set again next time */
	return true;
}

/* Free the share handle (at the backend's exit, after every easy handle). */
void
aig_http_tls_cleanup(void)
{
	if (tls_share != NULL && curl_share_cleanup(tls_share) == CURLSHE_OK)
		tls_share = NULL;
}
