/*
 * messages.h — the chat request and answer as JSON (messages.c).
 */
#ifndef AIG_MESSAGES_H
#define AIG_MESSAGES_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "providers/provider.h"
#include "routing/router.h"

extern void aig_add_message(AigChatRequest *req, int *cap, const char *role, char *content);
extern void aig_prepend_system(AigChatRequest *req, int *cap, char *content);
extern bool aig_has_system_message(const AigChatRequest *req);
/* Parse a messages jsonb array (22023 when malformed) into req. */
extern void aig_parse_messages(Jsonb *messages, AigChatRequest *req, int *cap);
/* The messages as a JSON array text (server encoding). */
extern char *aig_messages_json(const AigChatRequest *req);
/* The document a request hook sees: {"route","messages","options"}. */
extern Jsonb *aig_chat_request_jsonb(const AigRoute *route, const AigChatRequest *req,
									 Jsonb *opts);
/* The normalized ai_chat object of a call. */
extern Jsonb *aig_chat_result_jsonb(const AigChatResult *res, const AigCallInfo *info);

#endif							/* AIG_MESSAGES_H */
