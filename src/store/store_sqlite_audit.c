/*
 * SQLite backend, the audit trail: entries appended inside the write
 * transaction that reads the chain's tail, so that processes sharing the
 * database chain one after another (BEGIN IMMEDIATE serializes them), and
 * entries staged for the thread's next write transaction, so that a
 * change and its entry commit together (store_sqlite_conn.c calls
 * staged_write before COMMIT).
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite_int.h"
#include "util.h"

/* Scans read so many rows a statement, so that no read holds the
   database for long. */
#define SCAN_CHUNK	512

struct staged {
	struct cr_audit_entry	 e;
	cr_audit_hash_fn	 hash;
};

/* Chains e to the tail and inserts it; inside a write transaction. */
static int
audit_insert(struct sq_conn *c, struct cr_audit_entry *e,
    cr_audit_hash_fn hash)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = cr_sqlite_stmt(c, SQ_AUDIT_TAIL)) == NULL)
		return CR_STORE_ERR;
	memset(e->prev_hash, 0, CR_HASH_LEN);
	e->seq = 1;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		e->seq = (uint64_t)sqlite3_column_int64(s, 0) + 1;
		if (sqlite3_column_bytes(s, 1) == CR_HASH_LEN)
			memcpy(e->prev_hash, sqlite3_column_blob(s, 1),
			    CR_HASH_LEN);
	} else if (rc != SQLITE_DONE) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "audit tail");
	}
	cr_sqlite_done(s);
	hash(e, e->hash);
	if ((s = cr_sqlite_stmt(c, SQ_AUDIT_INSERT)) == NULL)
		return CR_STORE_ERR;
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)e->seq) != SQLITE_OK ||
	    BIND_TEXT(s, 2, e->ts) != SQLITE_OK ||
	    BIND_TEXT(s, 3, e->actor) != SQLITE_OK ||
	    BIND_TEXT(s, 4, e->action) != SQLITE_OK ||
	    BIND_TEXT(s, 5, e->object) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 6, e->before) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 7, e->after) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 8, e->prev_hash, CR_HASH_LEN, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_blob(s, 9, e->hash, CR_HASH_LEN, SQLITE_STATIC) !=
	    SQLITE_OK) {
		rc = cr_sqlite_err(c, "audit insert");
		cr_sqlite_done(s);
		return rc;
	}
	return cr_sqlite_step_done(c, s, "audit insert");
}

static int
sq_audit_append(struct cr_audit_store *base, struct cr_audit_entry *e,
    cr_audit_hash_fn hash)
{
	struct sq_conn *c;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    cr_sqlite_begin(c) != CR_STORE_OK)
		return CR_STORE_ERR;
	if (audit_insert(c, e, hash) != CR_STORE_OK) {
		cr_sqlite_rollback(c);
		return CR_STORE_ERR;
	}
	return cr_sqlite_commit(c);
}

static void
staged_free(struct staged *sg)
{
	if (sg == NULL)
		return;
	free(sg->e.before);
	free(sg->e.after);
	free(sg);
}

/* The conn's hook: the staged entry, inside its write transaction. */
static int
staged_insert(struct sq_conn *c)
{
	struct staged *sg = c->staged;

	return sg != NULL ? audit_insert(c, &sg->e, sg->hash) : CR_STORE_OK;
}

static int
sq_audit_stage(struct cr_audit_store *base, const struct cr_audit_entry *e,
    cr_audit_hash_fn hash)
{
	struct sq_conn *c;
	struct staged *sg;

	if ((c = cr_sqlite_conn(base)) == NULL)
		return CR_STORE_ERR;
	if ((sg = calloc(1, sizeof(*sg))) == NULL)
		goto oom;
	sg->e = *e;
	sg->e.before = sg->e.after = NULL;
	sg->hash = hash;
	if ((e->before != NULL && (sg->e.before = strdup(e->before)) == NULL) ||
	    (e->after != NULL && (sg->e.after = strdup(e->after)) == NULL))
		goto oom;
	staged_free(c->staged);
	c->staged = sg;
	c->staged_write = staged_insert;
	c->staged_committed = 0;
	return CR_STORE_OK;
oom:
	staged_free(sg);
	log_warnx("store: audit stage: out of memory");
	return CR_STORE_ERR;
}

static int
sq_audit_unstage(struct cr_audit_store *base)
{
	struct sq_conn *c;
	int committed;

	if ((c = cr_sqlite_conn(base)) == NULL)
		return 0;
	committed = c->staged_committed;
	staged_free(c->staged);
	c->staged = NULL;
	c->staged_write = NULL;
	c->staged_committed = 0;
	return committed;
}

static void
entry_fill(sqlite3_stmt *s, struct cr_audit_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = (uint64_t)sqlite3_column_int64(s, 0);
	cr_sqlite_col_str(s, 1, e->ts, sizeof(e->ts));
	cr_sqlite_col_str(s, 2, e->actor, sizeof(e->actor));
	cr_sqlite_col_str(s, 3, e->action, sizeof(e->action));
	cr_sqlite_col_str(s, 4, e->object, sizeof(e->object));
	/* Borrowed from the statement for the callback. */
	e->before = (char *)sqlite3_column_text(s, 5);
	e->after = (char *)sqlite3_column_text(s, 6);
	if (sqlite3_column_bytes(s, 7) == CR_HASH_LEN)
		memcpy(e->prev_hash, sqlite3_column_blob(s, 7), CR_HASH_LEN);
	if (sqlite3_column_bytes(s, 8) == CR_HASH_LEN)
		memcpy(e->hash, sqlite3_column_blob(s, 8), CR_HASH_LEN);
}

static int
sq_audit_scan(struct cr_audit_store *base, uint64_t after,
    const char *object, int (*cb)(const struct cr_audit_entry *, void *),
    void *arg)
{
	struct cr_audit_entry e;
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc, n, stop = 0;

	if ((c = cr_sqlite_conn(base)) == NULL)
		return CR_STORE_ERR;
	for (;;) {
		if ((s = cr_sqlite_stmt(c, object != NULL ?
		    SQ_AUDIT_SCAN_OBJECT : SQ_AUDIT_SCAN)) == NULL)
			return CR_STORE_ERR;
		if (sqlite3_bind_int64(s, 1, (sqlite3_int64)after) !=
		    SQLITE_OK || sqlite3_bind_int(s, 2, SCAN_CHUNK) !=
		    SQLITE_OK || (object != NULL && BIND_TEXT(s, 3, object) !=
		    SQLITE_OK)) {
			rc = cr_sqlite_err(c, "audit scan");
			cr_sqlite_done(s);
			return rc;
		}
		n = 0;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			entry_fill(s, &e);
			after = e.seq;
			n++;
			if ((stop = cb(&e, arg)) != 0)
				break;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			rc = cr_sqlite_err(c, "audit scan");
			cr_sqlite_done(s);
			return rc;
		}
		cr_sqlite_done(s);
		if (stop != 0)
			return stop;
		if (n < SCAN_CHUNK)
			return CR_STORE_OK;
	}
}

const struct cr_audit_ops cr_sqlite_audit_ops = {
	.audit_append = sq_audit_append,
	.audit_stage = sq_audit_stage,
	.audit_unstage = sq_audit_unstage,
	.audit_scan = sq_audit_scan,
};
