/*
 * Answer bodies of the contract (docs/api.md): the error object and the
 * serialization every answer uses.
 */
#ifndef CR_ANSWER_H
#define CR_ANSWER_H

#include <stddef.h>
#include <jansson.h>

/* How answers are serialized: compact, reals as the sources sent them. */
#define CR_ANSWER_JSON_FLAGS	(JSON_COMPACT | JSON_REAL_PRECISION(15))

/*
 * {"error":{"code","message","request_id"}} as a new reference, message
 * made valid UTF-8 text (invalid bytes escaped, see cr_util_utf8_copy);
 * NULL when out of memory.
 */
json_t	*cr_answer_error_json(const char *request_id, const char *code,
	    const char *message);
/*
 * The same, serialized: a malloc'd string (the caller frees it) of *len
 * bytes, or NULL when out of memory.
 */
char	*cr_answer_error_text(const char *request_id, const char *code,
	    const char *message, size_t *len);

#endif
