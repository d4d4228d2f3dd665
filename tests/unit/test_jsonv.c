/*
 * JSON body validation: the spec checker, the object parser and the NDJSON
 * splitter.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonv.h"

static const struct cr_jsonv_field spec_all[] = {
	{ "subject", CR_JV_STRING, 1, 11, 0, 0 },
	{ "note", CR_JV_STRING_EMPTY, 0, 0, 0, 0 },
	{ "from", CR_JV_DATE, 1, 0, 0, 0 },
	{ "to", CR_JV_DATE_OR_NULL, 0, 0, 0, 0 },
	{ "limit", CR_JV_INT, 0, 0, 1, 1000 },
	{ "household", CR_JV_BOOL, 0, 0, 0, 0 },
	{ "params", CR_JV_OBJECT, 0, 0, 0, 0 },
	{ "fields", CR_JV_STRING_ARRAY, 0, 8, 0, 3 },
	{ "data", CR_JV_ANY, 0, 0, 0, 0 },
	CR_JSONV_END
};

static json_t *
load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	if (j == NULL)
		fail_msg("test JSON does not parse: %s: %s", text, jerr.text);
	return j;
}

/* Checks text against spec; returns the result, err holds the message. */
static int
check_text(const char *text, const struct cr_jsonv_field *spec, char *err,
    size_t errlen)
{
	json_t *j = load(text);
	int rc = cr_jsonv_check(j, spec, err, errlen);

	json_decref(j);
	return rc;
}

static void
expect_ok(const char *text, const struct cr_jsonv_field *spec)
{
	char err[256];

	if (check_text(text, spec, err, sizeof(err)) != 0)
		fail_msg("rejected %s: %s", text, err);
}

static void
expect_err(const char *text, const struct cr_jsonv_field *spec,
    const char *msg)
{
	char err[256];

	memset(err, 0, sizeof(err));
	if (check_text(text, spec, err, sizeof(err)) != -1)
		fail_msg("accepted %s", text);
	if (strstr(err, msg) == NULL)
		fail_msg("%s: message '%s' lacks '%s'", text, err, msg);
}

/* A message must survive json_string(), i.e. be valid UTF-8. */
static void
assert_utf8(const char *s)
{
	json_t *j = json_string(s);

	assert_non_null(j);
	json_decref(j);
}

static void
test_check_ok(void **state)
{
	expect_ok("{\"subject\":\"85073003328\",\"from\":\"2024-01-01\"}",
	    spec_all);
	expect_ok("{\"subject\":\"x\",\"note\":\"\",\"from\":\"2024-02-29\","
	    "\"to\":null,\"limit\":1,\"household\":false,\"params\":{},"
	    "\"fields\":[],\"data\":[1,{\"a\":null}]}", spec_all);
	expect_ok("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"to\":\"2024-12-31\",\"limit\":1000,\"household\":true,"
	    "\"params\":{\"k\":[1]},\"fields\":[\"name\",\"address\",\"x\"],"
	    "\"data\":null}", spec_all);
}

static void
test_check_unknown(void **state)
{
	char err[256];

	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\",\"foo\":1}",
	    spec_all, "unknown field 'foo'");
	/* Reported even when a required field is missing as well. */
	expect_err("{\"bar\":1}", spec_all, "unknown field 'bar'");
	/* Case matters. */
	expect_err("{\"Subject\":\"x\",\"from\":\"2024-01-01\"}", spec_all,
	    "unknown field 'Subject'");

	/* A long, non-ASCII key is cut without breaking UTF-8. */
	{
		char key[300], text[400];
		size_t i;

		for (i = 0; i + 2 < 250; i += 2)
			memcpy(key + i, "\xc3\xa9", 2);	/* e-acute */
		key[i] = '\0';
		memmove(key + 1, key, i + 1);
		key[0] = 'k';	/* shifts the cut into a character */
		snprintf(text, sizeof(text), "{\"%s\":1}", key);
		assert_int_equal(check_text(text, spec_all, err, sizeof(err)),
		    -1);
		assert_non_null(strstr(err, "unknown field 'k\xc3\xa9"));
		assert_non_null(strstr(err, "...'"));
		assert_true(strlen(err) < 100);
		assert_utf8(err);
	}
}

static void
test_check_missing(void **state)
{
	expect_err("{\"from\":\"2024-01-01\"}", spec_all,
	    "missing required field 'subject'");
	expect_err("{\"subject\":\"x\"}", spec_all,
	    "missing required field 'from'");
	expect_err("{}", spec_all, "missing required field 'subject'");
}

static void
test_check_types(void **state)
{
	expect_err("{\"subject\":1,\"from\":\"2024-01-01\"}", spec_all,
	    "field 'subject': expected a string, got an integer");
	expect_err("{\"subject\":null,\"from\":\"2024-01-01\"}", spec_all,
	    "field 'subject': expected a string, got null");
	expect_err("{\"subject\":\"x\",\"note\":[],\"from\":\"2024-01-01\"}",
	    spec_all, "field 'note': expected a string, got an array");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"limit\":\"5\"}", spec_all,
	    "field 'limit': expected an integer, got a string");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\",\"limit\":5.0}",
	    spec_all, "field 'limit': expected an integer, got a number");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"household\":1}", spec_all,
	    "field 'household': expected a boolean, got an integer");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"household\":\"true\"}", spec_all,
	    "field 'household': expected a boolean");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\",\"params\":[]}",
	    spec_all, "field 'params': expected an object, got an array");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"params\":null}", spec_all,
	    "field 'params': expected an object, got null");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"fields\":{}}", spec_all,
	    "field 'fields': expected an array, got an object");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"fields\":\"name\"}", spec_all,
	    "field 'fields': expected an array, got a string");
}

static void
test_check_strings(void **state)
{
	static const struct cr_jsonv_field spec_default[] = {
		{ "s", CR_JV_STRING, 1, 0, 0, 0 },
		CR_JSONV_END
	};
	char text[400], err[256];
	json_t *j;

	/* maxlen 11 in spec_all. */
	expect_ok("{\"subject\":\"12345678901\",\"from\":\"2024-01-01\"}",
	    spec_all);
	expect_err("{\"subject\":\"123456789012\",\"from\":\"2024-01-01\"}",
	    spec_all, "field 'subject': longer than 11 bytes");
	/* Bytes, not characters: five e-acute are ten bytes. */
	expect_ok("{\"subject\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9x\","
	    "\"from\":\"2024-01-01\"}", spec_all);
	expect_err("{\"subject\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9xy\","
	    "\"from\":\"2024-01-01\"}", spec_all, "longer than 11 bytes");
	/* Empty. */
	expect_err("{\"subject\":\"\",\"from\":\"2024-01-01\"}", spec_all,
	    "field 'subject': must not be empty");
	expect_ok("{\"subject\":\"x\",\"note\":\"\",\"from\":\"2024-01-01\"}",
	    spec_all);

	/* maxlen 0 means 255. */
	snprintf(text, sizeof(text), "{\"s\":\"%0255d\"}", 0);
	expect_ok(text, spec_default);
	snprintf(text, sizeof(text), "{\"s\":\"%0256d\"}", 0);
	expect_err(text, spec_default, "field 's': longer than 255 bytes");

	/* An embedded NUL, only possible in a json_t built in code. */
	j = json_pack("{s:s%}", "s", "a\0b", (size_t)3);
	assert_non_null(j);
	assert_int_equal(cr_jsonv_check(j, spec_default, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "NUL"));
	json_decref(j);
}

static void
test_check_dates(void **state)
{
	expect_err("{\"subject\":\"x\",\"from\":\"2024-02-30\"}", spec_all,
	    "field 'from': expected a date (YYYY-MM-DD)");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-1-01\"}", spec_all,
	    "field 'from': expected a date");
	expect_err("{\"subject\":\"x\",\"from\":null}", spec_all,
	    "field 'from': expected a date");
	expect_err("{\"subject\":\"x\",\"from\":20240101}", spec_all,
	    "field 'from': expected a date");
	expect_err("{\"subject\":\"x\",\"from\":\"\"}", spec_all,
	    "field 'from': expected a date");
	expect_ok("{\"subject\":\"x\",\"from\":\"2024-01-01\",\"to\":null}",
	    spec_all);
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"to\":\"2023-02-29\"}", spec_all,
	    "field 'to': expected a date (YYYY-MM-DD) or null");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\",\"to\":\"\"}",
	    spec_all, "field 'to': expected a date");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\",\"to\":false}",
	    spec_all, "field 'to': expected a date");
}

static void
test_check_ints(void **state)
{
	static const struct cr_jsonv_field spec_wide[] = {
		{ "n", CR_JV_INT, 1, 0, LLONG_MIN, LLONG_MAX },
		CR_JSONV_END
	};
	static const struct cr_jsonv_field spec_neg[] = {
		{ "n", CR_JV_INT, 1, 0, -5, -1 },
		CR_JSONV_END
	};

	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\",\"limit\":0}",
	    spec_all, "field 'limit': must be between 1 and 1000");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"limit\":1001}", spec_all, "must be between 1 and 1000");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"limit\":-1}", spec_all, "must be between 1 and 1000");
	expect_ok("{\"n\":-9223372036854775808}", spec_wide);
	expect_ok("{\"n\":9223372036854775807}", spec_wide);
	expect_ok("{\"n\":-5}", spec_neg);
	expect_ok("{\"n\":-1}", spec_neg);
	expect_err("{\"n\":0}", spec_neg, "must be between -5 and -1");
	expect_err("{\"n\":-6}", spec_neg, "must be between -5 and -1");
	expect_err("{\"n\":true}", spec_neg,
	    "expected an integer, got a boolean");
}

static void
test_check_arrays(void **state)
{
	static const struct cr_jsonv_field spec_default[] = {
		{ "a", CR_JV_STRING_ARRAY, 1, 0, 0, 0 },
		CR_JSONV_END
	};
	json_t *obj, *arr;
	char err[256];
	int i;

	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"fields\":[\"a\",1]}", spec_all,
	    "field 'fields[1]': expected a string, got an integer");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"fields\":[null]}", spec_all,
	    "field 'fields[0]': expected a string, got null");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"fields\":[\"a\",\"\"]}", spec_all,
	    "field 'fields[1]': must not be empty");
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"fields\":[\"123456789\"]}", spec_all,
	    "field 'fields[0]': longer than 8 bytes");
	expect_ok("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"fields\":[\"12345678\"]}", spec_all);
	/* max 3 items in spec_all. */
	expect_err("{\"subject\":\"x\",\"from\":\"2024-01-01\","
	    "\"fields\":[\"a\",\"b\",\"c\",\"d\"]}", spec_all,
	    "field 'fields': more than 3 items");

	/* max 0 means 1000 items. */
	obj = json_object();
	arr = json_array();
	assert_non_null(obj);
	assert_non_null(arr);
	for (i = 0; i < 1000; i++)
		assert_int_equal(json_array_append_new(arr,
		    json_string("item")), 0);
	assert_int_equal(json_object_set_new(obj, "a", arr), 0);
	assert_int_equal(cr_jsonv_check(obj, spec_default, err, sizeof(err)),
	    0);
	assert_int_equal(json_array_append_new(arr, json_string("item")), 0);
	assert_int_equal(cr_jsonv_check(obj, spec_default, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "field 'a': more than 1000 items");
	json_decref(obj);
}

static void
test_check_bad_input(void **state)
{
	char err[64];
	json_t *j;

	assert_int_equal(cr_jsonv_check(NULL, spec_all, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "body must be a JSON object");
	j = load("[1,2]");
	assert_int_equal(cr_jsonv_check(j, spec_all, err, sizeof(err)), -1);
	assert_string_equal(err, "body must be a JSON object");
	json_decref(j);
	j = json_string("x");
	assert_int_equal(cr_jsonv_check(j, spec_all, err, sizeof(err)), -1);
	json_decref(j);

	/* NULL err and a tiny buffer are both fine. */
	j = load("{\"foo\":1}");
	assert_int_equal(cr_jsonv_check(j, spec_all, NULL, 0), -1);
	assert_int_equal(cr_jsonv_check(j, spec_all, err, 8), -1);
	assert_string_equal(err, "unknown");
	assert_int_equal(cr_jsonv_check(j, NULL, err, sizeof(err)), -1);
	json_decref(j);

	/* A spec with a type the checker does not know fails closed. */
	{
		const struct cr_jsonv_field spec_bad[] = {
			{ "x", (enum cr_jsonv_type)99, 0, 0, 0, 0 },
			CR_JSONV_END
		};

		j = load("{\"x\":1}");
		assert_int_equal(cr_jsonv_check(j, spec_bad, err, sizeof(err)),
		    -1);
		assert_string_equal(err, "field 'x': cannot be validated");
		json_decref(j);
	}
}

static void
test_parse_ok(void **state)
{
	const char body[] = " {\"subject\":\"85073003328\",\"n\":[1,2]}\r\n";
	char err[256];
	json_t *j = NULL;

	assert_int_equal(cr_jsonv_parse_object(body, strlen(body), &j, err,
	    sizeof(err)), 0);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "subject")),
	    "85073003328");
	json_decref(j);
	/* Only len bytes count: the junk after them is not read. */
	assert_int_equal(cr_jsonv_parse_object("{}garbage", 2, &j, err,
	    sizeof(err)), 0);
	assert_int_equal(json_object_size(j), 0);
	json_decref(j);
}

static void
expect_parse_err(const char *body, size_t len, const char *msg)
{
	char err[256];
	json_t *j = (json_t *)&err;	/* must be reset to NULL */

	memset(err, 0, sizeof(err));
	if (cr_jsonv_parse_object(body, len, &j, err, sizeof(err)) != -1)
		fail_msg("parsed '%.*s'", (int)len, body);
	assert_null(j);
	if (strstr(err, msg) == NULL)
		fail_msg("message '%s' lacks '%s'", err, msg);
	assert_utf8(err);
}

static void
test_parse_errors(void **state)
{
	const char nul[] = "{\"a\":\"x\0y\"}";
	const char badutf[] = "{\"a\":\"\xff\xfe\"}";
	const char badtok[] = "{\"a\":x\xc3}";

	expect_parse_err("{\"a\":}", 6,
	    "invalid JSON at line 1, column 6: unexpected token");
	expect_parse_err("{\n  \"a\": tru\n}", 14,
	    "at line 2, column 10: invalid token");
	expect_parse_err("{\"a\":1,\"a\":2}", 13,
	    "at line 1, column 10: duplicate object key");
	expect_parse_err("{}x", 3, "end of file expected");
	expect_parse_err("{\"a\":1", 6, "invalid JSON at line 1");
	expect_parse_err(nul, sizeof(nul) - 1,
	    "invalid JSON: NUL byte at offset 7");
	expect_parse_err("\0{}", 3, "NUL byte at offset 0");
	expect_parse_err(badutf, sizeof(badutf) - 1, "unable to decode byte");
	expect_parse_err(badtok, sizeof(badtok) - 1, "invalid JSON at line 1");
	expect_parse_err("{\"a\":\"\\u0000\"}", 14, "invalid JSON");
	/* Top level other than an object. */
	expect_parse_err("[1,2]", 5,
	    "body must be a JSON object, not an array");
	expect_parse_err("42", 2, "invalid JSON");
	expect_parse_err("\"s\"", 3, "invalid JSON");
	expect_parse_err("null", 4, "invalid JSON");
	/* Nothing at all. */
	expect_parse_err("", 0, "empty body");
	expect_parse_err(NULL, 0, "empty body");
	expect_parse_err("   \n", 4, "invalid JSON");
}

struct lines {
	size_t	 n;
	size_t	 lineno[8];
	char	 text[8][32];
	size_t	 stop_at;	/* fail on this line number; 0: never */
};

static int
collect(const char *line, size_t len, size_t lineno, void *arg)
{
	struct lines *l = arg;

	assert_true(l->n < 8);
	assert_true(len < sizeof(l->text[0]));
	l->lineno[l->n] = lineno;
	memcpy(l->text[l->n], line, len);
	l->text[l->n][len] = '\0';
	l->n++;
	return lineno == l->stop_at ? -1 : 0;
}

static void
run_lines(const char *body, struct lines *l, int expect_rc)
{
	assert_int_equal(cr_jsonv_ndjson_lines(body, body ? strlen(body) : 0,
	    collect, l), expect_rc);
}

static void
test_ndjson(void **state)
{
	struct lines l;

	memset(&l, 0, sizeof(l));
	run_lines("{\"a\":1}\n{\"a\":2}\n", &l, 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.text[0], "{\"a\":1}");
	assert_string_equal(l.text[1], "{\"a\":2}");
	assert_int_equal(l.lineno[0], 1);
	assert_int_equal(l.lineno[1], 2);

	/* No final newline. */
	memset(&l, 0, sizeof(l));
	run_lines("{\"a\":1}\n{\"a\":2}", &l, 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.text[1], "{\"a\":2}");

	/* Blank lines are skipped but still counted; CRLF is stripped. */
	memset(&l, 0, sizeof(l));
	run_lines("\r\n{\"a\":1}\r\n\n  \t\r\n{\"a\":2}\r\n\r\n", &l, 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.text[0], "{\"a\":1}");
	assert_int_equal(l.lineno[0], 2);
	assert_string_equal(l.text[1], "{\"a\":2}");
	assert_int_equal(l.lineno[1], 5);

	/* Only the last CR goes; a lone CR inside a line stays. */
	memset(&l, 0, sizeof(l));
	run_lines("a\rb\r\r\n", &l, 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.text[0], "a\rb\r");

	/* Nothing to do. */
	memset(&l, 0, sizeof(l));
	run_lines("", &l, 0);
	run_lines(NULL, &l, 0);
	run_lines("\n\n\r\n", &l, 0);
	assert_int_equal(l.n, 0);

	/* The callback stops the walk. */
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	run_lines("x\ny\nz\n", &l, -1);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.text[1], "y");

	/* Misuse. */
	assert_int_equal(cr_jsonv_ndjson_lines("x", 1, NULL, NULL), -1);
	assert_int_equal(cr_jsonv_ndjson_lines(NULL, 3, collect, &l), -1);
}

/* Lines are not NUL-terminated: the callback gets exactly len bytes. */
static int
parse_line(const char *line, size_t len, size_t lineno, void *arg)
{
	size_t *count = arg;
	char err[256];
	json_t *j;

	if (cr_jsonv_parse_object(line, len, &j, err, sizeof(err)) == -1)
		return -1;
	json_decref(j);
	(*count)++;
	return 0;
}

static void
test_ndjson_parse(void **state)
{
	const char body[] = "{\"subject\":\"a\"}\n{\"subject\":\"b\"}";
	const char bad[] = "{\"subject\":\"a\"}\n{\"subject\":}\n{}\n";
	size_t count = 0;

	assert_int_equal(cr_jsonv_ndjson_lines(body, sizeof(body) - 1,
	    parse_line, &count), 0);
	assert_int_equal(count, 2);
	count = 0;
	assert_int_equal(cr_jsonv_ndjson_lines(bad, sizeof(bad) - 1,
	    parse_line, &count), -1);
	assert_int_equal(count, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_ok),
		cmocka_unit_test(test_check_unknown),
		cmocka_unit_test(test_check_missing),
		cmocka_unit_test(test_check_types),
		cmocka_unit_test(test_check_strings),
		cmocka_unit_test(test_check_dates),
		cmocka_unit_test(test_check_ints),
		cmocka_unit_test(test_check_arrays),
		cmocka_unit_test(test_check_bad_input),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_ndjson),
		cmocka_unit_test(test_ndjson_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
