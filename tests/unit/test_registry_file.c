/*
 * The registry file loader (registry_file.c) against a real SQLite store:
 * what it adds is what the hub then finds (institutions, tokens, services,
 * authorizations, fields as paths, params); loading twice adds nothing;
 * bad files are refused whole with a message naming the element; the
 * generated registry.json loads; capacities and the rule they make.
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
#include <sodium.h>

#include "directory.h"
#include "gen.h"
#include "registry_file.h"
#include "store.h"
#include "util.h"

#define TOKEN_A	"crt_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

struct fx {
	char		 dir[64];
	char		 db[128];
	char		 file[128];
	struct cr_store	*st;
};

static int
setup(void **state)
{
	struct fx *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cr-regfile-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/hub.db", f->dir);
	snprintf(f->file, sizeof(f->file), "%s/registry.json", f->dir);
	if (cr_store_open(f->db, &f->st) != 0) {
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
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[160];
	size_t i;

	cr_store_close(f->st);
	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->db, sfx[i]);
		unlink(p);
	}
	unlink(f->file);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static const char good[] =
    "{\"institutions\":["
    " {\"id\":\"RN\",\"name\":\"National Register\",\"sector\":\"population\"},"
    " {\"id\":\"ONEM\",\"name\":\"National Employment Office\","
    "  \"sector\":\"unemployment\"}],"
    "\"clients\":[{\"institution\":\"ONEM\",\"name\":\"benefits\","
    " \"token\":\"" TOKEN_A "\"}],"
    "\"services\":[{\"id\":\"population.person\",\"provider\":\"RN\","
    " \"endpoint\":\"http://127.0.0.1:9101/person\",\"subject_kind\":\"person\","
    " \"fields\":[\"name\",\"birth_date\",\"address.street\",\"address.city\"],"
    " \"params\":[{\"name\":\"on\",\"type\":\"date\"}],\"timeout_ms\":1500}],"
    "\"authorizations\":["
    " {\"consumer\":\"ONEM\",\"service\":\"population.person\","
    "  \"purpose\":\"unemployment-benefit\",\"legal_basis\":\"ISC 09/016\","
    "  \"fields\":[\"name\",\"address\"],\"capacities\":[\"unemployed\"],"
    "  \"valid_from\":\"2020-01-01\",\"valid_to\":null},"
    " {\"consumer\":\"ONEM\",\"service\":\"population.person\","
    "  \"purpose\":\"identification\",\"legal_basis\":\"RD 1991 art. 133\","
    "  \"fields\":[\"name\"],\"valid_from\":\"2020-01-01\","
    "  \"valid_to\":\"2030-12-31\"}]}";

static void
test_token_hash(void **state)
{
	uint8_t a[CR_HASH_LEN], b[CR_HASH_LEN];

	(void)state;
	cr_registry_token_hash(TOKEN_A, a);
	crypto_generichash(b, sizeof(b), (const unsigned char *)TOKEN_A,
	    strlen(TOKEN_A), NULL, 0);
	assert_memory_equal(a, b, CR_HASH_LEN);
	cr_registry_token_hash("crt_other", b);
	assert_memory_not_equal(a, b, CR_HASH_LEN);
	assert_true(cr_registry_valid_id("population.person"));
	assert_true(cr_registry_valid_id("CPAS_BXL-2"));
	assert_false(cr_registry_valid_id(""));
	assert_false(cr_registry_valid_id("a b"));
	assert_false(cr_registry_valid_id("a/b"));
}

static void
test_load_twice(void **state)
{
	struct fx *f = *state;
	struct cr_registry_counts c;
	struct cr_institution in;
	struct cr_client cl;
	struct cr_service svc;
	struct cr_authz a;
	uint8_t hash[CR_HASH_LEN];
	char err[512];
	json_t *list;

	write_file(f->file, good);
	assert_int_equal(cr_registry_load_file(f->st, f->file, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c.institutions_added, 2);
	assert_int_equal(c.clients_added, 1);
	assert_int_equal(c.services_added, 1);
	assert_int_equal(c.authorizations_added, 2);
	assert_int_equal(c.institutions_skipped + c.clients_skipped +
	    c.services_skipped + c.authorizations_skipped, 0);

	/* What the hub will look up. */
	assert_int_equal(f->st->registry->ops->institution_get(f->st->registry, "ONEM", &in),
	    CR_STORE_OK);
	assert_string_equal(in.sector, "unemployment");
	cr_registry_token_hash(TOKEN_A, hash);
	assert_int_equal(f->st->registry->ops->client_by_token(f->st->registry, hash, cr_util_wall_ms(), &cl),
	    CR_STORE_OK);
	assert_string_equal(cl.institution, "ONEM");
	assert_string_equal(cl.name, "benefits");
	memset(&svc, 0, sizeof(svc));
	assert_int_equal(f->st->registry->ops->service_get(f->st->registry, "population.person",
	    &svc), CR_STORE_OK);
	assert_string_equal(svc.provider, "RN");
	assert_int_equal(svc.timeout_ms, 1500);
	assert_int_equal(json_array_size(svc.fields), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    svc.params, 0), "name")), "on");
	cr_service_clear(&svc);
	memset(&a, 0, sizeof(a));
	assert_int_equal(f->st->registry->ops->authz_find(f->st->registry, "ONEM",
	    "population.person", "unemployment-benefit", "2024-05-01", &a),
	    CR_STORE_OK);
	assert_string_equal(a.legal_basis, "ISC 09/016");
	assert_string_equal(json_string_value(json_array_get(a.capacities, 0)),
	    "unemployed");
	assert_int_equal(strlen(a.id), CR_UUID_LEN);
	cr_authz_clear(&a);
	assert_int_equal(f->st->registry->ops->authz_find(f->st->registry, "ONEM",
	    "population.person", "identification", "2031-01-01", &a),
	    CR_STORE_NOTFOUND);

	/* Again: everything is skipped, nothing doubles. */
	assert_int_equal(cr_registry_load_file(f->st, f->file, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c.institutions_skipped, 2);
	assert_int_equal(c.clients_skipped, 1);
	assert_int_equal(c.services_skipped, 1);
	assert_int_equal(c.authorizations_skipped, 2);
	assert_int_equal(c.institutions_added + c.clients_added +
	    c.services_added + c.authorizations_added, 0);
	assert_int_equal(f->st->registry->ops->authz_list(f->st->registry, NULL, &list),
	    CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
}

struct bad {
	const char	*json;
	const char	*message;	/* expected in the error */
};

#define INSTS	"\"institutions\":[{\"id\":\"RN\",\"name\":\"R\",\"sector\":\"p\"}]"
#define SVC	"\"services\":[{\"id\":\"svc\",\"provider\":\"RN\",\"endpoint\":" \
		"\"http://127.0.0.1:1/x\",\"fields\":[\"a\",\"b\"]}]"
#define AZ(x)	"{" INSTS "," SVC ",\"authorizations\":[{\"consumer\":\"RN\"," \
		"\"service\":\"svc\",\"purpose\":\"p\",\"legal_basis\":\"L\"," x "}]}"

static const struct bad bads[] = {
	{ "{\"institutions\":[", "registry.json:1:" },
	{ "[]", "must be a JSON object" },
	{ "{\"people\":[]}", "unknown member 'people'" },
	{ "{\"institutions\":{}}", "'institutions' must be an array" },
	{ "{\"institutions\":[{\"id\":\"RN\",\"name\":\"R\",\"sector\":\"p\"},"
	  "{\"id\":\"bad id\",\"name\":\"B\",\"sector\":\"p\"}]}",
	  "institutions[1] (bad id): id may only contain" },
	{ "{\"institutions\":[{\"id\":\"RN\",\"name\":\"R\"}]}",
	  "institutions[0] (RN): " },
	{ "{" INSTS ",\"institutions2\":[]}", "unknown member" },
	{ "{\"institutions\":[{\"id\":\"RN\",\"name\":\"R\",\"sector\":\"p\"},"
	  "{\"id\":\"RN\",\"name\":\"B\",\"sector\":\"p\"}]}",
	  "institutions[1] (RN): duplicate institution id" },
	{ "{" INSTS ",\"clients\":[{\"institution\":\"NOPE\",\"name\":\"app\","
	  "\"token\":\"" TOKEN_A "\"}]}", "clients[0] (app): no institution "
	  "'NOPE'" },
	{ "{" INSTS ",\"clients\":[{\"institution\":\"RN\",\"name\":\"app\","
	  "\"token\":\"crt_xyz\"}]}", "clients[0] (app): token must be" },
	{ "{" INSTS ",\"clients\":[{\"institution\":\"RN\",\"name\":\"a\","
	  "\"token\":\"" TOKEN_A "\"},{\"institution\":\"RN\",\"name\":\"b\","
	  "\"token\":\"" TOKEN_A "\"}]}", "clients[1] (b): the same token" },
	{ "{" INSTS ",\"services\":[{\"id\":\"svc\",\"provider\":\"XX\","
	  "\"endpoint\":\"http://h/x\",\"fields\":[\"a\"]}]}",
	  "services[0] (svc): no institution 'XX'" },
	{ "{" INSTS ",\"services\":[{\"id\":\"svc\",\"provider\":\"RN\","
	  "\"endpoint\":\"ftp://h/x\",\"fields\":[\"a\"]}]}",
	  "services[0] (svc): endpoint must be" },
	{ "{" INSTS ",\"services\":[{\"id\":\"svc\",\"provider\":\"RN\","
	  "\"endpoint\":\"http://h/x\",\"subject_kind\":\"car\","
	  "\"fields\":[\"a\"]}]}", "subject_kind must be" },
	{ "{" INSTS ",\"services\":[{\"id\":\"svc\",\"provider\":\"RN\","
	  "\"endpoint\":\"http://h/x\",\"fields\":[\"a\"],\"timeout_ms\":0}]}",
	  "services[0] (svc): " },
	{ AZ("\"fields\":[\"a\",\"c\"]"), "authorizations[0] (svc): field "
	  "'c' is not declared by service svc" },
	{ AZ("\"fields\":[\"a.x\"]"), "authorizations[0] (svc): field 'a.x' "
	  "is not declared" },
	{ AZ("\"fields\":[\"a..b\"]"), "authorizations[0] (svc): field "
	  "'a..b' is not a path" },
	{ "{" INSTS ",\"services\":[{\"id\":\"svc\",\"provider\":\"RN\","
	  "\"endpoint\":\"http://h/x\",\"fields\":[\"a\",\"b.\"]}]}",
	  "services[0] (svc): field 'b.' is not a path" },
	{ "{" INSTS ",\"services\":[{\"id\":\"svc\",\"provider\":\"RN\","
	  "\"endpoint\":\"http://h/x\",\"fields\":[\"a\"],\"params\":"
	  "[{\"name\":\"y\",\"type\":\"float\"}]}]}",
	  "services[0] (svc): params[0] (y): type must be" },
	{ "{" INSTS ",\"services\":[{\"id\":\"svc\",\"provider\":\"RN\","
	  "\"endpoint\":\"http://h/x\",\"fields\":[\"a\"],\"params\":"
	  "{}}]}", "services[0] (svc): params must be an array" },
	{ AZ("\"fields\":[\"a\"],\"valid_from\":\"2020-13-01\""),
	  "authorizations[0] (svc): " },
	{ AZ("\"fields\":[\"a\"],\"valid_from\":\"2021-01-01\","
	  "\"valid_to\":\"2020-01-01\""), "valid_to is before valid_from" },
	{ "{" INSTS "," SVC ",\"authorizations\":[{\"consumer\":\"RN\","
	  "\"service\":\"svc\",\"purpose\":\"p\",\"fields\":[\"a\"]}]}",
	  "authorizations[0] (svc): " },
	{ "{" INSTS ",\"authorizations\":[{\"consumer\":\"RN\",\"service\":"
	  "\"none\",\"purpose\":\"p\",\"legal_basis\":\"L\",\"fields\":[]}]}",
	  "authorizations[0] (none): no service 'none'" },
	{ "{" INSTS ",\"capacities\":[{\"id\":\"c\",\"name\":\"C\","
	  "\"institutions\":[\"RN\",\"XX\"]}]}",
	  "capacities[0] (c): institutions[1]: no institution 'XX'" },
	{ "{" INSTS ",\"capacities\":[{\"id\":\"c\",\"name\":\"C\"},"
	  "{\"id\":\"c\",\"name\":\"D\"}]}",
	  "capacities[1] (c): duplicate capacity id" },
	{ "{" INSTS ",\"capacities\":[{\"id\":\"a b\",\"name\":\"C\"}]}",
	  "capacities[0] (a b): id may only contain" },
	{ "{" INSTS ",\"capacities\":[{\"id\":\"c\",\"name\":\"C\","
	  "\"sectors\":\"health\"}]}", "capacities[0] (c): " },
	{ NULL, NULL }
};

/*
 * The capacities of a registry file, and the rule they make
 * (cr_directory_capacity_allowed): by institution, by sector, deny by
 * default; loading again skips them and keeps the stored rule.
 */
static void
test_capacities(void **state)
{
	static const char doc[] =
	    "{\"institutions\":["
	    " {\"id\":\"ONEM\",\"name\":\"Employment\",\"sector\":\"unemployment\"},"
	    " {\"id\":\"CAPAC\",\"name\":\"Fund\",\"sector\":\"unemployment\"},"
	    " {\"id\":\"MUT\",\"name\":\"Mutual\",\"sector\":\"health\"}],"
	    "\"capacities\":["
	    " {\"id\":\"unemployed\",\"name\":\"Unemployed\","
	    "  \"institutions\":[\"ONEM\"]},"
	    " {\"id\":\"recipient\",\"name\":\"Recipient\","
	    "  \"sectors\":[\"unemployment\"]},"
	    " {\"id\":\"nobody\",\"name\":\"Withdrawn\"}]}";
	static const char other[] =
	    "{\"capacities\":[{\"id\":\"unemployed\",\"name\":\"X\","
	    " \"sectors\":[\"health\"]}]}";
	static const struct {
		const char	*inst, *cap;
		int		 rc;
	} rules[] = {
		{ "ONEM", "unemployed", 0 },		/* by institution */
		{ "CAPAC", "unemployed", -1 },		/* same sector, not listed */
		{ "CAPAC", "recipient", 0 },		/* by sector */
		{ "ONEM", "recipient", 0 },
		{ "MUT", "recipient", -1 },
		{ "ONEM", "nobody", -1 },
		{ "ONEM", "jobseeker", -1 },		/* not in the catalogue */
		{ "NOSUCH", "recipient", -1 },		/* unknown institution */
	};
	struct fx *f = *state;
	struct cr_registry_counts c;
	struct cr_capacity cap;
	struct cr_dir_error derr;
	char err[512];
	size_t i;

	write_file(f->file, doc);
	assert_int_equal(cr_registry_load_file(f->st, f->file, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c.capacities_added, 3);
	assert_int_equal(f->st->registry->ops->capacity_get(f->st->registry,
	    "recipient", &cap), CR_STORE_OK);
	assert_string_equal(cap.name, "Recipient");
	assert_int_equal(json_array_size(cap.institutions), 0);
	assert_string_equal(json_string_value(json_array_get(cap.sectors, 0)),
	    "unemployment");
	cr_capacity_clear(&cap);
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		memset(&derr, 0, sizeof(derr));
		if (cr_directory_capacity_allowed(f->st, rules[i].inst,
		    rules[i].cap, &derr) != rules[i].rc)
			fail_msg("%s as %s: expected %d", rules[i].inst,
			    rules[i].cap, rules[i].rc);
		if (rules[i].rc == -1) {
			assert_int_equal(derr.status, 403);
			assert_string_equal(derr.code, "CAPACITY_NOT_ALLOWED");
		}
	}
	/* Loaded again, or with another rule for it: skipped, unchanged. */
	write_file(f->file, other);
	assert_int_equal(cr_registry_load_file(f->st, f->file, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c.capacities_added, 0);
	assert_int_equal(c.capacities_skipped, 1);
	assert_int_equal(cr_directory_capacity_allowed(f->st, "ONEM",
	    "unemployed", &derr), 0);
	assert_int_equal(cr_directory_capacity_allowed(f->st, "MUT",
	    "unemployed", &derr), -1);
}

static void
test_bad_files(void **state)
{
	struct fx *f = *state;
	struct cr_registry_counts c;
	char err[512];
	json_t *list;
	size_t i;

	for (i = 0; bads[i].json != NULL; i++) {
		write_file(f->file, bads[i].json);
		err[0] = '\0';
		if (cr_registry_load_file(f->st, f->file, &c, err, sizeof(err))
		    != -1)
			fail_msg("bad file %zu was loaded", i);
		if (strstr(err, bads[i].message) == NULL)
			fail_msg("bad file %zu: '%s' lacks '%s'", i, err,
			    bads[i].message);
		/* The file name comes first. */
		assert_int_equal(strncmp(err, f->file, strlen(f->file)), 0);
	}
	/* Nothing of any of them was loaded. */
	assert_int_equal(f->st->registry->ops->institution_list(f->st->registry, &list),
	    CR_STORE_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	write_file(f->file, "{}");
	assert_int_equal(cr_registry_load_file(f->st, f->file, &c, err,
	    sizeof(err)), 0);
}

/*
 * Every capacity an authorization of the generated country requires may
 * be declared by its consumer: the demo's consultations need integrations
 * the catalogue allows.
 */
static void
generated_capacities(struct cr_store *st)
{
	struct cr_dir_error derr;
	json_t *list, *a, *c;
	size_t i, j;

	assert_int_equal(st->registry->ops->authz_list(st->registry, NULL,
	    &list), CR_STORE_OK);
	json_array_foreach(list, i, a) {
		json_array_foreach(json_object_get(a, "capacities"), j, c) {
			const char *inst = json_string_value(json_object_get(a,
			    "consumer"));

			if (cr_directory_capacity_allowed(st, inst,
			    json_string_value(c), &derr) != 0)
				fail_msg("%s may not declare %s: %s", inst,
				    json_string_value(c), derr.message);
		}
	}
	json_decref(list);
}

/* registry.json as crossroads gen writes it, then its tokens work. */
static void
test_generated_registry(void **state)
{
	struct fx *f = *state;
	struct cr_gen_opts o;
	struct cr_registry_counts c;
	struct cr_client cl;
	uint8_t hash[CR_HASH_LEN];
	char err[512], token[4 + 64 + 1];
	json_t *doc, *list;
	json_error_t jerr;

	memset(&o, 0, sizeof(o));
	o.out_dir = f->dir;
	o.seed = 42;
	o.base_port = 9101;
	assert_int_equal(cr_gen_write_registry(&o), 0);
	assert_non_null(doc = json_load_file(f->file, 0, &jerr));
	assert_int_equal(cr_registry_load(f->st, doc, &c, err, sizeof(err)), 0);
	assert_int_equal(c.institutions_added,
	    json_array_size(json_object_get(doc, "institutions")));
	assert_int_equal(c.clients_added,
	    json_array_size(json_object_get(doc, "clients")));
	assert_int_equal(c.services_added,
	    json_array_size(json_object_get(doc, "services")));
	assert_int_equal(c.authorizations_added,
	    json_array_size(json_object_get(doc, "authorizations")));
	assert_true(c.authorizations_added >= 40);
	json_decref(doc);
	cr_gen_token(42, "ONEM", "onem-benefits", token);
	cr_registry_token_hash(token, hash);
	assert_int_equal(f->st->registry->ops->client_by_token(f->st->registry, hash, cr_util_wall_ms(), &cl),
	    CR_STORE_OK);
	assert_string_equal(cl.institution, "ONEM");
	assert_int_equal(f->st->registry->ops->authz_list(f->st->registry, "CPAS_BXL", &list),
	    CR_STORE_OK);
	assert_true(json_array_size(list) >= 8);
	json_decref(list);
	generated_capacities(f->st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_hash),
		cmocka_unit_test_setup_teardown(test_load_twice, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_generated_registry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_capacities, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
