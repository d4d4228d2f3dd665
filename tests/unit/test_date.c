/*
 * Dates: validity, day counts (expected values computed with Python's
 * datetime, an independent implementation), a full round trip over
 * 1000-9999 checked against a naive day-by-day calendar walk, arithmetic
 * and periods.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "date.h"

static void
test_valid(void **state)
{
	static const char *good[] = {
		"2024-02-29", "2000-02-29", "2023-02-28", "1000-01-01",
		"9999-12-31", "1970-01-01", "2024-12-31", "2024-04-30",
	};
	static const char *bad[] = {
		"2024-02-30", "2023-02-29", "1900-02-29", "2100-02-29",
		"2024-1-01", "2024-01-1", "24-01-01", "2024-01-01x",
		"2024-01-01 ", " 2024-01-01", "2024/01/01", "2024-00-10",
		"2024-13-01", "2024-01-00", "2024-01-32", "2024-04-31",
		"0999-12-31", "0000-01-01", "10000-01-01", "", "2024-01-0",
		"2024-0a-01", "+024-01-01", "2024--1-01", "2024-01-01T00:00",
		"abcd-ef-gh",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(cr_date_valid(good[i]), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cr_date_valid(bad[i]) != -1)
			fail_msg("accepted invalid date '%s'", bad[i]);
	}
	assert_int_equal(cr_date_valid(NULL), -1);
}

static void
test_leap_years(void **state)
{
	int32_t a, b;

	/* 2000: divisible by 400, leap. */
	assert_int_equal(cr_date_valid("2000-02-29"), 0);
	assert_int_equal(cr_date_to_days("2000-02-28", &a), 0);
	assert_int_equal(cr_date_to_days("2000-03-01", &b), 0);
	assert_int_equal(b - a, 2);
	assert_int_equal(b, 11017);
	/* 1900: divisible by 100 only, not leap. */
	assert_int_equal(cr_date_valid("1900-02-29"), -1);
	assert_int_equal(cr_date_to_days("1900-02-28", &a), 0);
	assert_int_equal(cr_date_to_days("1900-03-01", &b), 0);
	assert_int_equal(b - a, 1);
	assert_int_equal(b, -25508);
	/* 2024: ordinary leap year; 2023 is not. */
	assert_int_equal(cr_date_to_days("2024-02-29", &a), 0);
	assert_int_equal(a, 19782);
	assert_int_equal(cr_date_to_days("2024-01-01", &a), 0);
	assert_int_equal(cr_date_to_days("2025-01-01", &b), 0);
	assert_int_equal(b - a, 366);
	assert_int_equal(cr_date_to_days("2023-01-01", &a), 0);
	assert_int_equal(cr_date_to_days("2024-01-01", &b), 0);
	assert_int_equal(b - a, 365);
}

static void
test_known_days(void **state)
{
	static const struct {
		const char	*date;
		int32_t		 days;
	} v[] = {
		{ "1970-01-01", 0 },
		{ "1969-12-31", -1 },
		{ "2038-01-19", 24855 },
		{ "1000-01-01", -354285 },
		{ "9999-12-31", 2932896 },
	};
	char buf[CR_DATE_LEN + 1];
	int32_t d;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(cr_date_to_days(v[i].date, &d), 0);
		assert_int_equal(d, v[i].days);
		cr_date_from_days(v[i].days, buf);
		assert_string_equal(buf, v[i].date);
	}
	d = 12345;
	assert_int_equal(cr_date_to_days("2024-02-30", &d), -1);
	assert_int_equal(d, 12345);
}

static int
naive_mdays(int y, int m)
{
	static const int md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : md[m - 1];
}

/* Every day from 1000-01-01 to 9999-12-31, against a step-by-step walk. */
static void
test_round_trip_all(void **state)
{
	char expect[CR_DATE_LEN + 1], got[CR_DATE_LEN + 1];
	int y = 1000, m = 1, d = 1;
	int32_t days, back;

	for (days = -354285; days <= 2932896; days++) {
		expect[0] = (char)('0' + y / 1000);
		expect[1] = (char)('0' + y / 100 % 10);
		expect[2] = (char)('0' + y / 10 % 10);
		expect[3] = (char)('0' + y % 10);
		expect[4] = '-';
		expect[5] = (char)('0' + m / 10);
		expect[6] = (char)('0' + m % 10);
		expect[7] = '-';
		expect[8] = (char)('0' + d / 10);
		expect[9] = (char)('0' + d % 10);
		expect[10] = '\0';
		cr_date_from_days(days, got);
		if (strcmp(got, expect) != 0)
			fail_msg("day %d: got %s, expected %s", days, got,
			    expect);
		if (cr_date_to_days(got, &back) != 0 || back != days)
			fail_msg("round trip of %s failed", got);
		if (++d > naive_mdays(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	assert_int_equal(y, 10000);
}

static void
test_from_days_saturates(void **state)
{
	char buf[CR_DATE_LEN + 1 + 8];

	memset(buf, 'Z', sizeof(buf));
	cr_date_from_days(INT32_MAX, buf);
	assert_string_equal(buf, "9999-12-31");
	assert_int_equal(buf[CR_DATE_LEN + 1], 'Z');
	cr_date_from_days(INT32_MIN, buf);
	assert_string_equal(buf, "0000-01-01");
}

static void
test_add_days(void **state)
{
	static const struct {
		const char	*date;
		int32_t		 n;
		const char	*expect;
	} v[] = {
		{ "2023-12-31", 1, "2024-01-01" },
		{ "2024-01-01", -1, "2023-12-31" },
		{ "2024-02-28", 1, "2024-02-29" },
		{ "2023-02-28", 1, "2023-03-01" },
		{ "2024-03-01", -1, "2024-02-29" },
		{ "2024-01-31", 1, "2024-02-01" },
		{ "2024-04-30", 1, "2024-05-01" },
		{ "2024-01-31", 365, "2025-01-30" },
		{ "2024-01-01", 10000, "2051-05-19" },
		{ "2024-01-01", -100000, "1750-03-18" },
		{ "2024-06-15", 0, "2024-06-15" },
		{ "9999-12-30", 1, "9999-12-31" },
		{ "1000-01-02", -1, "1000-01-01" },
	};
	char out[CR_DATE_LEN + 1];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(cr_date_add_days(v[i].date, v[i].n, out), 0);
		assert_string_equal(out, v[i].expect);
	}
	assert_int_equal(cr_date_add_days("2024-02-30", 1, out), -1);
	assert_int_equal(cr_date_add_days(NULL, 1, out), -1);
	/* Results outside 1000-9999 would not be valid dates. */
	assert_int_equal(cr_date_add_days("9999-12-31", 1, out), -1);
	assert_int_equal(cr_date_add_days("1000-01-01", -1, out), -1);
	assert_int_equal(cr_date_add_days("2024-01-01", INT32_MAX, out), -1);
	assert_int_equal(cr_date_add_days("2024-01-01", INT32_MIN, out), -1);
}

static void
test_period(void **state)
{
	/* Inclusive at both ends. */
	assert_int_equal(cr_period_contains("2024-01-01", "2024-12-31",
	    "2024-01-01"), 1);
	assert_int_equal(cr_period_contains("2024-01-01", "2024-12-31",
	    "2024-12-31"), 1);
	assert_int_equal(cr_period_contains("2024-01-01", "2024-12-31",
	    "2024-06-15"), 1);
	/* Just outside. */
	assert_int_equal(cr_period_contains("2024-01-01", "2024-12-31",
	    "2023-12-31"), 0);
	assert_int_equal(cr_period_contains("2024-01-01", "2024-12-31",
	    "2025-01-01"), 0);
	/* Single-day period. */
	assert_int_equal(cr_period_contains("2024-05-05", "2024-05-05",
	    "2024-05-05"), 1);
	assert_int_equal(cr_period_contains("2024-05-05", "2024-05-05",
	    "2024-05-06"), 0);
	/* Open end, NULL and "". */
	assert_int_equal(cr_period_contains("2024-01-01", NULL,
	    "9999-12-31"), 1);
	assert_int_equal(cr_period_contains("2024-01-01", "", "9999-12-31"),
	    1);
	assert_int_equal(cr_period_contains("2024-01-01", NULL,
	    "2023-12-31"), 0);
	assert_int_equal(cr_period_contains("2024-01-01", "", "2023-12-31"),
	    0);
	/* Open start. */
	assert_int_equal(cr_period_contains(NULL, "2024-12-31", "1000-01-01"),
	    1);
	assert_int_equal(cr_period_contains("", "2024-12-31", "1000-01-01"),
	    1);
	assert_int_equal(cr_period_contains("", "2024-12-31", "2025-01-01"),
	    0);
	assert_int_equal(cr_period_contains(NULL, NULL, "2025-01-01"), 1);
	assert_int_equal(cr_period_contains("", "", "2025-01-01"), 1);
	/* No date at all is never inside. */
	assert_int_equal(cr_period_contains(NULL, NULL, NULL), 0);
	assert_int_equal(cr_period_contains(NULL, NULL, ""), 0);
}

static void
test_today(void **state)
{
	char got[CR_DATE_LEN + 1], before[CR_DATE_LEN + 1];
	char after[CR_DATE_LEN + 1];
	struct tm tm;
	time_t t;

	/* Compare with gmtime; bracket the call in case midnight passes. */
	t = time(NULL);
	gmtime_r(&t, &tm);
	strftime(before, sizeof(before), "%Y-%m-%d", &tm);
	cr_date_today(got);
	t = time(NULL);
	gmtime_r(&t, &tm);
	strftime(after, sizeof(after), "%Y-%m-%d", &tm);
	assert_int_equal(cr_date_valid(got), 0);
	if (strcmp(got, before) != 0 && strcmp(got, after) != 0)
		fail_msg("today %s, gmtime says %s/%s", got, before, after);
}

/* The result must not depend on the local time zone. */
static void
test_today_ignores_tz(void **state)
{
	char utc[CR_DATE_LEN + 1], far[CR_DATE_LEN + 1];
	char *old = getenv("TZ");
	char *saved = old != NULL ? strdup(old) : NULL;

	setenv("TZ", "UTC", 1);
	tzset();
	cr_date_today(utc);
	setenv("TZ", "Pacific/Kiritimati", 1);	/* UTC+14 */
	tzset();
	cr_date_today(far);
	if (saved != NULL) {
		setenv("TZ", saved, 1);
		free(saved);
	} else
		unsetenv("TZ");
	tzset();
	/* Equal unless UTC midnight fell between the two calls. */
	if (strcmp(utc, far) != 0) {
		char next[CR_DATE_LEN + 1];

		assert_int_equal(cr_date_add_days(utc, 1, next), 0);
		assert_string_equal(far, next);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_known_days),
		cmocka_unit_test(test_round_trip_all),
		cmocka_unit_test(test_from_days_saturates),
		cmocka_unit_test(test_add_days),
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_today),
		cmocka_unit_test(test_today_ignores_tz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
