/*
 * Request body validation. Error messages go back to the client inside a
 * JSON string, so every message is made valid UTF-8 without control
 * characters (cr_util_utf8_vformat): json_string() refuses invalid UTF-8,
 * and a message cut by snprintf or quoting jansson's "near '...'" token
 * could otherwise carry half a character or raw bytes of the body.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "date.h"
#include "jsonv.h"
#include "log.h"
#include "util.h"

#define JV_DEFAULT_MAXLEN	255
#define JV_DEFAULT_MAXITEMS	1000
/* Longest key quoted back in a message; keys are client-chosen. */
#define JV_KEY_QUOTE		64

static void jv_err(char *, size_t, const char *, ...) CR_PRINTF(3, 4);

static void
jv_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	cr_util_utf8_vformat(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

static const char *
expected_name(enum cr_jsonv_type t)
{
	switch (t) {
	case CR_JV_STRING:
	case CR_JV_STRING_EMPTY:
		return "a string";
	case CR_JV_INT:
		return "an integer";
	case CR_JV_BOOL:
		return "a boolean";
	case CR_JV_OBJECT:
		return "an object";
	case CR_JV_STRING_ARRAY:
		return "an array";
	default:
		return "another type";
	}
}

/*
 * A string with an embedded NUL can only come from a json_t built in code
 * (the parser rejects \u0000), but C callers would silently see it cut.
 */
static int
string_ok(const json_t *v, int allow_empty, size_t maxlen, char *why,
    size_t whylen)
{
	size_t len = json_string_length(v);

	if (strlen(json_string_value(v)) != len) {
		snprintf(why, whylen, "contains a NUL character");
		return -1;
	}
	if (len == 0 && !allow_empty) {
		snprintf(why, whylen, "must not be empty");
		return -1;
	}
	if (len > maxlen) {
		snprintf(why, whylen, "longer than %zu bytes", maxlen);
		return -1;
	}
	return 0;
}

static int
check_field(const struct cr_jsonv_field *f, const json_t *v, char *err,
    size_t errlen)
{
	size_t maxlen = f->maxlen != 0 ? f->maxlen : JV_DEFAULT_MAXLEN;
	char why[64];
	long long n, maxitems;
	size_t i;

	switch (f->type) {
	case CR_JV_STRING:
	case CR_JV_STRING_EMPTY:
		if (!json_is_string(v))
			goto wrongtype;
		if (string_ok(v, f->type == CR_JV_STRING_EMPTY, maxlen,
		    why, sizeof(why)) == -1) {
			jv_err(err, errlen, "field '%s': %s", f->name, why);
			return -1;
		}
		return 0;
	case CR_JV_DATE_OR_NULL:
		if (json_is_null(v))
			return 0;
		/* FALLTHROUGH */
	case CR_JV_DATE:
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    cr_date_valid(json_string_value(v)) == -1) {
			jv_err(err, errlen, "field '%s': expected a date "
			    "(YYYY-MM-DD)%s", f->name,
			    f->type == CR_JV_DATE_OR_NULL ? " or null" : "");
			return -1;
		}
		return 0;
	case CR_JV_INT:
		if (!json_is_integer(v))
			goto wrongtype;
		n = json_integer_value(v);
		if (n < f->min || n > f->max) {
			jv_err(err, errlen, "field '%s': must be between %lld "
			    "and %lld", f->name, f->min, f->max);
			return -1;
		}
		return 0;
	case CR_JV_BOOL:
		if (!json_is_boolean(v))
			goto wrongtype;
		return 0;
	case CR_JV_OBJECT:
		if (!json_is_object(v))
			goto wrongtype;
		return 0;
	case CR_JV_STRING_ARRAY:
		if (!json_is_array(v))
			goto wrongtype;
		maxitems = f->max > 0 ? f->max : JV_DEFAULT_MAXITEMS;
		if (json_array_size(v) > (size_t)maxitems) {
			jv_err(err, errlen, "field '%s': more than %lld items",
			    f->name, maxitems);
			return -1;
		}
		for (i = 0; i < json_array_size(v); i++) {
			const json_t *item = json_array_get(v, i);

			if (!json_is_string(item)) {
				jv_err(err, errlen, "field '%s[%zu]': "
				    "expected a string, got %s", f->name, i,
				    type_name(item));
				return -1;
			}
			if (string_ok(item, 0, maxlen, why,
			    sizeof(why)) == -1) {
				jv_err(err, errlen, "field '%s[%zu]': %s",
				    f->name, i, why);
				return -1;
			}
		}
		return 0;
	case CR_JV_ANY:
		return 0;
	}
	/* An enum value the switch does not know is a bug in the spec. */
	log_warnx("jsonv: field '%s' has unknown type %d", f->name,
	    (int)f->type);
	jv_err(err, errlen, "field '%s': cannot be validated", f->name);
	return -1;

 wrongtype:
	jv_err(err, errlen, "field '%s': expected %s, got %s", f->name,
	    expected_name(f->type), type_name(v));
	return -1;
}

static const struct cr_jsonv_field *
spec_find(const struct cr_jsonv_field *spec, const char *key)
{
	for (; spec->name != NULL; spec++)
		if (strcmp(spec->name, key) == 0)
			return spec;
	return NULL;
}

int
cr_jsonv_check(const json_t *obj, const struct cr_jsonv_field *spec,
    char *err, size_t errlen)
{
	const struct cr_jsonv_field *f;
	const char *key;
	json_t *v;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (spec == NULL) {
		jv_err(err, errlen, "internal error: no specification");
		return -1;
	}
	if (obj == NULL || !json_is_object(obj)) {
		jv_err(err, errlen, "body must be a JSON object");
		return -1;
	}
	/* json_object_foreach wants a non-const object; it does not modify. */
	json_object_foreach((json_t *)obj, key, v) {
		if (spec_find(spec, key) == NULL) {
			jv_err(err, errlen, "unknown field '%.*s%s'",
			    JV_KEY_QUOTE, key,
			    strlen(key) > JV_KEY_QUOTE ? "..." : "");
			return -1;
		}
	}
	for (f = spec; f->name != NULL; f++) {
		if ((v = json_object_get(obj, f->name)) == NULL) {
			if (f->required) {
				jv_err(err, errlen, "missing required field "
				    "'%s'", f->name);
				return -1;
			}
			continue;
		}
		if (check_field(f, v, err, errlen) == -1)
			return -1;
	}
	return 0;
}

int
cr_jsonv_parse_object(const char *body, size_t len, json_t **out, char *err,
    size_t errlen)
{
	json_error_t jerr;
	const char *nul;
	json_t *root = NULL;
	int rc = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL)
		goto out;
	*out = NULL;
	if (body == NULL || len == 0) {
		jv_err(err, errlen, "empty body: expected a JSON object");
		goto out;
	}
	/* jansson would stop at the NUL and report a confusing position. */
	if ((nul = memchr(body, '\0', len)) != NULL) {
		jv_err(err, errlen, "invalid JSON: NUL byte at offset %zu",
		    (size_t)(nul - body));
		goto out;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		jv_err(err, errlen, "invalid JSON at line %d, column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		jv_err(err, errlen, "body must be a JSON object, not %s",
		    type_name(root));
		goto out;
	}
	*out = root;
	root = NULL;
	rc = 0;
 out:
	json_decref(root);
	return rc;
}

static int
blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int
cr_jsonv_ndjson_lines(const char *body, size_t len,
    int (*cb)(const char *line, size_t len, size_t lineno, void *arg),
    void *arg)
{
	const char *p = body, *end = body + len, *nl;
	size_t lineno = 0, linelen;

	if (cb == NULL || (body == NULL && len > 0))
		return -1;
	if (body == NULL)
		return 0;
	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;	/* last line without its newline */
		linelen = (size_t)(nl - p);
		if (linelen > 0 && p[linelen - 1] == '\r')
			linelen--;
		if (!blank(p, linelen) && cb(p, linelen, lineno, arg) != 0)
			return -1;
		p = nl < end ? nl + 1 : end;
	}
	return 0;
}
