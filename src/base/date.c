/*
 * Calendar arithmetic on the proleptic Gregorian calendar. The conversions
 * are Howard Hinnant's days_from_civil / civil_from_days
 * (https://howardhinnant.github.io/date_algorithms.html): pure integer
 * arithmetic, so neither the process time zone nor the platform's time_t
 * range matters, which mktime and timegm cannot promise.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "date.h"

#define DATE_YEAR_MIN	1000
#define DATE_YEAR_MAX	9999

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && is_leap(y))
		return 29;
	return mdays[m - 1];
}

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *yp, int *mp, int *dp)
{
	int64_t era, doe, yoe, doy, mo;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mo = (5 * doy + 2) / 153;
	*dp = (int)(doy - (153 * mo + 2) / 5 + 1);
	*mp = (int)(mo < 10 ? mo + 3 : mo - 9);
	*yp = yoe + era * 400 + (*mp <= 2);
}

/* Parses exactly n digits; -1 on anything else. */
static int
parse_digits(const char *s, int n)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
date_parse(const char *s, int *yp, int *mp, int *dp)
{
	int y, m, d;

	/* strnlen first so that the digit loops never read past the NUL. */
	if (s == NULL || strnlen(s, CR_DATE_LEN + 1) != CR_DATE_LEN)
		return -1;
	if (s[4] != '-' || s[7] != '-')
		return -1;
	if ((y = parse_digits(s, 4)) < 0 || (m = parse_digits(s + 5, 2)) < 0 ||
	    (d = parse_digits(s + 8, 2)) < 0)
		return -1;
	if (y < DATE_YEAR_MIN || y > DATE_YEAR_MAX || m < 1 || m > 12 ||
	    d < 1 || d > days_in_month(y, m))
		return -1;
	*yp = y;
	*mp = m;
	*dp = d;
	return 0;
}

int
cr_date_valid(const char *s)
{
	int y, m, d;

	return date_parse(s, &y, &m, &d);
}

int
cr_date_to_days(const char *s, int32_t *days)
{
	int y, m, d;

	if (date_parse(s, &y, &m, &d) == -1)
		return -1;
	*days = (int32_t)days_from_civil(y, m, d);
	return 0;
}

static void
put_digits(char *out, int v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
cr_date_from_days(int32_t days, char *out)
{
	int64_t y, z = days, lo, hi;
	int m, d;

	/*
	 * The output has room for four year digits only, while an int32 day
	 * count reaches far beyond. No valid date produces such a count;
	 * saturating at 0000-01-01 / 9999-12-31 keeps the output a date.
	 */
	lo = days_from_civil(0, 1, 1);
	hi = days_from_civil(DATE_YEAR_MAX, 12, 31);
	if (z < lo)
		z = lo;
	else if (z > hi)
		z = hi;
	civil_from_days(z, &y, &m, &d);
	put_digits(out, (int)y, 4);
	out[4] = '-';
	put_digits(out + 5, m, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[CR_DATE_LEN] = '\0';
}

void
cr_date_today(char *out)
{
	time_t now = time(NULL);
	int64_t days = (int64_t)now / 86400;

	if ((int64_t)now % 86400 < 0)
		days--;
	cr_date_from_days((int32_t)days, out);
}

int
cr_date_add_days(const char *date, int32_t n, char *out)
{
	int32_t days;
	int64_t sum, lo, hi;

	if (cr_date_to_days(date, &days) == -1)
		return -1;
	sum = (int64_t)days + n;
	/* Keep results inside the range cr_date_valid accepts. */
	lo = days_from_civil(DATE_YEAR_MIN, 1, 1);
	hi = days_from_civil(DATE_YEAR_MAX, 12, 31);
	if (sum < lo || sum > hi)
		return -1;
	cr_date_from_days((int32_t)sum, out);
	return 0;
}

int
cr_period_contains(const char *from, const char *to, const char *date)
{
	if (date == NULL || *date == '\0')
		return 0;
	/* YYYY-MM-DD text sorts like the dates it names. */
	if (from != NULL && *from != '\0' && strcmp(date, from) < 0)
		return 0;
	if (to != NULL && *to != '\0' && strcmp(date, to) > 0)
		return 0;
	return 1;
}
