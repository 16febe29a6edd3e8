/*
 * gemini.h — what the Gemini dialect's files share (gemini.c: URL, headers,
 * reading answers and errors; gemini_content.c: the request body;
 * gemini_schema.c: JSON schemas in Gemini's subset).
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

/* gemini_schema.c: JSON schema root written as a Gemini schema */
extern void aig_gemini_write_schema(AigJsonWriter *w, const AigJson *root);

/* ... true when root is no schema Gemini can take as parameters or an
 * answer schema (not an object, or a free-form object): leave it out */
extern bool aig_gemini_no_parameters(const AigJson *root);

/* "parts": [{"text": text}] */
extern void aig_gemini_text_parts(AigJsonWriter *w, const char *text);

#endif							/* AIG_GEMINI_H */
