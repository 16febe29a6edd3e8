/*
 * gemini.h — what the Gemini dialect's files share (gemini.c: URL, headers,
 * reading answers and errors; gemini_content.c: the request body).
 */
#ifndef AIG_GEMINI_H
#define AIG_GEMINI_H

#include "providers/dialect_util.h"

/* The generateContent body of req (contents, tools, config) into out. */
extern void aig_gemini_chat_body(const AigChatRequest *req,
								 AigHttpRequest *out);

/* "parts": [{"text": text}] */
extern void aig_gemini_text_parts(AigJsonWriter *w, const char *text);

#endif							/* AIG_GEMINI_H */
