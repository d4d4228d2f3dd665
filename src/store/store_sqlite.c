/*
 * SQLite backend of the storage interface: opening a database, moving its
 * schema to the current version and wiring the concerns' tables, each
 * implemented in its own file (store_sqlite_registry.c, store_sqlite_data.c
 * for the directory and the exchange log, store_sqlite_events.c,
 * store_sqlite_batches.c for bundles and batches). Connections and the
 * write turn are in store_sqlite_conn.c, the SQL in store_sqlite_sql.c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite_int.h"

/*
 * Schema.
 */

/* The schema version, if this program knows it; -1 (logged) otherwise. */
static int
check_version(struct sq_conn *c)
{
	sqlite3_stmt *s = NULL;
	int version = -1;

	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		cr_sqlite_err(c, "user_version");
		goto out;
	}
	version = sqlite3_column_int(s, 0);
	if (version < 0 || (size_t)version > cr_sqlite_nmigrations) {
		log_warnx("store: %s: schema version %d is newer than this "
		    "program knows (%zu)", c->st->path, version,
		    cr_sqlite_nmigrations);
		version = -1;
	}
 out:
	sqlite3_finalize(s);
	return version;
}

/*
 * A store opened to read only is never migrated. The current version
 * reads as it is, the ones just before through cr_sqlite_readonly_compat
 * (views giving the columns later migrations added); an older one is
 * refused with what to do. 0 or -1 (logged).
 */
static int
readonly_schema(struct sq_store *st, struct sq_conn *c)
{
	int version;

	if ((version = check_version(c)) == -1)
		return -1;
	if ((size_t)version == cr_sqlite_nmigrations)
		return 0;
	if ((size_t)version < cr_sqlite_nreadonly_compat &&
	    cr_sqlite_readonly_compat[version] != NULL) {
		st->compat = cr_sqlite_readonly_compat[version];
		/* This connection was made query-only before the version was
		   known; temp views are its own, the file stays untouched. */
		return cr_sqlite_exec(c, "PRAGMA query_only = OFF", "compat") ==
		    -1 || cr_sqlite_exec(c, st->compat, "compat") == -1 ||
		    cr_sqlite_exec(c, "PRAGMA query_only = ON", "compat") ==
		    -1 ? -1 : 0;
	}
	log_warnx("store: %s: schema version %d is older than this program "
	    "reads without migrating (%zu): start the hub on it once, or read "
	    "it with the version that wrote it", st->path, version,
	    cr_sqlite_nmigrations);
	return -1;
}

static int
migrate(struct sq_conn *c)
{
	const size_t n = cr_sqlite_nmigrations;
	char sql[64];
	int version, rc = -1;

	/* IMMEDIATE: two processes opening a new file migrate one by one. */
	if (cr_sqlite_exec(c, "BEGIN IMMEDIATE", "begin") == -1)
		return -1;
	if ((version = check_version(c)) == -1)
		goto out;
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
	if (rc == 0)
		rc = cr_sqlite_exec(c, "COMMIT", "commit");
	if (rc == -1 && !sqlite3_get_autocommit(c->db))
		cr_sqlite_exec(c, "ROLLBACK", "rollback");
	return rc;
}

/*
 * What the file holds, read before anything is written to it: 0 the
 * hub's tables (any schema version: migrate() checks it), 1 nothing at
 * all (a new or empty file), -1 anything else or not a database (logged:
 * the hub never adds its tables to someone else's database).
 */
static int
schema_kind(struct sq_conn *c)
{
	sqlite3_stmt *s = NULL;
	int rc = -1, nobj, nhub, version;

	if (sqlite3_prepare_v2(c->db, "SELECT (SELECT count(*) FROM "
	    "sqlite_master), (SELECT count(*) FROM sqlite_master WHERE type = "
	    "'table' AND name IN ('institutions', 'xlog')), (SELECT "
	    "user_version FROM pragma_user_version)", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		log_warnx("store: %s: not a Crossroads hub database (%s)",
		    c->st->path, sqlite3_errmsg(c->db));
		goto out;
	}
	nobj = sqlite3_column_int(s, 0);
	nhub = sqlite3_column_int(s, 1);
	version = sqlite3_column_int(s, 2);
	if (nobj == 0 && version == 0)
		rc = 1;
	else if (nhub == 2 && version > 0)
		rc = 0;
	else
		log_warnx("store: %s: not a Crossroads hub database (it has "
		    "%d tables or indexes of its own and no exchange log); "
		    "left as it is", c->st->path, nobj);
 out:
	sqlite3_finalize(s);
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

/*
 * The storage probe: rewrites the health row (migration 7) in a
 * transaction taken in the write turn and commits it, which with
 * synchronous = FULL is an fsync of the WAL: what an exchange-log entry
 * needs, and a full disk, a file system remounted read-only or an I/O
 * error fail it. A database file or WAL whose mode no longer lets us
 * write is asked about apart: SQLite hands a new connection a descriptor
 * of the same file that this process opened before, for writing, so the
 * write alone would still succeed (and opening the file here would drop
 * SQLite's POSIX locks on close).
 */
/* Whether path + suffix, if it exists, may be written; 0 logged. */
static int
writable(const char *path, const char *suffix)
{
	char p[4096];

	if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix) >= sizeof(p))
		return 0;
	if (faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) == 0 || errno == ENOENT)
		return 1;
	log_warnx("store: %s: not writable: %s", p, strerror(errno));
	return 0;
}

static int
sq_health(struct cr_store *base)
{
	struct sq_store *st = (struct sq_store *)base;
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc = CR_STORE_ERR;

	if (st->rdonly) {
		log_warnx("store: %s: opened to read only", st->path);
		return CR_STORE_ERR;
	}
	if (!writable(st->path, "") || !writable(st->path, "-wal"))
		return CR_STORE_ERR;
	if ((c = cr_sqlite_conn_private(st)) == NULL)
		return CR_STORE_ERR;
	if (cr_sqlite_begin(c) != 0)
		goto out;
	if ((s = cr_sqlite_stmt(c, SQ_HEALTH_WRITE)) == NULL ||
	    sqlite3_bind_int64(s, 1, (sqlite3_int64)time(NULL)) != SQLITE_OK) {
		cr_sqlite_rollback(c);
		goto out;
	}
	if (cr_sqlite_step_done(c, s, "health") != CR_STORE_OK) {
		cr_sqlite_rollback(c);
		goto out;
	}
	if (sqlite3_changes(c->db) != 1) {
		log_warnx("store: %s: health: the row is missing", st->path);
		cr_sqlite_rollback(c);
		goto out;
	}
	rc = cr_sqlite_commit(c) == 0 ? CR_STORE_OK : CR_STORE_ERR;
 out:
	cr_sqlite_conn_close(c);
	return rc;
}

/*
 * Whether path may be opened: 1 an existing SQLite (or empty) file, 0 no
 * file (only a writer creates one), -1 anything else (logged). Read
 * before SQLite touches it.
 */
static int
file_kind(const char *path, int rdonly)
{
	static const char magic[16] = "SQLite format 3";
	struct stat sb;
	char head[16];
	size_t n;
	FILE *f;

	if (stat(path, &sb) == -1) {
		if (errno == ENOENT && !rdonly)
			return 0;
		log_warnx("store: %s: %s", path, errno == ENOENT ?
		    "no such file" : strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_warnx("store: %s: not a regular file", path);
		return -1;
	}
	if (sb.st_size == 0)
		return 1;
	if ((f = fopen(path, "rb")) == NULL) {
		log_warn("store: %s", path);
		return -1;
	}
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	if (n != sizeof(head) || memcmp(head, magic, sizeof(head)) != 0) {
		log_warnx("store: %s: not a Crossroads hub database (not an "
		    "SQLite file); left as it is", path);
		return -1;
	}
	return 1;
}

/*
 * A read-only copy without its -wal file (an auditor's, or a hub's after
 * a clean stop): opened "immutable", so that SQLite creates no -wal or
 * -shm beside it, which a read-only directory would not allow anyway.
 * With a -wal (a hub running, or killed) the WAL is needed: plain
 * read-only. *uri is NULL for the latter; 0 or -1 (logged).
 */
static int
readonly_uri(const char *path, char **uri)
{
	static const char hex[] = "0123456789ABCDEF";
	struct stat sb;
	char wal[4096], *u;
	size_t i, n;

	*uri = NULL;
	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", path) >= sizeof(wal))
		return -1;
	if (stat(wal, &sb) == 0)
		return 0;
	/* "file://" (an empty authority), the path percent-encoded. */
	if ((u = malloc(sizeof("file://") + 3 * strlen(path) +
	    sizeof("?immutable=1"))) == NULL) {
		log_warn("store: malloc");
		return -1;
	}
	n = (size_t)snprintf(u, sizeof("file://"), "%s", path[0] == '/' ?
	    "file://" : "file:");
	for (i = 0; path[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)path[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("/._-~", ch) != NULL)
			u[n++] = (char)ch;
		else {
			u[n++] = '%';
			u[n++] = hex[ch >> 4];
			u[n++] = hex[ch & 15];
		}
	}
	memcpy(u + n, "?immutable=1", sizeof("?immutable=1"));
	*uri = u;
	return 0;
}

static int
sq_open(const char *path, int rdonly, struct cr_store **out)
{
	struct sq_store *st;
	struct sq_conn *c;
	int kind;

	*out = NULL;
	/* Each connection would get a database of its own. */
	if (*path == '\0' || strcmp(path, ":memory:") == 0 ||
	    strncmp(path, "file:", 5) == 0) {
		log_warnx("store: \"%s\": need the path of a database file",
		    path);
		return -1;
	}
	if (file_kind(path, rdonly) == -1)
		return -1;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warn("store: calloc");
		return -1;
	}
	st->base.name = "sqlite";
	st->base.close = sq_close;
	st->base.health = sq_health;
	st->registry.ops = &cr_sqlite_registry_ops;
	st->directory.ops = &cr_sqlite_directory_ops;
	st->xlog.ops = &cr_sqlite_xlog_ops;
	st->events.ops = &cr_sqlite_event_ops;
	st->batches.ops = &cr_sqlite_batch_ops;
	st->audit.ops = &cr_sqlite_audit_ops;
	st->base.registry = &st->registry;
	st->base.directory = &st->directory;
	st->base.xlog = &st->xlog;
	st->base.events = &st->events;
	st->base.batches = &st->batches;
	st->base.audit = &st->audit;
	st->rdonly = rdonly;
	if ((rdonly && readonly_uri(path, &st->uri) == -1) ||
	    cr_sqlite_store_init(st, path) == -1) {
		free(st->uri);
		free(st);
		return -1;
	}
	/* From here on sq_close() undoes everything. */
	if ((c = cr_sqlite_conn_first(st)) == NULL)
		goto fail;
	if ((kind = schema_kind(c)) == -1)
		goto fail;
	if (rdonly) {
		/* Nothing is migrated or converted: the file stays as is. */
		if (kind == 1) {
			log_warnx("store: %s: an empty database, not a "
			    "Crossroads hub database", path);
			goto fail;
		}
		if (readonly_schema(st, c) == -1)
			goto fail;
	} else if (set_wal(c) == -1 || migrate(c) == -1)
		goto fail;
	*out = &st->base;
	return 0;
 fail:
	sq_close(&st->base);
	return -1;
}

int
cr_store_sqlite_open(const char *path, struct cr_store **out)
{
	return sq_open(path, 0, out);
}

int
cr_store_sqlite_open_readonly(const char *path, struct cr_store **out)
{
	return sq_open(path, 1, out);
}
