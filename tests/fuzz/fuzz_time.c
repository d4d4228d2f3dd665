/*
 * Fuzz target for dates and times: RFC 3339 date-times as events carry
 * them (cr_events_parse_time, events.c: "occurred_at") and calendar dates
 * (date.c), moved by a few day counts. Checks, against libc's timegm()
 * and an independent reading of the grammar:
 * - a date-time is accepted exactly when it is RFC 3339 (offsets and
 *   fractions of at most 9 digits allowed) and its UTC time falls in the
 *   years 1000-9999;
 * - the result is the same instant in UTC ("...Z"), the fraction kept,
 *   and reads back unchanged;
 * - the same instant in Unix milliseconds (cr_api_time_ms, the clients'
 *   expires_at), the fraction cut to milliseconds;
 * - a date is valid exactly when it is YYYY-MM-DD of a real day in
 *   1000-9999, survives the day-count round trip, and adding days moves
 *   it by that many days or fails outside the range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "date.h"
#include "events.h"
#include "fuzz.h"

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + s[i] - '0';
	}
	return 0;
}

/* YYYY-MM-DD of a real day in 1000-9999 at s (10 bytes); 0 or -1. */
static int
oracle_date(const char *s, int *y, int *m, int *d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int leap;

	if (digits(s, 4, y) == -1 || s[4] != '-' || digits(s + 5, 2, m) ==
	    -1 || s[7] != '-' || digits(s + 8, 2, d) == -1)
		return -1;
	leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
	if (*y < 1000 || *m < 1 || *m > 12 || *d < 1 ||
	    *d > mdays[*m - 1] + (*m == 2 && leap))
		return -1;
	return 0;
}

struct instant {
	int64_t	 secs;		/* since 1970, UTC */
	char	 frac[16];	/* digits after the point */
};

/* RFC 3339 date-time, read without the library; 0 or -1. */
static int
oracle_time(const char *s, struct instant *t)
{
	struct tm tm;
	int y, mo, d, hh, mi, ss, oh = 0, om = 0, sign = 0;
	size_t nf = 0;
	const char *p;

	if (strlen(s) < 20 || oracle_date(s, &y, &mo, &d) == -1 ||
	    (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &hh) == -1 ||
	    s[13] != ':' || digits(s + 14, 2, &mi) == -1 || s[16] != ':' ||
	    digits(s + 17, 2, &ss) == -1 || hh > 23 || mi > 59 || ss > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, nf++)
			if (nf == 9)
				return -1;
		if (nf == 0)
			return -1;
		memcpy(t->frac, p - nf, nf);
	}
	t->frac[nf] = '\0';
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (digits(p + 1, 2, &oh) == -1 || p[3] != ':' ||
		    digits(p + 4, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mi;
	tm.tm_sec = ss;		/* 60: timegm() goes on to the next minute */
	t->secs = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	return 0;
}

static int
utc_year(int64_t secs)
{
	struct tm tm;
	time_t tt = (time_t)secs;

	FUZZ_CHECK(gmtime_r(&tt, &tm) != NULL);
	return tm.tm_year + 1900;
}

static void
check_time(const char *in)
{
	struct instant want, got;
	char out[64], again[64];
	int64_t ms, want_ms;
	size_t n, i;
	int ok;

	ok = oracle_time(in, &want) == 0 && utc_year(want.secs) >= 1000 &&
	    utc_year(want.secs) <= 9999;
	if (cr_events_parse_time(in, out, sizeof(out)) == -1) {
		FUZZ_CHECK(!ok);
		FUZZ_CHECK(cr_api_time_ms(in, &ms) == -1);
		return;
	}
	FUZZ_CHECK(ok);
	want_ms = want.secs * 1000;
	for (i = 0; i < 3; i++)
		want_ms += (i < strlen(want.frac) ? want.frac[i] - '0' : 0) *
		    (i == 0 ? 100 : i == 1 ? 10 : 1);
	FUZZ_CHECK(cr_api_time_ms(in, &ms) == 0);
	FUZZ_CHECK(ms == want_ms);
	n = strlen(out);
	FUZZ_CHECK(n == 20 || (n >= 22 && n <= 30 && out[19] == '.'));
	FUZZ_CHECK(out[n - 1] == 'Z' && out[10] == 'T');
	FUZZ_CHECK(oracle_time(out, &got) == 0);
	FUZZ_CHECK(got.secs == want.secs);
	FUZZ_CHECK(strcmp(got.frac, want.frac) == 0);
	FUZZ_CHECK(cr_events_parse_time(out, again, sizeof(again)) == 0);
	FUZZ_CHECK(strcmp(again, out) == 0);
	/* Too small a buffer is refused, never overrun. */
	FUZZ_CHECK(cr_events_parse_time(in, again, n) == -1);
}

static void
check_date(const char *in, int32_t delta)
{
	char back[CR_DATE_LEN + 1], moved[CR_DATE_LEN + 1];
	int32_t days, days2;
	int y, m, d, valid;

	valid = strlen(in) == CR_DATE_LEN && oracle_date(in, &y, &m, &d) == 0;
	FUZZ_CHECK((cr_date_valid(in) == 0) == valid);
	if (!valid) {
		FUZZ_CHECK(cr_date_to_days(in, &days) == -1);
		return;
	}
	FUZZ_CHECK(cr_date_to_days(in, &days) == 0);
	cr_date_from_days(days, back);
	FUZZ_CHECK(strcmp(back, in) == 0);
	FUZZ_CHECK(cr_period_contains(in, in, in) == 1);
	FUZZ_CHECK(cr_period_contains(NULL, "", in) == 1);
	if (cr_date_add_days(in, delta, moved) == 0) {
		FUZZ_CHECK(cr_date_valid(moved) == 0);
		FUZZ_CHECK(cr_date_to_days(moved, &days2) == 0);
		FUZZ_CHECK((int64_t)days2 == (int64_t)days + delta);
		FUZZ_CHECK(cr_period_contains(delta >= 0 ? in : moved,
		    delta >= 0 ? moved : in, in) == 1);
	} else {
		/* Only leaving 1000-01-01..9999-12-31 fails. */
		FUZZ_CHECK((int64_t)days + delta < -354285 ||
		    (int64_t)days + delta > 2932896);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int32_t deltas[] = { 0, 1, -1, 59, -366, 3652425,
	    -3652425, INT32_MAX, INT32_MIN };
	char *in = fuzz_strndup(data, size);
	size_t i;

	check_time(in);
	for (i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++)
		check_date(in, deltas[i]);
	free(in);
	return 0;
}
