/*
 * SQLite backend: connections, statements and the write turn, shared by
 * the files that implement each concern (store_sqlite_registry.c, _data.c,
 * _events.c, _batches.c) and by opening (store_sqlite.c). Uses none of
 * them.
 *
 * Threads: every thread gets its own connection (SQLITE_OPEN_NOMUTEX, so
 * SQLite takes no locks of its own), opened on first use and found again
 * through a pthread key; its destructor closes the connection when the
 * thread exits, and cr_sqlite_store_free() closes those of threads still
 * running. The database is in WAL mode, so readers never wait for the
 * writer.
 *
 * Writers: SQLite lets one write at a time and makes the others poll
 * (busy_timeout, with sleeps growing to 100 ms), which is unfair: a thread
 * that commits in a loop, like the exchange-log writer, can keep the lock
 * for seconds while a request thread's polls keep missing the short gaps.
 * So the threads of this process queue for writing on a FIFO ticket lock
 * first, and busy_timeout only has to cover other processes on the same
 * file (a command-line import next to the server). Multi-statement writes
 * start with BEGIN IMMEDIATE, so that no two of them ever deadlock
 * upgrading a read lock.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite_int.h"
#include "util.h"

#define BUSY_TIMEOUT_MS	10000

/*
 * Connections and statements.
 */

static void
conn_free(struct sq_conn *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < SQ_NSTMT; i++)
		sqlite3_finalize(c->stmt[i]);
	if (sqlite3_close(c->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(c->db));
	free(c);
}

/* Key destructor: the thread that owned c is exiting. */
static void
conn_destroy(void *arg)
{
	struct sq_conn *c = arg, **pp;
	struct sq_store *st = c->st;

	pthread_mutex_lock(&st->lock);
	for (pp = &st->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
	conn_free(c);
}

int
cr_sqlite_exec(struct sq_conn *c, const char *sql, const char *what)
{
	char *err = NULL;

	if (sqlite3_exec(c->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store: %s: %s: %s", c->st->path, what,
		    err != NULL ? err : sqlite3_errmsg(c->db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static struct sq_conn *
conn_open(struct sq_store *st, int create)
{
	struct sq_conn *c;
	int flags, rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("store: calloc");
		return NULL;
	}
	c->st = st;
	flags = (st->rdonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
	    SQLITE_OPEN_NOMUTEX;
	if (create && !st->rdonly)
		flags |= SQLITE_OPEN_CREATE;
	if (st->uri != NULL)
		flags |= SQLITE_OPEN_URI;
	if ((rc = sqlite3_open_v2(st->uri != NULL ? st->uri : st->path,
	    &c->db, flags, NULL)) != SQLITE_OK) {
		log_warnx("store: %s: %s", st->path, c->db != NULL ?
		    sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/*
	 * FULL: in WAL mode the WAL is fsync'd at every commit, which is
	 * what makes an appended exchange-log entry durable on return.
	 */
	/*
	 * 16 MB of page cache (the default is 2 MB): the exchange log's
	 * index on subject takes inserts at random places, and once it
	 * outgrows the cache every batch reads pages back from the file.
	 * Pages are only allocated as they are used.
	 */
	if (cr_sqlite_exec(c, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA cache_size = -16384;", "pragmas") == -1)
		goto fail;
	if (st->rdonly && ((st->compat != NULL && cr_sqlite_exec(c,
	    st->compat, "compat") == -1) || cr_sqlite_exec(c,
	    "PRAGMA query_only = ON", "query_only") == -1))
		goto fail;
	return c;
 fail:
	conn_free(c);
	return NULL;
}

static int
conn_register(struct sq_store *st, struct sq_conn *c)
{
	int rc;

	if ((rc = pthread_setspecific(st->key, c)) != 0) {
		log_warnx("store: pthread_setspecific: %s", strerror(rc));
		return -1;
	}
	pthread_mutex_lock(&st->lock);
	c->next = st->conns;
	st->conns = c;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

struct sq_conn *
cr_sqlite_store_conn(struct sq_store *st)
{
	struct sq_conn *c;

	if ((c = pthread_getspecific(st->key)) != NULL)
		return c;
	if ((c = conn_open(st, 0)) == NULL)
		return NULL;
	if (conn_register(st, c) == -1) {
		conn_free(c);
		return NULL;
	}
	return c;
}

sqlite3_stmt *
cr_sqlite_stmt(struct sq_conn *c, enum sq_stmt id)
{
	if (c->stmt[id] == NULL && sqlite3_prepare_v3(c->db, cr_sqlite_stmt_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL) != SQLITE_OK) {
		log_warnx("store: prepare %d: %s", (int)id,
		    sqlite3_errmsg(c->db));
		c->stmt[id] = NULL;
	}
	return c->stmt[id];
}

void
cr_sqlite_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

int
cr_sqlite_err(struct sq_conn *c, const char *what)
{
	log_warnx("store: %s: %s", what, sqlite3_errmsg(c->db));
	return CR_STORE_ERR;
}

int
cr_sqlite_fail(struct sq_conn *c, int rc, const char *what)
{
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		switch (sqlite3_extended_errcode(c->db)) {
		case SQLITE_CONSTRAINT_PRIMARYKEY:
		case SQLITE_CONSTRAINT_UNIQUE:
			return CR_STORE_EXISTS;
		case SQLITE_CONSTRAINT_FOREIGNKEY:
			return CR_STORE_NOTFOUND;
		}
	}
	return cr_sqlite_err(c, what);
}

int
cr_sqlite_step_done(struct sq_conn *c, sqlite3_stmt *s, const char *what)
{
	int rc;

	if ((rc = sqlite3_step(s)) == SQLITE_DONE)
		rc = CR_STORE_OK;
	else
		rc = cr_sqlite_fail(c, rc, what);
	cr_sqlite_done(s);
	return rc;
}

static int
run_simple(struct sq_conn *c, enum sq_stmt id, const char *what)
{
	sqlite3_stmt *s;

	if ((s = cr_sqlite_stmt(c, id)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_step_done(c, s, what) == CR_STORE_OK ? 0 :
	    CR_STORE_ERR;
}

/* Waits for this thread's turn to write, in arrival order. */
static void
wlock_acquire(struct sq_store *st)
{
	uint64_t ticket;

	pthread_mutex_lock(&st->wmtx);
	ticket = st->wnext++;
	while (ticket != st->wserving)
		pthread_cond_wait(&st->wcond, &st->wmtx);
	pthread_mutex_unlock(&st->wmtx);
}

static void
wlock_release(struct sq_store *st)
{
	pthread_mutex_lock(&st->wmtx);
	st->wserving++;
	pthread_cond_broadcast(&st->wcond);
	pthread_mutex_unlock(&st->wmtx);
}

/* The staged audit entry, if any, written before COMMIT: consumed. */
static int
staged_write(struct sq_conn *c)
{
	int (*fn)(struct sq_conn *) = c->staged_write;

	c->staged_write = NULL;
	return fn != NULL ? fn(c) : CR_STORE_OK;
}

int
cr_sqlite_step_write(struct sq_conn *c, sqlite3_stmt *s, const char *what)
{
	int rc, audited = c->staged_write != NULL;

	wlock_acquire(c->st);
	if (!audited) {
		rc = cr_sqlite_step_done(c, s, what);
		wlock_release(c->st);
		return rc;
	}
	/*
	 * With an audit entry staged, the change and the entry are one
	 * transaction. The entry goes first, so that sqlite3_changes() still
	 * counts the change's rows for the caller; a change of no row is no
	 * change, and its entry is rolled back with it.
	 */
	if ((rc = run_simple(c, SQ_BEGIN, "begin")) == CR_STORE_OK &&
	    (rc = staged_write(c)) == CR_STORE_OK &&
	    (rc = cr_sqlite_step_done(c, s, what)) == CR_STORE_OK &&
	    sqlite3_changes(c->db) > 0 &&
	    (rc = run_simple(c, SQ_COMMIT, "commit")) == CR_STORE_OK)
		c->staged_committed = 1;
	else
		cr_sqlite_done(s);
	c->staged_write = NULL;
	if (!sqlite3_get_autocommit(c->db))
		run_simple(c, SQ_ROLLBACK, "rollback");
	wlock_release(c->st);
	return rc;
}

int
cr_sqlite_begin(struct sq_conn *c)
{
	wlock_acquire(c->st);
	if (run_simple(c, SQ_BEGIN, "begin") == -1) {
		wlock_release(c->st);
		return CR_STORE_ERR;
	}
	c->writing = 1;
	c->tx_changes = sqlite3_total_changes(c->db);
	return 0;
}

int
cr_sqlite_commit(struct sq_conn *c)
{
	int rc, audited = c->staged_write != NULL;

	/* A transaction that changed no row changed nothing to audit. */
	if (audited && sqlite3_total_changes(c->db) == c->tx_changes) {
		c->staged_write = NULL;
		audited = 0;
	}
	if ((rc = staged_write(c)) == CR_STORE_OK)
		rc = run_simple(c, SQ_COMMIT, "commit");
	if (rc == CR_STORE_OK && audited)
		c->staged_committed = 1;
	if (rc != CR_STORE_OK && !sqlite3_get_autocommit(c->db))
		run_simple(c, SQ_ROLLBACK, "rollback");
	if (c->writing) {
		c->writing = 0;
		wlock_release(c->st);
	}
	return rc;
}

void
cr_sqlite_rollback(struct sq_conn *c)
{
	/* The staged entry goes with the change it was for. */
	c->staged_write = NULL;
	/* After some errors SQLite has already rolled back by itself. */
	if (!sqlite3_get_autocommit(c->db))
		run_simple(c, SQ_ROLLBACK, "rollback");
	if (c->writing) {
		c->writing = 0;
		wlock_release(c->st);
	}
}

int
cr_sqlite_bind_opt(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL || *v == '\0')
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

void
cr_sqlite_col_str(sqlite3_stmt *s, int i, char *dst, size_t dstsize)
{
	const char *v = (const char *)sqlite3_column_text(s, i);

	cr_util_strlcpy(dst, v != NULL ? v : "", dstsize);
}

int
cr_sqlite_list_rows(struct sq_conn *c, sqlite3_stmt *s,
    json_t *(*row)(sqlite3_stmt *), const char *what, json_t **out)
{
	json_t *arr, *o;
	int rc;

	*out = NULL;
	if ((arr = json_array()) == NULL) {
		cr_sqlite_done(s);
		log_warnx("store: %s: out of memory", what);
		return CR_STORE_ERR;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((o = row(s)) == NULL || json_array_append_new(arr, o) != 0)
			break;
	}
	if (rc == SQLITE_ROW)
		log_warnx("store: %s: cannot build JSON", what);
	else if (rc != SQLITE_DONE)
		cr_sqlite_err(c, what);
	cr_sqlite_done(s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return CR_STORE_ERR;
	}
	*out = arr;
	return CR_STORE_OK;
}

int
cr_sqlite_one_row(struct sq_conn *c, sqlite3_stmt *s, int bound,
    int (*fill)(sqlite3_stmt *, void *), void *out, const char *what)
{
	int rc;

	if (!bound)
		rc = cr_sqlite_err(c, what);
	else if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		rc = fill(s, out);
	else if (rc == SQLITE_DONE)
		rc = CR_STORE_NOTFOUND;
	else
		rc = cr_sqlite_err(c, what);
	cr_sqlite_done(s);
	return rc;
}

int
cr_sqlite_store_init(struct sq_store *st, const char *path)
{
	int rc;

	if ((st->path = strdup(path)) == NULL) {
		log_warn("store: strdup");
		return -1;
	}
	if ((rc = pthread_key_create(&st->key, conn_destroy)) != 0) {
		log_warnx("store: pthread_key_create: %s", strerror(rc));
		free(st->path);
		st->path = NULL;
		return -1;
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->wmtx, NULL);
	pthread_cond_init(&st->wcond, NULL);
	return 0;
}

struct sq_conn *
cr_sqlite_conn_first(struct sq_store *st)
{
	struct sq_conn *c;

	if ((c = conn_open(st, 1)) == NULL)
		return NULL;
	if (conn_register(st, c) == -1) {
		conn_free(c);
		return NULL;
	}
	return c;
}

/*
 * Opened afresh rather than taken from a thread: a connection keeps the
 * file descriptor it opened with, so only a new one sees a database file
 * that has been made read-only since.
 */
struct sq_conn *
cr_sqlite_conn_private(struct sq_store *st)
{
	return conn_open(st, 0);
}

void
cr_sqlite_conn_close(struct sq_conn *c)
{
	conn_free(c);
}

void
cr_sqlite_store_free(struct sq_store *st)
{
	struct sq_conn *c, *next;

	/*
	 * The caller guarantees no other thread uses the store any more.
	 * Once the key is gone no destructor runs for it, so the
	 * connections of threads still alive are closed here.
	 */
	pthread_setspecific(st->key, NULL);
	pthread_key_delete(st->key);
	pthread_mutex_lock(&st->lock);
	for (c = st->conns; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	st->conns = NULL;
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->wmtx);
	pthread_cond_destroy(&st->wcond);
	free(st->uri);
	free(st->path);
	free(st);
}
