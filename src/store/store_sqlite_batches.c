/*
 * SQLite backend, bundles and batches of verifications.
 *
 * A bundle's definition is kept as the JSON text the API validated, so
 * that the rule language can grow without schema changes.
 *
 * Batches (docs/batches.md): a batch
 * row and one row per subject ("item"), which receives the result.
 *
 * Exactness rests on two things: the items are all written before the
 * batch leaves the 'loading' state (so a batch that exists has all its
 * lines), and a result is only ever written over a pending item (so a
 * line has one result however often it was processed); the counts move
 * in the same transaction as the results they count.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite_int.h"

/* Items written per transaction while loading: short turns for the
   other writers (the exchange log) between them. */
#define LOAD_CHUNK	20000

/* The integer key of batch id; NOTFOUND while it is loading. */
static int
batch_seq(struct sq_conn *c, const char *id, sqlite3_int64 *seq)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = cr_sqlite_stmt(c, SQ_BATCH_SEQ)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, id) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "batch_seq");
	}
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		*seq = sqlite3_column_int64(s, 0);
		rc = CR_STORE_OK;
		break;
	case SQLITE_DONE:
		rc = CR_STORE_NOTFOUND;
		break;
	default:
		rc = cr_sqlite_err(c, "batch_seq");
	}
	cr_sqlite_done(s);
	return rc;
}

/* Removes a batch and its items (a load that did not finish). */
static int
batch_delete(struct sq_conn *c, sqlite3_int64 seq)
{
	sqlite3_stmt *s;
	int rc;

	if (cr_sqlite_begin(c) == CR_STORE_ERR)
		return CR_STORE_ERR;
	if ((s = cr_sqlite_stmt(c, SQ_BATCH_DELETE_ITEMS)) == NULL ||
	    sqlite3_bind_int64(s, 1, seq) != SQLITE_OK ||
	    (rc = cr_sqlite_step_done(c, s, "batch_delete")) != CR_STORE_OK)
		goto fail;
	if ((s = cr_sqlite_stmt(c, SQ_BATCH_DELETE)) == NULL ||
	    sqlite3_bind_int64(s, 1, seq) != SQLITE_OK ||
	    (rc = cr_sqlite_step_done(c, s, "batch_delete")) != CR_STORE_OK)
		goto fail;
	return cr_sqlite_commit(c);
fail:
	if (s != NULL)
		cr_sqlite_done(s);
	cr_sqlite_rollback(c);
	return CR_STORE_ERR;
}

static int
items_add(struct sq_conn *c, sqlite3_int64 seq,
    const char *const *subjects, size_t from, size_t to)
{
	sqlite3_stmt *s;
	size_t i;
	int rc;

	if ((s = cr_sqlite_stmt(c, SQ_BATCH_ITEM_ADD)) == NULL)
		return CR_STORE_ERR;
	for (i = from; i < to; i++) {
		if (sqlite3_bind_int64(s, 1, seq) != SQLITE_OK ||
		    sqlite3_bind_int64(s, 2, (sqlite3_int64)i + 1) !=
		    SQLITE_OK || BIND_TEXT(s, 3, subjects[i]) != SQLITE_OK) {
			cr_sqlite_done(s);
			return cr_sqlite_err(c, "batch_add");
		}
		if ((rc = cr_sqlite_step_done(c, s, "batch_add")) !=
		    CR_STORE_OK)
			return rc == CR_STORE_EXISTS ? CR_STORE_ERR : rc;
	}
	return CR_STORE_OK;
}

static int
sq_batch_add(struct cr_batch_store *base, const struct cr_batch *b,
    const char *const *subjects, size_t n)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	sqlite3_int64 seq = 0;
	size_t i, end;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL)
		return CR_STORE_ERR;
	for (i = 0; i == 0 || i < n; i = end) {
		end = i + LOAD_CHUNK < n ? i + LOAD_CHUNK : n;
		if (cr_sqlite_begin(c) == CR_STORE_ERR)
			goto fail;
		if (i == 0) {
			if ((s = cr_sqlite_stmt(c, SQ_BATCH_ADD)) == NULL) {
				rc = CR_STORE_ERR;
				goto abort;
			}
			if (BIND_TEXT(s, 1, b->id) != SQLITE_OK ||
			    BIND_TEXT(s, 2, b->institution) != SQLITE_OK ||
			    BIND_TEXT(s, 3, b->client) != SQLITE_OK ||
			    BIND_TEXT(s, 4, b->end_user) != SQLITE_OK ||
			    BIND_TEXT(s, 5, b->bundle) != SQLITE_OK ||
			    BIND_TEXT(s, 6, b->purpose) != SQLITE_OK ||
			    BIND_TEXT(s, 7, b->reference_date) != SQLITE_OK ||
			    sqlite3_bind_int(s, 8, b->household != 0) !=
			    SQLITE_OK || sqlite3_bind_int64(s, 9,
			    (sqlite3_int64)n) != SQLITE_OK) {
				cr_sqlite_done(s);
				rc = cr_sqlite_err(c, "batch_add");
				goto abort;
			}
			if ((rc = cr_sqlite_step_done(c, s, "batch_add")) !=
			    CR_STORE_OK)
				goto abort;
			seq = sqlite3_last_insert_rowid(c->db);
		}
		if ((rc = items_add(c, seq, subjects, i, end)) != CR_STORE_OK)
			goto abort;
		if (end == n) {
			if ((s = cr_sqlite_stmt(c, SQ_BATCH_READY)) == NULL ||
			    sqlite3_bind_int64(s, 1, seq) != SQLITE_OK ||
			    cr_sqlite_step_done(c, s, "batch_add") !=
			    CR_STORE_OK) {
				rc = CR_STORE_ERR;
				goto abort;
			}
		}
		if (cr_sqlite_commit(c) == CR_STORE_ERR)
			goto fail;
		if (n == 0)
			break;
	}
	return CR_STORE_OK;
abort:
	cr_sqlite_rollback(c);
	if (i == 0)
		return rc;
fail:
	if (seq != 0)
		batch_delete(c, seq);
	return CR_STORE_ERR;
}

static int
batch_fill(sqlite3_stmt *s, void *arg)
{
	struct cr_batch *b = arg;

	cr_sqlite_col_str(s, 0, b->id, sizeof(b->id));
	cr_sqlite_col_str(s, 1, b->institution, sizeof(b->institution));
	cr_sqlite_col_str(s, 2, b->client, sizeof(b->client));
	cr_sqlite_col_str(s, 3, b->end_user, sizeof(b->end_user));
	cr_sqlite_col_str(s, 4, b->bundle, sizeof(b->bundle));
	cr_sqlite_col_str(s, 5, b->purpose, sizeof(b->purpose));
	cr_sqlite_col_str(s, 6, b->reference_date, sizeof(b->reference_date));
	b->household = sqlite3_column_int(s, 7);
	cr_sqlite_col_str(s, 8, b->status, sizeof(b->status));
	cr_sqlite_col_str(s, 9, b->error, sizeof(b->error));
	b->total = (uint64_t)sqlite3_column_int64(s, 10);
	b->done = (uint64_t)sqlite3_column_int64(s, 11);
	b->failed = (uint64_t)sqlite3_column_int64(s, 12);
	cr_sqlite_col_str(s, 13, b->created_at, sizeof(b->created_at));
	return CR_STORE_OK;
}

static int
sq_batch_get(struct cr_batch_store *base, const char *id,
    struct cr_batch *b)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	memset(b, 0, sizeof(*b));
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_BATCH_GET)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, BIND_TEXT(s, 1, id) == SQLITE_OK,
	    batch_fill, b, "batch_get");
}

static int
sq_batch_unfinished(struct cr_batch_store *base, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	sqlite3_int64 seq;
	json_t *list = NULL;
	int step, rc = CR_STORE_ERR;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL)
		return CR_STORE_ERR;
	/* Loads cut short by a crash: their client never got a 202. */
	for (;;) {
		if ((s = cr_sqlite_stmt(c, SQ_BATCH_LOADING)) == NULL)
			return CR_STORE_ERR;
		step = sqlite3_step(s);
		seq = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
		cr_sqlite_done(s);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW)
			return cr_sqlite_err(c, "batch_unfinished");
		log_info("store: removing batch %lld, whose load did not "
		    "finish", (long long)seq);
		if (batch_delete(c, seq) != CR_STORE_OK)
			return CR_STORE_ERR;
	}
	if ((s = cr_sqlite_stmt(c, SQ_BATCH_UNFINISHED)) == NULL ||
	    (list = json_array()) == NULL)
		goto out;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (json_array_append_new(list, json_string((const char *)
		    sqlite3_column_text(s, 0))) == -1)
			goto out;
	}
	if (step != SQLITE_DONE) {
		cr_sqlite_err(c, "batch_unfinished");
		goto out;
	}
	*out = list;
	list = NULL;
	rc = CR_STORE_OK;
out:
	if (s != NULL)
		cr_sqlite_done(s);
	json_decref(list);
	return rc;
}

static int
sq_batch_set_status(struct cr_batch_store *base, const char *id,
    const char *status, const char *error)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_BATCH_SET_STATUS)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, status) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 3, error) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "batch_set_status");
	}
	if ((rc = cr_sqlite_step_write(c, s, "batch_set_status")) ==
	    CR_STORE_OK && sqlite3_changes(c->db) == 0)
		rc = CR_STORE_NOTFOUND;
	return rc;
}

/* Reads items of batch id after line `after`; results when full. */
static int
items_read(struct cr_batch_store *base, const char *id, uint64_t after,
    struct cr_batch_item *out, size_t *n, int full)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	sqlite3_int64 seq;
	const char *v;
	size_t max = *n, k = 0;
	int step = SQLITE_DONE, rc;

	*n = 0;
	if ((c = cr_sqlite_conn(base)) == NULL)
		return CR_STORE_ERR;
	if ((rc = batch_seq(c, id, &seq)) != CR_STORE_OK)
		return rc;
	if ((s = cr_sqlite_stmt(c, full ? SQ_BATCH_RESULTS :
	    SQ_BATCH_PENDING)) == NULL)
		return CR_STORE_ERR;
	if (sqlite3_bind_int64(s, 1, seq) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)after) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, (sqlite3_int64)max) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "batch items");
	}
	rc = CR_STORE_OK;
	while (k < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct cr_batch_item *it = &out[k];

		memset(it, 0, sizeof(*it));
		it->line = (uint64_t)sqlite3_column_int64(s, 0);
		cr_sqlite_col_str(s, 1, it->subject, sizeof(it->subject));
		if (full) {
			it->state = sqlite3_column_int(s, 2);
			if ((v = (const char *)sqlite3_column_text(s, 3)) !=
			    NULL && (it->result = strdup(v)) == NULL) {
				log_warn("store: strdup");
				rc = CR_STORE_ERR;
				break;
			}
		}
		k++;
	}
	if (rc == CR_STORE_OK && k < max && step != SQLITE_DONE)
		rc = cr_sqlite_err(c, "batch items");
	cr_sqlite_done(s);
	if (rc != CR_STORE_OK)
		cr_batch_items_clear(out, k);
	else
		*n = k;
	return rc;
}

static int
sq_batch_pending(struct cr_batch_store *base, const char *id,
    uint64_t after, struct cr_batch_item *out, size_t *n)
{
	return items_read(base, id, after, out, n, 0);
}

static int
sq_batch_results(struct cr_batch_store *base, const char *id,
    uint64_t after, struct cr_batch_item *out, size_t *n)
{
	return items_read(base, id, after, out, n, 1);
}

static int
sq_batch_results_put(struct cr_batch_store *base, const char *id,
    const struct cr_batch_item *items, size_t n)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	sqlite3_int64 seq, done = 0, failed = 0;
	size_t i;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL)
		return CR_STORE_ERR;
	if ((rc = batch_seq(c, id, &seq)) != CR_STORE_OK)
		return rc;
	if (cr_sqlite_begin(c) == CR_STORE_ERR)
		return CR_STORE_ERR;
	if ((s = cr_sqlite_stmt(c, SQ_BATCH_RESULT_PUT)) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (sqlite3_bind_int64(s, 1, seq) != SQLITE_OK ||
		    sqlite3_bind_int64(s, 2, (sqlite3_int64)items[i].line) !=
		    SQLITE_OK || sqlite3_bind_int(s, 3, items[i].state) !=
		    SQLITE_OK || BIND_TEXT(s, 4, items[i].result != NULL ?
		    items[i].result : "null") != SQLITE_OK) {
			cr_sqlite_done(s);
			cr_sqlite_err(c, "batch_results_put");
			goto fail;
		}
		if (cr_sqlite_step_done(c, s, "batch_results_put") !=
		    CR_STORE_OK)
			goto fail;
		if (sqlite3_changes(c->db) == 1) {
			done++;
			if (items[i].state == CR_BATCH_ITEM_FAILED)
				failed++;
		}
	}
	if ((s = cr_sqlite_stmt(c, SQ_BATCH_COUNT)) == NULL)
		goto fail;
	if (sqlite3_bind_int64(s, 1, seq) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, done) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, failed) != SQLITE_OK) {
		cr_sqlite_done(s);
		cr_sqlite_err(c, "batch_results_put");
		goto fail;
	}
	if (cr_sqlite_step_done(c, s, "batch_results_put") != CR_STORE_OK)
		goto fail;
	return cr_sqlite_commit(c);
fail:
	cr_sqlite_rollback(c);
	return CR_STORE_ERR;
}

/*
 * Bundles.
 */

static json_t *
col_definition(sqlite3_stmt *s)
{
	const char *v = (const char *)sqlite3_column_text(s, 0);
	json_error_t jerr;
	json_t *j;

	if (v == NULL || (j = json_loads(v, 0, &jerr)) == NULL) {
		log_warnx("store: bad JSON in bundles.definition: %s",
		    v == NULL ? "NULL" : jerr.text);
		return NULL;
	}
	return j;
}

static int
sq_bundle_add(struct cr_batch_store *base, const char *id,
    const json_t *def)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	char *txt;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_BUNDLE_ADD)) == NULL)
		return CR_STORE_ERR;
	if ((txt = json_dumps(def, JSON_COMPACT)) == NULL) {
		log_warnx("store: cannot encode bundle %s", id);
		return CR_STORE_ERR;
	}
	if (BIND_TEXT(s, 1, id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, txt) != SQLITE_OK) {
		cr_sqlite_done(s);
		rc = cr_sqlite_err(c, "bundle_add");
	} else
		rc = cr_sqlite_step_write(c, s, "bundle_add");
	free(txt);
	return rc;
}

static int
sq_bundle_get(struct cr_batch_store *base, const char *id, json_t **def)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	*def = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_BUNDLE_GET)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, id) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "bundle_get");
	}
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		rc = (*def = col_definition(s)) != NULL ? CR_STORE_OK :
		    CR_STORE_ERR;
		break;
	case SQLITE_DONE:
		rc = CR_STORE_NOTFOUND;
		break;
	default:
		rc = cr_sqlite_err(c, "bundle_get");
	}
	cr_sqlite_done(s);
	return rc;
}

static int
sq_bundle_list(struct cr_batch_store *base, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	json_t *list, *d;
	int rc = CR_STORE_ERR, step;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_BUNDLE_LIST)) == NULL)
		return CR_STORE_ERR;
	if ((list = json_array()) == NULL)
		goto out;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((d = col_definition(s)) == NULL ||
		    json_array_append_new(list, d) == -1)
			goto out;
	}
	if (step != SQLITE_DONE) {
		cr_sqlite_err(c, "bundle_list");
		goto out;
	}
	*out = list;
	list = NULL;
	rc = CR_STORE_OK;
out:
	cr_sqlite_done(s);
	json_decref(list);
	return rc;
}

const struct cr_batch_ops cr_sqlite_batch_ops = {
	.bundle_add = sq_bundle_add,
	.bundle_get = sq_bundle_get,
	.bundle_list = sq_bundle_list,
	.batch_add = sq_batch_add,
	.batch_get = sq_batch_get,
	.batch_unfinished = sq_batch_unfinished,
	.batch_set_status = sq_batch_set_status,
	.batch_pending = sq_batch_pending,
	.batch_results_put = sq_batch_results_put,
	.batch_results = sq_batch_results,
};
