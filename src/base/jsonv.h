/*
 * Validation of JSON request bodies against a small declarative spec:
 * every key must be known (unknown fields are a BAD_REQUEST), required keys
 * present, types right, strings within their maximum length. Handlers then
 * read the object knowing its shape.
 */
#ifndef CR_JSONV_H
#define CR_JSONV_H

#include <stddef.h>
#include <jansson.h>

enum cr_jsonv_type {
	CR_JV_STRING,		/* non-empty string of at most maxlen bytes */
	CR_JV_STRING_EMPTY,	/* string, may be empty */
	CR_JV_DATE,		/* "YYYY-MM-DD" */
	CR_JV_DATE_OR_NULL,	/* date or JSON null */
	CR_JV_INT,		/* integer in [min, max] */
	CR_JV_BOOL,
	CR_JV_OBJECT,		/* any JSON object */
	CR_JV_STRING_ARRAY,	/* array (maybe empty) of non-empty strings of
				   at most maxlen bytes, at most max items */
	CR_JV_ANY,
};

struct cr_jsonv_field {
	const char		*name;
	enum cr_jsonv_type	 type;
	int			 required;
	size_t			 maxlen;	/* strings; 0 = 255 */
	long long		 min, max;	/* ints; array item count max */
};

/* Terminate a spec with CR_JSONV_END. */
#define CR_JSONV_END	{ NULL, 0, 0, 0, 0, 0 }

/*
 * 0 when obj is an object matching spec; -1 otherwise with a message for
 * the client such as "field 'subject': expected a string" in err.
 */
int	cr_jsonv_check(const json_t *obj, const struct cr_jsonv_field *spec,
	    char *err, size_t errlen);

/*
 * Parses a request body that must be one JSON object; -1 with a message
 * (position included) on malformed JSON or a non-object. The caller owns
 * *out (json_decref).
 */
int	cr_jsonv_parse_object(const char *body, size_t len, json_t **out,
	    char *err, size_t errlen);

/*
 * Splits NDJSON: calls cb for each non-blank line with its 1-based line
 * number. Lines may end in "\n" or "\r\n". Stops and returns -1 when cb
 * does; 0 otherwise.
 */
int	cr_jsonv_ndjson_lines(const char *body, size_t len,
	    int (*cb)(const char *line, size_t len, size_t lineno, void *arg),
	    void *arg);

#endif
