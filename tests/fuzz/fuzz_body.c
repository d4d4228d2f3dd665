/*
 * Fuzz target for request bodies: the object parser, then every body spec
 * the API handlers check requests against (the real ones, api.h), the
 * subject schemes on whatever passes, and the NDJSON splitter. Besides
 * crashes and leaks it checks:
 * - a spec accepts a body exactly when an independent reading of the
 *   rules in jsonv.h does (known keys, required ones, types, lengths,
 *   ranges, item counts);
 * - every error message is non-empty valid UTF-8, since it goes back to
 *   the client inside JSON;
 * - normalizing an identifier is idempotent and yields digits only;
 * - a valid date survives the day-count round trip;
 * - the NDJSON splitter numbers lines in order, skips blank ones and
 *   stops when its callback does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "registry_file.h"
#include "date.h"
#include "fuzz.h"
#include "ident.h"
#include "jsonv.h"

static const struct {
	const char			*name;
	const struct cr_jsonv_field	*spec;
} specs[] = {
	{ "consult", cr_api_consult_spec },
	{ "redeliver", cr_api_redeliver_spec },
	{ "directory_remove", cr_api_directory_remove_spec },
	{ "event_type", cr_api_event_type_spec },
	{ "event", cr_api_event_spec },
	{ "subscription", cr_api_subscription_spec },
	{ "delivery", cr_api_delivery_spec },
	{ "institution", cr_registry_institution_spec },
	{ "client", cr_api_client_spec },
	{ "service", cr_registry_service_spec },
	{ "authz", cr_registry_authz_spec },
	{ "capacity", cr_registry_capacity_spec },
	{ "verify", cr_api_verify_spec },
	{ "rotate", cr_api_rotate_spec },
	{ "operator", cr_api_operator_spec },
	{ "authz_patch", cr_api_authz_patch_spec },
};

/* The rules of jsonv.h, written again from the header, not the code. */
static int
date_ok(const json_t *v)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	const char *s;
	int i, y, m, d, leap;

	if (!json_is_string(v) || json_string_length(v) != 10)
		return 0;
	s = json_string_value(v);
	for (i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : s[i] < '0' || s[i] > '9')
			return 0;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return y >= 1000 && m >= 1 && m <= 12 && d >= 1 &&
	    d <= mdays[m - 1] + (m == 2 && leap);
}

static int
string_ok(const json_t *v, int empty_ok, size_t maxlen)
{
	size_t len;

	if (!json_is_string(v))
		return 0;
	len = json_string_length(v);
	return strlen(json_string_value(v)) == len && (empty_ok || len > 0) &&
	    len <= (maxlen != 0 ? maxlen : 255);
}

static int
field_ok(const struct cr_jsonv_field *f, const json_t *v)
{
	size_t i;

	switch (f->type) {
	case CR_JV_STRING:
		return string_ok(v, 0, f->maxlen);
	case CR_JV_STRING_EMPTY:
		return string_ok(v, 1, f->maxlen);
	case CR_JV_DATE:
		return date_ok(v);
	case CR_JV_DATE_OR_NULL:
		return json_is_null(v) || date_ok(v);
	case CR_JV_INT:
		return json_is_integer(v) && json_integer_value(v) >= f->min &&
		    json_integer_value(v) <= f->max;
	case CR_JV_BOOL:
		return json_is_boolean(v);
	case CR_JV_OBJECT:
		return json_is_object(v);
	case CR_JV_STRING_ARRAY:
		if (!json_is_array(v) || json_array_size(v) >
		    (size_t)(f->max > 0 ? f->max : 1000))
			return 0;
		for (i = 0; i < json_array_size(v); i++)
			if (!string_ok(json_array_get(v, i), 0, f->maxlen))
				return 0;
		return 1;
	case CR_JV_ANY:
		return 1;
	}
	return 0;
}

static int
conforms(const json_t *obj, const struct cr_jsonv_field *spec)
{
	const struct cr_jsonv_field *f;
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		for (f = spec; f->name != NULL; f++)
			if (strcmp(f->name, key) == 0)
				break;
		if (f->name == NULL)
			return 0;
	}
	for (f = spec; f->name != NULL; f++) {
		if ((v = json_object_get(obj, f->name)) == NULL) {
			if (f->required)
				return 0;
		} else if (!field_ok(f, v))
			return 0;
	}
	return 1;
}

static void
check_ident(const char *subject)
{
	const struct cr_ident_scheme *const *s;
	char out[CR_SUBJECT_MAX], again[CR_SUBJECT_MAX];
	size_t i;

	for (s = cr_ident_all(); *s != NULL; s++) {
		if (cr_ident_normalize(*s, subject, out, sizeof(out)) == -1)
			continue;
		for (i = 0; out[i] != '\0'; i++)
			FUZZ_CHECK(out[i] >= '0' && out[i] <= '9');
		FUZZ_CHECK(cr_ident_normalize(*s, out, again,
		    sizeof(again)) == 0);
		FUZZ_CHECK(strcmp(out, again) == 0);
	}
}

static void
check_date(const json_t *v)
{
	char back[CR_DATE_LEN + 1];
	int32_t days;

	if (!json_is_string(v))
		return;
	FUZZ_CHECK(cr_date_to_days(json_string_value(v), &days) == 0);
	cr_date_from_days(days, back);
	FUZZ_CHECK(strcmp(back, json_string_value(v)) == 0);
}

static void
check_specs(const json_t *obj)
{
	const struct cr_jsonv_field *f;
	char err[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		rc = cr_jsonv_check(obj, specs[i].spec, err, sizeof(err));
		FUZZ_CHECK((rc == 0) == conforms(obj, specs[i].spec));
		if (rc == -1) {
			fuzz_check_msg(err);
			continue;
		}
		for (f = specs[i].spec; f->name != NULL; f++) {
			const json_t *v = json_object_get(obj, f->name);

			if (v == NULL)
				continue;
			if (f->type == CR_JV_DATE || f->type ==
			    CR_JV_DATE_OR_NULL)
				check_date(v);
			if (strcmp(f->name, "subject") == 0)
				check_ident(json_string_value(v));
		}
	}
}

static int
parse_line(const char *line, size_t len, size_t lineno, void *arg)
{
	size_t *prev = arg, i;
	char err[256];
	json_t *obj;

	/* Numbers only grow; blank lines (and the "\r" of CRLF) skipped. */
	FUZZ_CHECK(lineno > *prev && len > 0);
	FUZZ_CHECK(memchr(line, '\n', len) == NULL);
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' ||
	    line[i] == '\r'); i++)
		;
	FUZZ_CHECK(i < len);
	*prev = lineno;
	if (cr_jsonv_parse_object(line, len, &obj, err, sizeof(err)) == -1) {
		fuzz_check_msg(err);
		/* Keep going: a batch reports every bad line. */
		return 0;
	}
	check_specs(obj);
	json_decref(obj);
	return 0;
}

static int
stop_at_second(const char *line, size_t len, size_t lineno, void *arg)
{
	size_t *calls = arg;

	return ++*calls == 2 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char err[256];
	json_t *obj = NULL;
	size_t prev = 0, calls = 0;
	int rc;

	if (cr_jsonv_parse_object(body, size, &obj, err, sizeof(err)) == 0) {
		FUZZ_CHECK(json_is_object(obj));
		check_specs(obj);
		json_decref(obj);
	} else {
		FUZZ_CHECK(obj == NULL);
		fuzz_check_msg(err);
	}

	FUZZ_CHECK(cr_jsonv_ndjson_lines(body, size, parse_line, &prev) == 0);
	rc = cr_jsonv_ndjson_lines(body, size, stop_at_second, &calls);
	FUZZ_CHECK((rc == -1) == (calls == 2));
	return 0;
}
