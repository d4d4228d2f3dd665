/*
 * Storage interface against the SQLite backend, on real files in a
 * temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_sqlite_int.h"
#include "util.h"

struct fx {
	char		 dir[64];
	char		 path[128];
	struct cr_store	*st;
};

static void
fx_paths_remove(struct fx *f)
{
	char p[160];

	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
}

static int
setup(void **state)
{
	struct fx *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cr-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/hub.db", f->dir);
	if (cr_store_open(f->path, &f->st) != 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	cr_store_close(f->st);
	fx_paths_remove(f);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
add_inst(struct cr_store *st, const char *id, const char *sector)
{
	struct cr_institution in;

	memset(&in, 0, sizeof(in));
	cr_util_strlcpy(in.id, id, sizeof(in.id));
	snprintf(in.name, sizeof(in.name), "Institution %s", id);
	cr_util_strlcpy(in.sector, sector, sizeof(in.sector));
	assert_int_equal(st->ops->institution_add(st, &in), CR_STORE_OK);
}

static struct cr_dir_entry
dent(const char *subject, const char *inst, const char *cap,
    const char *from, const char *to)
{
	struct cr_dir_entry e;

	memset(&e, 0, sizeof(e));
	cr_util_strlcpy(e.subject, subject, sizeof(e.subject));
	cr_util_strlcpy(e.institution, inst, sizeof(e.institution));
	cr_util_strlcpy(e.capacity, cap, sizeof(e.capacity));
	cr_util_strlcpy(e.from, from, sizeof(e.from));
	cr_util_strlcpy(e.to, to, sizeof(e.to));
	return e;
}

static int
put(struct cr_store *st, const char *subject, const char *inst,
    const char *cap, const char *from, const char *to, int *created)
{
	struct cr_dir_entry e = dent(subject, inst, cap, from, to);

	return st->ops->dir_put(st, &e, created);
}

static int
active(struct cr_store *st, const char *inst, const char *subject,
    const char *caps, const char *date)
{
	json_t *j = json_loads(caps, 0, NULL);
	int rc;

	assert_non_null(j);
	rc = st->ops->dir_active(st, inst, subject, j, date);
	json_decref(j);
	return rc;
}

static struct cr_xlog_entry
xent(uint64_t seq, const char *subject, const char *consumer)
{
	struct cr_xlog_entry e;

	memset(&e, 0, sizeof(e));
	e.seq = seq;
	snprintf(e.ts, sizeof(e.ts), "2026-01-01T00:00:%02lluZ",
	    (unsigned long long)(seq % 60));
	snprintf(e.request_id, sizeof(e.request_id), "req-%llu",
	    (unsigned long long)seq);
	cr_util_strlcpy(e.consumer, consumer, sizeof(e.consumer));
	cr_util_strlcpy(e.client, "operator", sizeof(e.client));
	cr_util_strlcpy(e.service, "population.person", sizeof(e.service));
	cr_util_strlcpy(e.provider, "RN", sizeof(e.provider));
	cr_util_strlcpy(e.subject, subject, sizeof(e.subject));
	cr_util_strlcpy(e.purpose, "benefit", sizeof(e.purpose));
	cr_util_strlcpy(e.legal_basis, "Law 1", sizeof(e.legal_basis));
	cr_util_strlcpy(e.outcome, seq % 2 ? CR_OUTCOME_GRANTED :
	    CR_OUTCOME_DENIED, sizeof(e.outcome));
	e.status = seq % 2 ? 200 : 403;
	if (seq % 2 == 0)
		cr_util_strlcpy(e.error_code, "NOT_AUTHORIZED",
		    sizeof(e.error_code));
	memset(e.prev_hash, (int)((seq - 1) & 0xff), CR_HASH_LEN);
	memset(e.hash, (int)(seq & 0xff), CR_HASH_LEN);
	return e;
}

static int
user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s,
	    NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
test_open_uris(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = (struct cr_store *)1;
	char uri[192];

	assert_int_equal(cr_store_open("postgres://u:p@db/hub", &st), -1);
	assert_null(st);
	assert_int_equal(cr_store_open("postgresql:dbname=hub", &st), -1);
	assert_int_equal(cr_store_open("mysql://db/hub", &st), -1);
	assert_int_equal(cr_store_open("", &st), -1);
	/* The fixture's store stays open: a second store on the same file. */
	snprintf(uri, sizeof(uri), "sqlite:%s", f->path);
	assert_int_equal(cr_store_open(uri, &st), 0);
	assert_non_null(st);
	assert_string_equal(st->ops->name, "sqlite");
	add_inst(st, "RN", "population");
	cr_store_close(st);
	/* What one wrote, the other sees. */
	{
		struct cr_institution in;

		assert_int_equal(f->st->ops->institution_get(f->st, "RN", &in),
		    CR_STORE_OK);
		assert_string_equal(in.sector, "population");
	}
	/* A missing directory cannot be created into. */
	assert_int_equal(cr_store_open("/nonexistent-dir/x/hub.db", &st), -1);
}

static void
test_institutions(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_institution in;
	json_t *list;

	add_inst(st, "ONEM", "unemployment");
	add_inst(st, "INAMI", "health");
	memset(&in, 0, sizeof(in));
	cr_util_strlcpy(in.id, "ONEM", sizeof(in.id));
	cr_util_strlcpy(in.name, "Other", sizeof(in.name));
	cr_util_strlcpy(in.sector, "x", sizeof(in.sector));
	assert_int_equal(st->ops->institution_add(st, &in), CR_STORE_EXISTS);

	assert_int_equal(st->ops->institution_get(st, "ONEM", &in),
	    CR_STORE_OK);
	assert_string_equal(in.id, "ONEM");
	assert_string_equal(in.name, "Institution ONEM");
	assert_string_equal(in.sector, "unemployment");
	assert_int_equal(st->ops->institution_get(st, "NOPE", &in),
	    CR_STORE_NOTFOUND);
	/* Bound, not spliced: a quote is just a character. */
	assert_int_equal(st->ops->institution_get(st, "x' OR '1'='1", &in),
	    CR_STORE_NOTFOUND);

	assert_int_equal(st->ops->institution_list(st, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(list, 0), "id")), "INAMI");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(list, 1), "sector")), "unemployment");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(list, 1), "name")), "Institution ONEM");
	json_decref(list);
}

static void
test_clients(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_client cl, got;
	uint8_t h1[CR_HASH_LEN], h2[CR_HASH_LEN];

	add_inst(st, "ONEM", "unemployment");
	memset(h1, 0xa1, sizeof(h1));
	memset(h2, 0xb2, sizeof(h2));
	memset(&cl, 0, sizeof(cl));
	cr_util_uuid(cl.id);
	cr_util_strlcpy(cl.institution, "ONEM", sizeof(cl.institution));
	cr_util_strlcpy(cl.name, "benefits-app", sizeof(cl.name));
	assert_int_equal(st->ops->client_add(st, &cl, h1), CR_STORE_OK);

	assert_int_equal(st->ops->client_by_token(st, h1, &got), CR_STORE_OK);
	assert_string_equal(got.id, cl.id);
	assert_string_equal(got.institution, "ONEM");
	assert_string_equal(got.name, "benefits-app");
	assert_int_equal(st->ops->client_by_token(st, h2, &got),
	    CR_STORE_NOTFOUND);

	/* Same token hash under another id. */
	cr_util_uuid(cl.id);
	assert_int_equal(st->ops->client_add(st, &cl, h1), CR_STORE_EXISTS);
	/* Unknown institution. */
	cr_util_strlcpy(cl.institution, "NOPE", sizeof(cl.institution));
	assert_int_equal(st->ops->client_add(st, &cl, h2), CR_STORE_NOTFOUND);
	assert_int_equal(st->ops->client_by_token(st, h2, &got),
	    CR_STORE_NOTFOUND);
}

static struct cr_service
svc(const char *id, const char *provider)
{
	struct cr_service s;

	memset(&s, 0, sizeof(s));
	cr_util_strlcpy(s.id, id, sizeof(s.id));
	cr_util_strlcpy(s.provider, provider, sizeof(s.provider));
	cr_util_strlcpy(s.endpoint, "http://127.0.0.1:9001/person",
	    sizeof(s.endpoint));
	cr_util_strlcpy(s.subject_kind, "person", sizeof(s.subject_kind));
	s.fields = json_pack("[s,s,s]", "name", "address", "birth_date");
	s.timeout_ms = 2000;
	return s;
}

static void
test_services(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_service s1, s2, got;
	json_t *list, *o;

	add_inst(st, "RN", "population");
	s1 = svc("population.person", "RN");
	s2 = svc("a.first", "RN");
	s2.timeout_ms = 500;
	assert_int_equal(st->ops->service_add(st, &s1), CR_STORE_OK);
	assert_int_equal(st->ops->service_add(st, &s2), CR_STORE_OK);
	assert_int_equal(st->ops->service_add(st, &s1), CR_STORE_EXISTS);
	cr_service_clear(&s1);
	s1 = svc("other", "NOPE");
	assert_int_equal(st->ops->service_add(st, &s1), CR_STORE_NOTFOUND);

	memset(&got, 0, sizeof(got));
	assert_int_equal(st->ops->service_get(st, "population.person", &got),
	    CR_STORE_OK);
	assert_string_equal(got.provider, "RN");
	assert_string_equal(got.endpoint, "http://127.0.0.1:9001/person");
	assert_string_equal(got.subject_kind, "person");
	assert_int_equal(got.timeout_ms, 2000);
	assert_true(json_equal(got.fields, s1.fields));
	assert_true(got.fields != s1.fields);
	cr_service_clear(&got);
	assert_null(got.fields);
	cr_service_clear(&got);		/* safe twice */
	assert_int_equal(st->ops->service_get(st, "nope", &got),
	    CR_STORE_NOTFOUND);

	assert_int_equal(st->ops->service_list(st, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	o = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(o, "id")),
	    "a.first");
	assert_int_equal(json_integer_value(json_object_get(o, "timeout_ms")),
	    500);
	assert_true(json_equal(json_object_get(o, "fields"), s2.fields));
	assert_string_equal(json_string_value(json_object_get(o,
	    "subject_kind")), "person");
	json_decref(list);
	cr_service_clear(&s1);
	cr_service_clear(&s2);
}

static struct cr_authz
authz(const char *consumer, const char *purpose, const char *from,
    const char *to, const char *caps)
{
	struct cr_authz a;

	memset(&a, 0, sizeof(a));
	cr_util_uuid(a.id);
	cr_util_strlcpy(a.consumer, consumer, sizeof(a.consumer));
	cr_util_strlcpy(a.service, "population.person", sizeof(a.service));
	cr_util_strlcpy(a.purpose, purpose, sizeof(a.purpose));
	cr_util_strlcpy(a.legal_basis, "Deliberation 22/123",
	    sizeof(a.legal_basis));
	a.fields = json_pack("[s,s]", "name", "address");
	a.capacities = json_loads(caps, 0, NULL);
	cr_util_strlcpy(a.valid_from, from, sizeof(a.valid_from));
	cr_util_strlcpy(a.valid_to, to, sizeof(a.valid_to));
	return a;
}

static void
test_authz(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_authz a1, a2, a3, got;
	json_t *list, *o;

	add_inst(st, "ONEM", "unemployment");
	add_inst(st, "CPAS", "assistance");
	a1 = authz("ONEM", "benefit", "2020-01-01", "2020-12-31",
	    "[\"jobseeker\"]");
	a2 = authz("ONEM", "benefit", "2022-01-01", "", "[]");
	a3 = authz("CPAS", "assist", "2021-06-01", "", "[\"client\"]");
	assert_int_equal(st->ops->authz_add(st, &a1), CR_STORE_OK);
	assert_int_equal(st->ops->authz_add(st, &a2), CR_STORE_OK);
	assert_int_equal(st->ops->authz_add(st, &a3), CR_STORE_OK);
	assert_int_equal(st->ops->authz_add(st, &a3), CR_STORE_EXISTS);
	cr_util_uuid(a3.id);
	cr_util_strlcpy(a3.consumer, "NOPE", sizeof(a3.consumer));
	assert_int_equal(st->ops->authz_add(st, &a3), CR_STORE_NOTFOUND);

	/* Validity: both ends inclusive, gaps refused, open end. */
	memset(&got, 0, sizeof(got));
	assert_int_equal(st->ops->authz_find(st, "ONEM", "population.person",
	    "benefit", "2019-12-31", &got), CR_STORE_NOTFOUND);
	assert_int_equal(st->ops->authz_find(st, "ONEM", "population.person",
	    "benefit", "2020-01-01", &got), CR_STORE_OK);
	assert_string_equal(got.id, a1.id);
	assert_string_equal(got.valid_to, "2020-12-31");
	assert_string_equal(got.legal_basis, "Deliberation 22/123");
	assert_true(json_equal(got.capacities, a1.capacities));
	assert_true(json_equal(got.fields, a1.fields));
	cr_authz_clear(&got);
	assert_int_equal(st->ops->authz_find(st, "ONEM", "population.person",
	    "benefit", "2020-12-31", &got), CR_STORE_OK);
	assert_string_equal(got.id, a1.id);
	cr_authz_clear(&got);
	assert_int_equal(st->ops->authz_find(st, "ONEM", "population.person",
	    "benefit", "2021-06-15", &got), CR_STORE_NOTFOUND);
	assert_int_equal(st->ops->authz_find(st, "ONEM", "population.person",
	    "benefit", "2099-01-01", &got), CR_STORE_OK);
	assert_string_equal(got.id, a2.id);
	assert_string_equal(got.valid_to, "");
	assert_int_equal(json_array_size(got.capacities), 0);
	cr_authz_clear(&got);
	assert_null(got.capacities);
	/* Wrong purpose, service or consumer. */
	assert_int_equal(st->ops->authz_find(st, "ONEM", "population.person",
	    "assist", "2023-01-01", &got), CR_STORE_NOTFOUND);
	assert_int_equal(st->ops->authz_find(st, "ONEM", "other.service",
	    "benefit", "2023-01-01", &got), CR_STORE_NOTFOUND);
	assert_int_equal(st->ops->authz_find(st, "CPAS", "population.person",
	    "benefit", "2023-01-01", &got), CR_STORE_NOTFOUND);

	assert_int_equal(st->ops->authz_list(st, NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);
	assert_int_equal(st->ops->authz_list(st, "ONEM", &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	o = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(o, "id")),
	    a1.id);
	assert_string_equal(json_string_value(json_object_get(o,
	    "valid_to")), "2020-12-31");
	assert_true(json_equal(json_object_get(o, "capacities"),
	    a1.capacities));
	o = json_array_get(list, 1);
	assert_true(json_is_null(json_object_get(o, "valid_to")));
	assert_string_equal(json_string_value(json_object_get(o,
	    "valid_from")), "2022-01-01");
	assert_string_equal(json_string_value(json_object_get(o, "purpose")),
	    "benefit");
	json_decref(list);
	assert_int_equal(st->ops->authz_list(st, "NOPE", &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	assert_int_equal(st->ops->authz_delete(st, a2.id), CR_STORE_OK);
	assert_int_equal(st->ops->authz_delete(st, a2.id), CR_STORE_NOTFOUND);
	assert_int_equal(st->ops->authz_find(st, "ONEM", "population.person",
	    "benefit", "2099-01-01", &got), CR_STORE_NOTFOUND);
	cr_authz_clear(&a1);
	cr_authz_clear(&a2);
	cr_authz_clear(&a3);
}

static void
test_dir_active(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	json_t *empty;
	int created;

	add_inst(st, "ONEM", "unemployment");
	add_inst(st, "CPAS", "assistance");
	assert_int_equal(put(st, "85073003328", "ONEM", "jobseeker",
	    "2024-01-01", "2024-06-30", &created), CR_STORE_OK);
	assert_int_equal(created, 1);
	assert_int_equal(put(st, "85073003328", "ONEM", "beneficiary",
	    "2024-03-01", "", &created), CR_STORE_OK);
	assert_int_equal(created, 1);

	/* Closed period: inside, on both ends, before, after. */
	assert_int_equal(active(st, "ONEM", "85073003328", "[\"jobseeker\"]",
	    "2024-03-15"), 1);
	assert_int_equal(active(st, "ONEM", "85073003328", "[\"jobseeker\"]",
	    "2024-01-01"), 1);
	assert_int_equal(active(st, "ONEM", "85073003328", "[\"jobseeker\"]",
	    "2024-06-30"), 1);
	assert_int_equal(active(st, "ONEM", "85073003328", "[\"jobseeker\"]",
	    "2023-12-31"), 0);
	assert_int_equal(active(st, "ONEM", "85073003328", "[\"jobseeker\"]",
	    "2024-07-01"), 0);
	/* Open-ended. */
	assert_int_equal(active(st, "ONEM", "85073003328", "[\"beneficiary\"]",
	    "2999-01-01"), 1);
	assert_int_equal(active(st, "ONEM", "85073003328", "[\"beneficiary\"]",
	    "2024-02-29"), 0);
	/* Any of several capacities. */
	assert_int_equal(active(st, "ONEM", "85073003328",
	    "[\"x\", \"beneficiary\"]", "2025-01-01"), 1);
	assert_int_equal(active(st, "ONEM", "85073003328",
	    "[\"x\", \"jobseeker\"]", "2025-01-01"), 0);
	/* Wrong capacity, other institution, other subject. */
	assert_int_equal(active(st, "ONEM", "85073003328", "[\"client\"]",
	    "2024-03-15"), 0);
	assert_int_equal(active(st, "CPAS", "85073003328", "[\"jobseeker\"]",
	    "2024-03-15"), 0);
	assert_int_equal(active(st, "ONEM", "85073003329", "[\"jobseeker\"]",
	    "2024-03-15"), 0);
	empty = json_array();
	assert_int_equal(st->ops->dir_active(st, "ONEM", "85073003328", empty,
	    "2024-03-15"), 0);
	json_decref(empty);
	assert_int_equal(active(st, "ONEM", "85073003328", "{\"a\": 1}",
	    "2024-03-15"), CR_STORE_ERR);

	/* Unknown institution. */
	assert_int_equal(put(st, "85073003328", "NOPE", "jobseeker",
	    "2024-01-01", "", &created), CR_STORE_NOTFOUND);
}

static void
test_dir_put_idempotent(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_dir_entry batch[3];
	int created = -1, cr[3] = { -1, -1, -1 };
	json_t *list;

	add_inst(st, "ONEM", "unemployment");
	assert_int_equal(put(st, "S1", "ONEM", "jobseeker", "2024-01-01", "",
	    &created), CR_STORE_OK);
	assert_int_equal(created, 1);
	assert_int_equal(put(st, "S1", "ONEM", "jobseeker", "2024-01-01", "",
	    &created), CR_STORE_OK);
	assert_int_equal(created, 0);
	/* A changed end date updates the same record. */
	assert_int_equal(put(st, "S1", "ONEM", "jobseeker", "2024-01-01",
	    "2024-05-31", &created), CR_STORE_OK);
	assert_int_equal(created, 0);
	assert_int_equal(st->ops->dir_list(st, "S1", NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(list, 0), "to")), "2024-05-31");
	json_decref(list);
	assert_int_equal(active(st, "ONEM", "S1", "[\"jobseeker\"]",
	    "2024-06-01"), 0);
	/* And back to open-ended. */
	assert_int_equal(put(st, "S1", "ONEM", "jobseeker", "2024-01-01", "",
	    &created), CR_STORE_OK);
	assert_int_equal(created, 0);
	assert_int_equal(active(st, "ONEM", "S1", "[\"jobseeker\"]",
	    "2024-06-01"), 1);

	batch[0] = dent("S1", "ONEM", "jobseeker", "2024-01-01", "");
	batch[1] = dent("S2", "ONEM", "jobseeker", "2024-01-01", "");
	batch[2] = dent("S1", "ONEM", "jobseeker", "2025-01-01", "");
	assert_int_equal(st->ops->dir_put_many(st, batch, 3, cr), CR_STORE_OK);
	assert_int_equal(cr[0], 0);
	assert_int_equal(cr[1], 1);
	assert_int_equal(cr[2], 1);
	assert_int_equal(st->ops->dir_list(st, "S1", NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);

	/* One bad record: the whole batch is rolled back. */
	batch[0] = dent("S3", "ONEM", "jobseeker", "2024-01-01", "");
	batch[1] = dent("S3", "NOPE", "jobseeker", "2024-01-01", "");
	assert_int_equal(st->ops->dir_put_many(st, batch, 2, cr),
	    CR_STORE_NOTFOUND);
	assert_int_equal(st->ops->dir_list(st, "S3", NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(st->ops->dir_put_many(st, batch, 0, cr), CR_STORE_OK);
}

static void
test_dir_end(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	json_t *list;
	int created;

	add_inst(st, "ONEM", "unemployment");
	add_inst(st, "CPAS", "assistance");
	/* Closed before `to`, open, ending after `to`, starting after `to`. */
	assert_int_equal(put(st, "S", "ONEM", "jobseeker", "2020-01-01",
	    "2020-12-31", &created), 0);
	assert_int_equal(put(st, "S", "ONEM", "jobseeker", "2023-01-01",
	    "", &created), 0);
	assert_int_equal(put(st, "S", "ONEM", "jobseeker", "2022-01-01",
	    "2024-12-31", &created), 0);
	assert_int_equal(put(st, "S", "ONEM", "jobseeker", "2025-01-01",
	    "", &created), 0);
	/* Untouched: other capacity, other institution. */
	assert_int_equal(put(st, "S", "ONEM", "beneficiary", "2023-01-01",
	    "", &created), 0);
	assert_int_equal(put(st, "S", "CPAS", "jobseeker", "2023-01-01",
	    "", &created), 0);

	assert_int_equal(st->ops->dir_end(st, "ONEM", "S", "jobseeker",
	    "2024-06-30"), CR_STORE_OK);
	assert_int_equal(st->ops->dir_list(st, "S", "ONEM", &list),
	    CR_STORE_OK);
	/* Ordered by institution, capacity, from. */
	assert_int_equal(json_array_size(list), 4);
#define ROW(i, k) json_string_value(json_object_get(json_array_get(list, \
	(i)), (k)))
	assert_string_equal(ROW(0, "capacity"), "beneficiary");
	assert_null(ROW(0, "to"));
	assert_string_equal(ROW(1, "from"), "2020-01-01");
	assert_string_equal(ROW(1, "to"), "2020-12-31");
	assert_string_equal(ROW(2, "from"), "2022-01-01");
	assert_string_equal(ROW(2, "to"), "2024-06-30");
	assert_string_equal(ROW(3, "from"), "2023-01-01");
	assert_string_equal(ROW(3, "to"), "2024-06-30");
#undef ROW
	json_decref(list);
	assert_int_equal(active(st, "ONEM", "S", "[\"jobseeker\"]",
	    "2024-06-30"), 1);
	assert_int_equal(active(st, "ONEM", "S", "[\"jobseeker\"]",
	    "2024-07-01"), 0);
	assert_int_equal(active(st, "ONEM", "S", "[\"jobseeker\"]",
	    "2025-06-01"), 0);
	assert_int_equal(active(st, "CPAS", "S", "[\"jobseeker\"]",
	    "2025-06-01"), 1);
	assert_int_equal(active(st, "ONEM", "S", "[\"beneficiary\"]",
	    "2025-06-01"), 1);

	/* Nothing open after `to` any more; nothing at all elsewhere. */
	assert_int_equal(st->ops->dir_end(st, "ONEM", "S", "jobseeker",
	    "2024-06-30"), CR_STORE_NOTFOUND);
	assert_int_equal(st->ops->dir_end(st, "ONEM", "S", "jobseeker",
	    "2024-12-31"), CR_STORE_NOTFOUND);
	assert_int_equal(st->ops->dir_end(st, "ONEM", "T", "jobseeker",
	    "2024-06-30"), CR_STORE_NOTFOUND);
	/* An earlier end still shortens. */
	assert_int_equal(st->ops->dir_end(st, "ONEM", "S", "jobseeker",
	    "2023-06-30"), CR_STORE_OK);
	assert_int_equal(active(st, "ONEM", "S", "[\"jobseeker\"]",
	    "2023-07-01"), 0);
	/* A record starting after `to` alone is deleted: that counts. */
	assert_int_equal(put(st, "U", "ONEM", "jobseeker", "2030-01-01", "",
	    &created), 0);
	assert_int_equal(st->ops->dir_end(st, "ONEM", "U", "jobseeker",
	    "2025-01-01"), CR_STORE_OK);
	assert_int_equal(st->ops->dir_list(st, "U", NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
}

static void
test_dir_list(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	json_t *list, *o;
	int created;

	add_inst(st, "ONEM", "unemployment");
	add_inst(st, "CPAS", "assistance");
	assert_int_equal(put(st, "S", "ONEM", "jobseeker", "2024-01-01",
	    "2024-12-31", &created), 0);
	assert_int_equal(put(st, "S", "CPAS", "client", "2023-01-01", "",
	    &created), 0);
	assert_int_equal(put(st, "OTHER", "CPAS", "client", "2023-01-01", "",
	    &created), 0);

	assert_int_equal(st->ops->dir_list(st, "S", NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	o = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(o,
	    "institution")), "CPAS");
	assert_string_equal(json_string_value(json_object_get(o, "sector")),
	    "assistance");
	assert_string_equal(json_string_value(json_object_get(o, "capacity")),
	    "client");
	assert_string_equal(json_string_value(json_object_get(o, "from")),
	    "2023-01-01");
	assert_true(json_is_null(json_object_get(o, "to")));
	assert_null(json_object_get(o, "subject"));
	json_decref(list);

	assert_int_equal(st->ops->dir_list(st, "S", "ONEM", &list),
	    CR_STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	o = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(o, "sector")),
	    "unemployment");
	assert_string_equal(json_string_value(json_object_get(o, "to")),
	    "2024-12-31");
	json_decref(list);

	assert_int_equal(st->ops->dir_list(st, "NOBODY", NULL, &list),
	    CR_STORE_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
}

static void
test_xlog(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_xlog_entry batch[6], out[10], tmp;
	struct cr_xlog_filter flt;
	uint8_t hash[CR_HASH_LEN], zero[CR_HASH_LEN];
	uint64_t seq, count;
	size_t n, i;

	memset(zero, 0, sizeof(zero));
	assert_int_equal(st->ops->xlog_tail(st, &seq, hash), CR_STORE_OK);
	assert_int_equal(seq, 0);
	assert_memory_equal(hash, zero, CR_HASH_LEN);
	assert_int_equal(st->ops->xlog_count(st, &count), CR_STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(st->ops->xlog_append(st, batch, 0), CR_STORE_OK);

	for (i = 0; i < 6; i++)
		batch[i] = xent(i + 1, i % 3 == 2 ? "B" : "A",
		    i < 3 ? "ONEM" : "CPAS");
	assert_int_equal(st->ops->xlog_append(st, batch, 4), CR_STORE_OK);
	assert_int_equal(st->ops->xlog_append(st, batch + 4, 2), CR_STORE_OK);
	assert_int_equal(st->ops->xlog_tail(st, &seq, hash), CR_STORE_OK);
	assert_int_equal(seq, 6);
	assert_memory_equal(hash, batch[5].hash, CR_HASH_LEN);
	assert_int_equal(st->ops->xlog_count(st, &count), CR_STORE_OK);
	assert_int_equal(count, 6);

	/* A taken seq fails and rolls back the whole batch. */
	tmp = xent(7, "A", "ONEM");
	batch[0] = tmp;
	batch[1] = xent(3, "A", "ONEM");
	assert_int_equal(st->ops->xlog_append(st, batch, 2), CR_STORE_ERR);
	assert_int_equal(st->ops->xlog_count(st, &count), CR_STORE_OK);
	assert_int_equal(count, 6);

	/* Subject A holds seq 1, 2, 4, 5; 1 and 2 by ONEM. */
	memset(&flt, 0, sizeof(flt));
	flt.subject = "A";
	flt.limit = 10;
	assert_int_equal(st->ops->xlog_query(st, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(out[0].seq, 5);
	assert_int_equal(out[3].seq, 1);
	/* Every field round-trips. */
	tmp = xent(1, "A", "ONEM");
	assert_memory_equal(&out[3], &tmp, sizeof(tmp));
	tmp = xent(4, "A", "CPAS");
	assert_memory_equal(&out[1], &tmp, sizeof(tmp));
	assert_string_equal(out[1].error_code, "NOT_AUTHORIZED");
	assert_int_equal(out[1].status, 403);

	flt.consumer = "ONEM";
	assert_int_equal(st->ops->xlog_query(st, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].seq, 2);
	assert_int_equal(out[1].seq, 1);
	flt.consumer = NULL;
	flt.limit = 2;
	assert_int_equal(st->ops->xlog_query(st, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].seq, 5);
	assert_int_equal(out[1].seq, 4);
	flt.before_seq = 4;
	assert_int_equal(st->ops->xlog_query(st, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].seq, 2);
	assert_int_equal(out[1].seq, 1);
	flt.before_seq = 1;
	assert_int_equal(st->ops->xlog_query(st, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 0);
	flt.subject = "NOBODY";
	flt.before_seq = 0;
	assert_int_equal(st->ops->xlog_query(st, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 0);
	flt.limit = 0;
	assert_int_equal(st->ops->xlog_query(st, &flt, out, &n), CR_STORE_ERR);
	flt.limit = 1;
	flt.subject = NULL;
	assert_int_equal(st->ops->xlog_query(st, &flt, out, &n), CR_STORE_ERR);
}

struct scan_ctx {
	uint64_t	next;		/* seq expected next */
	uint64_t	stop_at;	/* 0: never */
	size_t		seen;
	int		bad;
};

static int
scan_cb(const struct cr_xlog_entry *e, void *arg)
{
	struct scan_ctx *x = arg;
	struct cr_xlog_entry want = xent(e->seq, "A", "ONEM");

	if (e->seq != x->next || memcmp(e, &want, sizeof(want)) != 0)
		x->bad++;
	x->next = e->seq + 1;
	x->seen++;
	return x->stop_at != 0 && e->seq == x->stop_at ? 42 : 0;
}

static void
test_xlog_scan(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct cr_xlog_entry *batch;
	struct scan_ctx x;
	uint64_t count;
	size_t i, n = 600;	/* more than one page of the scan */

	batch = calloc(n, sizeof(*batch));
	assert_non_null(batch);
	memset(&x, 0, sizeof(x));
	x.next = 1;
	assert_int_equal(st->ops->xlog_scan(st, 0, scan_cb, &x), 0);
	assert_int_equal(x.seen, 0);

	for (i = 0; i < n; i++)
		batch[i] = xent(i + 1, "A", "ONEM");
	assert_int_equal(st->ops->xlog_append(st, batch, n), CR_STORE_OK);
	assert_int_equal(st->ops->xlog_count(st, &count), CR_STORE_OK);
	assert_int_equal(count, n);

	memset(&x, 0, sizeof(x));
	x.next = 1;
	assert_int_equal(st->ops->xlog_scan(st, 0, scan_cb, &x), 0);
	assert_int_equal(x.seen, n);
	assert_int_equal(x.bad, 0);

	memset(&x, 0, sizeof(x));
	x.next = 250;
	assert_int_equal(st->ops->xlog_scan(st, 250, scan_cb, &x), 0);
	assert_int_equal(x.seen, n - 249);
	assert_int_equal(x.bad, 0);

	/* The callback's value stops the scan and is returned. */
	memset(&x, 0, sizeof(x));
	x.next = 1;
	x.stop_at = 300;
	assert_int_equal(st->ops->xlog_scan(st, 1, scan_cb, &x), 42);
	assert_int_equal(x.seen, 300);
	assert_int_equal(x.bad, 0);

	memset(&x, 0, sizeof(x));
	x.next = 601;
	assert_int_equal(st->ops->xlog_scan(st, 601, scan_cb, &x), 0);
	assert_int_equal(x.seen, 0);
	free(batch);
}

static void
test_reopen(void **state)
{
	struct fx *f = *state;
	struct cr_institution in;
	struct cr_xlog_entry e = xent(1, "A", "ONEM");
	uint8_t hash[CR_HASH_LEN];
	uint64_t seq;
	int created, v;

	add_inst(f->st, "ONEM", "unemployment");
	assert_int_equal(put(f->st, "S", "ONEM", "jobseeker", "2024-01-01", "",
	    &created), 0);
	assert_int_equal(f->st->ops->xlog_append(f->st, &e, 1), CR_STORE_OK);
	cr_store_close(f->st);
	f->st = NULL;
	v = user_version(f->path);
	assert_true(v >= 1);

	/* Re-running a migration would fail on CREATE TABLE. */
	assert_int_equal(cr_store_open(f->path, &f->st), 0);
	assert_int_equal(user_version(f->path), v);
	assert_int_equal(f->st->ops->institution_get(f->st, "ONEM", &in),
	    CR_STORE_OK);
	assert_int_equal(active(f->st, "ONEM", "S", "[\"jobseeker\"]",
	    "2024-02-01"), 1);
	assert_int_equal(f->st->ops->xlog_tail(f->st, &seq, hash),
	    CR_STORE_OK);
	assert_int_equal(seq, 1);
	assert_memory_equal(hash, e.hash, CR_HASH_LEN);
}

static void
test_future_version(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = (struct cr_store *)1;
	sqlite3 *db;
	FILE *fp;

	cr_store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 9999", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cr_store_open(f->path, &st), -1);
	assert_null(st);
	assert_int_equal(user_version(f->path), 9999);

	/* Not a database at all. */
	fx_paths_remove(f);
	assert_non_null(fp = fopen(f->path, "w"));
	fputs("this is not an SQLite database, not even close to one\n", fp);
	fclose(fp);
	assert_int_equal(cr_store_open(f->path, &st), -1);

	/* The fixture's teardown wants a store to close. */
	fx_paths_remove(f);
	assert_int_equal(cr_store_open(f->path, &f->st), 0);
}

#ifndef THREAD_OPS
#define THREAD_OPS	60
#endif

struct worker {
	struct cr_store	*st;
	int		 id;
	int		 errors;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct cr_store *st = w->st;
	struct cr_institution in;
	struct cr_xlog_entry e;
	uint8_t hash[CR_HASH_LEN];
	uint64_t seq, last = 0;
	json_t *list;
	char subject[32];
	int i, created;

	for (i = 0; i < THREAD_OPS; i++) {
		snprintf(subject, sizeof(subject), "S%d-%d", w->id, i);
		switch (w->id) {
		case 0:		/* directory writer */
			if (put(st, subject, "ONEM", "jobseeker", "2024-01-01",
			    "", &created) != 0 || created != 1)
				w->errors++;
			break;
		case 1:		/* the log writer */
			e = xent((uint64_t)i + 1, "A", "ONEM");
			if (st->ops->xlog_append(st, &e, 1) != 0)
				w->errors++;
			break;
		case 2:		/* reader */
			if (st->ops->xlog_tail(st, &seq, hash) != 0 ||
			    seq < last)
				w->errors++;
			last = seq;
			if (st->ops->dir_list(st, "S0-0", NULL, &list) != 0)
				w->errors++;
			else if (json_array_size(list) > 1)
				w->errors++;
			json_decref(list);
			if (active(st, "ONEM", "S0-0", "[\"jobseeker\"]",
			    "2024-05-01") == CR_STORE_ERR)
				w->errors++;
			break;
		default:	/* registry writer and reader */
			memset(&in, 0, sizeof(in));
			snprintf(in.id, sizeof(in.id), "T%d", i);
			cr_util_strlcpy(in.name, "t", sizeof(in.name));
			cr_util_strlcpy(in.sector, "s", sizeof(in.sector));
			if (st->ops->institution_add(st, &in) != 0 ||
			    st->ops->institution_get(st, in.id, &in) != 0)
				w->errors++;
			break;
		}
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	struct sq_store *sq = (struct sq_store *)st;
	struct sq_conn *c;
	struct worker w[4];
	pthread_t t[4];
	json_t *list;
	uint64_t count;
	int i, nconn;

	add_inst(st, "ONEM", "unemployment");
	for (i = 0; i < 4; i++) {
		w[i].st = st;
		w[i].id = i;
		w[i].errors = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main,
		    &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
	}
	assert_int_equal(st->ops->xlog_count(st, &count), CR_STORE_OK);
	assert_int_equal(count, THREAD_OPS);
	assert_int_equal(st->ops->institution_list(st, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), THREAD_OPS + 1);
	json_decref(list);
	assert_int_equal(active(st, "ONEM", "S0-59", "[\"jobseeker\"]",
	    "2024-05-01"), 1);

	/* The exited threads' connections were closed; ours remains. */
	nconn = 0;
	pthread_mutex_lock(&sq->lock);
	for (c = sq->conns; c != NULL; c = c->next)
		nconn++;
	pthread_mutex_unlock(&sq->lock);
	assert_int_equal(nconn, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_uris, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_institutions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_active, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dir_put_idempotent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dir_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xlog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xlog_scan, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_version, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
