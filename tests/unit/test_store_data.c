/*
 * Storage interface against the SQLite backend: the reference directory
 * (periods, idempotent puts, ending integrations, listings) and the
 * exchange log (append, tail, query, scan, count).
 */
#include "store_fixture.h"

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
	assert_int_equal(st->directory->ops->dir_active(st->directory, "ONEM", "85073003328", empty,
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
	assert_int_equal(st->directory->ops->dir_list(st->directory, "S1", NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(JSTR_AT(list, 0, "to"), "2024-05-31");
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
	assert_int_equal(st->directory->ops->dir_put_many(st->directory, batch, 3, cr), CR_STORE_OK);
	assert_int_equal(cr[0], 0);
	assert_int_equal(cr[1], 1);
	assert_int_equal(cr[2], 1);
	assert_int_equal(st->directory->ops->dir_list(st->directory, "S1", NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);

	/* One bad record: the whole batch is rolled back. */
	batch[0] = dent("S3", "ONEM", "jobseeker", "2024-01-01", "");
	batch[1] = dent("S3", "NOPE", "jobseeker", "2024-01-01", "");
	assert_int_equal(st->directory->ops->dir_put_many(st->directory, batch, 2, cr),
	    CR_STORE_NOTFOUND);
	assert_int_equal(st->directory->ops->dir_list(st->directory, "S3", NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(st->directory->ops->dir_put_many(st->directory, batch, 0, cr), CR_STORE_OK);
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

	assert_int_equal(st->directory->ops->dir_end(st->directory, "ONEM", "S", "jobseeker",
	    "2024-06-30"), CR_STORE_OK);
	assert_int_equal(st->directory->ops->dir_list(st->directory, "S", "ONEM", &list),
	    CR_STORE_OK);
	/* Ordered by institution, capacity, from. */
	assert_int_equal(json_array_size(list), 4);
#define ROW(i, k) JSTR_AT(list, (i), (k))
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
	assert_int_equal(st->directory->ops->dir_end(st->directory, "ONEM", "S", "jobseeker",
	    "2024-06-30"), CR_STORE_NOTFOUND);
	assert_int_equal(st->directory->ops->dir_end(st->directory, "ONEM", "S", "jobseeker",
	    "2024-12-31"), CR_STORE_NOTFOUND);
	assert_int_equal(st->directory->ops->dir_end(st->directory, "ONEM", "T", "jobseeker",
	    "2024-06-30"), CR_STORE_NOTFOUND);
	/* An earlier end still shortens. */
	assert_int_equal(st->directory->ops->dir_end(st->directory, "ONEM", "S", "jobseeker",
	    "2023-06-30"), CR_STORE_OK);
	assert_int_equal(active(st, "ONEM", "S", "[\"jobseeker\"]",
	    "2023-07-01"), 0);
	/* A record starting after `to` alone is deleted: that counts. */
	assert_int_equal(put(st, "U", "ONEM", "jobseeker", "2030-01-01", "",
	    &created), 0);
	assert_int_equal(st->directory->ops->dir_end(st->directory, "ONEM", "U", "jobseeker",
	    "2025-01-01"), CR_STORE_OK);
	assert_int_equal(st->directory->ops->dir_list(st->directory, "U", NULL, &list), CR_STORE_OK);
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

	assert_int_equal(st->directory->ops->dir_list(st->directory, "S", NULL, &list), CR_STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	o = json_array_get(list, 0);
	assert_string_equal(JSTR(o, "institution"), "CPAS");
	assert_string_equal(JSTR(o, "sector"), "assistance");
	assert_string_equal(JSTR(o, "capacity"), "client");
	assert_string_equal(JSTR(o, "from"), "2023-01-01");
	assert_true(json_is_null(json_object_get(o, "to")));
	assert_null(json_object_get(o, "subject"));
	json_decref(list);

	assert_int_equal(st->directory->ops->dir_list(st->directory, "S", "ONEM", &list),
	    CR_STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	o = json_array_get(list, 0);
	assert_string_equal(JSTR(o, "sector"), "unemployment");
	assert_string_equal(JSTR(o, "to"), "2024-12-31");
	json_decref(list);

	assert_int_equal(st->directory->ops->dir_list(st->directory, "NOBODY", NULL, &list),
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
	assert_int_equal(st->xlog->ops->xlog_tail(st->xlog, &seq, hash), CR_STORE_OK);
	assert_int_equal(seq, 0);
	assert_memory_equal(hash, zero, CR_HASH_LEN);
	assert_int_equal(st->xlog->ops->xlog_count(st->xlog, &count), CR_STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(st->xlog->ops->xlog_append(st->xlog, batch, 0, NULL, 0), CR_STORE_OK);

	for (i = 0; i < 6; i++)
		batch[i] = xent(i + 1, i % 3 == 2 ? "B" : "A",
		    i < 3 ? "ONEM" : "CPAS");
	assert_int_equal(st->xlog->ops->xlog_append(st->xlog, batch, 4, NULL, 0), CR_STORE_OK);
	assert_int_equal(st->xlog->ops->xlog_append(st->xlog, batch + 4, 2, NULL, 0), CR_STORE_OK);
	assert_int_equal(st->xlog->ops->xlog_tail(st->xlog, &seq, hash), CR_STORE_OK);
	assert_int_equal(seq, 6);
	assert_memory_equal(hash, batch[5].hash, CR_HASH_LEN);
	assert_int_equal(st->xlog->ops->xlog_count(st->xlog, &count), CR_STORE_OK);
	assert_int_equal(count, 6);

	/* A taken seq fails and rolls back the whole batch. */
	tmp = xent(7, "A", "ONEM");
	batch[0] = tmp;
	batch[1] = xent(3, "A", "ONEM");
	assert_int_equal(st->xlog->ops->xlog_append(st->xlog, batch, 2, NULL, 0), CR_STORE_ERR);
	assert_int_equal(st->xlog->ops->xlog_count(st->xlog, &count), CR_STORE_OK);
	assert_int_equal(count, 6);

	/* Subject A holds seq 1, 2, 4, 5; 1 and 2 by ONEM. */
	memset(&flt, 0, sizeof(flt));
	flt.subject = "A";
	flt.limit = 10;
	assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &flt, out, &n), CR_STORE_OK);
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
	assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].seq, 2);
	assert_int_equal(out[1].seq, 1);
	flt.consumer = NULL;
	flt.limit = 2;
	assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].seq, 5);
	assert_int_equal(out[1].seq, 4);
	flt.before_seq = 4;
	assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].seq, 2);
	assert_int_equal(out[1].seq, 1);
	flt.before_seq = 1;
	assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 0);
	flt.subject = "NOBODY";
	flt.before_seq = 0;
	assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &flt, out, &n), CR_STORE_OK);
	assert_int_equal(n, 0);
	flt.limit = 0;
	assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &flt, out, &n), CR_STORE_ERR);
	flt.limit = 1;
	flt.subject = NULL;
	assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &flt, out, &n), CR_STORE_ERR);
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
	assert_int_equal(st->xlog->ops->xlog_scan(st->xlog, 0, scan_cb, &x), 0);
	assert_int_equal(x.seen, 0);

	for (i = 0; i < n; i++)
		batch[i] = xent(i + 1, "A", "ONEM");
	assert_int_equal(st->xlog->ops->xlog_append(st->xlog, batch, n, NULL, 0), CR_STORE_OK);
	assert_int_equal(st->xlog->ops->xlog_count(st->xlog, &count), CR_STORE_OK);
	assert_int_equal(count, n);

	memset(&x, 0, sizeof(x));
	x.next = 1;
	assert_int_equal(st->xlog->ops->xlog_scan(st->xlog, 0, scan_cb, &x), 0);
	assert_int_equal(x.seen, n);
	assert_int_equal(x.bad, 0);

	memset(&x, 0, sizeof(x));
	x.next = 250;
	assert_int_equal(st->xlog->ops->xlog_scan(st->xlog, 250, scan_cb, &x), 0);
	assert_int_equal(x.seen, n - 249);
	assert_int_equal(x.bad, 0);

	/* The callback's value stops the scan and is returned. */
	memset(&x, 0, sizeof(x));
	x.next = 1;
	x.stop_at = 300;
	assert_int_equal(st->xlog->ops->xlog_scan(st->xlog, 1, scan_cb, &x), 42);
	assert_int_equal(x.seen, 300);
	assert_int_equal(x.bad, 0);

	memset(&x, 0, sizeof(x));
	x.next = 601;
	assert_int_equal(st->xlog->ops->xlog_scan(st->xlog, 601, scan_cb, &x), 0);
	assert_int_equal(x.seen, 0);
	free(batch);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_dir_active),
		T(test_dir_put_idempotent),
		T(test_dir_end),
		T(test_dir_list),
		T(test_xlog),
		T(test_xlog_scan),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
