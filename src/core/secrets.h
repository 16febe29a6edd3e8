/*
 * secrets.h — encryption of provider API keys at rest (AES-256-GCM).
 */
#ifndef AIG_SECRETS_H
#define AIG_SECRETS_H

#include "postgres.h"

#define AIG_SECRET_PREFIX "aigk1:"
#define AIG_MASK_PREFIX "****"

/* GUC ai_gateway.master_key_file */
extern char *aig_master_key_file;

/* Define ai_gateway.master_key_file (called from _PG_init). */
extern void aig_secrets_define_gucs(void);

extern char *aig_secret_encrypt(const char *plain);
/* NULL (and *why set) when the ciphertext cannot be opened with our key */
extern char *aig_secret_decrypt(const char *sealed, const char **why);
extern char *aig_secret_mask(const char *plain);
extern bool aig_secret_is_mask(const char *value);
/* replace every occurrence of secret in msg by its mask (palloc'd copy) */
extern char *aig_secret_scrub_bytes(const char *s, size_t len, const char *secret,
									size_t *outlen);

#endif							/* AIG_SECRETS_H */
