/*
 * The registry cache must answer exactly as the database does, see its
 * own writes at once (a revoked authorization is gone for the next
 * request), and see another process's writes within refresh_ms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "pg_fixture.h"
#include "store.h"
#include "util.h"

#define REFRESH_MS	50

struct fixture {
	char		 dir[64];
	char		 path[128];
	struct cr_store	*cached;	/* wraps its own connection */
	struct cr_store	*other;		/* plays another process */
};

static void
institution(struct cr_store *st, const char *id)
{
	struct cr_institution in;

	memset(&in, 0, sizeof(in));
	cr_util_strlcpy(in.id, id, sizeof(in.id));
	cr_util_strlcpy(in.name, id, sizeof(in.name));
	cr_util_strlcpy(in.sector, "social", sizeof(in.sector));
	assert_int_equal(st->registry->ops->institution_add(st->registry, &in), CR_STORE_OK);
}

static void
authz(struct cr_store *st, const char *id, const char *purpose,
    const char *from, const char *to)
{
	struct cr_authz a;

	memset(&a, 0, sizeof(a));
	cr_util_strlcpy(a.id, id, sizeof(a.id));
	cr_util_strlcpy(a.consumer, "ONEM", sizeof(a.consumer));
	cr_util_strlcpy(a.service, "population.person", sizeof(a.service));
	cr_util_strlcpy(a.purpose, purpose, sizeof(a.purpose));
	cr_util_strlcpy(a.legal_basis, id, sizeof(a.legal_basis));
	a.fields = json_pack("[s]", "name");
	a.capacities = json_array();
	cr_util_strlcpy(a.valid_from, from, sizeof(a.valid_from));
	cr_util_strlcpy(a.valid_to, to, sizeof(a.valid_to));
	assert_int_equal(st->registry->ops->authz_add(st->registry, &a), CR_STORE_OK);
	cr_authz_clear(&a);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cr_store *inner;
	struct cr_service svc;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cr-cache-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (fx_pg_url() != NULL) {
		assert_int_equal(fx_pg_reset(fx_pg_url()), 0);
		assert_true(cr_util_strlcpy(f->path, fx_pg_url(),
		    sizeof(f->path)) < sizeof(f->path));
	} else
		snprintf(f->path, sizeof(f->path), "%s/hub.db", f->dir);
	assert_int_equal(cr_store_open_partial(f->path, &inner), 0);
	assert_int_equal(cr_store_cache_wrap(inner, REFRESH_MS, &f->cached),
	    0);
	assert_int_equal(cr_store_open_partial(f->path, &f->other), 0);
	institution(f->cached, "RN");
	institution(f->cached, "ONEM");
	memset(&svc, 0, sizeof(svc));
	cr_util_strlcpy(svc.id, "population.person", sizeof(svc.id));
	cr_util_strlcpy(svc.provider, "RN", sizeof(svc.provider));
	cr_util_strlcpy(svc.endpoint, "http://127.0.0.1:1/p",
	    sizeof(svc.endpoint));
	cr_util_strlcpy(svc.subject_kind, "person", sizeof(svc.subject_kind));
	svc.fields = json_pack("[s,s]", "name", "address.street");
	svc.params = json_pack("[{s:s,s:s}]", "name", "on", "type", "date");
	svc.timeout_ms = 1500;
	assert_int_equal(f->cached->registry->ops->service_add(f->cached->registry, &svc), 0);
	cr_service_clear(&svc);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	cr_store_close(f->cached);
	cr_store_close(f->other);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
test_service_from_cache(void **state)
{
	struct fixture *f = *state;
	struct cr_service svc;

	memset(&svc, 0, sizeof(svc));
	assert_int_equal(f->cached->registry->ops->service_get(f->cached->registry,
	    "population.person", &svc), CR_STORE_OK);
	assert_string_equal(svc.provider, "RN");
	assert_int_equal(svc.timeout_ms, 1500);
	assert_int_equal(json_array_size(svc.fields), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    svc.params, 0), "type")), "date");
	cr_service_clear(&svc);
	assert_int_equal(f->cached->registry->ops->service_get(f->cached->registry, "nope", &svc),
	    CR_STORE_NOTFOUND);
}

static void
test_client_by_token(void **state)
{
	struct fixture *f = *state;
	struct cr_client cl, got;
	uint8_t hash[CR_HASH_LEN], other[CR_HASH_LEN];

	memset(&cl, 0, sizeof(cl));
	cr_util_uuid(cl.id);
	cr_util_strlcpy(cl.institution, "ONEM", sizeof(cl.institution));
	cr_util_strlcpy(cl.name, "app", sizeof(cl.name));
	memset(hash, 0xab, sizeof(hash));
	memset(other, 0xac, sizeof(other));
	assert_int_equal(f->cached->registry->ops->client_by_token(f->cached->registry, hash, cr_util_wall_ms(),
	    &got), CR_STORE_NOTFOUND);
	assert_int_equal(f->cached->registry->ops->client_add(f->cached->registry, &cl, hash), 0);
	/* Its own write is visible at once. */
	assert_int_equal(f->cached->registry->ops->client_by_token(f->cached->registry, hash, cr_util_wall_ms(),
	    &got), CR_STORE_OK);
	assert_string_equal(got.id, cl.id);
	assert_string_equal(got.institution, "ONEM");
	assert_int_equal(f->cached->registry->ops->client_by_token(f->cached->registry, other, cr_util_wall_ms(),
	    &got), CR_STORE_NOTFOUND);
}

/* The cache picks the same authorization as the database on every date. */
static void
test_authz_find_matches_database(void **state)
{
	struct fixture *f = *state;
	static const char *const dates[] = {
		"2019-12-31", "2020-01-01", "2020-06-30", "2020-07-01",
		"2021-03-01", "2022-01-01", "2030-01-01"
	};
	static const char *const purposes[] = { "p", "q", "zzz" };
	struct cr_authz a, b;
	size_t i, j;
	int rc1, rc2;

	authz(f->cached, "a1", "p", "2020-01-01", "2020-06-30");
	authz(f->cached, "a2", "p", "2020-07-01", "");
	authz(f->cached, "a3", "p", "2021-01-01", "2021-12-31");
	authz(f->cached, "a0", "p", "2021-01-01", "2021-12-31");
	authz(f->cached, "b1", "q", "2020-01-01", "2020-01-01");
	for (i = 0; i < sizeof(purposes) / sizeof(purposes[0]); i++) {
		for (j = 0; j < sizeof(dates) / sizeof(dates[0]); j++) {
			rc1 = f->cached->registry->ops->authz_find(f->cached->registry, "ONEM",
			    "population.person", purposes[i], dates[j], &a);
			rc2 = f->other->registry->ops->authz_find(f->other->registry, "ONEM",
			    "population.person", purposes[i], dates[j], &b);
			assert_int_equal(rc1, rc2);
			if (rc1 == CR_STORE_OK) {
				assert_string_equal(a.id, b.id);
				assert_string_equal(a.valid_to, b.valid_to);
				assert_true(json_equal(a.fields, b.fields));
				cr_authz_clear(&a);
				cr_authz_clear(&b);
			}
		}
	}
	/* Overlap on 2021-03-01: latest start, then the smallest id. */
	assert_int_equal(f->cached->registry->ops->authz_find(f->cached->registry, "ONEM",
	    "population.person", "p", "2021-03-01", &a), CR_STORE_OK);
	assert_string_equal(a.id, "a0");
	cr_authz_clear(&a);
}

static void
test_revocation_is_immediate(void **state)
{
	struct fixture *f = *state;
	struct cr_authz a;

	authz(f->cached, "r1", "p", "2020-01-01", "");
	assert_int_equal(f->cached->registry->ops->authz_find(f->cached->registry, "ONEM",
	    "population.person", "p", "2024-01-01", &a), CR_STORE_OK);
	cr_authz_clear(&a);
	assert_int_equal(f->cached->registry->ops->authz_delete(f->cached->registry, "r1"),
	    CR_STORE_OK);
	assert_int_equal(f->cached->registry->ops->authz_find(f->cached->registry, "ONEM",
	    "population.person", "p", "2024-01-01", &a), CR_STORE_NOTFOUND);
}

static void
test_other_process_changes_seen(void **state)
{
	struct fixture *f = *state;
	struct cr_authz a;
	int i, rc = CR_STORE_NOTFOUND;

	authz(f->other, "o1", "p", "2020-01-01", "");
	/* Within the refresh interval (generously: a loaded CI machine). */
	for (i = 0; i < 100 && rc != CR_STORE_OK; i++) {
		sleep_ms(REFRESH_MS);
		rc = f->cached->registry->ops->authz_find(f->cached->registry, "ONEM",
		    "population.person", "p", "2024-01-01", &a);
	}
	assert_int_equal(rc, CR_STORE_OK);
	assert_string_equal(a.id, "o1");
	cr_authz_clear(&a);
	assert_int_equal(f->other->registry->ops->authz_delete(f->other->registry, "o1"),
	    CR_STORE_OK);
	for (i = 0; i < 100 && rc == CR_STORE_OK; i++) {
		sleep_ms(REFRESH_MS);
		rc = f->cached->registry->ops->authz_find(f->cached->registry, "ONEM",
		    "population.person", "p", "2024-01-01", &a);
		if (rc == CR_STORE_OK)
			cr_authz_clear(&a);
	}
	assert_int_equal(rc, CR_STORE_NOTFOUND);
}

static void
test_pass_through(void **state)
{
	struct fixture *f = *state;
	struct cr_dir_entry e;
	json_t *caps = json_pack("[s]", "jobseeker");
	int created;

	memset(&e, 0, sizeof(e));
	cr_util_strlcpy(e.subject, "85073003328", sizeof(e.subject));
	cr_util_strlcpy(e.institution, "ONEM", sizeof(e.institution));
	cr_util_strlcpy(e.capacity, "jobseeker", sizeof(e.capacity));
	cr_util_strlcpy(e.from, "2024-01-01", sizeof(e.from));
	assert_int_equal(f->cached->directory->ops->dir_put(f->cached->directory, &e, &created), 0);
	assert_int_equal(created, 1);
	assert_int_equal(f->cached->directory->ops->dir_active(f->cached->directory, "ONEM",
	    "85073003328", caps, "2024-05-01"), 1);
	assert_int_equal(f->other->directory->ops->dir_active(f->other->directory, "ONEM",
	    "85073003328", caps, "2024-05-01"), 1);
	json_decref(caps);
}

/*
 * What a lookup returns outlives, in another thread, the snapshot it came
 * from: the hub hands an authorization found by an HTTP worker to the
 * source thread (which reads its fields) and to the log writer (which
 * drops it), while the worker, at its first lookup after a registry
 * change, drops the old snapshot and so frees what nobody holds any more.
 * That free must be ordered after the other thread's use of the values:
 * under ThreadSanitizer (make check-tsan) this test fails with a data race
 * otherwise; every build checks the values.
 */
struct holder {
	struct cr_authz	 a;
	char		 seen[32];
	atomic_int	 done;
};

static void *
use_and_drop(void *arg)
{
	struct holder *h = arg;

	cr_util_strlcpy(h->seen, json_string_value(json_array_get(h->a.fields,
	    0)), sizeof(h->seen));
	cr_authz_clear(&h->a);
	/* Relaxed: says "done" but orders nothing, so that only the values'
	   reference counts order this thread's use before the free. */
	atomic_store_explicit(&h->done, 1, memory_order_relaxed);
	return NULL;
}

static void
test_values_outlive_snapshot_in_other_thread(void **state)
{
	struct fixture *f = *state;
	struct holder *h;
	struct cr_authz again;
	pthread_t t;

	assert_non_null(h = calloc(1, sizeof(*h)));
	authz(f->cached, "a1", "p", "2020-01-01", "");
	assert_int_equal(f->cached->registry->ops->authz_find(
	    f->cached->registry, "ONEM", "population.person", "p", "2024-05-01",
	    &h->a), CR_STORE_OK);
	assert_int_equal(pthread_create(&t, NULL, use_and_drop, h), 0);
	while (!atomic_load_explicit(&h->done, memory_order_relaxed))
		sched_yield();
	/* A registry change, then a lookup: this thread lets go of the old
	   snapshot, the last holder of a1's fields. */
	authz(f->cached, "a2", "q", "2020-01-01", "");
	assert_int_equal(f->cached->registry->ops->authz_find(
	    f->cached->registry, "ONEM", "population.person", "q", "2024-05-01",
	    &again), CR_STORE_OK);
	assert_string_equal(again.id, "a2");
	cr_authz_clear(&again);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(h->seen, "name");
	free(h);
}

/*
 * Credentials: a revocation or rotation written by another process holds
 * on the cache's very next lookup (no refresh_ms wait); expiry and the end
 * of an overlap follow the clock given to the lookup.
 */
static void
test_client_lifecycle_other_process(void **state)
{
	struct fixture *f = *state;
	struct cr_registry_store *reg = f->cached->registry;
	struct cr_registry_store *oreg = f->other->registry;
	struct cr_client cl, got;
	uint8_t h1[CR_HASH_LEN], h2[CR_HASH_LEN], h3[CR_HASH_LEN];
	int64_t now = cr_util_wall_ms();
	json_t *list;

	memset(&cl, 0, sizeof(cl));
	cr_util_uuid(cl.id);
	cr_util_strlcpy(cl.institution, "ONEM", sizeof(cl.institution));
	cr_util_strlcpy(cl.name, "app", sizeof(cl.name));
	cl.expires_ms = now + 100000;
	memset(h1, 0x11, sizeof(h1));
	memset(h2, 0x22, sizeof(h2));
	memset(h3, 0x33, sizeof(h3));
	assert_int_equal(reg->ops->client_add(reg, &cl, h1), CR_STORE_OK);
	assert_int_equal(reg->ops->client_by_token(reg, h1, now, &got),
	    CR_STORE_OK);
	assert_true(got.expires_ms == cl.expires_ms);
	/* Expired at its end, in the cache as in the database. */
	assert_int_equal(reg->ops->client_by_token(reg, h1, now + 100000, &got),
	    CR_STORE_NOTFOUND);
	assert_int_equal(oreg->ops->client_by_token(oreg, h1, now + 100000,
	    &got), CR_STORE_NOTFOUND);

	/* Rotated by the other process: both tokens until the overlap ends. */
	assert_int_equal(oreg->ops->client_rotate(oreg, "ONEM", cl.id, h2,
	    now + 5000), CR_STORE_OK);
	assert_int_equal(reg->ops->client_by_token(reg, h2, now, &got),
	    CR_STORE_OK);
	assert_string_equal(got.id, cl.id);
	assert_int_equal(reg->ops->client_by_token(reg, h1, now, &got),
	    CR_STORE_OK);
	assert_int_equal(reg->ops->client_by_token(reg, h1, now + 5000, &got),
	    CR_STORE_NOTFOUND);
	assert_int_equal(oreg->ops->client_by_token(oreg, h1, now + 5000,
	    &got), CR_STORE_NOTFOUND);
	/* Another rotation: the first token is gone at once. */
	assert_int_equal(oreg->ops->client_rotate(oreg, "ONEM", cl.id, h3,
	    now + 5000), CR_STORE_OK);
	assert_int_equal(reg->ops->client_by_token(reg, h1, now, &got),
	    CR_STORE_NOTFOUND);
	assert_int_equal(reg->ops->client_by_token(reg, h2, now, &got),
	    CR_STORE_OK);
	/* Not a client of that institution. */
	assert_int_equal(oreg->ops->client_rotate(oreg, "RN", cl.id, h1,
	    now), CR_STORE_NOTFOUND);
	assert_int_equal(oreg->ops->client_revoke(oreg, "RN", cl.id, now),
	    CR_STORE_NOTFOUND);

	/* Revoked by the other process: refused on the next lookup. */
	assert_int_equal(oreg->ops->client_revoke(oreg, "ONEM", cl.id, now),
	    CR_STORE_OK);
	assert_int_equal(reg->ops->client_by_token(reg, h3, now, &got),
	    CR_STORE_NOTFOUND);
	assert_int_equal(reg->ops->client_by_token(reg, h2, now, &got),
	    CR_STORE_NOTFOUND);
	assert_int_equal(oreg->ops->client_by_token(oreg, h3, now, &got),
	    CR_STORE_NOTFOUND);
	/* Revoked clients cannot be rotated back to life. */
	assert_int_equal(oreg->ops->client_rotate(oreg, "ONEM", cl.id, h1,
	    now + 5000), CR_STORE_NOTFOUND);
	assert_int_equal(reg->ops->client_by_token(reg, h1, now, &got),
	    CR_STORE_NOTFOUND);
	assert_int_equal(reg->ops->client_list(reg, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_true(json_integer_value(json_object_get(json_array_get(list,
	    0), "revoked_ms")) == now);
	json_decref(list);
}

/*
 * An authorization narrowed by another process is what the next
 * consultation here finds: its token lookup syncs the registry version
 * first (no refresh_ms wait).
 */
static void
test_authz_update_other_process(void **state)
{
	struct fixture *f = *state;
	struct cr_registry_store *reg = f->cached->registry;
	struct cr_client cl, got;
	struct cr_authz a;
	uint8_t h[CR_HASH_LEN];

	memset(&cl, 0, sizeof(cl));
	cr_util_uuid(cl.id);
	cr_util_strlcpy(cl.institution, "ONEM", sizeof(cl.institution));
	cr_util_strlcpy(cl.name, "app", sizeof(cl.name));
	memset(h, 0x55, sizeof(h));
	assert_int_equal(reg->ops->client_add(reg, &cl, h), CR_STORE_OK);
	authz(f->cached, "u1", "p", "2020-01-01", "");
	assert_int_equal(reg->ops->authz_find(reg, "ONEM", "population.person",
	    "p", "2024-01-01", &a), CR_STORE_OK);
	assert_int_equal(json_array_size(a.fields), 1);
	/* Narrowed and ended by the other process. */
	json_decref(a.fields);
	a.fields = json_array();
	cr_util_strlcpy(a.valid_to, "2023-12-31", sizeof(a.valid_to));
	assert_int_equal(f->other->registry->ops->authz_update(
	    f->other->registry, &a), CR_STORE_OK);
	cr_authz_clear(&a);
	assert_int_equal(reg->ops->client_by_token(reg, h, cr_util_wall_ms(),
	    &got), CR_STORE_OK);
	assert_int_equal(reg->ops->authz_find(reg, "ONEM", "population.person",
	    "p", "2024-01-01", &a), CR_STORE_NOTFOUND);
	assert_int_equal(reg->ops->authz_find(reg, "ONEM", "population.person",
	    "p", "2023-06-01", &a), CR_STORE_OK);
	assert_int_equal(json_array_size(a.fields), 0);
	cr_authz_clear(&a);
	/* No such authorization. */
	cr_util_strlcpy(a.id, "nope", sizeof(a.id));
	assert_int_equal(reg->ops->authz_update(reg, &a), CR_STORE_NOTFOUND);
}

/* Last use: a later time wins, and it is no registry change. */
static void
test_clients_touch(void **state)
{
	struct fixture *f = *state;
	struct cr_registry_store *reg = f->cached->registry;
	struct cr_client_use u[2];
	uint64_t v1, v2;
	json_t *list;

	memset(u, 0, sizeof(u));
	cr_util_strlcpy(u[0].id, "c1", sizeof(u[0].id));
	u[0].used_ms = 5000;
	cr_util_strlcpy(u[1].id, "c1", sizeof(u[1].id));
	u[1].used_ms = 4000;
	assert_int_equal(reg->ops->registry_version(reg, &v1), CR_STORE_OK);
	assert_int_equal(reg->ops->clients_touch(reg, u, 2), CR_STORE_OK);
	u[0].used_ms = 3000;
	assert_int_equal(f->other->registry->ops->clients_touch(
	    f->other->registry, u, 1), CR_STORE_OK);
	assert_int_equal(reg->ops->registry_version(reg, &v2), CR_STORE_OK);
	assert_true(v1 == v2);
	/* Shown on the client's row once it exists. */
	{
		struct cr_client cl;
		uint8_t h[CR_HASH_LEN];

		memset(&cl, 0, sizeof(cl));
		cr_util_strlcpy(cl.id, "c1", sizeof(cl.id));
		cr_util_strlcpy(cl.institution, "ONEM", sizeof(cl.institution));
		cr_util_strlcpy(cl.name, "app", sizeof(cl.name));
		memset(h, 0x44, sizeof(h));
		assert_int_equal(reg->ops->client_add(reg, &cl, h), CR_STORE_OK);
	}
	assert_int_equal(reg->ops->client_list(reg, &list), CR_STORE_OK);
	assert_true(json_integer_value(json_object_get(json_array_get(list,
	    0), "last_used_ms")) == 5000);
	json_decref(list);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define REGISTRY_TESTS \
		T(test_service_from_cache), \
		T(test_client_by_token), \
		T(test_client_lifecycle_other_process), \
		T(test_clients_touch), \
		T(test_authz_update_other_process), \
		T(test_authz_find_matches_database), \
		T(test_revocation_is_immediate), \
		T(test_other_process_changes_seen), \
		T(test_values_outlive_snapshot_in_other_thread)
	const struct CMUnitTest tests[] = {
		REGISTRY_TESTS,
		T(test_pass_through),
	};
	/* PostgreSQL stores the registry only so far: no directory to pass
	   through to. */
	const struct CMUnitTest pg_tests[] = {
		REGISTRY_TESTS,
	};
#undef REGISTRY_TESTS
#undef T

	if (fx_pg_url() != NULL)
		return cmocka_run_group_tests_name("store_cache_pg", pg_tests,
		    NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
