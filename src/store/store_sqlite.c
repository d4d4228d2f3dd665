/*
 * SQLite backend of the storage interface: opening a database, moving its
 * schema to the current version and wiring the concerns' tables, each
 * implemented in its own file (store_sqlite_registry.c, store_sqlite_data.c
 * for the directory and the exchange log, store_sqlite_events.c,
 * store_sqlite_batches.c for bundles and batches). Connections and the
 * write turn are in store_sqlite_conn.c, the SQL in store_sqlite_sql.c.
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

/*
 * Schema.
 */

static int
migrate(struct sq_conn *c)
{
	const size_t n = cr_sqlite_nmigrations;
	sqlite3_stmt *s = NULL;
	char sql[64];
	int version, rc = -1;

	/* IMMEDIATE: two processes opening a new file migrate one by one. */
	if (cr_sqlite_exec(c, "BEGIN IMMEDIATE", "begin") == -1)
		return -1;
	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		cr_sqlite_err(c, "user_version");
		goto out;
	}
	version = sqlite3_column_int(s, 0);
	if (version < 0 || (size_t)version > n) {
		log_warnx("store: %s: schema version %d is newer than this "
		    "program knows (%zu)", c->st->path, version, n);
		goto out;
	}
	if ((size_t)version == n) {
		rc = 0;
		goto out;
	}
	for (; (size_t)version < n; version++) {
		log_info("store: %s: migrating schema to version %d",
		    c->st->path, version + 1);
		if (cr_sqlite_exec(c, cr_sqlite_migrations[version], "migration") == -1)
			goto out;
	}
	/* PRAGMA takes no parameters; the number is ours, not input. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", n);
	if (cr_sqlite_exec(c, sql, "user_version") == -1)
		goto out;
	rc = 0;
 out:
	sqlite3_finalize(s);
	if (rc == 0)
		rc = cr_sqlite_exec(c, "COMMIT", "commit");
	if (rc == -1 && !sqlite3_get_autocommit(c->db))
		cr_sqlite_exec(c, "ROLLBACK", "rollback");
	return rc;
}

static int
set_wal(struct sq_conn *c)
{
	sqlite3_stmt *s = NULL;
	const char *mode;
	int rc = -1;

	if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		cr_sqlite_err(c, "journal_mode");
		goto out;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		log_warnx("store: %s: cannot use WAL (journal mode %s)",
		    c->st->path, mode != NULL ? mode : "?");
		goto out;
	}
	rc = 0;
 out:
	sqlite3_finalize(s);
	return rc;
}

/*
 * Opening and closing.
 */

static void
sq_close(struct cr_store *base)
{
	cr_sqlite_store_free((struct sq_store *)base);
}

int
cr_store_sqlite_open(const char *path, struct cr_store **out)
{
	struct sq_store *st;
	struct sq_conn *c;

	*out = NULL;
	/* Each connection would get a database of its own. */
	if (*path == '\0' || strcmp(path, ":memory:") == 0 ||
	    strncmp(path, "file:", 5) == 0) {
		log_warnx("store: \"%s\": need the path of a database file",
		    path);
		return -1;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warn("store: calloc");
		return -1;
	}
	st->base.name = "sqlite";
	st->base.close = sq_close;
	st->registry.ops = &cr_sqlite_registry_ops;
	st->directory.ops = &cr_sqlite_directory_ops;
	st->xlog.ops = &cr_sqlite_xlog_ops;
	st->events.ops = &cr_sqlite_event_ops;
	st->batches.ops = &cr_sqlite_batch_ops;
	st->base.registry = &st->registry;
	st->base.directory = &st->directory;
	st->base.xlog = &st->xlog;
	st->base.events = &st->events;
	st->base.batches = &st->batches;
	if (cr_sqlite_store_init(st, path) == -1) {
		free(st);
		return -1;
	}
	/* From here on sq_close() undoes everything. */
	if ((c = cr_sqlite_conn_first(st)) == NULL)
		goto fail;
	if (set_wal(c) == -1 || migrate(c) == -1)
		goto fail;
	*out = &st->base;
	return 0;
 fail:
	sq_close(&st->base);
	return -1;
}
