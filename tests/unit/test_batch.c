/*
 * Batches: parsing of subject lists (NDJSON, CSV) and the store
 * operations that make a batch exact across restarts (one result per
 * line, counts moved with the results, unfinished loads removed).
 */
#include "store_fixture.h"

#include <sqlite3.h>

#include "batch.h"

static char *
xdup(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static void
parse_ok(const char *in, int csv, const char *const *want, size_t nwant)
{
	char *body = xdup(in), **subj, err[256];
	size_t n, i;

	err[0] = '\0';
	assert_int_equal(cr_batch_parse(body, strlen(body), csv, &subj, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++)
		assert_string_equal(subj[i], want[i]);
	free(subj);
	free(body);
}

static void
parse_bad(const char *in, int csv, const char *why)
{
	char *body = xdup(in), **subj = NULL, err[256];
	size_t n = 99;

	assert_int_equal(cr_batch_parse(body, strlen(body), csv, &subj, &n,
	    err, sizeof(err)), -1);
	assert_null(subj);
	assert_int_equal(n, 0);
	if (strstr(err, why) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, why);
	free(body);
}

static void
test_parse_ndjson(void **state)
{
	static const char *const want[] = { "85073003328", "17073003384",
	    "a\"b", "01490700185" };

	(void)state;
	parse_ok("{\"subject\":\"85073003328\"}\n"
	    "\r\n"
	    "  { \"subject\" : \"17073003384\", \"ref\": 7 }\r\n"
	    "{\"subject\":\"a\\\"b\"}\n"
	    "{\"subject\":\"01490700185\"}", 0, want, 4);
	parse_bad("{\"subject\":\"1\"}\n{\"subj\":\"2\"}\n", 0,
	    "line 2: \"subject\" must be a string");
	parse_bad("{\"subject\":\"1\"}\nnot json\n", 0, "line 2: not JSON");
	parse_bad("[1]\n", 0, "line 1: expected an object");
	parse_bad("{\"subject\":\"\"}\n", 0, "line 1: empty subject");
	parse_bad("{\"subject\":\"12345678901234567890123456789012345678901234"
	    "5678901234567890123456789\"}\n", 0, "longer than 64");
	parse_bad("\n\n", 0, "no subjects");
}

static void
test_parse_csv(void **state)
{
	static const char *const want[] = { "85073003328", "17073003384",
	    "x,y", "q\"r" };
	static const char *const want2[] = { "85073003328" };

	(void)state;
	parse_ok("\xef\xbb\xbfref,Subject,name\n"
	    "1,85073003328,Ann\r\n"
	    "2, 17073003384 ,\"Bob, Jr\"\n"
	    "\n"
	    "3,\"x,y\",C\n"
	    "4,\"q\"\"r\",D\n", 1, want, 4);
	parse_ok("name;subject\nAnn;85073003328\n", 1, want2, 1);
	parse_ok("subject\n85073003328\n", 1, want2, 1);
	parse_bad("ref,name\n1,Ann\n", 1, "names no \"subject\" column");
	parse_bad("ref,subject\n1\n", 1, "line 2: no subject column");
	parse_bad("subject\n\"abc\n", 1, "line 2: bad quotes");
	parse_bad("subject,x\n,1\n", 1, "line 2: empty subject");
	parse_bad("", 1, "empty CSV");
	parse_bad("subject\n", 1, "no subjects");
}

static void
batch_fill(struct cr_batch *b, const char *id)
{
	memset(b, 0, sizeof(*b));
	cr_util_strlcpy(b->id, id, sizeof(b->id));
	cr_util_strlcpy(b->institution, "CPAS", sizeof(b->institution));
	cr_util_strlcpy(b->client, "c1", sizeof(b->client));
	cr_util_strlcpy(b->bundle, "bun", sizeof(b->bundle));
	cr_util_strlcpy(b->purpose, "p", sizeof(b->purpose));
	cr_util_strlcpy(b->reference_date, "2026-01-02",
	    sizeof(b->reference_date));
	b->household = 1;
}

static void
res_put(struct cr_store *st, const char *id, uint64_t line, int state,
    const char *res)
{
	struct cr_batch_item it;

	memset(&it, 0, sizeof(it));
	it.line = line;
	it.state = state;
	it.result = (char *)res;
	assert_int_equal(st->batches->ops->batch_results_put(st->batches, id, &it, 1),
	    CR_STORE_OK);
}

static void
test_store_exactly_once(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	static const char *const subj[] = { "s1", "s2", "s3", "s4", "s5" };
	struct cr_batch b, got;
	struct cr_batch_item items[8];
	size_t n;
	json_t *ids;

	batch_fill(&b, "B1");
	assert_int_equal(st->batches->ops->batch_add(st->batches, &b, subj, 5), CR_STORE_OK);
	assert_int_equal(st->batches->ops->batch_add(st->batches, &b, subj, 5), CR_STORE_EXISTS);
	assert_int_equal(st->batches->ops->batch_get(st->batches, "B1", &got), CR_STORE_OK);
	assert_string_equal(got.status, "queued");
	assert_string_equal(got.reference_date, "2026-01-02");
	assert_int_equal(got.household, 1);
	assert_int_equal(got.total, 5);
	assert_int_equal(got.done, 0);
	assert_int_equal(st->batches->ops->batch_get(st->batches, "nope", &got),
	    CR_STORE_NOTFOUND);

	/* Pages of pending lines, in order. */
	n = 2;
	assert_int_equal(st->batches->ops->batch_pending(st->batches, "B1", 0, items, &n),
	    CR_STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(items[0].line, 1);
	assert_string_equal(items[1].subject, "s2");

	res_put(st, "B1", 2, CR_BATCH_ITEM_DONE, "{\"r\":2}");
	res_put(st, "B1", 4, CR_BATCH_ITEM_FAILED, "{\"e\":4}");
	/* A second result for a line (processed again after a crash) is
	   not recorded, nor counted. */
	res_put(st, "B1", 2, CR_BATCH_ITEM_DONE, "{\"r\":\"again\"}");
	assert_int_equal(st->batches->ops->batch_get(st->batches, "B1", &got), CR_STORE_OK);
	assert_int_equal(got.done, 2);
	assert_int_equal(got.failed, 1);

	n = 8;
	assert_int_equal(st->batches->ops->batch_pending(st->batches, "B1", 0, items, &n),
	    CR_STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(items[0].line, 1);
	assert_int_equal(items[1].line, 3);
	assert_int_equal(items[2].line, 5);
	n = 8;
	assert_int_equal(st->batches->ops->batch_pending(st->batches, "B1", 3, items, &n),
	    CR_STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(items[0].line, 5);

	res_put(st, "B1", 1, CR_BATCH_ITEM_DONE, "{\"r\":1}");
	res_put(st, "B1", 3, CR_BATCH_ITEM_DONE, "{\"r\":3}");
	res_put(st, "B1", 5, CR_BATCH_ITEM_DONE, "{\"r\":5}");
	n = 8;
	assert_int_equal(st->batches->ops->batch_results(st->batches, "B1", 0, items, &n),
	    CR_STORE_OK);
	assert_int_equal(n, 5);
	assert_string_equal(items[1].result, "{\"r\":2}");
	assert_int_equal(items[3].state, CR_BATCH_ITEM_FAILED);
	assert_string_equal(items[4].result, "{\"r\":5}");
	cr_batch_items_clear(items, n);
	n = 2;
	assert_int_equal(st->batches->ops->batch_results(st->batches, "B1", 3, items, &n),
	    CR_STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(items[0].line, 4);
	cr_batch_items_clear(items, n);

	assert_int_equal(st->batches->ops->batch_unfinished(st->batches, &ids), CR_STORE_OK);
	assert_int_equal(json_array_size(ids), 1);
	json_decref(ids);
	assert_int_equal(st->batches->ops->batch_set_status(st->batches, "B1", "done", NULL),
	    CR_STORE_OK);
	assert_int_equal(st->batches->ops->batch_get(st->batches, "B1", &got), CR_STORE_OK);
	assert_string_equal(got.status, "done");
	assert_int_equal(got.done, 5);
	assert_int_equal(st->batches->ops->batch_unfinished(st->batches, &ids), CR_STORE_OK);
	assert_int_equal(json_array_size(ids), 0);
	json_decref(ids);
}

/* A load cut short (a crash before the 202) leaves nothing behind. */
static void
test_store_loading_removed(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	static const char *const subj[] = { "s1", "s2" };
	struct cr_batch b, got;
	json_t *ids;
	sqlite3 *db;

	batch_fill(&b, "B2");
	assert_int_equal(st->batches->ops->batch_add(st->batches, &b, subj, 2), CR_STORE_OK);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE batches SET status = "
	    "'loading' WHERE id = 'B2'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(st->batches->ops->batch_get(st->batches, "B2", &got),
	    CR_STORE_NOTFOUND);
	assert_int_equal(st->batches->ops->batch_unfinished(st->batches, &ids), CR_STORE_OK);
	assert_int_equal(json_array_size(ids), 0);
	json_decref(ids);
	/* The id is free again: the rows went with it. */
	assert_int_equal(st->batches->ops->batch_add(st->batches, &b, subj, 2), CR_STORE_OK);
	assert_int_equal(st->batches->ops->batch_unfinished(st->batches, &ids), CR_STORE_OK);
	assert_int_equal(json_array_size(ids), 1);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "B2");
	json_decref(ids);
}

/* More lines than one load transaction holds. */
static void
test_store_large(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = f->st;
	const size_t total = 45000;
	const char **subj;
	char (*buf)[16];
	struct cr_batch b, got;
	struct cr_batch_item *items;
	size_t i, n;

	assert_non_null(subj = calloc(total, sizeof(*subj)));
	assert_non_null(buf = calloc(total, sizeof(*buf)));
	assert_non_null(items = calloc(total, sizeof(*items)));
	for (i = 0; i < total; i++) {
		snprintf(buf[i], sizeof(buf[i]), "s%zu", i + 1);
		subj[i] = buf[i];
	}
	batch_fill(&b, "B3");
	assert_int_equal(st->batches->ops->batch_add(st->batches, &b, subj, total),
	    CR_STORE_OK);
	assert_int_equal(st->batches->ops->batch_get(st->batches, "B3", &got), CR_STORE_OK);
	assert_int_equal(got.total, total);
	n = total;
	assert_int_equal(st->batches->ops->batch_pending(st->batches, "B3", 0, items, &n),
	    CR_STORE_OK);
	assert_int_equal(n, total);
	assert_int_equal(items[total - 1].line, total);
	assert_string_equal(items[total - 1].subject, "s45000");
	free(items);
	free(buf);
	free(subj);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ndjson),
		cmocka_unit_test(test_parse_csv),
		cmocka_unit_test_setup_teardown(test_store_exactly_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_loading_removed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_large, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
