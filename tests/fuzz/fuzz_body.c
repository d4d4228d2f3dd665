/*
 * Fuzz target for request bodies: the object parser, the spec checker with
 * the consultation and directory specs, the subject schemes on whatever
 * passes, and the NDJSON splitter. Besides crashes and leaks it checks
 * invariants and aborts when one breaks:
 * - every error message is valid UTF-8 (json_string accepts it), since it
 *   goes back to the client inside JSON;
 * - a body that passes a spec really has the declared shape;
 * - normalizing an identifier is idempotent and yields digits only;
 * - a valid date survives the day-count round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "date.h"
#include "ident.h"
#include "jsonv.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct cr_jsonv_field consult_spec[] = {
	{ "subject", CR_JV_STRING, 1, 64, 0, 0 },
	{ "purpose", CR_JV_STRING, 1, 0, 0, 0 },
	{ "params", CR_JV_OBJECT, 0, 0, 0, 0 },
	{ "reference_date", CR_JV_DATE, 0, 0, 0, 0 },
	CR_JSONV_END
};

static const struct cr_jsonv_field directory_spec[] = {
	{ "subject", CR_JV_STRING, 1, 64, 0, 0 },
	{ "capacity", CR_JV_STRING, 1, 0, 0, 0 },
	{ "from", CR_JV_DATE, 1, 0, 0, 0 },
	{ "to", CR_JV_DATE_OR_NULL, 0, 0, 0, 0 },
	CR_JSONV_END
};

/* Exercises the other fields' types too, with small limits. */
static const struct cr_jsonv_field misc_spec[] = {
	{ "limit", CR_JV_INT, 0, 0, -3, 1000 },
	{ "household", CR_JV_BOOL, 0, 0, 0, 0 },
	{ "fields", CR_JV_STRING_ARRAY, 0, 8, 0, 4 },
	{ "note", CR_JV_STRING_EMPTY, 0, 3, 0, 0 },
	{ "data", CR_JV_ANY, 0, 0, 0, 0 },
	CR_JSONV_END
};

static void
assert_msg(const char *err)
{
	json_t *j;

	if (err[0] == '\0')
		abort();	/* a failure must say why */
	if ((j = json_string(err)) == NULL)
		abort();
	json_decref(j);
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
			if (out[i] < '0' || out[i] > '9')
				abort();
		if (cr_ident_normalize(*s, out, again, sizeof(again)) == -1 ||
		    strcmp(out, again) != 0)
			abort();
	}
}

static void
check_date(const json_t *v)
{
	char back[CR_DATE_LEN + 1];
	int32_t days;

	if (!json_is_string(v))
		return;
	if (cr_date_to_days(json_string_value(v), &days) == -1)
		abort();	/* the spec said it was a date */
	cr_date_from_days(days, back);
	if (strcmp(back, json_string_value(v)) != 0)
		abort();
}

static void
check_specs(const json_t *obj)
{
	char err[256];
	const json_t *v;

	if (cr_jsonv_check(obj, consult_spec, err, sizeof(err)) == 0) {
		v = json_object_get(obj, "subject");
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 64)
			abort();
		if (!json_is_string(json_object_get(obj, "purpose")))
			abort();
		v = json_object_get(obj, "params");
		if (v != NULL && !json_is_object(v))
			abort();
		if ((v = json_object_get(obj, "reference_date")) != NULL)
			check_date(v);
		check_ident(json_string_value(json_object_get(obj,
		    "subject")));
	} else
		assert_msg(err);

	if (cr_jsonv_check(obj, directory_spec, err, sizeof(err)) == 0) {
		check_date(json_object_get(obj, "from"));
		v = json_object_get(obj, "to");
		if (v != NULL && !json_is_null(v))
			check_date(v);
		check_ident(json_string_value(json_object_get(obj,
		    "subject")));
	} else
		assert_msg(err);

	if (cr_jsonv_check(obj, misc_spec, err, sizeof(err)) == 0) {
		v = json_object_get(obj, "limit");
		if (v != NULL && (json_integer_value(v) < -3 ||
		    json_integer_value(v) > 1000))
			abort();
		v = json_object_get(obj, "fields");
		if (v != NULL && json_array_size(v) > 4)
			abort();
	} else
		assert_msg(err);
}

static int
parse_line(const char *line, size_t len, size_t lineno, void *arg)
{
	size_t *prev = arg;
	char err[256];
	json_t *obj;

	if (lineno <= *prev || len == 0)
		abort();	/* numbers only grow, blank lines skipped */
	*prev = lineno;
	if (cr_jsonv_parse_object(line, len, &obj, err, sizeof(err)) == -1) {
		assert_msg(err);
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
		if (obj == NULL)
			abort();
		check_specs(obj);
		json_decref(obj);
	} else {
		if (obj != NULL)
			abort();
		assert_msg(err);
	}

	if (cr_jsonv_ndjson_lines(body, size, parse_line, &prev) != 0)
		abort();
	rc = cr_jsonv_ndjson_lines(body, size, stop_at_second, &calls);
	if ((rc == -1) != (calls == 2))
		abort();
	return 0;
}
