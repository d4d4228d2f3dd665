/*
 * events.c against a real SQLite store: RFC 3339 parsing, validation of
 * published events, group commit from several threads (ids, routing,
 * acknowledgement only after the append), feed waiters (woken by a
 * publish, expired by their deadline, answered by quiesce), payloads
 * reduced to the granted fields, and feed pages with their log entries.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "store_fixture.h"

#include "events.h"
#include "hub.h"

#define SUBJ_IN		"85073003328"	/* integrated by ONEM */
#define SUBJ_OUT	"17073003384"	/* integrated by nobody */

struct efx {
	struct fx		*f;
	struct cr_hub		 hub;
	struct cr_events	*ev;
};

static void
add_authz(struct cr_store *st, const char *consumer, const char *service,
    const char *fields)
{
	struct cr_authz a;

	memset(&a, 0, sizeof(a));
	cr_util_uuid(a.id);
	cr_util_strlcpy(a.consumer, consumer, sizeof(a.consumer));
	cr_util_strlcpy(a.service, service, sizeof(a.service));
	cr_util_strlcpy(a.purpose, "follow-up", sizeof(a.purpose));
	cr_util_strlcpy(a.legal_basis, "Law X", sizeof(a.legal_basis));
	a.fields = json_loads(fields, 0, NULL);
	a.capacities = json_array();
	cr_util_strlcpy(a.valid_from, "2020-01-01", sizeof(a.valid_from));
	assert_int_equal(st->registry->ops->authz_add(st->registry, &a), CR_STORE_OK);
	cr_authz_clear(&a);
}

static int
esetup(void **state)
{
	struct cr_event_type et;
	struct cr_subscription sub;
	struct efx *e;
	struct cr_store *st;
	int created;

	if ((e = calloc(1, sizeof(*e))) == NULL || setup((void **)&e->f) != 0)
		return -1;
	st = e->hub.store = e->f->st;
	e->hub.person_scheme = cr_ident_find("be-insz");
	e->hub.enterprise_scheme = cr_ident_default_enterprise();
	add_inst(st, "RN", "population");
	add_inst(st, "ONEM", "unemployment");
	memset(&et, 0, sizeof(et));
	cr_util_strlcpy(et.id, "population.moved", sizeof(et.id));
	cr_util_strlcpy(et.provider, "RN", sizeof(et.provider));
	et.fields = json_pack("[s,s]", "street", "city");
	assert_int_equal(st->events->ops->event_type_add(st->events, &et), CR_STORE_OK);
	cr_event_type_clear(&et);
	add_authz(st, "ONEM", "population.moved", "[\"city\"]");
	memset(&sub, 0, sizeof(sub));
	cr_util_strlcpy(sub.id, "sub-onem", sizeof(sub.id));
	cr_util_strlcpy(sub.institution, "ONEM", sizeof(sub.institution));
	cr_util_strlcpy(sub.client, "c1", sizeof(sub.client));
	cr_util_strlcpy(sub.event_type, "population.moved",
	    sizeof(sub.event_type));
	sub.capacities = json_array();
	sub.feed = 1;
	memset(sub.secret, 'a', 64);
	assert_int_equal(st->events->ops->subscription_add(st->events, &sub), CR_STORE_OK);
	cr_subscription_clear(&sub);
	assert_int_equal(put(st, SUBJ_IN, "ONEM", "jobseeker", "2020-01-01",
	    "", &created), CR_STORE_OK);
	if (cr_events_start(&e->hub, NULL, &e->ev) != 0)
		return -1;
	e->hub.events = e->ev;
	*state = e;
	return 0;
}

static int
eteardown(void **state)
{
	struct efx *e = *state;

	cr_events_stop(e->ev);
	teardown((void **)&e->f);
	free(e);
	return 0;
}

static void
test_parse_time(void **state)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z" },
		{ "2024-05-01t10:00:00z", "2024-05-01T10:00:00Z" },
		{ "2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00.5Z" },
		{ "2024-05-01T01:30:00+02:00", "2024-04-30T23:30:00Z" },
		{ "2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z" },
		{ "2024-02-29T12:00:00.123456789Z",
		    "2024-02-29T12:00:00.123456789Z" },
		{ "2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z" },
	};
	static const char *bad[] = { "", "2024-05-01", "2024-05-01T10:00:00",
	    "2023-02-29T10:00:00Z", "2024-05-01T24:00:00Z",
	    "2024-05-01T10:60:00Z", "2024-05-01 10:00:00Z",
	    "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00.1234567890Z",
	    "2024-05-01T10:00:00+2:00", "2024-05-01T10:00:00+02:00x",
	    "2024-05-01T10:00:00+24:00", "yesterday, around noon" };
	char out[32];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(cr_events_parse_time(ok[i].in, out,
		    sizeof(out)), 0);
		assert_string_equal(out, ok[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cr_events_parse_time(bad[i], out,
		    sizeof(out)), -1);
	assert_int_equal(cr_events_parse_time(NULL, out, sizeof(out)), -1);
	/* Too small an output is refused, not truncated. */
	assert_int_equal(cr_events_parse_time("2024-05-01T10:00:00Z", out,
	    10), -1);
}

static int
validate(struct efx *e, const char *publisher, const char *json,
    struct cr_event *out, struct cr_events_error *err)
{
	struct cr_events_type_cache tc;
	json_t *o = json_loads(json, 0, NULL);
	int rc;

	assert_non_null(o);
	memset(&tc, 0, sizeof(tc));
	rc = cr_events_validate(&e->hub, publisher, o, &tc, out, err);
	cr_events_type_cache_clear(&tc);
	json_decref(o);
	return rc;
}

static void
test_validate(void **state)
{
	static const struct { const char *pub, *json, *code; int status; }
	    cases[] = {
		{ "RN", "{\"type\":\"x.y\",\"subject\":\"" SUBJ_IN "\","
		    "\"occurred_at\":\"2024-05-01T10:00:00Z\"}", "NOT_FOUND",
		    404 },
		{ "ONEM", "{\"type\":\"population.moved\",\"subject\":\""
		    SUBJ_IN "\",\"occurred_at\":\"2024-05-01T10:00:00Z\"}",
		    "NOT_AUTHORIZED", 403 },
		{ "RN", "{\"type\":\"population.moved\",\"subject\":"
		    "\"85073003329\",\"occurred_at\":\"2024-05-01T10:00:00Z\"}",
		    "INVALID_SUBJECT", 400 },
		{ "RN", "{\"type\":\"population.moved\",\"subject\":\""
		    SUBJ_IN "\",\"occurred_at\":\"2024-05-01\"}",
		    "BAD_REQUEST", 400 },
		{ "RN", "{\"type\":\"population.moved\",\"subject\":\""
		    SUBJ_IN "\",\"occurred_at\":\"2024-05-01T10:00:00Z\","
		    "\"data\":{\"salary\":1}}", "BAD_REQUEST", 400 },
		{ "RN", "{\"type\":\"population.moved\",\"subject\":\""
		    SUBJ_IN "\",\"occurred_at\":\"2024-05-01T10:00:00Z\","
		    "\"extra\":1}", "BAD_REQUEST", 400 },
	};
	struct efx *e = *state;
	struct cr_events_error err;
	struct cr_event ev;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(validate(e, cases[i].pub, cases[i].json, &ev,
		    &err), -1);
		assert_int_equal(err.status, cases[i].status);
		assert_string_equal(err.code, cases[i].code);
		assert_null(ev.data);
	}
	assert_int_equal(validate(e, "RN", "{\"type\":\"population.moved\","
	    "\"subject\":\"85.07.30-033.28\",\"occurred_at\":"
	    "\"2024-05-01T12:00:00+02:00\",\"data\":{\"city\":\"Namur\"}}",
	    &ev, &err), 0);
	assert_string_equal(ev.subject, SUBJ_IN);
	assert_string_equal(ev.provider, "RN");
	assert_string_equal(ev.occurred_at, "2024-05-01T10:00:00Z");
	assert_string_equal(JSTR(ev.data, "city"), "Namur");
	assert_int_equal(strlen(ev.published_at), CR_TS_LEN);
	cr_event_clear(&ev);
}

#define THREADS		4
#define PER_THREAD	50

struct pub_state {
	struct efx		*e;
	int			 t;
	struct cr_event		 evs[PER_THREAD];
	size_t			 routed[PER_THREAD];
	atomic_int		 done;
	int			 rc[PER_THREAD];
};

struct one {
	struct pub_state	*ps;
	int			 i;
};

static void
one_done(void *arg, int rc)
{
	struct one *o = arg;

	o->ps->rc[o->i] = rc;
	atomic_fetch_add(&o->ps->done, 1);
	free(o);
}

static void *
pub_thread(void *arg)
{
	struct pub_state *ps = arg;
	struct one *o;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		struct cr_event *ev = &ps->evs[i];

		cr_util_strlcpy(ev->type, "population.moved", sizeof(ev->type));
		cr_util_strlcpy(ev->provider, "RN", sizeof(ev->provider));
		cr_util_strlcpy(ev->subject, i % 2 ? SUBJ_IN : SUBJ_OUT,
		    sizeof(ev->subject));
		cr_util_strlcpy(ev->occurred_at, "2024-05-01T10:00:00Z",
		    sizeof(ev->occurred_at));
		cr_util_now_rfc3339(ev->published_at);
		ev->data = json_pack("{s:s,s:i}", "city", "Namur", "street", i);
		o = calloc(1, sizeof(*o));
		assert_non_null(o);
		o->ps = ps;
		o->i = i;
		assert_int_equal(cr_events_publish(ps->e->ev, ev, 1,
		    &ps->routed[i], one_done, o), 0);
	}
	return NULL;
}

static void
wait_done(atomic_int *n, int want)
{
	int spins;

	for (spins = 0; atomic_load(n) < want && spins < 10000; spins++)
		usleep(1000);
	assert_int_equal(atomic_load(n), want);
}

static void
test_group_commit(void **state)
{
	struct efx *e = *state;
	struct pub_state *ps;
	pthread_t th[THREADS];
	uint8_t seen[THREADS * PER_THREAD + 1];
	uint64_t gen0 = cr_events_generation(e->ev), prev;
	int t, i;

	ps = calloc(THREADS, sizeof(*ps));
	assert_non_null(ps);
	for (t = 0; t < THREADS; t++) {
		ps[t].e = e;
		ps[t].t = t;
		assert_int_equal(pthread_create(&th[t], NULL, pub_thread,
		    &ps[t]), 0);
	}
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	memset(seen, 0, sizeof(seen));
	for (t = 0; t < THREADS; t++) {
		wait_done(&ps[t].done, PER_THREAD);
		prev = 0;
		for (i = 0; i < PER_THREAD; i++) {
			uint64_t id = ps[t].evs[i].id;

			assert_int_equal(ps[t].rc[i], 0);
			/* Ids are 1..N, each once, in each thread's order. */
			assert_true(id >= 1 && id <= THREADS * PER_THREAD);
			assert_int_equal(seen[id], 0);
			seen[id] = 1;
			assert_true(id > prev);
			prev = id;
			assert_int_equal(ps[t].routed[i], i % 2 ? 1 : 0);
			cr_event_clear(&ps[t].evs[i]);
		}
	}
	/* Routed publishes woke the feed waiters. */
	assert_true(cr_events_generation(e->ev) > gen0);
	free(ps);
}

struct waitst {
	atomic_int	tries, expired;
	int		take;		/* try() answers this */
};

static int
w_try(void *arg)
{
	struct waitst *w = arg;

	atomic_fetch_add(&w->tries, 1);
	return w->take;
}

static void
w_expire(void *arg)
{
	struct waitst *w = arg;

	atomic_fetch_add(&w->expired, 1);
}

static void
publish_one(struct efx *e, const char *subject)
{
	struct pub_state ps;
	struct one *o = calloc(1, sizeof(*o));

	memset(&ps, 0, sizeof(ps));
	assert_non_null(o);
	o->ps = &ps;
	cr_util_strlcpy(ps.evs[0].type, "population.moved",
	    sizeof(ps.evs[0].type));
	cr_util_strlcpy(ps.evs[0].provider, "RN", sizeof(ps.evs[0].provider));
	cr_util_strlcpy(ps.evs[0].subject, subject, sizeof(ps.evs[0].subject));
	cr_util_strlcpy(ps.evs[0].occurred_at, "2024-05-01T10:00:00Z",
	    sizeof(ps.evs[0].occurred_at));
	ps.evs[0].data = json_pack("{s:s,s:s}", "city", "Mons", "street",
	    "Grand-Place");
	assert_int_equal(cr_events_publish(e->ev, ps.evs, 1, NULL, one_done,
	    o), 0);
	wait_done(&ps.done, 1);
	assert_int_equal(ps.rc[0], 0);
	cr_event_clear(&ps.evs[0]);
}

static void
test_waiters(void **state)
{
	struct efx *e = *state;
	struct waitst a, b, c;
	double t0 = cr_util_mono_ms();

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	a.take = 1;
	b.take = 0;
	assert_int_equal(cr_events_wait(e->ev, cr_events_generation(e->ev),
	    t0 + 10000, w_try, w_expire, &a), 0);
	assert_int_equal(cr_events_wait(e->ev, cr_events_generation(e->ev),
	    t0 + 300, w_try, w_expire, &b), 0);
	usleep(100 * 1000);
	/* Nothing published yet: nobody tried, nobody expired. */
	assert_int_equal(atomic_load(&a.tries) + atomic_load(&b.tries), 0);
	/* An event routed to nobody does not wake anyone either. */
	publish_one(e, SUBJ_OUT);
	usleep(50 * 1000);
	assert_int_equal(atomic_load(&a.tries), 0);
	publish_one(e, SUBJ_IN);
	wait_done(&a.tries, 1);
	wait_done(&b.tries, 1);
	/* b kept waiting and then expired at its deadline; a was taken. */
	wait_done(&b.expired, 1);
	assert_true(cr_util_mono_ms() - t0 >= 290);
	assert_int_equal(atomic_load(&a.expired), 0);
	assert_int_equal(atomic_load(&a.tries), 1);
	assert_int_equal(atomic_load(&b.tries), 1);

	/* A stale generation is checked at once. */
	memset(&a, 0, sizeof(a));
	a.take = 1;
	assert_int_equal(cr_events_wait(e->ev, 0, cr_util_mono_ms() + 10000,
	    w_try, w_expire, &a), 0);
	wait_done(&a.tries, 1);

	/* Quiesce answers parked requests and refuses new ones. */
	assert_int_equal(cr_events_wait(e->ev, cr_events_generation(e->ev),
	    cr_util_mono_ms() + 60000, w_try, w_expire, &c), 0);
	cr_events_quiesce(e->ev);
	wait_done(&c.expired, 1);
	assert_int_equal(cr_events_wait(e->ev, 0, cr_util_mono_ms() + 60000,
	    w_try, w_expire, &c), -1);
	assert_int_equal(atomic_load(&c.tries), 0);
}

static void
test_payload_and_feed(void **state)
{
	struct efx *e = *state;
	struct cr_subscription sub;
	struct cr_feed_page p;
	struct cr_event ev;
	char lb[CR_TEXT_MAX];
	json_t *o, *evs;
	unsigned long long cursor;
	int n;

	publish_one(e, SUBJ_OUT);
	publish_one(e, SUBJ_IN);
	memset(&sub, 0, sizeof(sub));
	assert_int_equal(e->hub.store->events->ops->subscription_get(e->hub.store->events,
	    "sub-onem", &sub), CR_STORE_OK);
	memset(&ev, 0, sizeof(ev));
	ev.id = 7;
	cr_util_strlcpy(ev.type, "population.moved", sizeof(ev.type));
	cr_util_strlcpy(ev.subject, SUBJ_IN, sizeof(ev.subject));
	cr_util_strlcpy(ev.occurred_at, "2024-05-01T10:00:00Z",
	    sizeof(ev.occurred_at));
	ev.data = json_pack("{s:s,s:s}", "city", "Mons", "street", "x");
	o = cr_events_payload(&e->hub, &sub, &ev, lb, sizeof(lb));
	assert_non_null(o);
	assert_string_equal(JSTR(o, "id"), "7");
	assert_string_equal(lb, "Law X");
	/* Only the granted field. */
	assert_int_equal(json_object_size(json_object_get(o, "data")), 1);
	assert_string_equal(JSTR(json_object_get(o, "data"), "city"), "Mons");
	json_decref(o);
	/* Another institution's subscription: no authorization, no body. */
	cr_util_strlcpy(sub.institution, "RN", sizeof(sub.institution));
	assert_null(cr_events_payload(&e->hub, &sub, &ev, lb, sizeof(lb)));
	cr_event_clear(&ev);
	cr_subscription_clear(&sub);

	memset(&p, 0, sizeof(p));
	cr_util_strlcpy(p.institution, "ONEM", sizeof(p.institution));
	cr_util_strlcpy(p.client, "client-9", sizeof(p.client));
	cr_util_strlcpy(p.request_id, "req-1", sizeof(p.request_id));
	p.limit = 10;
	n = cr_events_feed_read(&e->hub, &p);
	assert_int_equal(n, 1);
	evs = json_object_get(p.answer, "events");
	assert_int_equal(json_array_size(evs), 1);
	assert_string_equal(JSTR_AT(evs, 0, "subject"), SUBJ_IN);
	assert_string_equal(JSTR(p.answer, "next"),
	    JSTR_AT(evs, 0, "cursor"));
	assert_int_equal(p.nentries, 1);
	assert_string_equal(p.entries[0].consumer, "ONEM");
	assert_string_equal(p.entries[0].client, "client-9");
	assert_string_equal(p.entries[0].request_id, "req-1");
	assert_string_equal(p.entries[0].service, "population.moved");
	assert_string_equal(p.entries[0].provider, "RN");
	assert_string_equal(p.entries[0].purpose, CR_EVENTS_PURPOSE);
	assert_string_equal(p.entries[0].legal_basis, "Law X");
	/* Past the end: nothing, and the cursor stays. */
	assert_int_equal(cr_util_parse_ull(JSTR(p.answer, "next"), 1, ~0ULL,
	    &cursor), 0);
	p.after = cursor;
	assert_int_equal(cr_events_feed_read(&e->hub, &p), 0);
	o = cr_events_feed_empty(&p);
	assert_int_equal(json_array_size(json_object_get(o, "events")), 0);
	json_decref(o);
	cr_events_feed_clear(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test_setup_teardown(test_validate, esetup,
		    eteardown),
		cmocka_unit_test_setup_teardown(test_group_commit, esetup,
		    eteardown),
		cmocka_unit_test_setup_teardown(test_waiters, esetup,
		    eteardown),
		cmocka_unit_test_setup_teardown(test_payload_and_feed, esetup,
		    eteardown),
	};

	log_init("test_events", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
