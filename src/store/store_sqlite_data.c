/*
 * SQLite backend, high-volume tables: the reference directory and the
 * exchange log. Connections and statements come from store_sqlite.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite_int.h"

/* Entries read per query while scanning the log; bounds memory. */
#define SCAN_PAGE	256

/*
 * Reference directory.
 */

static int
bind_dir_key(sqlite3_stmt *s, const struct cr_dir_entry *e)
{
	if (BIND_TEXT(s, 1, e->subject) != SQLITE_OK ||
	    BIND_TEXT(s, 2, e->institution) != SQLITE_OK ||
	    BIND_TEXT(s, 3, e->capacity) != SQLITE_OK ||
	    BIND_TEXT(s, 4, e->from) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 5, e->to) != SQLITE_OK)
		return -1;
	return 0;
}

/* One record, inside the caller's transaction. */
static int
dir_put_one(struct sq_conn *c, const struct cr_dir_entry *e, int *created)
{
	sqlite3_stmt *ins, *upd;
	int rc;

	if ((ins = cr_sqlite_stmt(c, SQ_DIR_INSERT)) == NULL ||
	    (upd = cr_sqlite_stmt(c, SQ_DIR_SET_TO)) == NULL)
		return CR_STORE_ERR;
	if (bind_dir_key(ins, e) == -1) {
		cr_sqlite_done(ins);
		return cr_sqlite_err(c, "dir_put");
	}
	/* The insert does nothing when the key exists. */
	if ((rc = cr_sqlite_step_done(c, ins, "dir_put")) != CR_STORE_OK)
		return rc;
	if (sqlite3_changes(c->db) == 1) {
		*created = 1;
		return CR_STORE_OK;
	}
	*created = 0;
	if (bind_dir_key(upd, e) == -1) {
		cr_sqlite_done(upd);
		return cr_sqlite_err(c, "dir_put");
	}
	return cr_sqlite_step_done(c, upd, "dir_put");
}

static int
sq_dir_put_many(struct cr_directory_store *base, const struct cr_dir_entry *e,
    size_t n, int *created)
{
	struct sq_conn *c;
	size_t i;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL)
		return CR_STORE_ERR;
	if (n == 0)
		return CR_STORE_OK;
	if (cr_sqlite_begin(c) == -1)
		return CR_STORE_ERR;
	for (i = 0; i < n; i++) {
		if ((rc = dir_put_one(c, &e[i], &created[i])) != CR_STORE_OK) {
			cr_sqlite_rollback(c);
			return rc;
		}
	}
	return cr_sqlite_commit(c) == -1 ? CR_STORE_ERR : CR_STORE_OK;
}

static int
sq_dir_put(struct cr_directory_store *base, const struct cr_dir_entry *e,
    int *created)
{
	/* A transaction too: the insert and the update go together. */
	return sq_dir_put_many(base, e, 1, created);
}

/* Runs a dir_end statement; *changed gets the rows it touched. */
static int
dir_end_step(struct sq_conn *c, enum sq_stmt id, const char *institution,
    const char *subject, const char *capacity, const char *to, int *changed)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = cr_sqlite_stmt(c, id)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, subject) != SQLITE_OK ||
	    BIND_TEXT(s, 2, institution) != SQLITE_OK ||
	    BIND_TEXT(s, 3, capacity) != SQLITE_OK ||
	    BIND_TEXT(s, 4, to) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "dir_end");
	}
	if ((rc = cr_sqlite_step_done(c, s, "dir_end")) == CR_STORE_OK)
		*changed = sqlite3_changes(c->db);
	return rc == CR_STORE_OK ? CR_STORE_OK : CR_STORE_ERR;
}

static int
sq_dir_end(struct cr_directory_store *base, const char *institution,
    const char *subject, const char *capacity, const char *to)
{
	struct sq_conn *c;
	int deleted = 0, ended = 0;

	if ((c = cr_sqlite_conn(base)) == NULL)
		return CR_STORE_ERR;
	if (cr_sqlite_begin(c) == -1)
		return CR_STORE_ERR;
	if (dir_end_step(c, SQ_DIR_END_DELETE, institution, subject, capacity,
	    to, &deleted) != CR_STORE_OK ||
	    dir_end_step(c, SQ_DIR_END_UPDATE, institution, subject, capacity,
	    to, &ended) != CR_STORE_OK) {
		cr_sqlite_rollback(c);
		return CR_STORE_ERR;
	}
	if (cr_sqlite_commit(c) == -1)
		return CR_STORE_ERR;
	return deleted + ended > 0 ? CR_STORE_OK : CR_STORE_NOTFOUND;
}

static int
sq_dir_list(struct cr_directory_store *base, const char *subject,
    const char *institution, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	json_t *arr, *o;
	int rc;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_DIR_LIST)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, subject) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 2, institution) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "dir_list");
	}
	if ((arr = json_array()) == NULL) {
		cr_sqlite_done(s);
		log_warnx("store: dir_list: out of memory");
		return CR_STORE_ERR;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		o = json_pack("{s:s, s:s?, s:s, s:s, s:s?}",
		    "institution", (const char *)sqlite3_column_text(s, 0),
		    "sector", (const char *)sqlite3_column_text(s, 1),
		    "capacity", (const char *)sqlite3_column_text(s, 2),
		    "from", (const char *)sqlite3_column_text(s, 3),
		    "to", (const char *)sqlite3_column_text(s, 4));
		if (o == NULL || json_array_append_new(arr, o) != 0)
			break;
	}
	if (rc == SQLITE_ROW)
		log_warnx("store: dir_list: cannot build JSON");
	else if (rc != SQLITE_DONE)
		cr_sqlite_err(c, "dir_list");
	cr_sqlite_done(s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return CR_STORE_ERR;
	}
	*out = arr;
	return CR_STORE_OK;
}

static int
sq_dir_active(struct cr_directory_store *base, const char *institution,
    const char *subject, const json_t *capacities, const char *date)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	char *caps;
	int rc;

	if (!json_is_array(capacities)) {
		log_warnx("store: dir_active: capacities is not an array");
		return CR_STORE_ERR;
	}
	if (json_array_size(capacities) == 0)
		return 0;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_DIR_ACTIVE)) == NULL)
		return CR_STORE_ERR;
	if ((caps = json_dumps(capacities, JSON_COMPACT)) == NULL) {
		log_warnx("store: dir_active: cannot encode capacities");
		return CR_STORE_ERR;
	}
	if (BIND_TEXT(s, 1, subject) != SQLITE_OK ||
	    BIND_TEXT(s, 2, institution) != SQLITE_OK ||
	    BIND_TEXT(s, 3, caps) != SQLITE_OK ||
	    BIND_TEXT(s, 4, date) != SQLITE_OK)
		rc = cr_sqlite_err(c, "dir_active");
	else if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		rc = 1;
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = cr_sqlite_err(c, "dir_active");
	cr_sqlite_done(s);
	free(caps);
	return rc;
}

/*
 * Exchange log.
 */

static int
bind_xlog(sqlite3_stmt *s, const struct cr_xlog_entry *e)
{
	if (e->seq > INT64_MAX)
		return -1;
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)e->seq) != SQLITE_OK ||
	    BIND_TEXT(s, 2, e->ts) != SQLITE_OK ||
	    BIND_TEXT(s, 3, e->request_id) != SQLITE_OK ||
	    BIND_TEXT(s, 4, e->consumer) != SQLITE_OK ||
	    BIND_TEXT(s, 5, e->client) != SQLITE_OK ||
	    BIND_TEXT(s, 6, e->end_user) != SQLITE_OK ||
	    BIND_TEXT(s, 7, e->service) != SQLITE_OK ||
	    BIND_TEXT(s, 8, e->provider) != SQLITE_OK ||
	    BIND_TEXT(s, 9, e->subject) != SQLITE_OK ||
	    BIND_TEXT(s, 10, e->purpose) != SQLITE_OK ||
	    BIND_TEXT(s, 11, e->legal_basis) != SQLITE_OK ||
	    BIND_TEXT(s, 12, e->outcome) != SQLITE_OK ||
	    sqlite3_bind_int(s, 13, e->status) != SQLITE_OK ||
	    BIND_TEXT(s, 14, e->error_code) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 15, e->prev_hash, CR_HASH_LEN,
	    SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 16, e->hash, CR_HASH_LEN, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    BIND_TEXT(s, 17, e->params) != SQLITE_OK)
		return -1;
	return 0;
}

static void
col_hash(sqlite3_stmt *s, int i, uint8_t out[CR_HASH_LEN])
{
	const void *b = sqlite3_column_blob(s, i);

	/* A hash of the wrong length reads as zeros: verify will say so. */
	if (b != NULL && sqlite3_column_bytes(s, i) == CR_HASH_LEN)
		memcpy(out, b, CR_HASH_LEN);
	else
		memset(out, 0, CR_HASH_LEN);
}

/* Fills e from a row of XLOG_COLS. */
static void
xlog_row(sqlite3_stmt *s, struct cr_xlog_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = (uint64_t)sqlite3_column_int64(s, 0);
	cr_sqlite_col_str(s, 1, e->ts, sizeof(e->ts));
	cr_sqlite_col_str(s, 2, e->request_id, sizeof(e->request_id));
	cr_sqlite_col_str(s, 3, e->consumer, sizeof(e->consumer));
	cr_sqlite_col_str(s, 4, e->client, sizeof(e->client));
	cr_sqlite_col_str(s, 5, e->end_user, sizeof(e->end_user));
	cr_sqlite_col_str(s, 6, e->service, sizeof(e->service));
	cr_sqlite_col_str(s, 7, e->provider, sizeof(e->provider));
	cr_sqlite_col_str(s, 8, e->subject, sizeof(e->subject));
	cr_sqlite_col_str(s, 9, e->purpose, sizeof(e->purpose));
	cr_sqlite_col_str(s, 10, e->legal_basis, sizeof(e->legal_basis));
	cr_sqlite_col_str(s, 11, e->outcome, sizeof(e->outcome));
	e->status = sqlite3_column_int(s, 12);
	cr_sqlite_col_str(s, 13, e->error_code, sizeof(e->error_code));
	col_hash(s, 14, e->prev_hash);
	col_hash(s, 15, e->hash);
	cr_sqlite_col_str(s, 16, e->params, sizeof(e->params));
}

/* One tree node, inside the caller's transaction. */
static int
tree_put_one(struct sq_conn *c, sqlite3_stmt *s, const struct cr_xlog_node *nd)
{
	if (nd->index > INT64_MAX || sqlite3_bind_int(s, 1, (int)nd->level) !=
	    SQLITE_OK || sqlite3_bind_int64(s, 2, (sqlite3_int64)nd->index) !=
	    SQLITE_OK || sqlite3_bind_blob(s, 3, nd->hash, CR_HASH_LEN,
	    SQLITE_STATIC) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "tree_put");
	}
	return cr_sqlite_step_done(c, s, "tree_put");
}

static int
sq_xlog_append(struct cr_xlog_store *base, const struct cr_xlog_entry *e,
    size_t n, const struct cr_xlog_node *nodes, size_t nnodes)
{
	struct sq_conn *c;
	sqlite3_stmt *s, *t;
	size_t i;
	int rc;

	if (n == 0 && nnodes == 0)
		return CR_STORE_OK;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_XLOG_INSERT)) == NULL ||
	    (t = cr_sqlite_stmt(c, SQ_TREE_PUT)) == NULL)
		return CR_STORE_ERR;
	if (cr_sqlite_begin(c) == -1)
		return CR_STORE_ERR;
	for (i = 0; i < n; i++) {
		if (bind_xlog(s, &e[i]) == -1) {
			cr_sqlite_done(s);
			log_warnx("store: xlog_append: cannot bind entry %llu",
			    (unsigned long long)e[i].seq);
			goto fail;
		}
		/* A taken seq is a broken chain, not a benign duplicate. */
		if ((rc = cr_sqlite_step_done(c, s, "xlog_append")) !=
		    CR_STORE_OK) {
			log_warnx("store: xlog_append: entry %llu refused%s",
			    (unsigned long long)e[i].seq,
			    rc == CR_STORE_EXISTS ? ": seq taken" : "");
			goto fail;
		}
	}
	for (i = 0; i < nnodes; i++)
		if (tree_put_one(c, t, &nodes[i]) != CR_STORE_OK)
			goto fail;
	return cr_sqlite_commit(c) == -1 ? CR_STORE_ERR : CR_STORE_OK;
 fail:
	cr_sqlite_rollback(c);
	return CR_STORE_ERR;
}

static int
sq_xlog_tail(struct cr_xlog_store *base, uint64_t *seq,
    uint8_t hash[CR_HASH_LEN])
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	*seq = 0;
	memset(hash, 0, CR_HASH_LEN);
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_XLOG_TAIL)) == NULL)
		return CR_STORE_ERR;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*seq = (uint64_t)sqlite3_column_int64(s, 0);
		col_hash(s, 1, hash);
		rc = CR_STORE_OK;
	} else if (rc == SQLITE_DONE)
		rc = CR_STORE_OK;
	else
		rc = cr_sqlite_err(c, "xlog_tail");
	cr_sqlite_done(s);
	return rc;
}

static int
sq_xlog_query(struct cr_xlog_store *base, const struct cr_xlog_filter *f,
    struct cr_xlog_entry *out, size_t *n)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	sqlite3_int64 before;
	size_t k = 0;
	int rc = SQLITE_DONE;

	*n = 0;
	if (f->subject == NULL || f->limit < 1 || f->limit > 1000) {
		log_warnx("store: xlog_query: bad filter");
		return CR_STORE_ERR;
	}
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_XLOG_QUERY)) == NULL)
		return CR_STORE_ERR;
	before = f->before_seq == 0 || f->before_seq > INT64_MAX ?
	    INT64_MAX : (sqlite3_int64)f->before_seq;
	if (BIND_TEXT(s, 1, f->subject) != SQLITE_OK ||
	    (f->consumer != NULL && BIND_TEXT(s, 2, f->consumer) !=
	    SQLITE_OK) ||
	    sqlite3_bind_int64(s, 3, before) != SQLITE_OK ||
	    sqlite3_bind_int(s, 4, f->limit) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "xlog_query");
	}
	while (k < (size_t)f->limit && (rc = sqlite3_step(s)) == SQLITE_ROW)
		xlog_row(s, &out[k++]);
	if (k < (size_t)f->limit && rc != SQLITE_DONE)
		rc = cr_sqlite_err(c, "xlog_query");
	else
		rc = CR_STORE_OK;
	cr_sqlite_done(s);
	if (rc == CR_STORE_OK)
		*n = k;
	return rc;
}

static int
sq_xlog_scan(struct cr_xlog_store *base, uint64_t from_seq,
    int (*cb)(const struct cr_xlog_entry *, void *), void *arg)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	struct cr_xlog_entry *page;
	size_t k, i;
	int rc = CR_STORE_OK, step = SQLITE_DONE;

	if (from_seq > INT64_MAX)
		return CR_STORE_OK;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_XLOG_SCAN)) == NULL)
		return CR_STORE_ERR;
	if ((page = calloc(SCAN_PAGE, sizeof(*page))) == NULL) {
		log_warn("store: xlog_scan: calloc");
		return CR_STORE_ERR;
	}
	/*
	 * A page at a time, with the statement reset before the callbacks
	 * run: no read transaction stays open while cb works, and cb may
	 * use the store itself.
	 */
	for (;;) {
		if (sqlite3_bind_int64(s, 1, (sqlite3_int64)from_seq) !=
		    SQLITE_OK || sqlite3_bind_int(s, 2, SCAN_PAGE) !=
		    SQLITE_OK) {
			cr_sqlite_done(s);
			rc = cr_sqlite_err(c, "xlog_scan");
			goto out;
		}
		k = 0;
		while (k < SCAN_PAGE && (step = sqlite3_step(s)) == SQLITE_ROW)
			xlog_row(s, &page[k++]);
		if (k < SCAN_PAGE && step != SQLITE_DONE) {
			rc = cr_sqlite_err(c, "xlog_scan");
			cr_sqlite_done(s);
			goto out;
		}
		cr_sqlite_done(s);
		for (i = 0; i < k; i++) {
			if ((rc = cb(&page[i], arg)) != 0)
				goto out;
		}
		if (k < SCAN_PAGE || page[k - 1].seq >= INT64_MAX)
			break;
		from_seq = page[k - 1].seq + 1;
	}
 out:
	free(page);
	return rc;
}

static int
sq_xlog_count(struct cr_xlog_store *base, uint64_t *count)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	*count = 0;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_XLOG_COUNT)) == NULL)
		return CR_STORE_ERR;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*count = (uint64_t)sqlite3_column_int64(s, 0);
		rc = CR_STORE_OK;
	} else
		rc = cr_sqlite_err(c, "xlog_count");
	cr_sqlite_done(s);
	return rc;
}

static int
sq_tree_put(struct cr_xlog_store *base, const struct cr_xlog_node *nodes,
    size_t n)
{
	return sq_xlog_append(base, NULL, 0, nodes, n);
}

static int
sq_tree_get(struct cr_xlog_store *base, unsigned level, uint64_t index,
    uint8_t hash[CR_HASH_LEN])
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if (index > INT64_MAX)
		return CR_STORE_NOTFOUND;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_TREE_GET)) == NULL)
		return CR_STORE_ERR;
	if (sqlite3_bind_int(s, 1, (int)level) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)index) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "tree_get");
	}
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		col_hash(s, 0, hash);
		rc = CR_STORE_OK;
	} else if (rc == SQLITE_DONE)
		rc = CR_STORE_NOTFOUND;
	else
		rc = cr_sqlite_err(c, "tree_get");
	cr_sqlite_done(s);
	return rc;
}

static int
sq_tree_count(struct cr_xlog_store *base, unsigned level, uint64_t *count)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	*count = 0;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_TREE_COUNT)) == NULL)
		return CR_STORE_ERR;
	if (sqlite3_bind_int(s, 1, (int)level) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "tree_count");
	}
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_type(s, 0) != SQLITE_NULL)
			*count = (uint64_t)sqlite3_column_int64(s, 0) + 1;
		rc = CR_STORE_OK;
	} else
		rc = cr_sqlite_err(c, "tree_count");
	cr_sqlite_done(s);
	return rc;
}

static int
sq_xlog_hashes(struct cr_xlog_store *base, uint64_t from_seq, size_t n,
    uint8_t (*out)[CR_HASH_LEN])
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	size_t k = 0;
	int rc;

	if (from_seq > INT64_MAX || n > INT32_MAX)
		return CR_STORE_NOTFOUND;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_XLOG_HASHES)) == NULL)
		return CR_STORE_ERR;
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)from_seq) != SQLITE_OK ||
	    sqlite3_bind_int(s, 2, (int)n) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "xlog_hashes");
	}
	while (k < n && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		/* A gap is a missing entry, not the next one. */
		if ((uint64_t)sqlite3_column_int64(s, 0) != from_seq + k)
			break;
		col_hash(s, 1, out[k]);
		k++;
	}
	if (k < n && rc != SQLITE_ROW && rc != SQLITE_DONE)
		rc = cr_sqlite_err(c, "xlog_hashes");
	else
		rc = k == n ? CR_STORE_OK : CR_STORE_NOTFOUND;
	cr_sqlite_done(s);
	return rc;
}

static int
sq_tree_reset(struct cr_xlog_store *base)
{
	struct sq_conn *c;
	sqlite3_stmt *t, *h;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (t = cr_sqlite_stmt(c, SQ_TREE_RESET)) == NULL ||
	    (h = cr_sqlite_stmt(c, SQ_HEADS_RESET)) == NULL)
		return CR_STORE_ERR;
	if (cr_sqlite_begin(c) == -1)
		return CR_STORE_ERR;
	if (cr_sqlite_step_done(c, t, "tree_reset") != CR_STORE_OK ||
	    cr_sqlite_step_done(c, h, "tree_reset") != CR_STORE_OK) {
		cr_sqlite_rollback(c);
		return CR_STORE_ERR;
	}
	return cr_sqlite_commit(c) == -1 ? CR_STORE_ERR : CR_STORE_OK;
}

static int
sq_head_put(struct cr_xlog_store *base, const struct cr_tree_head *h)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if (h->tree_size > INT64_MAX)
		return CR_STORE_ERR;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_HEAD_PUT)) == NULL)
		return CR_STORE_ERR;
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)h->tree_size) !=
	    SQLITE_OK || sqlite3_bind_int64(s, 2, h->timestamp_ms) !=
	    SQLITE_OK || sqlite3_bind_blob(s, 3, h->root, CR_HASH_LEN,
	    SQLITE_STATIC) != SQLITE_OK || BIND_TEXT(s, 4, h->key_id) !=
	    SQLITE_OK || sqlite3_bind_blob(s, 5, h->signature, CR_SIG_LEN,
	    SQLITE_STATIC) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "head_put");
	}
	return cr_sqlite_step_write(c, s, "head_put");
}

static int
head_row(sqlite3_stmt *s, void *arg)
{
	struct cr_tree_head *h = arg;
	const void *b;

	memset(h, 0, sizeof(*h));
	h->tree_size = (uint64_t)sqlite3_column_int64(s, 0);
	h->timestamp_ms = sqlite3_column_int64(s, 1);
	col_hash(s, 2, h->root);
	cr_sqlite_col_str(s, 3, h->key_id, sizeof(h->key_id));
	b = sqlite3_column_blob(s, 4);
	if (b != NULL && sqlite3_column_bytes(s, 4) == CR_SIG_LEN)
		memcpy(h->signature, b, CR_SIG_LEN);
	return CR_STORE_OK;
}

static int
sq_head_get(struct cr_xlog_store *base, uint64_t tree_size,
    struct cr_tree_head *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int bound = 1;

	if (tree_size > INT64_MAX)
		return CR_STORE_NOTFOUND;
	if ((c = cr_sqlite_conn(base)) == NULL || (s = cr_sqlite_stmt(c,
	    tree_size == 0 ? SQ_HEAD_LATEST : SQ_HEAD_GET)) == NULL)
		return CR_STORE_ERR;
	if (tree_size != 0)
		bound = sqlite3_bind_int64(s, 1, (sqlite3_int64)tree_size) ==
		    SQLITE_OK;
	return cr_sqlite_one_row(c, s, bound, head_row, out, "head_get");
}

const struct cr_directory_ops cr_sqlite_directory_ops = {
	.dir_put = sq_dir_put,
	.dir_put_many = sq_dir_put_many,
	.dir_end = sq_dir_end,
	.dir_list = sq_dir_list,
	.dir_active = sq_dir_active,
};

const struct cr_xlog_ops cr_sqlite_xlog_ops = {
	.xlog_append = sq_xlog_append,
	.xlog_tail = sq_xlog_tail,
	.xlog_query = sq_xlog_query,
	.xlog_scan = sq_xlog_scan,
	.xlog_count = sq_xlog_count,
	.tree_put = sq_tree_put,
	.tree_get = sq_tree_get,
	.tree_count = sq_tree_count,
	.xlog_hashes = sq_xlog_hashes,
	.tree_reset = sq_tree_reset,
	.head_put = sq_head_put,
	.head_get = sq_head_get,
};
