/* Authorization decisions against a real SQLite store: deny by default. */
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
