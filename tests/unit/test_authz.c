/*
 * Authorization decisions against a real SQLite store (deny by default);
 * field paths and data minimization at every depth; params.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "authz.h"
#include "metrics.h"
#include "util.h"

#define SUBJECT "85073003328"

struct fixture {
	char		 dir[64];
	char		 path[128];
	struct cr_store	*st;
};

static void
add_authz(struct cr_store *st, const char *purpose, const char *caps_json,
    const char *from, const char *to)
{
	struct cr_authz a;

	memset(&a, 0, sizeof(a));
	cr_util_uuid(a.id);
	cr_util_strlcpy(a.consumer, "ONEM", sizeof(a.consumer));
	cr_util_strlcpy(a.service, "population.person", sizeof(a.service));
	cr_util_strlcpy(a.purpose, purpose, sizeof(a.purpose));
	cr_util_strlcpy(a.legal_basis, "Deliberation 22/123",
	    sizeof(a.legal_basis));
	a.fields = json_pack("[s,s]", "name", "address");
	a.capacities = json_loads(caps_json, 0, NULL);
	cr_util_strlcpy(a.valid_from, from, sizeof(a.valid_from));
	cr_util_strlcpy(a.valid_to, to, sizeof(a.valid_to));
	assert_int_equal(st->registry->ops->authz_add(st->registry, &a), CR_STORE_OK);
	cr_authz_clear(&a);
}

static void
add_dir(struct cr_store *st, const char *capacity, const char *from,
    const char *to)
{
	struct cr_dir_entry e;
	int created;

	memset(&e, 0, sizeof(e));
	cr_util_strlcpy(e.subject, SUBJECT, sizeof(e.subject));
	cr_util_strlcpy(e.institution, "ONEM", sizeof(e.institution));
	cr_util_strlcpy(e.capacity, capacity, sizeof(e.capacity));
	cr_util_strlcpy(e.from, from, sizeof(e.from));
	cr_util_strlcpy(e.to, to, sizeof(e.to));
	assert_int_equal(st->directory->ops->dir_put(st->directory, &e, &created), CR_STORE_OK);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cr_institution in;
	struct cr_service svc;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cr-authz-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hub.db", f->dir);
	assert_int_equal(cr_store_open(f->path, &f->st), 0);
	memset(&in, 0, sizeof(in));
	cr_util_strlcpy(in.id, "RN", sizeof(in.id));
	cr_util_strlcpy(in.name, "Population register", sizeof(in.name));
	cr_util_strlcpy(in.sector, "population", sizeof(in.sector));
	assert_int_equal(f->st->registry->ops->institution_add(f->st->registry, &in), 0);
	cr_util_strlcpy(in.id, "ONEM", sizeof(in.id));
	cr_util_strlcpy(in.sector, "unemployment", sizeof(in.sector));
	assert_int_equal(f->st->registry->ops->institution_add(f->st->registry, &in), 0);
	memset(&svc, 0, sizeof(svc));
	cr_util_strlcpy(svc.id, "population.person", sizeof(svc.id));
	cr_util_strlcpy(svc.provider, "RN", sizeof(svc.provider));
	cr_util_strlcpy(svc.endpoint, "http://127.0.0.1:1/p",
	    sizeof(svc.endpoint));
	cr_util_strlcpy(svc.subject_kind, "person", sizeof(svc.subject_kind));
	svc.fields = json_pack("[s,s,s]", "name", "address", "birth_date");
	svc.timeout_ms = 1000;
	assert_int_equal(f->st->registry->ops->service_add(f->st->registry, &svc), 0);
	cr_service_clear(&svc);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	cr_store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static enum cr_authz_verdict
decide(struct fixture *f, const char *purpose, const char *today,
    const char *refdate)
{
	struct cr_authz a;
	enum cr_authz_verdict v;

	v = cr_authz_decide(f->st, "ONEM", "population.person", purpose,
	    SUBJECT, today, refdate, &a);
	cr_authz_clear(&a);
	return v;
}

static void
test_deny_by_default(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(decide(f, "unemployment-benefit", "2025-01-01",
	    "2025-01-01"), CR_AUTHZ_NOT_AUTHORIZED);
}

static void
test_purpose_must_match(void **state)
{
	struct fixture *f = *state;

	add_authz(f->st, "unemployment-benefit", "[]", "2020-01-01", "");
	assert_int_equal(decide(f, "family-allowance", "2025-01-01",
	    "2025-01-01"), CR_AUTHZ_NOT_AUTHORIZED);
	assert_int_equal(decide(f, "unemployment-benefit", "2025-01-01",
	    "2025-01-01"), CR_AUTHZ_GRANTED);
}

static void
test_authorization_validity(void **state)
{
	struct fixture *f = *state;

	add_authz(f->st, "p", "[]", "2020-01-01", "2020-12-31");
	assert_int_equal(decide(f, "p", "2019-12-31", "2019-12-31"),
	    CR_AUTHZ_NOT_AUTHORIZED);
	assert_int_equal(decide(f, "p", "2020-01-01", "2020-01-01"),
	    CR_AUTHZ_GRANTED);
	assert_int_equal(decide(f, "p", "2020-12-31", "2020-12-31"),
	    CR_AUTHZ_GRANTED);
	assert_int_equal(decide(f, "p", "2021-01-01", "2021-01-01"),
	    CR_AUTHZ_NOT_AUTHORIZED);
}

static void
test_capacities_need_integration(void **state)
{
	struct fixture *f = *state;

	add_authz(f->st, "p", "[\"jobseeker\"]", "2020-01-01", "");
	assert_int_equal(decide(f, "p", "2025-01-01", "2025-01-01"),
	    CR_AUTHZ_NOT_INTEGRATED);
	add_dir(f->st, "beneficiary", "2020-01-01", "");
	assert_int_equal(decide(f, "p", "2025-01-01", "2025-01-01"),
	    CR_AUTHZ_NOT_INTEGRATED);
	add_dir(f->st, "jobseeker", "2024-01-01", "2024-06-30");
	assert_int_equal(decide(f, "p", "2025-01-01", "2025-01-01"),
	    CR_AUTHZ_NOT_INTEGRATED);
	/* The reference date decides, not today. */
	assert_int_equal(decide(f, "p", "2025-01-01", "2024-06-30"),
	    CR_AUTHZ_GRANTED);
	assert_int_equal(decide(f, "p", "2025-01-01", "2023-12-31"),
	    CR_AUTHZ_NOT_INTEGRATED);
	add_dir(f->st, "jobseeker", "2024-07-01", "");
	assert_int_equal(decide(f, "p", "2025-01-01", "2025-01-01"),
	    CR_AUTHZ_GRANTED);
}

static void
test_filter_keeps_granted_fields_only(void **state)
{
	struct cr_authz a;
	json_t *data, *out;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.fields = json_pack("[s,s]", "name", "household");
	data = json_pack("{s:s,s:s,s:[s],s:n}", "name", "Jan", "address",
	    "Rue 1", "household", "17073003384", "death_date");
	out = cr_authz_filter(&a, data);
	assert_non_null(out);
	assert_int_equal(json_object_size(out), 2);
	assert_string_equal(json_string_value(json_object_get(out, "name")),
	    "Jan");
	assert_null(json_object_get(out, "address"));
	assert_true(json_is_array(json_object_get(out, "household")));
	json_decref(out);
	json_decref(data);
	cr_authz_clear(&a);
}

static void
test_fields_subset(void **state)
{
	json_t *svc = json_pack("[s,s,s]", "name", "address", "birth_date");
	json_t *ok = json_pack("[s,s]", "address", "name");
	json_t *bad = json_pack("[s,s]", "name", "income");
	json_t *empty = json_array();

	(void)state;
	assert_true(cr_authz_fields_subset(ok, svc));
	assert_false(cr_authz_fields_subset(bad, svc));
	assert_true(cr_authz_fields_subset(empty, svc));
	json_decref(svc);
	json_decref(ok);
	json_decref(bad);
	json_decref(empty);
}

/* The JSON text of j, keys sorted, for comparisons; static buffer. */
static const char *
dump(const json_t *j)
{
	static char buf[4096];
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	assert_non_null(s);
	cr_util_strlcpy(buf, s, sizeof(buf));
	free(s);
	return buf;
}

/*
 * Minimizes data (JSON text) under declared and granted (JSON arrays as
 * text); checks the result and the drift.
 */
static void
check_minimize(const char *declared, const char *granted, const char *data,
    const char *want, unsigned long undeclared, const char *first)
{
	json_t *d = json_loads(declared, 0, NULL), *g = json_loads(granted, 0,
	    NULL), *in = json_loads(data, 0, NULL), *out;
	struct cr_authz_drift drift;

	assert_non_null(d);
	assert_non_null(g);
	assert_non_null(in);
	out = cr_authz_minimize(d, g, in, &drift);
	assert_non_null(out);
	assert_string_equal(dump(out), want);
	assert_int_equal(drift.undeclared, undeclared);
	assert_string_equal(drift.first, first);
	/* Without a drift to fill, the same answer. */
	json_decref(out);
	out = cr_authz_minimize(d, g, in, NULL);
	assert_string_equal(dump(out), want);
	json_decref(out);
	json_decref(d);
	json_decref(g);
	json_decref(in);
}

static void
test_minimize_objects(void **state)
{
	const char *decl = "[\"name\",\"address.street\",\"address.city\"]";
	const char *data = "{\"name\":\"Jan\",\"address\":{\"street\":\"Rue 1\","
	    "\"city\":\"Brussels\",\"secret\":\"1234\"},\"note\":\"x\"}";

	(void)state;
	/* Granting the parent grants its declared members, not the rest. */
	check_minimize(decl, "[\"name\",\"address\"]", data,
	    "{\"address\":{\"city\":\"Brussels\",\"street\":\"Rue 1\"},"
	    "\"name\":\"Jan\"}", 2, "address.secret");
	/* Granting a member grants that member only. */
	check_minimize(decl, "[\"address.city\"]", data,
	    "{\"address\":{\"city\":\"Brussels\"}}", 2, "address.secret");
	/* Declared and not granted: dropped, not counted. */
	check_minimize(decl, "[]", data, "{}", 2, "address.secret");
	/* Deeper: an object in an object. */
	check_minimize("[\"a.b.c\",\"a.b.d\",\"a.e\"]", "[\"a.b\"]",
	    "{\"a\":{\"b\":{\"c\":1,\"d\":{\"any\":true},\"z\":0},\"e\":2,"
	    "\"f\":3}}", "{\"a\":{\"b\":{\"c\":1,\"d\":{\"any\":true}}}}", 2,
	    "a.b.z");
}

static void
test_minimize_lists_of_objects(void **state)
{
	const char *decl = "[\"household.name\",\"household.birth_date\"]";
	const char *data = "{\"household\":[{\"name\":\"A\",\"birth_date\":"
	    "\"1980-01-01\",\"medical\":\"m\"},{\"name\":\"B\",\"medical\":"
	    "\"n\"},null,\"scalar\",[{\"name\":\"C\",\"x\":1}],{}]}";

	(void)state;
	/* Element by element; a nested list with the same paths; null kept;
	   an element that is not an object is dropped and counted. */
	check_minimize(decl, "[\"household.name\"]", data,
	    "{\"household\":[{\"name\":\"A\"},{\"name\":\"B\"},null,"
	    "[{\"name\":\"C\"}],{}]}", 4, "household[].medical");
	check_minimize(decl, "[\"household\"]", data,
	    "{\"household\":[{\"birth_date\":\"1980-01-01\",\"name\":\"A\"},"
	    "{\"name\":\"B\"},null,[{\"name\":\"C\"}],{}]}", 4,
	    "household[].medical");
	check_minimize(decl, "[\"household\"]", "{\"household\":[]}",
	    "{\"household\":[]}", 0, "");
}

static void
test_minimize_leaves_and_scalars(void **state)
{
	(void)state;
	/* A leaf passes whole: a list of scalars, an object, anything. */
	check_minimize("[\"tags\",\"extra\"]", "[\"tags\",\"extra\"]",
	    "{\"tags\":[\"a\",1,{\"k\":\"v\"}],\"extra\":{\"deep\":{\"x\":1}}}",
	    "{\"extra\":{\"deep\":{\"x\":1}},\"tags\":[\"a\",1,{\"k\":\"v\"}]}",
	    0, "");
	/* A list of scalars where objects are declared: dropped, counted. */
	check_minimize("[\"tags.name\"]", "[\"tags\"]",
	    "{\"tags\":[\"a\",\"b\"]}", "{\"tags\":[]}", 2, "tags[]");
}

static void
test_minimize_nulls(void **state)
{
	const char *decl = "[\"address.street\",\"death_date\"]";

	(void)state;
	check_minimize(decl, "[\"address\",\"death_date\"]",
	    "{\"address\":null,\"death_date\":null}",
	    "{\"address\":null,\"death_date\":null}", 0, "");
	check_minimize(decl, "[\"address.street\"]",
	    "{\"address\":{\"street\":null}}", "{\"address\":{\"street\":null}}",
	    0, "");
	/* A scalar where an object is declared has not the declared shape. */
	check_minimize(decl, "[\"address\"]", "{\"address\":\"Rue 1\"}", "{}",
	    1, "address");
}

static void
test_minimize_same_name_other_depth(void **state)
{
	const char *decl = "[\"name\",\"household.name\","
	    "\"household.address.street\"]";
	const char *data = "{\"name\":\"A\",\"address\":{\"name\":\"x\"},"
	    "\"household\":[{\"name\":\"B\",\"street\":\"s0\",\"address\":"
	    "{\"street\":\"s\",\"name\":\"y\"}}],\"address.street\":\"dotted\"}";

	(void)state;
	/* name is declared at the top and in household[], street only in
	   household[].address: elsewhere they are undeclared. A key with a
	   dot is a name of its own, not a path. */
	check_minimize(decl, "[\"name\",\"household.name\"]", data,
	    "{\"household\":[{\"name\":\"B\"}],\"name\":\"A\"}", 4, "address");
	check_minimize(decl, "[\"household\"]", data,
	    "{\"household\":[{\"address\":{\"street\":\"s\"},\"name\":\"B\"}]}",
	    4, "address");
}

static void
test_minimize_grants_only_declared(void **state)
{
	(void)state;
	/* A grant the service does not declare (refused at creation, but
	   the store is not trusted for it) grants nothing. */
	check_minimize("[\"name\"]", "[\"secret\",\"name.x\",\"a..b\"]",
	    "{\"name\":\"A\",\"secret\":\"s\"}", "{}", 1, "secret");
	/* Source keys are shown to the operator with safe bytes only. */
	check_minimize("[\"name\"]", "[\"name\"]",
	    "{\"name\":\"A\",\"b\\\"ad\\n\\u00e9\":1}", "{\"name\":\"A\"}", 1,
	    "b?ad???");
}

static void
test_minimize_fields_of_before_paths(void **state)
{
	json_t *decl = json_pack("[s,s,s]", "first name", "a..b",
	    "address.street"), *g;
	char err[256];

	(void)state;
	/* A field stored before fields were paths keeps its meaning: a
	   top-level name, passed whole. */
	check_minimize("[\"first name\",\"a..b\",\"address.street\"]",
	    "[\"first name\",\"address\"]", "{\"first name\":{\"x\":1},"
	    "\"a..b\":2,\"a\":{\"\":{\"b\":3}},\"address\":{\"street\":\"s\","
	    "\"no\":4}}", "{\"address\":{\"street\":\"s\"},\"first name\":"
	    "{\"x\":1}}", 2, "a");
	/* It may still be granted as it is; no other string that is not a
	   path may. */
	g = json_pack("[s]", "first name");
	assert_int_equal(cr_authz_grant_check(g, decl, "svc", err,
	    sizeof(err)), 0);
	json_decref(g);
	g = json_pack("[s]", "last name");
	assert_int_equal(cr_authz_grant_check(g, decl, "svc", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "'last name' is not a path"));
	json_decref(g);
	json_decref(decl);
}

static void
test_path_valid(void **state)
{
	const char *good[] = { "a", "name", "address.street", "a_b-1.C2.d",
	    NULL };
	const char *bad[] = { "", ".", "a.", ".a", "a..b", "a b", "a/b",
	    "h[].n", "\xc3\xa9", "a.b\n", NULL };
	char longp[CR_FIELD_PATH_MAX + 1];
	int i;

	(void)state;
	for (i = 0; good[i] != NULL; i++)
		assert_true(cr_authz_path_valid(good[i]));
	for (i = 0; bad[i] != NULL; i++)
		assert_false(cr_authz_path_valid(bad[i]));
	memset(longp, 'a', sizeof(longp));
	longp[CR_FIELD_PATH_MAX - 1] = '\0';
	assert_true(cr_authz_path_valid(longp));
	longp[CR_FIELD_PATH_MAX - 1] = 'a';
	longp[CR_FIELD_PATH_MAX] = '\0';
	assert_false(cr_authz_path_valid(longp));
}

static void
test_fields_and_grant_checks(void **state)
{
	json_t *decl = json_pack("[s,s,s]", "name", "address.street",
	    "household.name");
	json_t *j;
	char err[256];
	struct { const char *granted; int ok; const char *named; } cases[] = {
		{ "[\"name\",\"address\"]", 1, NULL },
		{ "[\"address.street\",\"household\"]", 1, NULL },
		{ "[]", 1, NULL },
		{ "[\"address.secret\"]", 0, "'address.secret'" },
		{ "[\"address.street.x\"]", 0, "'address.street.x'" },
		{ "[\"name\",\"street\"]", 0, "'street'" },
		{ "[\"address..street\"]", 0, "'address..street'" },
		{ "[\"household[].name\"]", 0, "'household[].name'" },
		{ NULL, 0, NULL }
	};
	int i;

	(void)state;
	assert_int_equal(cr_authz_fields_check(decl, err, sizeof(err)), 0);
	for (i = 0; cases[i].granted != NULL; i++) {
		j = json_loads(cases[i].granted, 0, NULL);
		assert_int_equal(cr_authz_grant_check(j, decl, "svc", err,
		    sizeof(err)), cases[i].ok ? 0 : -1);
		if (!cases[i].ok)
			assert_non_null(strstr(err, cases[i].named));
		json_decref(j);
	}
	j = json_pack("[s,s]", "name", "a..b");
	assert_int_equal(cr_authz_fields_check(j, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'a..b'"));
	json_decref(j);
	json_decref(decl);
}

static void
test_params_declaration(void **state)
{
	const char *good[] = { "[]",
	    "[{\"name\":\"year\",\"type\":\"integer\"},{\"name\":\"on\","
	    "\"type\":\"date\"},{\"name\":\"r\",\"type\":\"number\"},"
	    "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"s_1-x\","
	    "\"type\":\"string\"}]", NULL };
	const char *bad[] = { "{}", "\"x\"", "null", "[1]", "[{}]",
	    "[{\"name\":\"a\"}]", "[{\"type\":\"string\"}]",
	    "[{\"name\":\"a\",\"type\":\"float\"}]",
	    "[{\"name\":\"a b\",\"type\":\"string\"}]",
	    "[{\"name\":\"\",\"type\":\"string\"}]",
	    "[{\"name\":\"a.b\",\"type\":\"string\"}]",
	    "[{\"name\":5,\"type\":\"string\"}]",
	    "[{\"name\":\"a\",\"type\":\"string\",\"required\":true}]",
	    "[{\"name\":\"a\",\"type\":\"string\"},{\"name\":\"a\","
	    "\"type\":\"date\"}]", NULL };
	char err[256];
	json_t *j;
	int i;

	(void)state;
	assert_int_equal(cr_authz_params_decl_check(NULL, err, sizeof(err)), 0);
	for (i = 0; good[i] != NULL; i++) {
		j = json_loads(good[i], JSON_DECODE_ANY, NULL);
		assert_int_equal(cr_authz_params_decl_check(j, err, sizeof(err)),
		    0);
		json_decref(j);
	}
	for (i = 0; bad[i] != NULL; i++) {
		j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		assert_int_equal(cr_authz_params_decl_check(j, err, sizeof(err)),
		    -1);
		json_decref(j);
	}
}

static void
test_params_check(void **state)
{
	json_t *decl = json_loads("[{\"name\":\"year\",\"type\":\"integer\"},"
	    "{\"name\":\"on\",\"type\":\"date\"},{\"name\":\"r\",\"type\":"
	    "\"number\"},{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"s\","
	    "\"type\":\"string\"}]", 0, NULL), *none = json_array(), *p;
	const char *good[] = { "{}", "{\"year\":2024}", "{\"on\":\"2024-02-29\"}",
	    "{\"r\":1}", "{\"r\":0.5}", "{\"b\":false}", "{\"s\":\"\"}",
	    "{\"year\":-1,\"on\":\"1999-12-31\",\"r\":-2.5,\"b\":true,"
	    "\"s\":\"x\"}", NULL };
	struct { const char *params, *named; } bad[] = {
		{ "{\"month\":1}", "params.month" },
		{ "{\"year\":\"2024\"}", "params.year" },
		{ "{\"year\":2024.0}", "params.year" },
		{ "{\"year\":null}", "params.year" },
		{ "{\"year\":true}", "params.year" },
		{ "{\"on\":\"2023-02-29\"}", "params.on" },
		{ "{\"on\":\"today\"}", "params.on" },
		{ "{\"on\":20240101}", "params.on" },
		{ "{\"r\":\"1\"}", "params.r" },
		{ "{\"b\":0}", "params.b" },
		{ "{\"s\":[\"x\"]}", "params.s" },
		{ "{\"s\":{}}", "params.s" },
		{ NULL, NULL }
	};
	char err[256];
	int i;

	(void)state;
	assert_int_equal(cr_authz_params_check(decl, NULL, "svc", err,
	    sizeof(err)), 0);
	for (i = 0; good[i] != NULL; i++) {
		p = json_loads(good[i], 0, NULL);
		assert_int_equal(cr_authz_params_check(decl, p, "svc", err,
		    sizeof(err)), 0);
		json_decref(p);
	}
	for (i = 0; bad[i].params != NULL; i++) {
		p = json_loads(bad[i].params, 0, NULL);
		assert_int_equal(cr_authz_params_check(decl, p, "svc", err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, bad[i].named));
		json_decref(p);
	}
	/* Nothing declared: nothing accepted but {}. */
	p = json_pack("{s:i}", "year", 2024);
	assert_int_equal(cr_authz_params_check(none, p, "svc", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "takes none"));
	json_decref(p);
	json_decref(decl);
	json_decref(none);
}

static void
test_undeclared_counted_by_service(void **state)
{
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(cr_metrics_source_undeclared("svc.a", 3), 1);
	assert_int_equal(cr_metrics_source_undeclared("svc.b", 1), 1);
	assert_int_equal(cr_metrics_source_undeclared("svc.a", 2), 0);
	assert_int_equal(cr_metrics_render(&text, &len), 0);
	assert_non_null(strstr(text, "# TYPE "
	    "crossroads_source_undeclared_fields_total counter\n"));
	assert_non_null(strstr(text, "\ncrossroads_source_undeclared_fields_"
	    "total{service=\"svc.a\"} 5\n"));
	assert_non_null(strstr(text, "\ncrossroads_source_undeclared_fields_"
	    "total{service=\"svc.b\"} 1\n"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deny_by_default, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_purpose_must_match, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_authorization_validity,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_capacities_need_integration, setup, teardown),
		cmocka_unit_test(test_filter_keeps_granted_fields_only),
		cmocka_unit_test(test_fields_subset),
		cmocka_unit_test(test_minimize_objects),
		cmocka_unit_test(test_minimize_lists_of_objects),
		cmocka_unit_test(test_minimize_leaves_and_scalars),
		cmocka_unit_test(test_minimize_nulls),
		cmocka_unit_test(test_minimize_same_name_other_depth),
		cmocka_unit_test(test_minimize_grants_only_declared),
		cmocka_unit_test(test_minimize_fields_of_before_paths),
		cmocka_unit_test(test_path_valid),
		cmocka_unit_test(test_fields_and_grant_checks),
		cmocka_unit_test(test_params_declaration),
		cmocka_unit_test(test_params_check),
		cmocka_unit_test(test_undeclared_counted_by_service),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
