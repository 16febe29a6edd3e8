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
/* The messages as a JSON array text (server encoding), image bytes included. */
extern char *aig_messages_json(const AigChatRequest *req);
/* ... with_data false: each image or document as its media type and size (audit) */
extern char *aig_messages_json_ex(const AigChatRequest *req, bool with_data);

/* message_parts.c: image and document parts */
extern int	aig_max_image_kb;
extern void aig_message_parts_define_gucs(void);
/* One non-text part of messages[msg].content[part] into p (22023/54000 when bad). */
extern void aig_parse_content_part(JsonbValue *e, const char *type, int msg, int part,
								   AigContentPart *p);
/* The media type of bytes by their signature (PNG, JPEG, GIF, WebP, PDF), or NULL. */
extern const char *aig_sniff_media_type(const unsigned char *bytes, size_t len);

/* The document a request hook sees: {"route","messages","options"}. */
extern Jsonb *aig_chat_request_jsonb(const AigRoute *route, const AigChatRequest *req,
									 Jsonb *opts);
/* The normalized ai_chat object of a call. */
extern Jsonb *aig_chat_result_jsonb(const AigChatResult *res, const AigCallInfo *info);

#endif							/* AIG_MESSAGES_H */
