/*
 * Storage interface against the SQLite backend, events: event types,
 * subscriptions, routing of appended events through the reference
 * directory, webhook work, feeds, dead letters, durability across a
 * reopen, and the speed of routing a large batch.
 *
 * Size: over 800 lines: one concern of the store, tested end to end on
 * one fixture.
 */
#include <time.h>

#include <sqlite3.h>

#include "store_fixture.h"

#define FAR_FUTURE	INT64_C(4102444800000)	/* 2100-01-01 in ms */
#define MAXD		64

static void
add_type(struct cr_store *st, const char *id, const char *provider,
    int all, int expect)
{
	struct cr_event_type et;

	memset(&et, 0, sizeof(et));
	cr_util_strlcpy(et.id, id, sizeof(et.id));
	cr_util_strlcpy(et.provider, provider, sizeof(et.provider));
	et.fields = json_pack("[s, s]", "street", "city");
	et.all_integrations = all;
	assert_int_equal(st->events->ops->event_type_add(st->events, &et), expect);
	cr_event_type_clear(&et);
}

/* url NULL: a feed. */
static int
add_sub(struct cr_store *st, const char *id, const char *inst,
    const char *type, const char *caps, const char *url)
{
	struct cr_subscription sub;
	int rc;

	memset(&sub, 0, sizeof(sub));
	cr_util_strlcpy(sub.id, id, sizeof(sub.id));
	cr_util_strlcpy(sub.institution, inst, sizeof(sub.institution));
	cr_util_strlcpy(sub.client, "client-1", sizeof(sub.client));
	cr_util_strlcpy(sub.event_type, type, sizeof(sub.event_type));
	sub.capacities = json_loads(caps, 0, NULL);
	assert_non_null(sub.capacities);
	if (url != NULL)
		cr_util_strlcpy(sub.url, url, sizeof(sub.url));
	else
		sub.feed = 1;
	memset(sub.secret, 'a', 64);
	rc = st->events->ops->subscription_add(st->events, &sub);
	cr_subscription_clear(&sub);
	return rc;
}

static struct cr_event
ev(const char *type, const char *subject, const char *occurred_at, int n)
{
	struct cr_event e;

	memset(&e, 0, sizeof(e));
	cr_util_strlcpy(e.type, type, sizeof(e.type));
	cr_util_strlcpy(e.provider, "RN", sizeof(e.provider));
	cr_util_strlcpy(e.subject, subject, sizeof(e.subject));
	cr_util_strlcpy(e.occurred_at, occurred_at, sizeof(e.occurred_at));
	cr_util_strlcpy(e.published_at, "2026-01-01T00:00:00.000Z",
	    sizeof(e.published_at));
	e.data = json_pack("{s:s, s:i}", "city", "Gent", "n", n);
	return e;
}

static void
events_clear(struct cr_event *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cr_event_clear(&e[i]);
}

static size_t
due(struct cr_store *st, int64_t now, struct cr_delivery *out, size_t max)
{
	size_t n = max;

	assert_int_equal(st->events->ops->deliveries_due(st->events, now, out, &n),
	    CR_STORE_OK);
	assert_true(n <= max);
	return n;
}

static size_t
feed(struct cr_store *st, const char *inst, const char *sub, uint64_t after,
    struct cr_delivery *out, size_t max)
{
	size_t n = max;

	assert_int_equal(st->events->ops->feed_read(st->events, inst, sub, after, out, &n),
	    CR_STORE_OK);
	assert_true(n <= max);
	return n;
}

/* Deliveries in a state, read past the store from the file itself. */
static int
count_state(const char *path, int st)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int n;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	    "SELECT count(*) FROM deliveries WHERE state = ?1", -1, &s, NULL),
	    SQLITE_OK);
	sqlite3_bind_int(s, 1, st);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* RN publishes pop.address; ONEM has subject S as a jobseeker. */
static void
base_world(struct cr_store *st)
{
	int created;

	add_inst(st, "RN", "population");
	add_inst(st, "ONEM", "unemployment");
	assert_int_equal(put(st, "S", "ONEM", "jobseeker", "2024-01-01", "",
	    &created), CR_STORE_OK);
	add_type(st, "pop.address", "RN", 0, CR_STORE_OK);
}

static void
test_event_types(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_event_type et;
	json_t *list, *o;

	add_inst(st, "RN", "population");
	add_type(st, "population.death", "RN", 1, CR_STORE_OK);
	add_type(st, "population.address_changed", "RN", 0, CR_STORE_OK);
	add_type(st, "population.death", "RN", 0, CR_STORE_EXISTS);
	add_type(st, "population.birth", "NOPE", 0, CR_STORE_NOTFOUND);

	assert_int_equal(st->events->ops->event_type_get(st->events, "population.death", &et),
	    CR_STORE_OK);
	assert_string_equal(et.id, "population.death");
	assert_string_equal(et.provider, "RN");
	assert_int_equal(et.all_integrations, 1);
	assert_int_equal(json_array_size(et.fields), 2);
	assert_string_equal(json_string_value(json_array_get(et.fields, 1)),
	    "city");
	cr_event_type_clear(&et);
	assert_null(et.fields);
	assert_int_equal(st->events->ops->event_type_get(st->events,
	    "population.address_changed", &et), CR_STORE_OK);
	assert_int_equal(et.all_integrations, 0);
	cr_event_type_clear(&et);
	assert_int_equal(st->events->ops->event_type_get(st->events, "population.birth", &et),
	    CR_STORE_NOTFOUND);
	cr_event_type_clear(&et);

	assert_int_equal(st->events->ops->event_type_list(st->events, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	o = json_array_get(list, 0);
	assert_string_equal(JSTR(o, "id"), "population.address_changed");
	assert_string_equal(JSTR(o, "provider"), "RN");
	assert_true(json_is_false(json_object_get(o, "all_integrations")));
	assert_int_equal(json_array_size(json_object_get(o, "fields")), 2);
	o = json_array_get(list, 1);
	assert_string_equal(JSTR(o, "id"), "population.death");
	assert_true(json_is_true(json_object_get(o, "all_integrations")));
	json_decref(list);
}

static void
test_subscriptions(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_subscription sub;
	json_t *list, *o, *d;

	add_inst(st, "RN", "population");
	add_inst(st, "ONEM", "unemployment");
	add_inst(st, "CPAS", "assistance");
	add_type(st, "pop.address", "RN", 0, CR_STORE_OK);

	assert_int_equal(add_sub(st, "s1", "ONEM", "pop.address",
	    "[\"jobseeker\"]", "http://127.0.0.1:1/hook"), CR_STORE_OK);
	assert_int_equal(add_sub(st, "s2", "ONEM", "pop.address", "[]", NULL),
	    CR_STORE_OK);
	assert_int_equal(add_sub(st, "s3", "CPAS", "pop.address", "[]", NULL),
	    CR_STORE_OK);
	assert_int_equal(add_sub(st, "s1", "CPAS", "pop.address", "[]", NULL),
	    CR_STORE_EXISTS);
	assert_int_equal(add_sub(st, "s4", "CPAS", "pop.nope", "[]", NULL),
	    CR_STORE_NOTFOUND);
	assert_int_equal(add_sub(st, "s4", "NOPE", "pop.address", "[]", NULL),
	    CR_STORE_NOTFOUND);
	/* Neither a url nor a feed. */
	memset(&sub, 0, sizeof(sub));
	cr_util_strlcpy(sub.id, "s5", sizeof(sub.id));
	cr_util_strlcpy(sub.institution, "CPAS", sizeof(sub.institution));
	cr_util_strlcpy(sub.event_type, "pop.address", sizeof(sub.event_type));
	assert_int_equal(st->events->ops->subscription_add(st->events, &sub), CR_STORE_ERR);

	assert_int_equal(st->events->ops->subscription_get(st->events, "s1", &sub),
	    CR_STORE_OK);
	assert_string_equal(sub.institution, "ONEM");
	assert_string_equal(sub.client, "client-1");
	assert_string_equal(sub.event_type, "pop.address");
	assert_string_equal(sub.url, "http://127.0.0.1:1/hook");
	assert_int_equal(sub.feed, 0);
	assert_int_equal(strlen(sub.secret), 64);
	assert_int_equal(strlen(sub.created_at), CR_TS_LEN);
	assert_int_equal(json_array_size(sub.capacities), 1);
	assert_string_equal(json_string_value(json_array_get(sub.capacities,
	    0)), "jobseeker");
	cr_subscription_clear(&sub);
	assert_int_equal(st->events->ops->subscription_get(st->events, "s2", &sub),
	    CR_STORE_OK);
	assert_int_equal(sub.feed, 1);
	assert_string_equal(sub.url, "");
	assert_int_equal(json_array_size(sub.capacities), 0);
	cr_subscription_clear(&sub);
	assert_int_equal(st->events->ops->subscription_get(st->events, "s9", &sub),
	    CR_STORE_NOTFOUND);
	cr_subscription_clear(&sub);

	assert_int_equal(st->events->ops->subscription_list(st->events, "ONEM", &list),
	    CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	o = json_array_get(list, 0);
	assert_string_equal(JSTR(o, "id"), "s1");
	assert_string_equal(JSTR(o, "institution"), "ONEM");
	assert_string_equal(JSTR(o, "event_type"), "pop.address");
	assert_non_null(JSTR(o, "created_at"));
	assert_null(json_object_get(o, "secret"));
	assert_int_equal(json_array_size(json_object_get(o, "capacities")), 1);
	d = json_object_get(o, "delivery");
	assert_string_equal(JSTR(d, "url"), "http://127.0.0.1:1/hook");
	assert_null(json_object_get(d, "feed"));
	o = json_array_get(list, 1);
	assert_string_equal(JSTR(o, "id"), "s2");
	assert_null(json_object_get(o, "secret"));
	d = json_object_get(o, "delivery");
	assert_true(json_is_true(json_object_get(d, "feed")));
	assert_null(json_object_get(d, "url"));
	json_decref(list);
	assert_int_equal(st->events->ops->subscription_list(st->events, NULL, &list),
	    CR_STORE_OK);
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);

	assert_int_equal(st->events->ops->subscription_delete(st->events, "s1"), CR_STORE_OK);
	assert_int_equal(st->events->ops->subscription_delete(st->events, "s1"),
	    CR_STORE_NOTFOUND);
	assert_int_equal(st->events->ops->subscription_get(st->events, "s1", &sub),
	    CR_STORE_NOTFOUND);
	assert_int_equal(st->events->ops->subscription_list(st->events, "ONEM", &list),
	    CR_STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(JSTR_AT(list, 0, "id"), "s2");
	json_decref(list);
	assert_int_equal(st->events->ops->subscription_list(st->events, "RN", &list),
	    CR_STORE_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
}

/*
 * Subject S: ONEM jobseeker from 2024-01-01 (open); MUT member until
 * 2024-02-29; HOSP patient from 2024-03-02; FAM parent; SPF x; CPAS none.
 */
static void
routing_world(struct cr_store *st)
{
	static const char *const insts[] = {
		"RN", "ONEM", "CPAS", "MUT", "HOSP", "FAM", "SPF", NULL
	};
	int created, i;

	for (i = 0; insts[i] != NULL; i++)
		add_inst(st, insts[i], "x");
	assert_int_equal(put(st, "S", "ONEM", "jobseeker", "2024-01-01", "",
	    &created), CR_STORE_OK);
	assert_int_equal(put(st, "S", "MUT", "member", "2023-01-01",
	    "2024-02-29", &created), CR_STORE_OK);
	assert_int_equal(put(st, "S", "HOSP", "patient", "2024-03-02", "",
	    &created), CR_STORE_OK);
	assert_int_equal(put(st, "S", "FAM", "parent", "2024-01-01", "",
	    &created), CR_STORE_OK);
	assert_int_equal(put(st, "S", "SPF", "x", "2020-01-01", "", &created),
	    CR_STORE_OK);
	add_type(st, "pop.address", "RN", 0, CR_STORE_OK);
	add_type(st, "pop.death", "RN", 1, CR_STORE_OK);
#define HOOK "http://127.0.0.1:1/h"
	assert_int_equal(add_sub(st, "sa", "ONEM", "pop.address",
	    "[\"jobseeker\"]", HOOK), 0);
	assert_int_equal(add_sub(st, "sb", "CPAS", "pop.address",
	    "[\"client\"]", HOOK), 0);
	assert_int_equal(add_sub(st, "sc", "MUT", "pop.address",
	    "[\"member\"]", HOOK), 0);
	assert_int_equal(add_sub(st, "sd", "HOSP", "pop.address",
	    "[\"patient\"]", HOOK), 0);
	assert_int_equal(add_sub(st, "se", "FAM", "pop.address",
	    "[\"child\"]", HOOK), 0);
	assert_int_equal(add_sub(st, "sf", "SPF", "pop.address", "[]", HOOK),
	    0);
	assert_int_equal(add_sub(st, "sg", "ONEM", "pop.death",
	    "[\"jobseeker\"]", HOOK), 0);
	assert_int_equal(add_sub(st, "sh", "ONEM", "pop.address",
	    "[\"beneficiary\", \"jobseeker\"]", HOOK), 0);
	assert_int_equal(add_sub(st, "si", "FAM", "pop.death", "[\"child\"]",
	    HOOK), 0);
	assert_int_equal(add_sub(st, "sj", "CPAS", "pop.death", "[]", HOOK),
	    0);
	assert_int_equal(add_sub(st, "sk", "MUT", "pop.death", "[\"member\"]",
	    HOOK), 0);
#undef HOOK
}

static void
test_routing(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_event e[5];
	struct cr_delivery d[MAXD];
	size_t routed[5], n, i;
	/* Event index and subscription of each delivery, in seq order. */
	static const struct {
		int		 ev;
		const char	*sub;
	} want[] = {
		{ 0, "sa" }, { 0, "sf" }, { 0, "sh" },
		{ 1, "sg" }, { 1, "si" },
		{ 3, "sa" }, { 3, "sc" }, { 3, "sf" }, { 3, "sh" },
		{ 4, "sa" }, { 4, "sd" }, { 4, "sf" }, { 4, "sh" },
	};
	const size_t nwant = sizeof(want) / sizeof(want[0]);

	routing_world(st);
	/* Routing and consultations read the directory alike. */
	assert_int_equal(active(st, "MUT", "S", "[\"member\"]", "2024-02-29"),
	    1);
	assert_int_equal(active(st, "MUT", "S", "[\"member\"]", "2024-03-01"),
	    0);
	e[0] = ev("pop.address", "S", "2024-03-01T10:00:00Z", 0);
	e[1] = ev("pop.death", "S", "2024-03-01T11:00:00Z", 1);
	e[2] = ev("pop.address", "T", "2024-03-01T10:00:00Z", 2);
	/* The last day of MUT's period, the first of HOSP's. */
	e[3] = ev("pop.address", "S", "2024-02-29T23:59:59Z", 3);
	e[4] = ev("pop.address", "S", "2024-03-02T00:00:00Z", 4);
	memset(routed, 0xff, sizeof(routed));
	assert_int_equal(st->events->ops->events_append(st->events, e, 5, routed),
	    CR_STORE_OK);
	assert_int_equal(routed[0], 3);
	assert_int_equal(routed[1], 2);
	assert_int_equal(routed[2], 0);
	assert_int_equal(routed[3], 4);
	assert_int_equal(routed[4], 4);
	assert_true(e[0].id >= 1);
	for (i = 1; i < 5; i++)
		assert_true(e[i].id > e[i - 1].id);

	n = due(st, FAR_FUTURE, d, MAXD);
	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++) {
		if (i > 0)
			assert_true(d[i].seq > d[i - 1].seq);
		assert_int_equal(d[i].event_id, e[want[i].ev].id);
		assert_string_equal(d[i].subscription, want[i].sub);
		assert_int_equal(d[i].state, CR_DELIVERY_PENDING);
		assert_int_equal(d[i].attempts, 0);
		assert_int_equal(d[i].event.id, e[want[i].ev].id);
		assert_string_equal(d[i].event.type, e[want[i].ev].type);
		assert_string_equal(d[i].event.subject, "S");
		assert_string_equal(d[i].event.provider, "RN");
		assert_string_equal(d[i].event.occurred_at,
		    e[want[i].ev].occurred_at);
		assert_string_equal(d[i].event.published_at,
		    "2026-01-01T00:00:00.000Z");
		assert_true(json_equal(d[i].event.data, e[want[i].ev].data));
	}
	/* Due now, not in the past. */
	assert_true(d[0].next_attempt_ms > FAR_FUTURE / 3);
	cr_deliveries_clear(d, n);
	assert_int_equal(due(st, d[0].next_attempt_ms - 60000, d, MAXD), 0);
	events_clear(e, 5);

	/* routed may be NULL; published_at is set when empty. */
	e[0] = ev("pop.address", "S", "2024-03-01", 5);
	e[0].published_at[0] = '\0';
	assert_int_equal(st->events->ops->events_append(st->events, e, 1, NULL), CR_STORE_OK);
	assert_int_equal(strlen(e[0].published_at), CR_TS_LEN);
	assert_int_equal(due(st, FAR_FUTURE, d, MAXD), nwant + 3);
	cr_deliveries_clear(d, nwant + 3);
	events_clear(e, 1);
	assert_int_equal(st->events->ops->events_append(st->events, e, 0, NULL), CR_STORE_OK);
}

static void
test_due_and_update(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_event e[4];
	struct cr_delivery d[MAXD], u;
	size_t routed[4], n, i;

	base_world(st);
	assert_int_equal(add_sub(st, "hook", "ONEM", "pop.address", "[]",
	    "http://127.0.0.1:1/h"), CR_STORE_OK);
	assert_int_equal(add_sub(st, "pull", "ONEM", "pop.address", "[]",
	    NULL), CR_STORE_OK);
	for (i = 0; i < 4; i++)
		e[i] = ev("pop.address", "S", "2024-05-01T00:00:00Z", (int)i);
	assert_int_equal(st->events->ops->events_append(st->events, e, 4, routed),
	    CR_STORE_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(routed[i], 2);

	/* Only the webhook's four: the feed's wait for feed_read. */
	n = due(st, FAR_FUTURE, d, MAXD);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		assert_string_equal(d[i].subscription, "hook");
		assert_int_equal(d[i].event_id, e[i].id);
	}
	/* Limit: the oldest first. */
	cr_deliveries_clear(d, n);
	n = due(st, FAR_FUTURE, d, 2);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].event_id, e[0].id);
	assert_int_equal(d[1].event_id, e[1].id);
	u = d[0];
	cr_deliveries_clear(d, n);
	n = 0;
	assert_int_equal(st->events->ops->deliveries_due(st->events, FAR_FUTURE, d, &n),
	    CR_STORE_OK);
	assert_int_equal(n, 0);

	/* A failed attempt: retried later, not before. */
	u.event.data = NULL;
	u.attempts = 1;
	u.next_attempt_ms = FAR_FUTURE - 1000;
	cr_util_strlcpy(u.last_error, "HTTP 503", sizeof(u.last_error));
	assert_int_equal(st->events->ops->delivery_update(st->events, &u), CR_STORE_OK);
	n = due(st, FAR_FUTURE - 1001, d, MAXD);
	assert_int_equal(n, 3);
	assert_int_equal(d[0].event_id, e[1].id);
	cr_deliveries_clear(d, n);
	n = due(st, FAR_FUTURE - 1000, d, MAXD);
	assert_int_equal(n, 4);
	assert_int_equal(d[0].seq, u.seq);
	assert_int_equal(d[0].attempts, 1);
	assert_int_equal(d[0].next_attempt_ms, FAR_FUTURE - 1000);
	assert_string_equal(d[0].last_error, "HTTP 503");
	cr_deliveries_clear(d, n);

	/* Delivered: gone from the work. */
	u.state = CR_DELIVERY_DELIVERED;
	u.attempts = 2;
	u.last_error[0] = '\0';
	assert_int_equal(st->events->ops->delivery_update(st->events, &u), CR_STORE_OK);
	n = due(st, FAR_FUTURE, d, MAXD);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++)
		assert_true(d[i].seq != u.seq);
	cr_deliveries_clear(d, n);

	u.seq = 999999;
	assert_int_equal(st->events->ops->delivery_update(st->events, &u), CR_STORE_NOTFOUND);
	u.seq = 0;
	assert_int_equal(st->events->ops->delivery_update(st->events, &u), CR_STORE_NOTFOUND);
	events_clear(e, 4);
}

/*
 * deliveries_update: many rows in one transaction, applied in order (the
 * later entry of a seq wins), unknown seqs skipped, durable across a
 * reopen, and through the cache wrapper.
 */
static void
test_deliveries_update(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st, *cached;
	struct cr_event e[4];
	struct cr_delivery d[MAXD], u[6];
	size_t n, i;

	base_world(st);
	assert_int_equal(add_sub(st, "hook", "ONEM", "pop.address", "[]",
	    "http://127.0.0.1:1/h"), CR_STORE_OK);
	for (i = 0; i < 4; i++)
		e[i] = ev("pop.address", "S", "2024-05-01T00:00:00Z", (int)i);
	assert_int_equal(st->events->ops->events_append(st->events, e, 4, NULL), CR_STORE_OK);
	n = due(st, FAR_FUTURE, d, MAXD);
	assert_int_equal(n, 4);
	for (i = 0; i < 4; i++) {
		u[i] = d[i];
		u[i].event.data = NULL;
	}
	cr_deliveries_clear(d, n);
	assert_int_equal(st->events->ops->deliveries_update(st->events, u, 0), CR_STORE_OK);

	/* Leases on all four, then in the same batch: 0 delivered, 1 failed,
	   2 dead; 3 keeps its lease. A seq with no row is skipped. */
	for (i = 0; i < 4; i++)
		u[i].next_attempt_ms = FAR_FUTURE - 10;
	u[4] = u[0];
	u[4].state = CR_DELIVERY_DELIVERED;
	u[4].attempts = 1;
	u[5] = u[1];
	u[5].seq = 999999;
	assert_int_equal(st->events->ops->deliveries_update(st->events, u, 6), CR_STORE_OK);
	assert_int_equal(due(st, FAR_FUTURE - 11, d, MAXD), 0);
	assert_int_equal(count_state(f->path, CR_DELIVERY_DELIVERED), 1);

	u[0] = u[1];
	u[0].attempts = 1;
	u[0].next_attempt_ms = 1000;
	cr_util_strlcpy(u[0].last_error, "HTTP 503", sizeof(u[0].last_error));
	u[1] = u[2];
	u[1].state = CR_DELIVERY_DEAD;
	u[1].attempts = 8;
	cr_util_strlcpy(u[1].last_error, "timeout", sizeof(u[1].last_error));
	assert_int_equal(st->events->ops->deliveries_update(st->events, u, 2), CR_STORE_OK);

	/* Durable: read back after a reopen, through the cache wrapper. */
	cr_store_close(f->st);
	f->st = NULL;
	assert_int_equal(cr_store_open(f->path, &st), 0);
	assert_int_equal(cr_store_cache_wrap(st, 1000, &cached), 0);
	f->st = st = cached;
	n = due(st, FAR_FUTURE - 11, d, MAXD);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].seq, u[0].seq);
	assert_int_equal(d[0].attempts, 1);
	assert_int_equal(d[0].next_attempt_ms, 1000);
	assert_string_equal(d[0].last_error, "HTTP 503");
	cr_deliveries_clear(d, n);
	assert_int_equal(count_state(f->path, CR_DELIVERY_DEAD), 1);
	n = MAXD;
	assert_int_equal(st->events->ops->dead_letters(st->events, "hook", d, &n),
	    CR_STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].seq, u[1].seq);
	assert_string_equal(d[0].last_error, "timeout");
	cr_deliveries_clear(d, n);

	/* A later entry of a seq wins within one call. */
	u[2] = u[0];
	u[2].next_attempt_ms = FAR_FUTURE - 5;
	u[2].last_error[0] = '\0';
	assert_int_equal(st->events->ops->deliveries_update(st->events, u, 3),
	    CR_STORE_OK);
	assert_int_equal(due(st, FAR_FUTURE - 11, d, MAXD), 0);
	n = due(st, FAR_FUTURE, d, MAXD);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].seq, u[0].seq);
	assert_int_equal(d[0].next_attempt_ms, FAR_FUTURE - 5);
	assert_string_equal(d[0].last_error, "");
	cr_deliveries_clear(d, n);
	events_clear(e, 4);
}

static void
test_feed(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_event e[3];
	struct cr_delivery d[MAXD], u;
	size_t routed[3], n, i;
	uint64_t last;
	int created;

	add_inst(st, "RN", "population");
	add_inst(st, "ONEM", "unemployment");
	add_inst(st, "CPAS", "assistance");
	assert_int_equal(put(st, "S", "ONEM", "jobseeker", "2024-01-01", "",
	    &created), CR_STORE_OK);
	assert_int_equal(put(st, "S", "CPAS", "client", "2024-01-01", "",
	    &created), CR_STORE_OK);
	add_type(st, "pop.address", "RN", 0, CR_STORE_OK);
	add_type(st, "pop.death", "RN", 1, CR_STORE_OK);
	/* ONEM: two feeds and a webhook; CPAS: a feed. */
	assert_int_equal(add_sub(st, "f1", "ONEM", "pop.address", "[]", NULL),
	    0);
	assert_int_equal(add_sub(st, "f2", "ONEM", "pop.death", "[]", NULL),
	    0);
	assert_int_equal(add_sub(st, "h1", "ONEM", "pop.address", "[]",
	    "http://127.0.0.1:1/h"), 0);
	assert_int_equal(add_sub(st, "f3", "CPAS", "pop.address", "[]", NULL),
	    0);
	e[0] = ev("pop.address", "S", "2024-05-01T00:00:00Z", 0);
	e[1] = ev("pop.death", "S", "2024-05-02T00:00:00Z", 1);
	e[2] = ev("pop.address", "S", "2024-05-03T00:00:00Z", 2);
	assert_int_equal(st->events->ops->events_append(st->events, e, 3, routed), 0);
	assert_int_equal(routed[0], 3);
	assert_int_equal(routed[1], 1);
	assert_int_equal(routed[2], 3);

	/* ONEM's feeds: f1, f2, f1; not the webhook, not CPAS's. */
	n = feed(st, "ONEM", NULL, 0, d, MAXD);
	assert_int_equal(n, 3);
	assert_string_equal(d[0].subscription, "f1");
	assert_int_equal(d[0].event_id, e[0].id);
	assert_string_equal(d[1].subscription, "f2");
	assert_int_equal(d[1].event_id, e[1].id);
	assert_string_equal(d[2].subscription, "f1");
	assert_int_equal(d[2].event_id, e[2].id);
	assert_true(d[0].seq < d[1].seq && d[1].seq < d[2].seq);
	assert_string_equal(d[1].event.type, "pop.death");
	assert_true(json_equal(d[2].event.data, e[2].data));
	for (i = 0; i < n; i++)
		assert_int_equal(d[i].state, CR_DELIVERY_DELIVERED);
	last = d[2].seq;
	cr_deliveries_clear(d, n);

	/* Cursor and limit. */
	n = feed(st, "ONEM", NULL, 0, d, 2);
	assert_int_equal(n, 2);
	assert_int_equal(d[1].event_id, e[1].id);
	u = d[1];
	u.event.data = NULL;
	cr_deliveries_clear(d, n);
	n = feed(st, "ONEM", NULL, u.seq, d, MAXD);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].seq, last);
	cr_deliveries_clear(d, n);
	assert_int_equal(feed(st, "ONEM", NULL, last, d, MAXD), 0);
	/* One subscription. */
	n = feed(st, "ONEM", "f2", 0, d, MAXD);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].event_id, e[1].id);
	cr_deliveries_clear(d, n);
	/* Another institution's subscription is not ONEM's feed. */
	assert_int_equal(feed(st, "ONEM", "f3", 0, d, MAXD), 0);
	assert_int_equal(feed(st, "ONEM", "h1", 0, d, MAXD), 0);
	assert_int_equal(feed(st, "RN", NULL, 0, d, MAXD), 0);

	/* CPAS's first read marks what it returns, in the file. */
	assert_int_equal(count_state(f->path, CR_DELIVERY_DELIVERED), 3);
	assert_int_equal(count_state(f->path, CR_DELIVERY_PENDING), 4);
	n = feed(st, "CPAS", NULL, 0, d, 1);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].state, CR_DELIVERY_DELIVERED);
	cr_deliveries_clear(d, n);
	assert_int_equal(count_state(f->path, CR_DELIVERY_DELIVERED), 4);
	n = feed(st, "CPAS", NULL, 0, d, MAXD);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].state, CR_DELIVERY_DELIVERED);
	assert_string_equal(d[1].subscription, "f3");
	cr_deliveries_clear(d, n);
	/* The webhook's were left alone. */
	n = due(st, FAR_FUTURE, d, MAXD);
	assert_int_equal(n, 2);
	assert_string_equal(d[0].subscription, "h1");
	cr_deliveries_clear(d, n);

	/* Dead ones are not in the feed. */
	u.state = CR_DELIVERY_DEAD;
	assert_int_equal(st->events->ops->delivery_update(st->events, &u), CR_STORE_OK);
	n = feed(st, "ONEM", NULL, 0, d, MAXD);
	assert_int_equal(n, 2);
	assert_true(d[0].seq != u.seq && d[1].seq != u.seq);
	cr_deliveries_clear(d, n);
	events_clear(e, 3);
}

static void
test_dead_letters(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_event e[3];
	struct cr_delivery d[MAXD], dead[3];
	size_t n, i, count;

	base_world(st);
	assert_int_equal(add_sub(st, "h1", "ONEM", "pop.address", "[]",
	    "http://127.0.0.1:1/h"), 0);
	assert_int_equal(add_sub(st, "h2", "ONEM", "pop.address", "[]",
	    "http://127.0.0.1:2/h"), 0);
	for (i = 0; i < 3; i++)
		e[i] = ev("pop.address", "S", "2024-05-01T00:00:00Z", (int)i);
	assert_int_equal(st->events->ops->events_append(st->events, e, 3, NULL), 0);

	/* All of h1's and one of h2's die. */
	n = due(st, FAR_FUTURE, d, MAXD);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++) {
		if (strcmp(d[i].subscription, "h1") != 0 &&
		    d[i].event_id != e[0].id)
			continue;
		d[i].state = CR_DELIVERY_DEAD;
		d[i].attempts = 8;
		snprintf(d[i].last_error, sizeof(d[i].last_error),
		    "HTTP 500 (%zu)", i);
		assert_int_equal(st->events->ops->delivery_update(st->events, &d[i]), 0);
	}
	cr_deliveries_clear(d, n);
	assert_int_equal(due(st, FAR_FUTURE, d, MAXD), 2);
	cr_deliveries_clear(d, 2);

	n = 3;
	assert_int_equal(st->events->ops->dead_letters(st->events, "h1", dead, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_int_equal(dead[i].event_id, e[i].id);
		assert_int_equal(dead[i].state, CR_DELIVERY_DEAD);
		assert_int_equal(dead[i].attempts, 8);
		assert_true(strncmp(dead[i].last_error, "HTTP 500", 8) == 0);
		assert_true(json_equal(dead[i].event.data, e[i].data));
	}
	cr_deliveries_clear(dead, n);
	n = 1;
	assert_int_equal(st->events->ops->dead_letters(st->events, "h1", dead, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(dead[0].event_id, e[0].id);
	cr_deliveries_clear(dead, n);
	n = 3;
	assert_int_equal(st->events->ops->dead_letters(st->events, "h2", dead, &n), 0);
	assert_int_equal(n, 1);
	cr_deliveries_clear(dead, n);
	n = 3;
	assert_int_equal(st->events->ops->dead_letters(st->events, "nope", dead, &n), 0);
	assert_int_equal(n, 0);

	/* One, by seq: h1's second. */
	n = 3;
	assert_int_equal(st->events->ops->dead_letters(st->events, "h1", dead, &n), 0);
	cr_deliveries_clear(dead, n);
	assert_int_equal(st->events->ops->redeliver(st->events, "h1", dead[1].seq, &count), 0);
	assert_int_equal(count, 1);
	/* A seq of another subscription is not h1's. */
	assert_int_equal(st->events->ops->redeliver(st->events, "h2", dead[0].seq, &count), 0);
	assert_int_equal(count, 0);
	n = due(st, FAR_FUTURE, d, MAXD);
	assert_int_equal(n, 3);
	for (i = 0; i < n && d[i].seq != dead[1].seq; i++)
		;
	assert_true(i < n);
	assert_int_equal(d[i].state, CR_DELIVERY_PENDING);
	assert_int_equal(d[i].attempts, 0);
	assert_true(d[i].next_attempt_ms <= FAR_FUTURE / 2);
	assert_string_equal(d[i].last_error, "");
	cr_deliveries_clear(d, n);

	/* All of h1's. */
	assert_int_equal(st->events->ops->redeliver(st->events, "h1", 0, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(st->events->ops->redeliver(st->events, "h1", 0, &count), 0);
	assert_int_equal(count, 0);
	n = 3;
	assert_int_equal(st->events->ops->dead_letters(st->events, "h1", dead, &n), 0);
	assert_int_equal(n, 0);
	n = 3;
	assert_int_equal(st->events->ops->dead_letters(st->events, "h2", dead, &n), 0);
	assert_int_equal(n, 1);
	cr_deliveries_clear(dead, n);
	assert_int_equal(due(st, FAR_FUTURE, d, MAXD), 5);
	cr_deliveries_clear(d, 5);
	events_clear(e, 3);
}

/* A deleted subscription takes its deliveries; seqs are not reused. */
static void
test_delete_keeps_seqs(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_event e;
	struct cr_delivery d[MAXD];
	uint64_t seq, id;
	size_t n;

	base_world(st);
	assert_int_equal(add_sub(st, "old", "ONEM", "pop.address", "[]",
	    "http://127.0.0.1:1/h"), 0);
	e = ev("pop.address", "S", "2024-05-01T00:00:00Z", 0);
	assert_int_equal(st->events->ops->events_append(st->events, &e, 1, NULL), 0);
	id = e.id;
	assert_int_equal(due(st, FAR_FUTURE, d, MAXD), 1);
	seq = d[0].seq;
	cr_deliveries_clear(d, 1);
	assert_int_equal(st->events->ops->subscription_delete(st->events, "old"), 0);
	assert_int_equal(due(st, FAR_FUTURE, d, MAXD), 0);

	assert_int_equal(add_sub(st, "new", "ONEM", "pop.address", "[]",
	    NULL), 0);
	assert_int_equal(st->events->ops->events_append(st->events, &e, 1, NULL), 0);
	assert_true(e.id > id);
	n = feed(st, "ONEM", NULL, 0, d, MAXD);
	assert_int_equal(n, 1);
	assert_true(d[0].seq > seq);
	cr_deliveries_clear(d, n);
	cr_event_clear(&e);
}

/* Values longer than the structs' buffers are cut, not overflowed. */
static void
test_long_values(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_event e;
	struct cr_delivery d[2];
	sqlite3 *db;
	char sql[2048], big[600];
	size_t n;

	base_world(st);
	assert_int_equal(add_sub(st, "h", "ONEM", "pop.address", "[]",
	    "http://127.0.0.1:1/h"), 0);
	e = ev("pop.address", "S", "2024-05-01T00:00:00Z", 0);
	assert_int_equal(st->events->ops->events_append(st->events, &e, 1, NULL), 0);
	cr_event_clear(&e);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(sql, sizeof(sql), "UPDATE deliveries SET last_error = '%s';"
	    "UPDATE events SET provider = '%s', occurred_at = '%.100s';",
	    big, big, big);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	n = 2;
	assert_int_equal(st->events->ops->deliveries_due(st->events, FAR_FUTURE, d, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(d[0].last_error), sizeof(d[0].last_error) - 1);
	assert_int_equal(strlen(d[0].event.provider),
	    sizeof(d[0].event.provider) - 1);
	assert_int_equal(strlen(d[0].event.occurred_at),
	    sizeof(d[0].event.occurred_at) - 1);
	cr_deliveries_clear(d, n);
}

static void
test_reopen(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_event e[2];
	struct cr_event_type et;
	struct cr_subscription sub;
	struct cr_delivery d[MAXD];
	uint64_t id;
	size_t n, routed[2];

	base_world(st);
	assert_int_equal(add_sub(st, "h", "ONEM", "pop.address", "[]",
	    "http://127.0.0.1:1/h"), 0);
	assert_int_equal(add_sub(st, "f", "ONEM", "pop.address", "[]", NULL),
	    0);
	e[0] = ev("pop.address", "S", "2024-05-01T00:00:00Z", 0);
	e[1] = ev("pop.address", "S", "2024-05-02T00:00:00Z", 1);
	assert_int_equal(st->events->ops->events_append(st->events, e, 2, NULL), 0);
	id = e[1].id;

	cr_store_close(f->st);
	assert_int_equal(cr_store_open(f->path, &f->st), 0);
	st = f->st;
	assert_int_equal(st->events->ops->event_type_get(st->events, "pop.address", &et), 0);
	cr_event_type_clear(&et);
	assert_int_equal(st->events->ops->subscription_get(st->events, "f", &sub), 0);
	assert_int_equal(sub.feed, 1);
	cr_subscription_clear(&sub);
	n = due(st, FAR_FUTURE, d, MAXD);
	assert_int_equal(n, 2);
	assert_int_equal(d[1].event_id, id);
	assert_true(json_equal(d[1].event.data, e[1].data));
	cr_deliveries_clear(d, n);
	n = feed(st, "ONEM", NULL, 0, d, MAXD);
	assert_int_equal(n, 2);
	cr_deliveries_clear(d, n);
	/* Ids go on from where they were. */
	assert_int_equal(st->events->ops->events_append(st->events, e, 2, routed), 0);
	assert_true(e[0].id > id);
	assert_int_equal(routed[0], 2);
	events_clear(e, 2);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_batch(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	const size_t nev = 10000;
	struct cr_dir_entry *dir;
	struct cr_event *e;
	struct cr_delivery *d;
	size_t *routed, i, total = 0, n;
	int *created;
	double t0, t1;
	char subj[CR_SUBJECT_MAX];

	add_inst(st, "RN", "population");
	add_inst(st, "ONEM", "unemployment");
	add_inst(st, "CPAS", "assistance");
	add_inst(st, "MUT", "health");
	add_type(st, "pop.address", "RN", 0, CR_STORE_OK);
	add_type(st, "pop.death", "RN", 1, CR_STORE_OK);
	assert_int_equal(add_sub(st, "s1", "ONEM", "pop.address",
	    "[\"jobseeker\"]", "http://127.0.0.1:1/h"), 0);
	assert_int_equal(add_sub(st, "s2", "CPAS", "pop.address", "[]", NULL),
	    0);
	/* Not entitled: the wrong capacity, another type. */
	assert_int_equal(add_sub(st, "s3", "MUT", "pop.address",
	    "[\"patient\"]", "http://127.0.0.1:1/h"), 0);
	assert_int_equal(add_sub(st, "s4", "ONEM", "pop.death", "[]",
	    "http://127.0.0.1:1/h"), 0);

	dir = calloc(3 * nev, sizeof(*dir));
	created = calloc(3 * nev, sizeof(*created));
	e = calloc(nev, sizeof(*e));
	routed = calloc(nev, sizeof(*routed));
	d = calloc(nev, sizeof(*d));
	assert_non_null(dir);
	assert_non_null(created);
	assert_non_null(e);
	assert_non_null(routed);
	assert_non_null(d);
	for (i = 0; i < nev; i++) {
		snprintf(subj, sizeof(subj), "%011zu", 10000000000 + i);
		dir[3 * i] = dent(subj, "ONEM", "jobseeker", "2024-01-01", "");
		dir[3 * i + 1] = dent(subj, "CPAS", "client", "2024-01-01", "");
		dir[3 * i + 2] = dent(subj, "MUT", "member", "2024-01-01", "");
		e[i] = ev("pop.address", subj, "2024-06-01T08:00:00Z", (int)i);
	}
	assert_int_equal(st->directory->ops->dir_put_many(st->directory, dir, 3 * nev, created), 0);

	t0 = now_s();
	assert_int_equal(st->events->ops->events_append(st->events, e, nev, routed), 0);
	t1 = now_s();
	for (i = 0; i < nev; i++) {
		assert_int_equal(routed[i], 2);
		total += routed[i];
		if (i > 0)
			assert_int_equal(e[i].id, e[i - 1].id + 1);
	}
	assert_int_equal(total, 2 * nev);
	print_message("events_append: %zu events, %zu deliveries in %.3f s "
	    "(%.0f deliveries/s)\n", nev, total, t1 - t0,
	    (double)total / (t1 - t0));

	n = nev;
	assert_int_equal(st->events->ops->deliveries_due(st->events, FAR_FUTURE, d, &n), 0);
	assert_int_equal(n, nev);
	assert_int_equal(d[nev - 1].event_id, e[nev - 1].id);
	cr_deliveries_clear(d, n);
	n = nev;
	assert_int_equal(st->events->ops->feed_read(st->events, "CPAS", NULL, 0, d, &n), 0);
	assert_int_equal(n, nev);
	assert_int_equal(d[0].event_id, e[0].id);
	cr_deliveries_clear(d, n);

	events_clear(e, nev);
	free(d);
	free(routed);
	free(e);
	free(created);
	free(dir);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_event_types),
		T(test_subscriptions),
		T(test_routing),
		T(test_due_and_update),
		T(test_deliveries_update),
		T(test_feed),
		T(test_dead_letters),
		T(test_delete_keeps_seqs),
		T(test_long_values),
		T(test_reopen),
		T(test_batch),
	};
#undef T

	(void)xent;	/* the fixture's, for the exchange-log tests */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
