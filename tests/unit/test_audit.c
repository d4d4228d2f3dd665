/*
 * The audit trail: a staged entry commits with its change or not at all,
 * entries written through two stores on one database (two processes)
 * form one chain, verification finds an edited entry, and the encoding
 * is the documented one (docs/audit.md).
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
#include <sqlite3.h>

#include "audit.h"
#include "store.h"
#include "util.h"

struct fixture {
	char		 dir[64];
	char		 path[128];
	struct cr_store	*st;		/* the registry cache over a store */
	struct cr_store	*other;		/* plays another process */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cr_store *inner;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cr-audit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hub.db", f->dir);
	assert_int_equal(cr_store_open(f->path, &inner), 0);
	assert_int_equal(cr_store_cache_wrap(inner, 1000, &f->st), 0);
	assert_int_equal(cr_store_open(f->path, &f->other), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	cr_store_close(f->st);
	cr_store_close(f->other);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct cr_institution
inst(const char *id)
{
	struct cr_institution in;

	memset(&in, 0, sizeof(in));
	cr_util_strlcpy(in.id, id, sizeof(in.id));
	cr_util_strlcpy(in.name, id, sizeof(in.name));
	cr_util_strlcpy(in.sector, "social", sizeof(in.sector));
	return in;
}

static int
count_cb(const struct cr_audit_entry *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

static int
entries(struct cr_store *st)
{
	int n = 0;

	assert_int_equal(st->audit->ops->audit_scan(st->audit, 0, NULL,
	    count_cb, &n), CR_STORE_OK);
	return n;
}

static void
test_staged_commits_with_its_change(void **state)
{
	struct fixture *f = *state;
	struct cr_institution in = inst("RN");
	json_t *after = json_pack("{s:s}", "id", "RN");
	uint64_t count, bad;
	char why[128];

	assert_int_equal(cr_audit_stage(f->st, "admin", "institution.create",
	    "institution:RN", NULL, after), 0);
	assert_int_equal(f->st->registry->ops->institution_add(
	    f->st->registry, &in), CR_STORE_OK);
	/* Written inside the change's transaction, before done: nothing
	   left to add then. */
	assert_int_equal(entries(f->st), 1);
	assert_int_equal(cr_audit_done(f->st, 1), 0);
	assert_int_equal(entries(f->st), 1);

	/* The change fails (the id exists): neither is written. */
	assert_int_equal(cr_audit_stage(f->st, "admin", "institution.create",
	    "institution:RN", NULL, after), 0);
	assert_int_equal(f->st->registry->ops->institution_add(
	    f->st->registry, &in), CR_STORE_EXISTS);
	assert_int_equal(cr_audit_done(f->st, 0), 0);
	assert_int_equal(entries(f->st), 1);

	/* A write of no row is no change: NOTFOUND, and no entry. */
	assert_int_equal(cr_audit_stage(f->st, "admin", "client.revoke",
	    "client:nope", NULL, NULL), 0);
	assert_int_equal(f->st->registry->ops->client_revoke(f->st->registry,
	    "RN", "nope", 1), CR_STORE_NOTFOUND);
	assert_int_equal(cr_audit_done(f->st, 0), 0);
	assert_int_equal(entries(f->st), 1);

	/* A staged entry does not leak into a later, unrelated write. */
	assert_int_equal(cr_audit_stage(f->st, "admin", "x", "y", NULL, NULL),
	    0);
	assert_int_equal(cr_audit_done(f->st, 0), 0);
	in = inst("ONEM");
	assert_int_equal(f->st->registry->ops->institution_add(
	    f->st->registry, &in), CR_STORE_OK);
	assert_int_equal(entries(f->st), 1);
	assert_int_equal(cr_audit_verify(f->st, &count, &bad, why,
	    sizeof(why)), 0);
	assert_true(count == 1);
	json_decref(after);
}

static void
test_two_processes_one_chain(void **state)
{
	struct fixture *f = *state;
	uint64_t count, bad;
	char why[128];
	int i;

	for (i = 0; i < 6; i++)
		assert_int_equal(cr_audit_record(i % 2 ? f->other : f->st,
		    "admin", "test", "object:x", NULL, NULL), 0);
	assert_int_equal(cr_audit_verify(f->other, &count, &bad, why,
	    sizeof(why)), 0);
	assert_true(count == 6);
}

static void
test_verify_finds_an_edit(void **state)
{
	struct fixture *f = *state;
	json_t *j = json_pack("{s:i}", "n", 1);
	uint64_t count, bad;
	char why[128];
	sqlite3 *db;
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(cr_audit_record(f->st, "admin", "test",
		    "object:x", j, j), 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE audit SET before = "
	    "'{\"n\":2}' WHERE seq = 2", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cr_audit_verify(f->st, &count, &bad, why,
	    sizeof(why)), -1);
	assert_true(bad == 2);
	assert_string_equal(why, "hash mismatch");
	json_decref(j);
}

/* The test vector of docs/audit.md. */
static void
test_encoding(void **state)
{
	struct cr_audit_entry e;
	uint8_t h[CR_HASH_LEN], want[CR_HASH_LEN];
	crypto_generichash_state st;
	static const uint8_t fields[] =
	    "\x00\x00\x00\x18" "2026-12-04T21:00:00.000Z"
	    "\x00\x00\x00\x05" "admin"
	    "\x00\x00\x00\x12" "institution.create"
	    "\x00\x00\x00\x0e" "institution:RN"
	    "\x00"
	    "\x01" "\x00\x00\x00\x0b" "{\"id\":\"RN\"}";
	uint8_t seq[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	char hex[2 * CR_HASH_LEN + 1];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.seq = 1;
	cr_util_strlcpy(e.ts, "2026-12-04T21:00:00.000Z", sizeof(e.ts));
	cr_util_strlcpy(e.actor, "admin", sizeof(e.actor));
	cr_util_strlcpy(e.action, "institution.create", sizeof(e.action));
	cr_util_strlcpy(e.object, "institution:RN", sizeof(e.object));
	e.after = "{\"id\":\"RN\"}";
	cr_audit_entry_hash(&e, h);
	crypto_generichash_init(&st, NULL, 0, CR_HASH_LEN);
	crypto_generichash_update(&st, e.prev_hash, CR_HASH_LEN);
	crypto_generichash_update(&st, seq, sizeof(seq));
	crypto_generichash_update(&st, fields, sizeof(fields) - 1);
	crypto_generichash_final(&st, want, CR_HASH_LEN);
	assert_memory_equal(h, want, CR_HASH_LEN);
	cr_util_hex(h, CR_HASH_LEN, hex);
	/* Printed for docs/audit.md. */
	print_message("audit test vector: %s\n", hex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_staged_commits_with_its_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes_one_chain,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_finds_an_edit,
		    setup, teardown),
		cmocka_unit_test(test_encoding),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
