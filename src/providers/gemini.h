/*
 * gemini.h — what the Gemini dialect's files share (gemini.c: URL, headers,
 * reading answers and errors; gemini_content.c: the request body).
 */
#ifndef AIG_GEMINI_H
#define AIG_GEMINI_H

#include "providers/dialect_util.h"

/*
 * A call id that carries the thought signature of its functionCall part:
 * "<id>" AIG_GEMINI_SIG_MARK "<signature>".  Thinking models (Gemini 3)
 * refuse a history whose calls lost their signatures; the neutral tool
 * call has only an id to carry it back in.
 */
#define AIG_GEMINI_SIG_MARK ".sig."

/* The generateContent body of req (contents, tools, config) into out. */
extern void aig_gemini_chat_body(const AigChatRequest *req,
								 AigHttpRequest *out);

/* "parts": [{"text": text}] */
extern void aig_gemini_text_parts(AigJsonWriter *w, const char *text);

#endif							/* AIG_GEMINI_H */
