/*
 * token_cache.c — OAuth access tokens of providers, shared by all backends.
 *
 * A fixed array of AIG_TOKEN_SLOTS slots in shared memory, keyed by the
 * provider's name and a SHA-256 of its credential and the token request it
 * makes (kind, auth, api_key, token URL, client id): never the credential
 * itself.  A slot holds the access token (a secret; shared memory is
 * readable by the server only) and its expiry.  A token is used until
 * min(5 minutes, 10% of its lifetime) before it expires.
 *
 * Refreshing is done by one backend at a time: it marks the slot
 * "refreshing" (its pid and a deadline), sends the request without the
 * lock, and stores the answer.  Meanwhile the others use the old token
 * while it is still valid, or sleep on the condition variable until the
 * refresher is done (or its deadline passes: then one of them takes over).
 * A failed fetch is remembered for AIG_TOKEN_FAIL_MS with its message
 * (scrubbed), so the waiters and callers right after get the same error
 * instead of hammering the token endpoint.
 *
 * Locking: one LWLock (tranche "ai_gateway tokens") over the whole array,
 * held only to read or write slots, never across I/O.
 *
 * The fetch is one POST through transport/http.c (the provider's timeouts;
 * a query cancel is raised from there).  A backend in the middle of a batch
 * may fetch: http.c keeps the other transfers' completions for the batch.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "core/secrets.h"
#include "core/token_cache.h"
#include "providers/provider.h"

#define AIG_TOKEN_SLOTS		64
#define AIG_TOKEN_MAX		8192	/* bytes of one access token */
#define AIG_TOKEN_NAME		201		/* provider names are 1-200 bytes */
#define AIG_TOKEN_ERR		400
#define AIG_TOKEN_FAIL_MS	2000	/* a failed fetch is reported this long */
#define AIG_TOKEN_TIMEOUT_MS 30000	/* a fetch's timeout without options.timeout_ms */
#define TOKEN_TRANCHE		"ai_gateway tokens"

typedef struct TokenSlot
{
	bool		used;
	char		provider[AIG_TOKEN_NAME];
	unsigned char key[32];		/* SHA-256 of the credential and request */
	int			token_len;		/* 0: no token */
	TimestampTz expires_at;
	TimestampTz use_until;		/* refresh from then on */
	TimestampTz last_used;
	int			refresher;		/* pid refreshing, 0 when none */
	TimestampTz refresh_deadline;
	TimestampTz fail_until;		/* a fetch failed: report error until then */
	char		error[AIG_TOKEN_ERR];
	char		token[AIG_TOKEN_MAX];
} TokenSlot;

typedef struct TokenShared
{
	LWLock	   *lock;
	ConditionVariable cv;		/* broadcast when a refresh ends */
	pg_atomic_uint64 fetches;	/* token requests sent */
	TokenSlot	slots[AIG_TOKEN_SLOTS];
} TokenShared;

static TokenShared *tok_shared = NULL;
static uint64 my_fetches = 0;	/* token requests this backend sent */

Size
aig_token_shmem_size(void)
{
	return MAXALIGN(sizeof(TokenShared));
}

void
aig_token_shmem_request(void)
{
	RequestNamedLWLockTranche(TOKEN_TRANCHE, 1);
}

/* Create or attach the slots; caller holds AddinShmemInitLock. */
void
aig_token_shmem_startup(void)
{
	bool		found;

	tok_shared = ShmemInitStruct("ai_gateway tokens", sizeof(TokenShared), &found);
	if (!found)
	{
		memset(tok_shared, 0, sizeof(TokenShared));
		tok_shared->lock = &(GetNamedLWLockTranche(TOKEN_TRANCHE))->lock;
		ConditionVariableInit(&tok_shared->cv);
		pg_atomic_init_u64(&tok_shared->fetches, 0);
	}
}

uint64
aig_token_fetches(void)
{
	return tok_shared ? pg_atomic_read_u64(&tok_shared->fetches) : 0;
}

uint64
aig_token_backend_fetches(void)
{
	return my_fetches;
}

/* SHA-256 of everything that makes p's token: never stored in the clear. */
static void
slot_key(const AigProvider *p, unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	const char *parts[] = {p->kind, p->api_key, p->token_url, p->client_id};
	char		auth = (char) p->auth;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		elog(ERROR, "could not start a SHA-256 digest");
	EVP_DigestUpdate(ctx, &auth, 1);
	for (int i = 0; i < lengthof(parts); i++)
	{
		const char *s = parts[i] ? parts[i] : "";

		/* with its terminating NUL: ("ab","c") differs from ("a","bc") */
		EVP_DigestUpdate(ctx, s, strlen(s) + 1);
	}
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}

/* The slot of (name, key), taken (the least recently used idle one) if none; lock held. */
static TokenSlot *
find_slot(const char *name, const unsigned char *key, TimestampTz now)
{
	TokenSlot  *victim = NULL;

	for (int i = 0; i < AIG_TOKEN_SLOTS; i++)
	{
		TokenSlot  *s = &tok_shared->slots[i];

		if (s->used && strcmp(s->provider, name) == 0 && memcmp(s->key, key, 32) == 0)
			return s;
		if (s->refresher != 0 && now < s->refresh_deadline)
			continue;			/* being refreshed: not taken */
		if (victim == NULL || !s->used || (victim->used && s->last_used < victim->last_used))
			victim = s;
	}
	if (victim == NULL)
		return NULL;
	memset(victim, 0, offsetof(TokenSlot, token));
	explicit_bzero(victim->token, sizeof(victim->token));
	victim->used = true;
	strlcpy(victim->provider, name, sizeof(victim->provider));
	memcpy(victim->key, key, 32);
	return victim;
}

/* len bytes of provider text with p's secrets and extra masked (a palloc'd copy). */
static char *
scrub(const AigProvider *p, const char *extra, const char *text, size_t len, size_t *outlen)
{
	char	   *s = aig_secret_scrub_provider(p, text, len, outlen);

	if (extra != NULL)
		s = aig_secret_scrub_bytes(s, *outlen, extra, outlen);
	return s;
}

/* Provider text made safe for a message: p's secrets and extra masked, valid UTF-8. */
static char *
clean_text(const AigProvider *p, const char *extra, const char *msg)
{
	size_t		len;
	char	   *s = scrub(p, extra, msg, strlen(msg), &len);

	if (!pg_verify_mbstr(PG_UTF8, s, len, true))
		return pstrdup("(the token endpoint's message is not valid UTF-8)");
	if (GetDatabaseEncoding() != PG_UTF8)
		s = pg_any_to_server(s, len, PG_UTF8);
	return s;
}

/*
 * Ask p's token endpoint for a token: true with *token and *expires_in, or
 * false with *errmsg (naming no secret) and *retryable.
 */
static bool
fetch_token(const AigProvider *p, char **token, int64 *expires_in, char **errmsg,
			bool *retryable)
{
	AigHttpRequest req;
	AigHttpResponse resp;
	AigHttpLimits lim;
	char	   *assertion = NULL;
	char	   *why = NULL;
	char	   *origin;
	bool		ok;

	*retryable = false;
	if (!aig_oauth_token_request(p, &req, &assertion, &why))
	{
		*errmsg = psprintf("cannot request an access token: %s", why);
		return false;
	}
	origin = aig_secret_origin(req.url);
	/* the token endpoint is another server: the system CAs (ai_gateway.ca_bundle), not ca_file */
	memset(&lim, 0, sizeof(lim));
	lim.ca_file = NULL;
	lim.timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : AIG_TOKEN_TIMEOUT_MS;
	lim.connect_timeout_ms = p->connect_timeout_ms > 0 ? p->connect_timeout_ms :
		aig_connect_timeout_ms;
	lim.max_bytes = 65536;
	pg_atomic_fetch_add_u64(&tok_shared->fetches, 1);
	my_fetches++;
	PG_TRY();
	{
		aig_http_perform(&req, &lim, &resp);
	}
	PG_FINALLY();
	{
		explicit_bzero(req.body, req.body_len);
	}
	PG_END_TRY();

	if (resp.failed)
	{
		*retryable = resp.retryable;
		*errmsg = psprintf("the access token request to %s failed: %s", origin,
						   clean_text(p, assertion, resp.error ? resp.error : "no answer"));
		return false;
	}
	if (resp.status < 200 || resp.status > 299)
	{
		size_t		len;
		char	   *body = scrub(p, assertion, resp.body ? resp.body : "", resp.body_len, &len);

		/* scrubbed whole before the excerpt is cut: a cut secret would not match */
		aig_oauth_parse_error(resp.status, body, len, &why);
		*retryable = resp.status == 429 || resp.status >= 500;
		*errmsg = psprintf("the token endpoint %s refused the access token request: %s", origin,
						   clean_text(p, assertion, why));
		return false;
	}
	ok = aig_oauth_parse_token(resp.body ? resp.body : "", resp.body_len, token, expires_in, &why);
	if (!ok)
	{
		*retryable = true;
		*errmsg = psprintf("the access token from %s is unusable: %s", origin,
						   clean_text(p, assertion, why));
	}
	else if (strlen(*token) >= AIG_TOKEN_MAX)
	{
		*errmsg = psprintf("the access token from %s is longer than %d bytes", origin,
						   AIG_TOKEN_MAX - 1);
		ok = false;
	}
	if (resp.body)
		explicit_bzero(resp.body, resp.body_len);
	return ok;
}

/* Copy s's token into a palloc'd string (lock held). */
static char *
take_token(TokenSlot *s, TimestampTz now)
{
	s->last_used = now;
	return pnstrdup(s->token, s->token_len);
}

/* End this backend's refresh of slot (name, key): store the result, wake the waiters. */
static void
end_refresh(const char *name, const unsigned char *key, const char *token, int64 expires_in,
			const char *error)
{
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(tok_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < AIG_TOKEN_SLOTS; i++)
	{
		TokenSlot  *s = &tok_shared->slots[i];
		int64		life_ms,
					margin_ms;

		if (!s->used || s->refresher != MyProcPid || strcmp(s->provider, name) != 0 ||
			memcmp(s->key, key, 32) != 0)
			continue;
		s->refresher = 0;
		if (token != NULL)
		{
			life_ms = Min(expires_in, (int64) 366 * 86400) * 1000;
			margin_ms = Min((int64) 300000, life_ms / 10);
			explicit_bzero(s->token, sizeof(s->token));
			s->token_len = strlen(token);
			memcpy(s->token, token, s->token_len);
			s->expires_at = TimestampTzPlusMilliseconds(now, life_ms);
			s->use_until = TimestampTzPlusMilliseconds(now, life_ms - margin_ms);
			s->fail_until = 0;
			s->error[0] = '\0';
		}
		else if (error != NULL)
		{
			s->fail_until = TimestampTzPlusMilliseconds(now, AIG_TOKEN_FAIL_MS);
			strlcpy(s->error, error, sizeof(s->error));
		}
	}
	LWLockRelease(tok_shared->lock);
	ConditionVariableBroadcast(&tok_shared->cv);
}

/* Fetch p's token as the slot's refresher, and store the outcome (every path). */
static char *
refresh(const AigProvider *p, const unsigned char *key, char **errmsg, bool *retryable)
{
	char	   *token = NULL;
	int64		expires_in = 0;

	PG_TRY();
	{
		if (fetch_token(p, &token, &expires_in, errmsg, retryable))
			end_refresh(p->name, key, token, expires_in, NULL);
		else
			end_refresh(p->name, key, NULL, 0, *errmsg);
	}
	PG_CATCH();
	{
		/* a cancel: the others take over */
		end_refresh(p->name, key, NULL, 0, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return token;
}

char *
aig_token_get(AigProvider *p, const char *rejected, char **errmsg, bool *retryable)
{
	unsigned char key[32];
	char	   *token = NULL;
	bool		sleeping = false;

	*errmsg = NULL;
	*retryable = false;
	if (tok_shared == NULL)
	{
		*errmsg = pstrdup("access tokens need ai_gateway in shared_preload_libraries");
		return NULL;
	}
	if (p->api_key == NULL)
	{
		char	   *why = NULL;
		AigHttpRequest req;

		(void) aig_oauth_token_request(p, &req, &token, &why);
		*errmsg = psprintf("cannot request an access token: %s", why);
		return NULL;
	}
	slot_key(p, key);

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		TokenSlot  *s;
		long		wait_ms = 0;

		CHECK_FOR_INTERRUPTS();
		LWLockAcquire(tok_shared->lock, LW_EXCLUSIVE);
		s = find_slot(p->name, key, now);
		if (s == NULL)
		{
			LWLockRelease(tok_shared->lock);
			wait_ms = 50;		/* every slot is being refreshed right now */
		}
		else
		{
			/* the upstream refused this token: nobody uses it again */
			if (rejected != NULL && s->token_len == (int) strlen(rejected) &&
				memcmp(s->token, rejected, s->token_len) == 0)
			{
				explicit_bzero(s->token, sizeof(s->token));
				s->token_len = 0;
				s->use_until = s->expires_at = 0;
			}
			rejected = NULL;
			if (s->token_len > 0 && now < s->use_until)
				token = take_token(s, now);
			else if (s->refresher != 0 && s->refresher != MyProcPid &&
					 now < s->refresh_deadline)
			{
				/* another backend is at it: its old token, or wait for the new one */
				if (s->token_len > 0 && now < s->expires_at)
					token = take_token(s, now);
				else
					wait_ms = Max(1, Min((long) ((s->refresh_deadline - now) / 1000), 1000));
			}
			else if (now < s->fail_until && s->error[0] != '\0')
				*errmsg = pstrdup(s->error);
			else
			{
				/* this backend refreshes */
				int			timeout = p->timeout_ms > 0 ? p->timeout_ms : AIG_TOKEN_TIMEOUT_MS;

				s->refresher = MyProcPid;
				s->refresh_deadline = TimestampTzPlusMilliseconds(now, timeout + 2000);
			}
			LWLockRelease(tok_shared->lock);
		}
		if (token != NULL || *errmsg != NULL)
			break;
		if (wait_ms > 0)
		{
			if (!sleeping)
				ConditionVariablePrepareToSleep(&tok_shared->cv);
			sleeping = true;
			(void) ConditionVariableTimedSleep(&tok_shared->cv, wait_ms, PG_WAIT_EXTENSION);
			continue;
		}

		/* the refresh, without the lock */
		if (sleeping)
			ConditionVariableCancelSleep();
		sleeping = false;
		token = refresh(p, key, errmsg, retryable);
		break;
	}
	if (sleeping)
		ConditionVariableCancelSleep();
	return token;
}
