/*
 * Unauthenticated attempts by address (unauth.c) against a real store
 * and exchange log: each address has its own bucket, and the counts are
 * written as one entry per address and minute at the flush, never one per
 * attempt; after the flush nothing more is written.
 */
#include <jansson.h>

#include "store_fixture.h"
#include "unauth.h"
#include "xlog.h"

struct seen {
	json_t	*by_addr;	/* address -> [attempts, rate_limited] */
	json_t	*keys;		/* "address minute" -> true */
};

/* Sums the counts by address; each address and minute at most once. */
static int
collect(const struct cr_xlog_entry *e, void *arg)
{
	struct seen *s = arg;
	json_t *p, *sum;
	const char *addr, *minute;
	char key[160];

	assert_int_equal(e->status, 401);
	assert_string_equal(e->outcome, "denied");
	assert_string_equal(e->error_code, "UNAUTHENTICATED");
	assert_string_equal(e->request_id, "");
	assert_string_equal(e->subject, "");
	assert_non_null(p = json_loads(e->params, 0, NULL));
	assert_non_null(addr = JSTR(p, "address"));
	assert_non_null(minute = JSTR(p, "minute"));
	snprintf(key, sizeof(key), "%s %s", addr, minute);
	assert_null(json_object_get(s->keys, key));
	json_object_set_new(s->keys, key, json_true());
	if ((sum = json_object_get(s->by_addr, addr)) == NULL) {
		sum = json_pack("[i,i]", 0, 0);
		json_object_set_new(s->by_addr, addr, sum);
	}
	json_array_set_new(sum, 0, json_integer(json_integer_value(
	    json_array_get(sum, 0)) + json_integer_value(json_object_get(p,
	    "attempts"))));
	json_array_set_new(sum, 1, json_integer(json_integer_value(
	    json_array_get(sum, 1)) + json_integer_value(json_object_get(p,
	    "rate_limited"))));
	json_decref(p);
	return 0;
}

static json_int_t
sum_of(struct seen *s, const char *addr, size_t i)
{
	return json_integer_value(json_array_get(json_object_get(s->by_addr,
	    addr), i));
}

static void
test_limits_and_aggregates(void **state)
{
	struct fx *f = *state;
	struct cr_rate rate = { 0.01, 2 };	/* 2, then one each 100 s */
	struct cr_xlog *x;
	struct cr_unauth *u;
	struct seen s = { json_object(), json_object() };
	unsigned ra;
	uint64_t n;
	int i;

	assert_non_null(s.by_addr);
	assert_int_equal(cr_xlog_start(f->st, NULL, &x), 0);
	assert_int_equal(cr_unauth_start(x, &rate, &u), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(cr_unauth_attempt(u, "192.0.2.7", &ra), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(cr_unauth_attempt(u, "192.0.2.7", &ra), -1);
		assert_true(ra >= 1 && ra <= 100);
	}
	/* Another address: its own bucket. */
	assert_int_equal(cr_unauth_attempt(u, "2001:db8::1", &ra), 0);
	assert_int_equal(ra, 0);
	cr_unauth_flush(u);
	/* After the flush: still limited, no longer logged. */
	assert_int_equal(cr_unauth_attempt(u, "192.0.2.7", &ra), -1);
	cr_unauth_free(u);
	cr_xlog_stop(x);
	assert_int_equal(f->st->xlog->ops->xlog_count(f->st->xlog, &n), 0);
	assert_int_equal(f->st->xlog->ops->xlog_scan(f->st->xlog, 1,
	    collect, &s), 0);
	/* One entry per address and minute (a minute that ended between
	   two attempts splits an address's counts; their sums are fixed),
	   not one per attempt. */
	assert_int_equal(n, json_object_size(s.keys));
	assert_int_equal(json_object_size(s.by_addr), 2);
	assert_int_equal(sum_of(&s, "192.0.2.7", 0), 5);
	assert_int_equal(sum_of(&s, "192.0.2.7", 1), 3);
	assert_int_equal(sum_of(&s, "2001:db8::1", 0), 1);
	assert_int_equal(sum_of(&s, "2001:db8::1", 1), 0);
	json_decref(s.by_addr);
	json_decref(s.keys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_limits_and_aggregates,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
