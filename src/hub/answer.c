/*
 * The contract's error body, built by the HTTP front and off it: a
 * consultation's answer is built before its log entry is written, so that
 * the status logged is the status sent (consult.c).
 */
#include <string.h>

#include "answer.h"
#include "util.h"

json_t *
cr_answer_error_json(const char *request_id, const char *code,
    const char *message)
{
	char msg[1024];

	cr_util_utf8_copy(msg, sizeof(msg), message);
	return json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code,
	    "message", msg, "request_id", request_id);
}

char *
cr_answer_error_text(const char *request_id, const char *code,
    const char *message, size_t *len)
{
	json_t *j;
	char *s;

	if ((j = cr_answer_error_json(request_id, code, message)) == NULL)
		return NULL;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s != NULL)
		*len = strlen(s);
	return s;
}
