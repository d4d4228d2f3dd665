/*
 * Storage interface against the SQLite backend: opening, schema
 * migrations, the registry, and concurrent use. The directory and the
 * exchange log are in test_store_data.c.
 */
#include "store_fixture.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <pthread.h>

#include <sqlite3.h>

#include "store_sqlite_int.h"

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

	/* No server there: refused, not created as a file. */
	assert_int_equal(cr_store_open("postgres://u:p@127.0.0.1:1/hub", &st),
	    -1);
	assert_null(st);
	assert_int_equal(cr_store_open_partial("postgresql://u@127.0.0.1:1/hub",
	    &st), -1);
	assert_null(st);
	assert_int_equal(cr_store_open("postgresql:dbname=hub", &st), -1);
	assert_int_equal(cr_store_open("mysql://db/hub", &st), -1);
	assert_int_equal(cr_store_open("", &st), -1);
	/* Per-thread connections cannot share a temporary database. */
	assert_int_equal(cr_store_open("sqlite:", &st), -1);
	assert_int_equal(cr_store_open("sqlite::memory:", &st), -1);
	assert_int_equal(cr_store_open(":memory:", &st), -1);
	/* The fixture's store stays open: a second store on the same file. */
	snprintf(uri, sizeof(uri), "sqlite:%s", f->path);
	assert_int_equal(cr_store_open(uri, &st), 0);
	assert_non_null(st);
	assert_string_equal(st->name, "sqlite");
	add_inst(st, "RN", "population");
	cr_store_close(st);
	/* What one wrote, the other sees. */
	{
		struct cr_institution in;

		assert_int_equal(f->st->registry->ops->institution_get(f->st->registry, "RN", &in),
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
	assert_int_equal(st->registry->ops->institution_add(st->registry, &in), CR_STORE_EXISTS);

	assert_int_equal(st->registry->ops->institution_get(st->registry, "ONEM", &in),
	    CR_STORE_OK);
	assert_string_equal(in.id, "ONEM");
	assert_string_equal(in.name, "Institution ONEM");
	assert_string_equal(in.sector, "unemployment");
	assert_int_equal(st->registry->ops->institution_get(st->registry, "NOPE", &in),
	    CR_STORE_NOTFOUND);
	/* Bound, not spliced: a quote is just a character. */
	assert_int_equal(st->registry->ops->institution_get(st->registry, "x' OR '1'='1", &in),
	    CR_STORE_NOTFOUND);

	assert_int_equal(st->registry->ops->institution_list(st->registry, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(JSTR_AT(list, 0, "id"), "INAMI");
	assert_string_equal(JSTR_AT(list, 1, "sector"), "unemployment");
	assert_string_equal(JSTR_AT(list, 1, "name"), "Institution ONEM");
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
	assert_int_equal(st->registry->ops->client_add(st->registry, &cl, h1), CR_STORE_OK);

	assert_int_equal(st->registry->ops->client_by_token(st->registry, h1, cr_util_wall_ms(), &got), CR_STORE_OK);
	assert_string_equal(got.id, cl.id);
	assert_string_equal(got.institution, "ONEM");
	assert_string_equal(got.name, "benefits-app");
	assert_int_equal(st->registry->ops->client_by_token(st->registry, h2, cr_util_wall_ms(), &got),
	    CR_STORE_NOTFOUND);

	/* Same token hash under another id. */
	cr_util_uuid(cl.id);
	assert_int_equal(st->registry->ops->client_add(st->registry, &cl, h1), CR_STORE_EXISTS);
	/* Unknown institution. */
	cr_util_strlcpy(cl.institution, "NOPE", sizeof(cl.institution));
	assert_int_equal(st->registry->ops->client_add(st->registry, &cl, h2), CR_STORE_NOTFOUND);
	assert_int_equal(st->registry->ops->client_by_token(st->registry, h2, cr_util_wall_ms(), &got),
	    CR_STORE_NOTFOUND);
}

static void
test_operators(void **state)
{
	struct fx *f = *state;
	struct cr_registry_store *reg = f->st->registry;
	struct cr_operator op, got;
	uint8_t h1[CR_HASH_LEN], h2[CR_HASH_LEN], h3[CR_HASH_LEN];
	json_t *list;

	memset(h1, 0x01, sizeof(h1));
	memset(h2, 0x02, sizeof(h2));
	memset(h3, 0x03, sizeof(h3));
	memset(&op, 0, sizeof(op));
	cr_util_uuid(op.id);
	cr_util_strlcpy(op.name, "alice", sizeof(op.name));
	cr_util_strlcpy(op.role, "auditor", sizeof(op.role));
	assert_int_equal(reg->ops->operator_add(reg, &op, h1), CR_STORE_OK);
	assert_int_equal(reg->ops->operator_by_token(reg, h1, &got),
	    CR_STORE_OK);
	assert_string_equal(got.name, "alice");
	assert_string_equal(got.role, "auditor");
	/* The same name again, under another id and token. */
	cr_util_uuid(op.id);
	assert_int_equal(reg->ops->operator_add(reg, &op, h2),
	    CR_STORE_EXISTS);
	/* New token: the old one is gone at once. */
	assert_int_equal(reg->ops->operator_rotate(reg, got.id, h3),
	    CR_STORE_OK);
	assert_int_equal(reg->ops->operator_by_token(reg, h1, &got),
	    CR_STORE_NOTFOUND);
	assert_int_equal(reg->ops->operator_by_token(reg, h3, &got),
	    CR_STORE_OK);
	assert_int_equal(reg->ops->operator_revoke(reg, got.id, 1234),
	    CR_STORE_OK);
	assert_int_equal(reg->ops->operator_by_token(reg, h3, &got),
	    CR_STORE_NOTFOUND);
	assert_int_equal(reg->ops->operator_rotate(reg, got.id, h2),
	    CR_STORE_NOTFOUND);
	assert_int_equal(reg->ops->operator_revoke(reg, "nope", 1),
	    CR_STORE_NOTFOUND);
	assert_int_equal(reg->ops->operator_list(reg, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_true(json_integer_value(json_object_get(json_array_get(list,
	    0), "revoked_ms")) == 1234);
	json_decref(list);
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
	s2.params = json_pack("[{s:s,s:s}]", "name", "year", "type",
	    "integer");
	assert_int_equal(st->registry->ops->service_add(st->registry, &s1), CR_STORE_OK);
	assert_int_equal(st->registry->ops->service_add(st->registry, &s2), CR_STORE_OK);
	assert_int_equal(st->registry->ops->service_add(st->registry, &s1), CR_STORE_EXISTS);
	cr_service_clear(&s1);
	s1 = svc("other", "NOPE");
	assert_int_equal(st->registry->ops->service_add(st->registry, &s1), CR_STORE_NOTFOUND);

	memset(&got, 0, sizeof(got));
	assert_int_equal(st->registry->ops->service_get(st->registry, "population.person", &got),
	    CR_STORE_OK);
	assert_string_equal(got.provider, "RN");
	assert_string_equal(got.endpoint, "http://127.0.0.1:9001/person");
	assert_string_equal(got.subject_kind, "person");
	assert_int_equal(got.timeout_ms, 2000);
	assert_true(json_equal(got.fields, s1.fields));
	assert_true(got.fields != s1.fields);
	/* Written without params: none. */
	assert_true(json_is_array(got.params));
	assert_int_equal(json_array_size(got.params), 0);
	cr_service_clear(&got);
	assert_null(got.fields);
	assert_null(got.params);
	assert_int_equal(st->registry->ops->service_get(st->registry, "a.first", &got),
	    CR_STORE_OK);
	assert_true(json_equal(got.params, s2.params));
	cr_service_clear(&got);
	cr_service_clear(&got);		/* safe twice */
	assert_int_equal(st->registry->ops->service_get(st->registry, "nope", &got),
	    CR_STORE_NOTFOUND);

	assert_int_equal(st->registry->ops->service_list(st->registry, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	o = json_array_get(list, 0);
	assert_string_equal(JSTR(o, "id"), "a.first");
	assert_int_equal(json_integer_value(json_object_get(o, "timeout_ms")),
	    500);
	assert_true(json_equal(json_object_get(o, "fields"), s2.fields));
	assert_true(json_equal(json_object_get(o, "params"), s2.params));
	assert_string_equal(JSTR(o, "subject_kind"), "person");
	o = json_object_get(json_array_get(list, 1), "params");
	assert_true(json_is_array(o) && json_array_size(o) == 0);
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
	assert_int_equal(st->registry->ops->authz_add(st->registry, &a1), CR_STORE_OK);
	assert_int_equal(st->registry->ops->authz_add(st->registry, &a2), CR_STORE_OK);
	assert_int_equal(st->registry->ops->authz_add(st->registry, &a3), CR_STORE_OK);
	assert_int_equal(st->registry->ops->authz_add(st->registry, &a3), CR_STORE_EXISTS);
	cr_util_uuid(a3.id);
	cr_util_strlcpy(a3.consumer, "NOPE", sizeof(a3.consumer));
	assert_int_equal(st->registry->ops->authz_add(st->registry, &a3), CR_STORE_NOTFOUND);

	/* Validity: both ends inclusive, gaps refused, open end. */
	memset(&got, 0, sizeof(got));
	assert_int_equal(st->registry->ops->authz_find(st->registry, "ONEM", "population.person",
	    "benefit", "2019-12-31", &got), CR_STORE_NOTFOUND);
	assert_int_equal(st->registry->ops->authz_find(st->registry, "ONEM", "population.person",
	    "benefit", "2020-01-01", &got), CR_STORE_OK);
	assert_string_equal(got.id, a1.id);
	assert_string_equal(got.valid_to, "2020-12-31");
	assert_string_equal(got.legal_basis, "Deliberation 22/123");
	assert_true(json_equal(got.capacities, a1.capacities));
	assert_true(json_equal(got.fields, a1.fields));
	cr_authz_clear(&got);
	assert_int_equal(st->registry->ops->authz_find(st->registry, "ONEM", "population.person",
	    "benefit", "2020-12-31", &got), CR_STORE_OK);
	assert_string_equal(got.id, a1.id);
	cr_authz_clear(&got);
	assert_int_equal(st->registry->ops->authz_find(st->registry, "ONEM", "population.person",
	    "benefit", "2021-06-15", &got), CR_STORE_NOTFOUND);
	assert_int_equal(st->registry->ops->authz_find(st->registry, "ONEM", "population.person",
	    "benefit", "2099-01-01", &got), CR_STORE_OK);
	assert_string_equal(got.id, a2.id);
	assert_string_equal(got.valid_to, "");
	assert_int_equal(json_array_size(got.capacities), 0);
	cr_authz_clear(&got);
	assert_null(got.capacities);
	/* Wrong purpose, service or consumer. */
	assert_int_equal(st->registry->ops->authz_find(st->registry, "ONEM", "population.person",
	    "assist", "2023-01-01", &got), CR_STORE_NOTFOUND);
	assert_int_equal(st->registry->ops->authz_find(st->registry, "ONEM", "other.service",
	    "benefit", "2023-01-01", &got), CR_STORE_NOTFOUND);
	assert_int_equal(st->registry->ops->authz_find(st->registry, "CPAS", "population.person",
	    "benefit", "2023-01-01", &got), CR_STORE_NOTFOUND);

	assert_int_equal(st->registry->ops->authz_list(st->registry, NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);
	assert_int_equal(st->registry->ops->authz_list(st->registry, "ONEM", &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	o = json_array_get(list, 0);
	assert_string_equal(JSTR(o, "id"), a1.id);
	assert_string_equal(JSTR(o, "valid_to"), "2020-12-31");
	assert_true(json_equal(json_object_get(o, "capacities"),
	    a1.capacities));
	o = json_array_get(list, 1);
	assert_true(json_is_null(json_object_get(o, "valid_to")));
	assert_string_equal(JSTR(o, "valid_from"), "2022-01-01");
	assert_string_equal(JSTR(o, "purpose"), "benefit");
	json_decref(list);
	assert_int_equal(st->registry->ops->authz_list(st->registry, "NOPE", &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	assert_int_equal(st->registry->ops->authz_delete(st->registry, a2.id), CR_STORE_OK);
	assert_int_equal(st->registry->ops->authz_delete(st->registry, a2.id), CR_STORE_NOTFOUND);
	assert_int_equal(st->registry->ops->authz_find(st->registry, "ONEM", "population.person",
	    "benefit", "2099-01-01", &got), CR_STORE_NOTFOUND);
	cr_authz_clear(&a1);
	cr_authz_clear(&a2);
	cr_authz_clear(&a3);
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
	assert_int_equal(f->st->xlog->ops->xlog_append(f->st->xlog, &e, 1, NULL, 0), CR_STORE_OK);
	cr_store_close(f->st);
	f->st = NULL;
	v = user_version(f->path);
	assert_true(v >= 1);

	/* Re-running a migration would fail on CREATE TABLE. */
	assert_int_equal(cr_store_open(f->path, &f->st), 0);
	assert_int_equal(user_version(f->path), v);
	assert_int_equal(f->st->registry->ops->institution_get(f->st->registry, "ONEM", &in),
	    CR_STORE_OK);
	assert_int_equal(active(f->st, "ONEM", "S", "[\"jobseeker\"]",
	    "2024-02-01"), 1);
	assert_int_equal(f->st->xlog->ops->xlog_tail(f->st->xlog, &seq, hash), CR_STORE_OK);
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

/* A database of someone else's (a source's): schema, journal mode. */
static void
make_foreign(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE people (id TEXT, "
	    "name TEXT); INSERT INTO people VALUES ('1', 'A')", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* "tables|journal_mode|user_version" of a database, to see it untouched. */
static void
describe(const char *path, char *out, size_t outlen)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT "
	    "group_concat(name) FROM sqlite_master), (SELECT journal_mode FROM "
	    "pragma_journal_mode), (SELECT user_version FROM "
	    "pragma_user_version)", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(out, outlen, "%s|%s|%d", (const char *)sqlite3_column_text(s,
	    0), (const char *)sqlite3_column_text(s, 1),
	    sqlite3_column_int(s, 2));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static int
exists(const char *path, const char *suffix)
{
	char p[256];

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return access(p, F_OK) == 0;
}

static void
test_open_refuses_foreign(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = (struct cr_store *)1;
	char path[160], d[256];
	FILE *fp;

	/* A source's database is not turned into a hub's. */
	snprintf(path, sizeof(path), "%s/source.db", f->dir);
	make_foreign(path);
	assert_int_equal(cr_store_open(path, &st), -1);
	assert_null(st);
	describe(path, d, sizeof(d));
	assert_string_equal(d, "people|delete|0");
	assert_false(exists(path, "-wal"));
	unlink(path);

	/* An empty file is a new database. */
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_int_equal(cr_store_open(path, &st), 0);
	add_inst(st, "RN", "population");
	cr_store_close(st);
	unlink(path);
}

static void *
ro_reader(void *arg)
{
	struct cr_store *st = arg;
	struct cr_institution in;

	return st->registry->ops->institution_get(st->registry, "RN", &in) == CR_STORE_OK ?
	    st : NULL;
}

static void
test_open_readonly(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = (struct cr_store *)1;
	struct cr_institution in;
	char path[160], d[256];
	pthread_t t;
	void *ok;
	FILE *fp;

	/* Missing: refused, not created. */
	snprintf(path, sizeof(path), "%s/missing.db", f->dir);
	assert_int_equal(cr_store_open_readonly(path, &st), -1);
	assert_null(st);
	assert_false(exists(path, ""));

	/* A source's database, an empty file, a text file: refused as
	   they are. */
	snprintf(path, sizeof(path), "%s/source.db", f->dir);
	make_foreign(path);
	assert_int_equal(cr_store_open_readonly(path, &st), -1);
	describe(path, d, sizeof(d));
	assert_string_equal(d, "people|delete|0");
	assert_false(exists(path, "-wal"));
	assert_false(exists(path, "-shm"));
	unlink(path);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_int_equal(cr_store_open_readonly(path, &st), -1);
	assert_non_null(fp = fopen(path, "w"));
	fputs("not a database\n", fp);
	fclose(fp);
	assert_int_equal(cr_store_open_readonly(path, &st), -1);
	unlink(path);
	assert_int_equal(cr_store_open_readonly(f->dir, &st), -1);

	/* While the hub has it open: sees what it writes. */
	add_inst(f->st, "RN", "population");
	assert_int_equal(cr_store_open_readonly(f->path, &st), 0);
	assert_int_equal(st->registry->ops->institution_get(st->registry, "RN", &in),
	    CR_STORE_OK);
	add_inst(f->st, "ONEM", "unemployment");
	assert_int_equal(st->registry->ops->institution_get(st->registry, "ONEM", &in),
	    CR_STORE_OK);
	cr_store_close(st);

	/* A closed copy, read-only on disk: readable, not writable, and
	   nothing is created beside it, from any thread. */
	cr_store_close(f->st);
	f->st = NULL;
	assert_false(exists(f->path, "-wal"));
	assert_int_equal(chmod(f->path, 0444), 0);
	assert_int_equal(cr_store_open_readonly(f->path, &st), 0);
	assert_int_equal(st->registry->ops->institution_get(st->registry, "ONEM", &in),
	    CR_STORE_OK);
	assert_int_equal(pthread_create(&t, NULL, ro_reader, st), 0);
	assert_int_equal(pthread_join(t, &ok), 0);
	assert_ptr_equal(ok, st);
	memset(&in, 0, sizeof(in));
	cr_util_strlcpy(in.id, "X", sizeof(in.id));
	cr_util_strlcpy(in.name, "X", sizeof(in.name));
	cr_util_strlcpy(in.sector, "x", sizeof(in.sector));
	assert_int_not_equal(st->registry->ops->institution_add(st->registry, &in), CR_STORE_OK);
	cr_store_close(st);
	assert_false(exists(f->path, "-wal"));
	assert_false(exists(f->path, "-shm"));
	assert_int_equal(chmod(f->path, 0644), 0);
	/* A name SQLite's URIs would read otherwise. */
	snprintf(path, sizeof(path), "%s/a b?mode=rwc#%%41.db", f->dir);
	assert_int_equal(rename(f->path, path), 0);
	assert_int_equal(cr_store_open_readonly(path, &st), 0);
	assert_int_equal(st->registry->ops->institution_get(st->registry, "ONEM", &in),
	    CR_STORE_OK);
	cr_store_close(st);
	assert_int_equal(rename(path, f->path), 0);
	/* The fixture's teardown wants a store to close. */
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
			if (st->xlog->ops->xlog_append(st->xlog, &e, 1, NULL, 0) != 0)
				w->errors++;
			break;
		case 2:		/* reader */
			if (st->xlog->ops->xlog_tail(st->xlog, &seq, hash) != 0 ||
			    seq < last)
				w->errors++;
			last = seq;
			if (st->directory->ops->dir_list(st->directory, "S0-0", NULL, &list) != 0)
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
			if (st->registry->ops->institution_add(st->registry, &in) != 0 ||
			    st->registry->ops->institution_get(st->registry, in.id, &in) != 0)
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
	assert_int_equal(st->xlog->ops->xlog_count(st->xlog, &count), CR_STORE_OK);
	assert_int_equal(count, THREAD_OPS);
	assert_int_equal(st->registry->ops->institution_list(st->registry, &list), CR_STORE_OK);
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

/*
 * The storage probe, in a child process: root writes whatever the mode
 * says, so when the test runs as root the child becomes nobody first,
 * for the file's mode to matter. The exit status says which check failed
 * (0: none): cmocka's asserts belong to the parent.
 */
static int
health_child(const char *dir)
{
	struct cr_store *st = NULL, *cached = NULL;
	char path[160];
	int rc = 0;

	if (geteuid() == 0 && (setgid(65534) == -1 || setuid(65534) == -1))
		return 10;
	snprintf(path, sizeof(path), "%s/probe.db", dir);
	if (cr_store_open(path, &st) != 0)
		return 11;
	if (cr_store_cache_wrap(st, 1000, &cached) != 0) {
		cr_store_close(st);
		return 12;
	}
	/* Writable: the probe commits, through the cache wrapper too. */
	if (cached->health(cached) != CR_STORE_OK)
		rc = 13;
	/* The file made read-only under a running store: the connections
	   opened before still hold it open for writing, the probe does
	   not. */
	else if (chmod(path, 0444) == -1)
		rc = 14;
	else if (cached->health(cached) != CR_STORE_ERR)
		rc = 15;
	else if (chmod(path, 0644) == -1)
		rc = 16;
	else if (cached->health(cached) != CR_STORE_OK)
		rc = 17;
	cr_store_close(cached);
	return rc;
}

static void
test_health(void **state)
{
	struct fx *f = *state;
	static const char *const ext[] = { "", "-wal", "-shm" };
	struct cr_store *ro;
	char path[160];
	sqlite3 *db;
	pid_t pid;
	int i, status;

	/* A new database has the row; the probe rewrites it. */
	assert_int_equal(f->st->health(f->st), CR_STORE_OK);
	assert_int_equal(f->st->health(f->st), CR_STORE_OK);

	/* Opened to read only: nothing can be written, so not healthy. */
	assert_int_equal(cr_store_open_readonly(f->path, &ro), 0);
	assert_int_equal(ro->health(ro), CR_STORE_ERR);
	cr_store_close(ro);

	/* A missing row is a failure, not a write of nothing. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM health", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(f->st->health(f->st), CR_STORE_ERR);

	/* A file the hub may not write. */
	if (geteuid() == 0)
		assert_int_equal(chown(f->dir, 65534, 65534), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0)
		_exit(health_child(f->dir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/probe.db%s", f->dir, ext[i]);
		unlink(path);
	}
}
/* The capacity catalogue, directly and through the registry cache. */
static void
test_capacities(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st, *inner, *cached;
	struct cr_capacity cap, got;
	json_t *list;

	memset(&cap, 0, sizeof(cap));
	cr_util_strlcpy(cap.id, "jobseeker", sizeof(cap.id));
	cr_util_strlcpy(cap.name, "Jobseeker", sizeof(cap.name));
	cap.institutions = json_pack("[s]", "ONEM");
	cap.sectors = json_array();
	assert_int_equal(st->registry->ops->capacity_add(st->registry, &cap),
	    CR_STORE_OK);
	assert_int_equal(st->registry->ops->capacity_add(st->registry, &cap),
	    CR_STORE_EXISTS);
	json_decref(cap.sectors);
	cap.sectors = json_pack("[s,s]", "unemployment", "training");
	cr_util_strlcpy(cap.name, "Registered jobseeker", sizeof(cap.name));
	assert_int_equal(st->registry->ops->capacity_update(st->registry,
	    &cap), CR_STORE_OK);
	cr_util_strlcpy(cap.id, "nobody", sizeof(cap.id));
	assert_int_equal(st->registry->ops->capacity_update(st->registry,
	    &cap), CR_STORE_NOTFOUND);
	cr_capacity_clear(&cap);

	/* Another process's view, through the cache. */
	assert_int_equal(cr_store_open_partial(f->path, &inner), 0);
	assert_int_equal(cr_store_cache_wrap(inner, 1000, &cached), 0);
	assert_int_equal(cached->registry->ops->capacity_get(cached->registry,
	    "jobseeker", &got), CR_STORE_OK);
	assert_string_equal(got.name, "Registered jobseeker");
	assert_int_equal(json_array_size(got.institutions), 1);
	assert_string_equal(json_string_value(json_array_get(got.sectors, 1)),
	    "training");
	cr_capacity_clear(&got);
	assert_int_equal(cached->registry->ops->capacity_get(cached->registry,
	    "nobody", &got), CR_STORE_NOTFOUND);
	assert_int_equal(cached->registry->ops->capacity_list(
	    cached->registry, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(JSTR_AT(list, 0, "id"), "jobseeker");
	json_decref(list);
	cr_store_close(cached);
}

/* Runs sql on the test's PostgreSQL database. */
static void
pg_exec(const char *sql)
{
	PGconn *db = PQconnectdb(fx_pg_url());
	PGresult *res;

	assert_int_equal(PQstatus(db), CONNECTION_OK);
	res = PQexec(db, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(db));
	PQclear(res);
	PQfinish(db);
}

/*
 * PostgreSQL: what opening does (migrations once, refusals), the concerns
 * not stored there yet, and the health probe.
 */
static void
test_pg_open(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = (struct cr_store *)1;
	struct cr_institution in;

	assert_string_equal(f->st->name, "postgresql");
	assert_non_null(f->st->registry);
	assert_null(f->st->xlog);
	assert_null(f->st->directory);
	/* A whole hub's store: refused, none half-made. */
	assert_int_equal(cr_store_open(f->path, &st), -1);
	assert_null(st);
	st = (struct cr_store *)1;
	assert_int_equal(cr_store_open_readonly(f->path, &st), -1);
	assert_null(st);

	/* A second store on the migrated database sees the first's data;
	   migrating again changes nothing. */
	add_inst(f->st, "RN", "population");
	assert_int_equal(cr_store_open_partial(f->path, &st), 0);
	assert_int_equal(st->registry->ops->institution_get(st->registry,
	    "RN", &in), CR_STORE_OK);
	assert_string_equal(in.sector, "population");
	cr_store_close(st);

	/* The probe writes its row; without the row it fails. */
	assert_int_equal(f->st->health(f->st), CR_STORE_OK);
	assert_int_equal(f->st->health(f->st), CR_STORE_OK);
	pg_exec("DELETE FROM health");
	assert_int_equal(f->st->health(f->st), CR_STORE_ERR);

	/* A newer program's schema is refused. */
	pg_exec("UPDATE schema_version SET version = 99");
	assert_int_equal(cr_store_open_partial(f->path, &st), -1);
	assert_null(st);

	/* So is a database of someone else's tables. */
	assert_int_equal(fx_pg_reset(f->path), 0);
	pg_exec("CREATE TABLE people (id int)");
	assert_int_equal(cr_store_open_partial(f->path, &st), -1);
	assert_null(st);
	pg_exec("DROP TABLE people");
	/* An empty one is made a hub's. */
	assert_int_equal(cr_store_open_partial(f->path, &st), 0);
	cr_store_close(st);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	/* The registry's conformance suite, run against both backends. */
	const struct CMUnitTest pg_tests[] = {
		T(test_pg_open),
		T(test_institutions),
		T(test_clients),
		T(test_operators),
		T(test_services),
		T(test_authz),
		T(test_capacities),
	};
	const struct CMUnitTest tests[] = {
		T(test_open_uris),
		T(test_institutions),
		T(test_clients),
		T(test_operators),
		T(test_services),
		T(test_authz),
		T(test_reopen),
		T(test_future_version),
		T(test_open_refuses_foreign),
		T(test_open_readonly),
		T(test_threads),
		T(test_health),
		T(test_capacities),
	};
#undef T

	if (fx_pg_url() != NULL)
		return cmocka_run_group_tests_name("store_pg", pg_tests, NULL,
		    NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
