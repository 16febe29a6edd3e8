/*
 * secrets.h — provider secrets at rest (AES-256-GCM, bound to their
 * endpoint), masks, and scrubbing secrets out of provider text.
 */
#ifndef AIG_SECRETS_H
#define AIG_SECRETS_H

#include "postgres.h"

#define AIG_SECRET_PREFIX "aigk2:"
#define AIG_LEGACY_PREFIX "aigk1:"	/* 0.2.0: not bound to an endpoint */
#define AIG_MASK_PREFIX "****"

/* GUC ai_gateway.master_key_file */
extern char *aig_master_key_file;

/* Define ai_gateway.master_key_file (called from _PG_init). */
extern void aig_secrets_define_gucs(void);

struct AigProvider;

/*
 * Seal plain as secret purpose ("api_key", "header:<lower-case name>") of
 * provider/kind at base URL origin (aig_secret_origin).
 */
extern char *aig_secret_encrypt(const char *plain, const char *purpose, const char *provider,
								const char *kind, const char *origin);
/* NULL (and *why set) when it does not open for exactly that binding */
extern char *aig_secret_decrypt(const char *sealed, const char *purpose, const char *provider,
								const char *kind, const char *origin, const char **why);
/* A 0.2.0 key ("aigk1:"), for its migration only; NULL and *why if it does not open */
extern char *aig_secret_decrypt_legacy(const char *sealed, const char **why);
extern bool aig_secret_is_sealed(const char *value);
extern bool aig_secret_is_legacy(const char *value);
/* "scheme://host:port" of a URL (lower case, port explicit) */
extern char *aig_secret_origin(const char *url);
extern char *aig_secret_mask(const char *plain);
extern bool aig_secret_is_mask(const char *value);
/* replace every occurrence of secret in msg by its mask (palloc'd copy) */
extern char *aig_secret_scrub_bytes(const char *s, size_t len, const char *secret,
									size_t *outlen);
/* the same for every secret of provider p (key, sealed headers, other header values) */
extern char *aig_secret_scrub_provider(const struct AigProvider *p, const char *s, size_t len,
									   size_t *outlen);

#endif							/* AIG_SECRETS_H */
