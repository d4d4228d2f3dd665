/*
 * Token buckets (ratelimit.c): the rate's text form, GCRA's arithmetic
 * (a burst at once, then one token each 1/rate), the wait it reports,
 * no token taken twice by concurrent threads, and which rate a client
 * gets from the configuration (config.c).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "ratelimit.h"

static void
test_parse(void **state)
{
	static const char *bad[] = { "", "-1", "1e3", "abc", "50/0", "50/",
	    "/5", "inf", "nan", "2000000", "0x10", "5/2000000", "5/-1",
	    " 5", "5 ", "1.2.3/4", ".5/2", NULL };
	struct cr_rate r;
	char err[256], text[32];
	size_t i;

	(void)state;
	assert_int_equal(cr_rate_parse("50/100", &r, err, sizeof(err)), 0);
	assert_true(r.per_second == 50 && r.burst == 100);
	assert_int_equal(cr_rate_parse("0.5/10", &r, err, sizeof(err)), 0);
	assert_true(r.per_second == 0.5 && r.burst == 10);
	/* Alone, the burst is the rate, at least 1. */
	assert_int_equal(cr_rate_parse("50", &r, err, sizeof(err)), 0);
	assert_true(r.per_second == 50 && r.burst == 50);
	assert_int_equal(cr_rate_parse("0.2", &r, err, sizeof(err)), 0);
	assert_true(r.per_second == 0.2 && r.burst == 1);
	assert_int_equal(cr_rate_parse("off", &r, err, sizeof(err)), 0);
	assert_true(r.per_second == 0);
	cr_rate_format(&r, text, sizeof(text));
	assert_string_equal(text, "off");
	r.per_second = 0.5;
	r.burst = 10;
	cr_rate_format(&r, text, sizeof(text));
	assert_string_equal(text, "0.5/10");
	for (i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		assert_int_equal(cr_rate_parse(bad[i], &r, err, sizeof(err)),
		    -1);
		assert_non_null(strstr(err, "PER_SECOND/BURST"));
	}
}

static void
test_bucket(void **state)
{
	struct cr_rate r = { 10, 3 };		/* one each 100 ms, 3 at once */
	struct cr_bucket b;
	int64_t retry, t = 5000000;
	int i;

	(void)state;
	cr_bucket_init(&b);
	assert_true(cr_bucket_full(&b, t));
	for (i = 0; i < 3; i++)
		assert_int_equal(cr_bucket_take(&b, &r, t, &retry), 0);
	assert_false(cr_bucket_full(&b, t));
	assert_int_equal(cr_bucket_take(&b, &r, t, &retry), -1);
	assert_int_equal(retry, 100000);
	/* A refused attempt takes nothing. */
	assert_int_equal(cr_bucket_take(&b, &r, t + 99999, &retry), -1);
	assert_int_equal(retry, 1);
	assert_int_equal(cr_bucket_take(&b, &r, t + 100000, &retry), 0);
	assert_int_equal(cr_bucket_take(&b, &r, t + 100000, &retry), -1);
	/* Idle long enough, it is full again: 3 at once, not more. */
	t += 10000000;
	assert_true(cr_bucket_full(&b, t));
	for (i = 0; i < 3; i++)
		assert_int_equal(cr_bucket_take(&b, &r, t, &retry), 0);
	assert_int_equal(cr_bucket_take(&b, &r, t, &retry), -1);
	/* No rate: never limited. */
	r.per_second = 0;
	for (i = 0; i < 1000; i++)
		assert_int_equal(cr_bucket_take(&b, &r, t, &retry), 0);
}

static void
test_retry_after(void **state)
{
	(void)state;
	assert_int_equal(cr_rate_retry_after(0), 1);
	assert_int_equal(cr_rate_retry_after(1), 1);
	assert_int_equal(cr_rate_retry_after(1000000), 1);
	assert_int_equal(cr_rate_retry_after(1000001), 2);
	assert_int_equal(cr_rate_retry_after(100000000000LL), 86400);
}

#define RACERS		4
#define RACE_BURST	20000

struct race {
	struct cr_bucket	*b;
	const struct cr_rate	*r;
	int			 taken;
};

static void *
racer(void *arg)
{
	struct race *rc = arg;
	int64_t retry;
	int i;

	/* All at the same instant: only the burst is there to take. */
	for (i = 0; i < RACE_BURST; i++)
		if (cr_bucket_take(rc->b, rc->r, 1000000, &retry) == 0)
			rc->taken++;
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct cr_rate r = { 0.001, RACE_BURST };
	struct race rc[RACERS];
	pthread_t t[RACERS];
	struct cr_bucket b;
	int i, total = 0;

	(void)state;
	cr_bucket_init(&b);
	for (i = 0; i < RACERS; i++) {
		rc[i].b = &b;
		rc[i].r = &r;
		rc[i].taken = 0;
		assert_int_equal(pthread_create(&t[i], NULL, racer, &rc[i]), 0);
	}
	for (i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		total += rc[i].taken;
	}
	assert_int_equal(total, RACE_BURST);
}

static int
parse(struct cr_config *c, const char *t, char *err, size_t errlen)
{
	return cr_config_parse(c, "mem", t, strlen(t), err, errlen);
}

static void
test_client_rate(void **state)
{
	struct cr_config c;
	const struct cr_rate *r;
	char err[256];
	static const char text[] = "client_rate_limit = 100/200\n"
	    "client_rate_limit.institution.ONEM = 5/10\n"
	    "client_rate_limit.client.c-1 = off\n"
	    "client_rate_limit.institution.ONEM = 7/14\n";

	(void)state;
	cr_config_defaults(&c);
	/* By default clients are not limited, addresses without a valid
	   token are. */
	assert_true(c.client_rate.per_second == 0);
	assert_true(c.unauth_rate.per_second == 10 && c.unauth_rate.burst ==
	    100);
	assert_int_equal(cr_config_parse(&c, "mem", text, strlen(text), err,
	    sizeof(err)), 0);
	/* Given twice, the later wins (flags after the file). */
	assert_int_equal(c.nrate_overrides, 2);
	r = cr_config_client_rate(&c, "c-2", "ONEM");
	assert_true(r->per_second == 7 && r->burst == 14);
	r = cr_config_client_rate(&c, "c-1", "ONEM");
	assert_true(r->per_second == 0);
	r = cr_config_client_rate(&c, "c-3", "RN");
	assert_true(r->per_second == 100 && r->burst == 200);
	assert_int_equal(parse(&c, "client_rate_limit.bogus.X = 1\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "client_rate_limit.institution.ID"));
	assert_int_equal(parse(&c, "client_rate_limit.client. = 1\n", err, sizeof(err)), -1);
	assert_int_equal(parse(&c, "unauth_rate_limit = fast\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mem:1: unauth_rate_limit: expected"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_client_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
