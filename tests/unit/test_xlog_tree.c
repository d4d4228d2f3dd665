/*
 * The exchange log's Merkle tree (src/hub/xlog.c over the SQLite store):
 * kept by the writer as entries are committed, built at start for a log
 * written without it, refused when it has leaves the log lacks, and the
 * saved-head check of cr_xlog_verify_head (truncated, rewritten and
 * re-hashed logs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "merkle.h"
#include "store.h"
#include "util.h"
#include "xlog.h"

struct fixture {
	char		 dir[64];
	char		 db[128];
	struct cr_store	*store;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_xlog_tree.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/log.db", f->dir);
	assert_int_equal(cr_store_open(f->db, &f->store), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	static const char *const files[] = { "", "-wal", "-shm", "-journal" };
	struct fixture *f = *state;
	char path[256];
	size_t i;

	cr_store_close(f->store);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", f->db, files[i]);
		unlink(path);
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void
make_entry(struct cr_xlog_entry *e, int i)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->ts, sizeof(e->ts), "2026-12-04T10:00:%02d.000Z", i % 60);
	snprintf(e->request_id, sizeof(e->request_id), "req-%d", i);
	cr_util_strlcpy(e->consumer, "ONEM", sizeof(e->consumer));
	cr_util_strlcpy(e->service, "population.person", sizeof(e->service));
	snprintf(e->subject, sizeof(e->subject), "850730%05d", i);
	cr_util_strlcpy(e->outcome, CR_OUTCOME_GRANTED, sizeof(e->outcome));
	e->status = 200;
}

static void
fill(struct cr_store *st, int from, int n)
{
	struct cr_xlog *x;
	struct cr_xlog_entry e;
	int i;

	assert_int_equal(cr_xlog_start(st, NULL, &x), 0);
	for (i = 0; i < n; i++) {
		make_entry(&e, from + i);
		assert_int_equal(cr_xlog_submit(x, &e, NULL, NULL), 0);
	}
	cr_xlog_stop(x);
}

/* The root recomputed from the stored entries' hashes, by the frontier. */
struct recompute {
	struct cr_merkle_frontier f;
};

static int
recompute_cb(const struct cr_xlog_entry *e, void *arg)
{
	struct recompute *r = arg;
	uint8_t leaf[CR_HASH_LEN];

	cr_xlog_leaf_hash(e->hash, leaf);
	cr_merkle_append(&r->f, leaf, NULL, NULL);
	return 0;
}

static void
entries_root(struct cr_store *st, uint64_t *size, uint8_t root[CR_HASH_LEN])
{
	struct recompute *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(st->xlog->ops->xlog_scan(st->xlog, 1, recompute_cb,
	    r), 0);
	*size = r->f.size;
	cr_merkle_root(&r->f, root);
	free(r);
}

/* Stored tree, writer's tree and the entries agree; every proof holds. */
static void
expect_tree(struct cr_store *st, uint64_t n)
{
	uint8_t root[CR_HASH_LEN], stored[CR_HASH_LEN], leaf[CR_HASH_LEN];
	uint8_t path[CR_MERKLE_MAX_PATH][CR_HASH_LEN];
	uint8_t live[CR_HASH_LEN];
	struct cr_xlog_entry e;
	struct cr_xlog *x;
	uint64_t size, leaves, i;
	size_t len;

	/* The start brings the stored tree up to the log. */
	assert_int_equal(cr_xlog_start(st, NULL, &x), 0);
	cr_xlog_tree(x, &size, live);
	cr_xlog_stop(x);
	assert_int_equal(size, n);
	entries_root(st, &size, root);
	assert_int_equal(size, n);
	assert_memory_equal(root, live, CR_HASH_LEN);
	/* Stored: the levels 4, 8, ...: one node per 16 entries at level 4. */
	assert_int_equal(st->xlog->ops->tree_count(st->xlog, 4, &leaves), 0);
	assert_int_equal(leaves, n / 16);
	assert_int_equal(st->xlog->ops->tree_count(st->xlog, 0, &leaves), 0);
	assert_int_equal(leaves, 0);
	assert_int_equal(cr_merkle_root_at(cr_xlog_store_node, st, n, stored),
	    0);
	assert_memory_equal(root, stored, CR_HASH_LEN);
	for (i = 1; i <= n; i++) {
		struct cr_xlog_filter flt;
		size_t k = 1;

		memset(&flt, 0, sizeof(flt));
		make_entry(&e, (int)i - 1);
		flt.subject = e.subject;
		flt.limit = 1;
		assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &flt, &e,
		    &k), 0);
		assert_int_equal(k, 1);
		cr_xlog_leaf_hash(e.hash, leaf);
		assert_int_equal(cr_merkle_inclusion(cr_xlog_store_node, st,
		    e.seq - 1, n, path, &len), 0);
		assert_int_equal(cr_merkle_verify_inclusion(e.seq - 1, n, leaf,
		    path, len, root), 0);
	}
}

static void
test_incremental(void **state)
{
	struct fixture *f = *state;

	expect_tree(f->store, 0);
	fill(f->store, 0, 1);
	expect_tree(f->store, 1);
	fill(f->store, 1, 10);
	fill(f->store, 11, 26);
	expect_tree(f->store, 37);
	/* Past a level-8 node (256 entries), in batches of every size. */
	fill(f->store, 37, 250);
	fill(f->store, 287, 13);
	expect_tree(f->store, 300);
}

static void
exec_sql(const char *db, const char *sql)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

/* A log written before the tree existed gets its tree at start. */
static void
test_built_at_start(void **state)
{
	struct fixture *f = *state;

	fill(f->store, 0, 100);
	exec_sql(f->db, "DELETE FROM xlog_tree");
	cr_store_close(f->store);
	assert_int_equal(cr_store_open(f->db, &f->store), 0);
	expect_tree(f->store, 100);
	/* And part of it: only the missing nodes are added. */
	exec_sql(f->db, "DELETE FROM xlog_tree WHERE idx >= 3");
	expect_tree(f->store, 100);
}

/* A tree longer than the log: entries were removed; refused unless the
   tree is rebuilt. */
static void
test_removed_entries(void **state)
{
	struct fixture *f = *state;
	struct cr_xlog_config cfg;
	struct cr_xlog *x = NULL;

	fill(f->store, 0, 40);
	exec_sql(f->db, "DELETE FROM xlog WHERE seq > 20");
	assert_int_equal(cr_xlog_start(f->store, NULL, &x), -1);
	assert_null(x);
	memset(&cfg, 0, sizeof(cfg));
	cfg.rebuild_tree = 1;
	assert_int_equal(cr_xlog_start(f->store, &cfg, &x), 0);
	cr_xlog_stop(x);
	expect_tree(f->store, 20);
}

static void
head_of(struct cr_store *st, uint64_t size, struct cr_tree_head *h)
{
	memset(h, 0, sizeof(*h));
	h->tree_size = size;
	assert_int_equal(cr_merkle_root_at(cr_xlog_store_node, st, size,
	    h->root), 0);
}

static int
verify(struct cr_store *st, const struct cr_tree_head *h, char *why,
    size_t len)
{
	uint64_t count, bad;

	return cr_xlog_verify_head(st, h, &count, &bad, why, len);
}

static void
test_verify_head(void **state)
{
	struct fixture *f = *state;
	struct cr_tree_head h0, h7, h15;
	char why[256];

	head_of(f->store, 0, &h0);
	assert_int_equal(verify(f->store, &h0, why, sizeof(why)), 0);
	fill(f->store, 0, 15);
	head_of(f->store, 7, &h7);
	head_of(f->store, 15, &h15);
	assert_int_equal(verify(f->store, &h0, why, sizeof(why)), 0);
	assert_int_equal(verify(f->store, &h7, why, sizeof(why)), 0);
	assert_int_equal(verify(f->store, &h15, why, sizeof(why)), 0);
	/* Another root at the same size. */
	h7.root[5] ^= 1;
	assert_int_equal(verify(f->store, &h7, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "rewritten"));
	h7.root[5] ^= 1;
	/* The tail removed: the chain still verifies, the head does not. */
	exec_sql(f->db, "DELETE FROM xlog WHERE seq > 12");
	assert_int_equal(verify(f->store, NULL, why, sizeof(why)), 0);
	assert_int_equal(verify(f->store, &h7, why, sizeof(why)), 0);
	assert_int_equal(verify(f->store, &h15, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "truncated"));
	/* Everything removed. */
	exec_sql(f->db, "DELETE FROM xlog");
	assert_int_equal(verify(f->store, &h7, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "truncated"));
}

/* Entry 3 changed and the whole chain re-hashed: intact, yet not the
   head's log. */
static int
rehash_cb(const struct cr_xlog_entry *e, void *arg)
{
	struct cr_xlog_entry *all = arg;

	all[e->seq - 1] = *e;
	return 0;
}

static void
test_verify_rehashed(void **state)
{
	struct fixture *f = *state;
	struct cr_xlog_entry *all;
	struct cr_tree_head h;
	uint8_t prev[CR_HASH_LEN];
	char why[256];
	int i;

	fill(f->store, 0, 10);
	head_of(f->store, 10, &h);
	assert_non_null(all = calloc(10, sizeof(*all)));
	assert_int_equal(f->store->xlog->ops->xlog_scan(f->store->xlog, 1,
	    rehash_cb, all), 0);
	cr_util_strlcpy(all[2].purpose, "rewritten", sizeof(all[2].purpose));
	memset(prev, 0, sizeof(prev));
	for (i = 0; i < 10; i++) {
		memcpy(all[i].prev_hash, prev, CR_HASH_LEN);
		cr_xlog_entry_hash(&all[i], all[i].hash);
		memcpy(prev, all[i].hash, CR_HASH_LEN);
	}
	exec_sql(f->db, "DELETE FROM xlog; DELETE FROM xlog_tree");
	assert_int_equal(f->store->xlog->ops->xlog_append(f->store->xlog, all,
	    10, NULL, 0), 0);
	free(all);
	assert_int_equal(verify(f->store, NULL, why, sizeof(why)), 0);
	assert_int_equal(verify(f->store, &h, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "rewritten"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_incremental, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_built_at_start, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_removed_entries, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verify_head, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verify_rehashed, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
