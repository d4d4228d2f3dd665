/*
 * UTF-8 text helpers (util.h): what the hub quotes back in messages and
 * writes to the exchange log is valid UTF-8, whole characters only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util.h"

static void
assert_json_text(const char *s)
{
	json_t *j = json_string(s);

	assert_non_null(j);
	json_decref(j);
}

static void
test_text(void **state)
{
	static const char *const good[] = {
		"", "abc", "agent-\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xf4\x8f\xbf\xbf", NULL
	};
	static const char *const bad[] = {
		"\xe9", "\xc0\xaf", "\xed\xa0\x80", "\xf0\x9f\x98",
		"\xf4\x90\x80\x80", "\xff", "a\tb", "a\nb", "\x7f", "\xc3", NULL
	};
	size_t i;

	for (i = 0; good[i] != NULL; i++)
		assert_int_equal(cr_util_utf8_text(good[i]), 1);
	for (i = 0; bad[i] != NULL; i++)
		assert_int_equal(cr_util_utf8_text(bad[i]), 0);
}

static void
test_copy(void **state)
{
	char out[16];

	assert_int_equal(cr_util_utf8_copy(out, sizeof(out), "abc"), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(cr_util_utf8_copy(out, sizeof(out),
	    "\xf0\x9f\x98\x80"), 0);
	assert_string_equal(out, "\xf0\x9f\x98\x80");
	/* Escaped: invalid bytes and control characters. */
	assert_int_equal(cr_util_utf8_copy(out, sizeof(out), "\xe9x\n"), -1);
	assert_string_equal(out, "\\xE9x\\x0A");
	assert_int_equal(cr_util_utf8_copy(out, sizeof(out), "\xf0\x9f\x98"),
	    -1);
	assert_string_equal(out, "\\xF0\\x9F\\x98");
	/* Cut before a character that does not fit, never inside it. */
	assert_int_equal(cr_util_utf8_copy(out, 6, "ab\xf0\x9f\x98\x80"), -1);
	assert_string_equal(out, "ab");
	assert_int_equal(cr_util_utf8_copy(out, 7, "ab\xf0\x9f\x98\x80"), 0);
	assert_string_equal(out, "ab\xf0\x9f\x98\x80");
	/* ... nor inside an escape. */
	assert_int_equal(cr_util_utf8_copy(out, 7, "ab\xff"), -1);
	assert_string_equal(out, "ab\\xFF");
	assert_int_equal(cr_util_utf8_copy(out, 6, "ab\xff"), -1);
	assert_string_equal(out, "ab");
	/* Fits exactly: unchanged. */
	assert_int_equal(cr_util_utf8_copy(out, 4, "abc"), 0);
	assert_int_equal(cr_util_utf8_copy(out, 3, "abc"), -1);
	assert_string_equal(out, "ab");
	/* Escaped text is text: a second copy leaves it as it is. */
	assert_int_equal(cr_util_utf8_copy(out, sizeof(out), "\\xE9"), 0);
	assert_string_equal(out, "\\xE9");
}

static void
format(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cr_util_utf8_vformat(dst, len, fmt, ap);
	va_end(ap);
}

static void
test_vformat(void **state)
{
	char out[8], big[4096];
	size_t i;

	format(out, sizeof(out), "'%s'", "\xe9");
	assert_string_equal(out, "'\\xE9'");
	/* A character cut by the size is left out, not escaped. */
	format(out, sizeof(out), "%s", "abcdef\xc3\xa9");
	assert_string_equal(out, "abcdef");
	format(out, sizeof(out), "%s", "ab\xf0\x9f\x98\x80zzz");
	assert_string_equal(out, "ab\xf0\x9f\x98\x80z");
	/* Longer than the formatting buffer: still whole characters. */
	for (i = 0; i + 4 < sizeof(big); i += 4)
		memcpy(big + i, "\xf0\x9f\x98\x80", 4);
	big[i] = '\0';
	{
		char msg[3000];

		format(msg, sizeof(msg), "x%s", big);
		assert_true(strlen(msg) < sizeof(msg));
		assert_int_equal(cr_util_utf8_text(msg), 1);
		assert_json_text(msg);
	}
}

/* A copy cut in bytes loses the character cut short, nothing else. */
static void
test_trim(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "" }, { "abc", "abc" }, { "ab\xc3", "ab" },
		{ "ab\xc3\xa9", "ab\xc3\xa9" }, { "\xe2\x82", "" },
		{ "x\xe2\x82\xac", "x\xe2\x82\xac" },
		{ "x\xf0\x9f\x98", "x" },
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "a\xa9", "a\xa9" },	/* not a cut: left as it is */
	};
	char buf[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_util_strlcpy(buf, cases[i].in, sizeof(buf));
		cr_util_utf8_trim(buf);
		assert_string_equal(buf, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_vformat),
		cmocka_unit_test(test_trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
