/*
 * SQLite backend of the storage interface: connections, statements,
 * schema, opening and closing. The registry (institutions, clients,
 * services, authorizations) is in store_sqlite_registry.c, the reference
 * directory and the exchange log in store_sqlite_data.c, events and their
 * deliveries in store_sqlite_events.c.
 *
 * Threads: every thread gets its own connection (SQLITE_OPEN_NOMUTEX, so
 * SQLite takes no locks of its own), opened on first use and found again
 * through a pthread key; its destructor closes the connection when the
 * thread exits, and close() closes those of threads still running. The
 * database is in WAL mode, so readers never wait for the writer.
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
#include <sys/stat.h>

#include <errno.h>
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
 * Schema migrations: migrations[i] takes the schema from version i to
 * i + 1 (PRAGMA user_version holds the version). Append, never edit.
 *
 * The directory is keyed by (subject, institution, capacity, from): the
 * same record key as store.h's (institution, subject, capacity, from) in
 * the order lookups need, so that both lookups by subject (dir_list) and
 * by subject and institution (dir_active) use the primary key and the
 * table needs no second index, which at 25 million rows would double its
 * size.
 */
static const char *const migrations[] = {
	/* 1: initial schema */
	"CREATE TABLE institutions ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  name TEXT NOT NULL,"
	"  sector TEXT NOT NULL"
	");"
	"CREATE TABLE clients ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  institution TEXT NOT NULL REFERENCES institutions(id),"
	"  name TEXT NOT NULL,"
	"  token_hash BLOB NOT NULL UNIQUE,"
	"  created_at TEXT NOT NULL"
	"    DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
	");"
	"CREATE TABLE services ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  provider TEXT NOT NULL REFERENCES institutions(id),"
	"  endpoint TEXT NOT NULL,"
	"  subject_kind TEXT NOT NULL,"
	"  fields TEXT NOT NULL,"
	"  timeout_ms INTEGER NOT NULL"
	");"
	/* No foreign key on service: event types are authorized alike. */
	"CREATE TABLE authorizations ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  consumer TEXT NOT NULL REFERENCES institutions(id),"
	"  service TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  legal_basis TEXT NOT NULL,"
	"  fields TEXT NOT NULL,"
	"  capacities TEXT NOT NULL,"
	"  valid_from TEXT NOT NULL,"
	"  valid_to TEXT"
	");"
	"CREATE INDEX authorizations_lookup"
	"  ON authorizations(consumer, service, purpose);"
	"CREATE TABLE directory ("
	"  subject TEXT NOT NULL,"
	"  institution TEXT NOT NULL REFERENCES institutions(id),"
	"  capacity TEXT NOT NULL,"
	"  from_date TEXT NOT NULL,"
	"  to_date TEXT,"
	"  PRIMARY KEY (subject, institution, capacity, from_date)"
	") WITHOUT ROWID;"
	"CREATE TABLE xlog ("
	"  seq INTEGER PRIMARY KEY,"
	"  ts TEXT NOT NULL,"
	"  request_id TEXT NOT NULL,"
	"  consumer TEXT NOT NULL,"
	"  client TEXT NOT NULL,"
	"  end_user TEXT NOT NULL,"
	"  service TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  legal_basis TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  error_code TEXT NOT NULL,"
	"  prev_hash BLOB NOT NULL,"
	"  hash BLOB NOT NULL"
	");"
	"CREATE INDEX xlog_subject ON xlog(subject, seq);",

	/* 2: a version of the registry, bumped by every change to it */
	"CREATE TABLE registry_version ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  version INTEGER NOT NULL"
	");"
	"INSERT INTO registry_version (id, version) VALUES (1, 0);"
#define REG_TRIGGER(table, op) \
	"CREATE TRIGGER " table "_" op "_version AFTER " op " ON " table \
	" BEGIN UPDATE registry_version SET version = version + 1; END;"
	REG_TRIGGER("institutions", "INSERT")
	REG_TRIGGER("institutions", "UPDATE")
	REG_TRIGGER("institutions", "DELETE")
	REG_TRIGGER("clients", "INSERT")
	REG_TRIGGER("clients", "UPDATE")
	REG_TRIGGER("clients", "DELETE")
	REG_TRIGGER("services", "INSERT")
	REG_TRIGGER("services", "UPDATE")
	REG_TRIGGER("services", "DELETE")
	REG_TRIGGER("authorizations", "INSERT")
	REG_TRIGGER("authorizations", "UPDATE")
	REG_TRIGGER("authorizations", "DELETE"),
#undef REG_TRIGGER

	/*
	 * 3: events, subscriptions, deliveries. No registry_version
	 * triggers: the registry cache does not hold these tables.
	 * AUTOINCREMENT: an event id or a delivery seq (a feed cursor) is
	 * never handed out twice, even after the newest rows were deleted
	 * with their subscription. A delivery names its institution only
	 * when it goes to a feed (feed_institution), so that webhook work
	 * and each institution's feed are found through small partial
	 * indexes, without sorting and without wading through the other
	 * kind; events and deliveries are never rewritten but for the
	 * delivery state.
	 */
	"CREATE TABLE event_types ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  provider TEXT NOT NULL REFERENCES institutions(id),"
	"  fields TEXT NOT NULL,"
	"  all_integrations INTEGER NOT NULL"
	");"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  type TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  occurred_at TEXT NOT NULL,"
	"  published_at TEXT NOT NULL,"
	"  data TEXT NOT NULL"
	");"
	"CREATE TABLE subscriptions ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  institution TEXT NOT NULL REFERENCES institutions(id),"
	"  client TEXT NOT NULL,"
	"  event_type TEXT NOT NULL REFERENCES event_types(id),"
	"  capacities TEXT NOT NULL,"
	"  url TEXT,"
	"  feed INTEGER NOT NULL,"
	"  secret TEXT NOT NULL,"
	"  created_at TEXT NOT NULL"
	");"
	"CREATE INDEX subscriptions_event_type ON subscriptions(event_type, id);"
	"CREATE INDEX subscriptions_institution"
	"  ON subscriptions(institution, id);"
	"CREATE TABLE deliveries ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  subscription TEXT NOT NULL,"
	"  event_id INTEGER NOT NULL,"
	"  feed_institution TEXT,"
	"  state INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  next_attempt_ms INTEGER NOT NULL,"
	"  last_error TEXT"
	");"
	"CREATE INDEX deliveries_due ON deliveries(next_attempt_ms)"
	"  WHERE state = 0 AND feed_institution IS NULL;"
	"CREATE INDEX deliveries_feed ON deliveries(feed_institution, seq)"
	"  WHERE feed_institution IS NOT NULL;"
	"CREATE INDEX deliveries_subscription"
	"  ON deliveries(subscription, seq);"
	"CREATE INDEX deliveries_dead ON deliveries(subscription, seq)"
	"  WHERE state = 2;",

	/* 4: bundles of services and rules for verifications */
	"CREATE TABLE bundles ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  definition TEXT NOT NULL,"
	"  created_at TEXT NOT NULL"
	"    DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
	");",

	/*
	 * 5: batches of verifications. Items refer to their batch by its
	 * integer key, not its UUID, which would take 37 bytes a line over
	 * a million lines. A batch is 'loading' until all its items are in.
	 */
	"CREATE TABLE batches ("
	"  seq INTEGER PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  institution TEXT NOT NULL,"
	"  client TEXT NOT NULL,"
	"  end_user TEXT NOT NULL,"
	"  bundle TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  reference_date TEXT NOT NULL,"
	"  household INTEGER NOT NULL,"
	"  status TEXT NOT NULL,"
	"  error TEXT,"
	"  total INTEGER NOT NULL,"
	"  done INTEGER NOT NULL DEFAULT 0,"
	"  failed INTEGER NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL"
	"    DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
	"  finished_at TEXT"
	");"
	"CREATE TABLE batch_items ("
	"  batch INTEGER NOT NULL,"
	"  line INTEGER NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  result TEXT,"
	"  PRIMARY KEY (batch, line)"
	");",
};

#define AZ_COLS "id, consumer, service, purpose, legal_basis, fields, " \
	"capacities, valid_from, valid_to"
#define XLOG_COLS "seq, ts, request_id, consumer, client, end_user, " \
	"service, provider, subject, purpose, legal_basis, outcome, status, " \
	"error_code, prev_hash, hash"

#define SUB_COLS "id, institution, client, event_type, capacities, url, " \
	"feed, secret, created_at"
#define DLV_COLS "d.seq, d.subscription, d.event_id, d.state, d.attempts, " \
	"d.next_attempt_ms, d.last_error, e.id, e.type, e.provider, " \
	"e.subject, e.occurred_at, e.published_at, e.data"

static const char *const stmt_sql[SQ_NSTMT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_INST_ADD] =
	    "INSERT INTO institutions (id, name, sector) VALUES (?1, ?2, ?3)",
	[SQ_INST_GET] =
	    "SELECT id, name, sector FROM institutions WHERE id = ?1",
	[SQ_INST_LIST] =
	    "SELECT id, name, sector FROM institutions ORDER BY id",
	[SQ_CLIENT_ADD] =
	    "INSERT INTO clients (id, institution, name, token_hash)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[SQ_CLIENT_BY_TOKEN] =
	    "SELECT id, institution, name FROM clients WHERE token_hash = ?1",
	[SQ_CLIENT_LIST] =
	    "SELECT id, institution, name, token_hash FROM clients ORDER BY id",
	[SQ_REG_VERSION] = "SELECT version FROM registry_version WHERE id = 1",
	[SQ_SVC_ADD] =
	    "INSERT INTO services (id, provider, endpoint, subject_kind,"
	    " fields, timeout_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[SQ_SVC_GET] =
	    "SELECT id, provider, endpoint, subject_kind, fields, timeout_ms"
	    " FROM services WHERE id = ?1",
	[SQ_SVC_LIST] =
	    "SELECT id, provider, endpoint, subject_kind, fields, timeout_ms"
	    " FROM services ORDER BY id",
	[SQ_AZ_ADD] =
	    "INSERT INTO authorizations (" AZ_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQ_AZ_DELETE] = "DELETE FROM authorizations WHERE id = ?1",
	[SQ_AZ_LIST] =
	    "SELECT " AZ_COLS " FROM authorizations"
	    " ORDER BY consumer, service, purpose, valid_from, id",
	[SQ_AZ_LIST_CONSUMER] =
	    "SELECT " AZ_COLS " FROM authorizations WHERE consumer = ?1"
	    " ORDER BY consumer, service, purpose, valid_from, id",
	/* Overlapping periods: the one that started last wins. */
	[SQ_AZ_FIND] =
	    "SELECT " AZ_COLS " FROM authorizations"
	    " WHERE consumer = ?1 AND service = ?2 AND purpose = ?3"
	    " AND valid_from <= ?4 AND (valid_to IS NULL OR valid_to >= ?4)"
	    " ORDER BY valid_from DESC, id LIMIT 1",
	[SQ_DIR_INSERT] =
	    "INSERT INTO directory (subject, institution, capacity, from_date,"
	    " to_date) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
	/* Writes only when the end date changes: a replay costs no write. */
	[SQ_DIR_SET_TO] =
	    "UPDATE directory SET to_date = ?5"
	    " WHERE subject = ?1 AND institution = ?2 AND capacity = ?3"
	    " AND from_date = ?4 AND to_date IS NOT ?5",
	[SQ_DIR_END_DELETE] =
	    "DELETE FROM directory"
	    " WHERE subject = ?1 AND institution = ?2 AND capacity = ?3"
	    " AND from_date > ?4",
	[SQ_DIR_END_UPDATE] =
	    "UPDATE directory SET to_date = ?4"
	    " WHERE subject = ?1 AND institution = ?2 AND capacity = ?3"
	    " AND from_date <= ?4 AND (to_date IS NULL OR to_date > ?4)",
	[SQ_DIR_LIST] =
	    "SELECT d.institution, i.sector, d.capacity, d.from_date,"
	    " d.to_date FROM directory AS d"
	    " LEFT JOIN institutions AS i ON i.id = d.institution"
	    " WHERE d.subject = ?1 AND (?2 IS NULL OR d.institution = ?2)"
	    " ORDER BY d.institution, d.capacity, d.from_date",
	[SQ_DIR_ACTIVE] =
	    "SELECT 1 FROM directory"
	    " WHERE subject = ?1 AND institution = ?2"
	    " AND capacity IN (SELECT value FROM json_each(?3))"
	    " AND from_date <= ?4 AND (to_date IS NULL OR to_date >= ?4)"
	    " LIMIT 1",
	[SQ_XLOG_INSERT] =
	    "INSERT INTO xlog (" XLOG_COLS ") VALUES (?1, ?2, ?3, ?4, ?5,"
	    " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[SQ_XLOG_TAIL] = "SELECT seq, hash FROM xlog ORDER BY seq DESC LIMIT 1",
	[SQ_XLOG_QUERY] =
	    "SELECT " XLOG_COLS " FROM xlog"
	    " WHERE subject = ?1 AND seq < ?3"
	    " AND (?2 IS NULL OR consumer = ?2)"
	    " ORDER BY seq DESC LIMIT ?4",
	[SQ_XLOG_SCAN] =
	    "SELECT " XLOG_COLS " FROM xlog WHERE seq >= ?1"
	    " ORDER BY seq LIMIT ?2",
	[SQ_XLOG_COUNT] = "SELECT count(*) FROM xlog",
	[SQ_ET_ADD] =
	    "INSERT INTO event_types (id, provider, fields, all_integrations)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[SQ_ET_GET] =
	    "SELECT id, provider, fields, all_integrations FROM event_types"
	    " WHERE id = ?1",
	[SQ_ET_LIST] =
	    "SELECT id, provider, fields, all_integrations FROM event_types"
	    " ORDER BY id",
	[SQ_SUB_ADD] =
	    "INSERT INTO subscriptions (" SUB_COLS ") VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8,"
	    " coalesce(?9, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
	[SQ_SUB_GET] = "SELECT " SUB_COLS " FROM subscriptions WHERE id = ?1",
	[SQ_SUB_LIST] =
	    "SELECT " SUB_COLS " FROM subscriptions"
	    " WHERE ?1 IS NULL OR institution = ?1"
	    " ORDER BY institution, created_at, id",
	[SQ_SUB_DELETE] = "DELETE FROM subscriptions WHERE id = ?1",
	[SQ_SUB_DELETE_DELIVERIES] =
	    "DELETE FROM deliveries WHERE subscription = ?1",
	[SQ_EV_INSERT] =
	    "INSERT INTO events (type, provider, subject, occurred_at,"
	    " published_at, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/*
	 * Routing: the subscriptions of the type (subscriptions_event_type)
	 * whose institution has the subject integrated on the date
	 * (directory primary key: subject, institution). ?1 event id, ?2
	 * type, ?3 subject, ?4 date, ?5 now in ms.
	 */
	[SQ_EV_ROUTE] =
	    "INSERT INTO deliveries (subscription, event_id, feed_institution,"
	    " state, attempts, next_attempt_ms)"
	    " SELECT s.id, ?1, CASE WHEN s.feed THEN s.institution END,"
	    " 0, 0, ?5"
	    " FROM subscriptions AS s, event_types AS t"
	    " WHERE s.event_type = ?2 AND t.id = ?2"
	    " AND EXISTS (SELECT 1 FROM directory AS d"
	    "  WHERE d.subject = ?3 AND d.institution = s.institution"
	    "  AND d.from_date <= ?4"
	    "  AND (d.to_date IS NULL OR d.to_date >= ?4)"
	    "  AND (t.all_integrations OR s.capacities = '[]'"
	    "   OR d.capacity IN (SELECT value FROM json_each(s.capacities))))"
	    " ORDER BY s.id",
	/* The partial index, then a sort of what is due (LIMIT: top-N). */
	[SQ_DLV_DUE] =
	    "SELECT " DLV_COLS " FROM deliveries AS d INDEXED BY deliveries_due"
	    " JOIN events AS e ON e.id = d.event_id"
	    " WHERE d.state = 0 AND d.feed_institution IS NULL"
	    " AND d.next_attempt_ms <= ?1"
	    " ORDER BY d.seq LIMIT ?2",
	[SQ_DLV_UPDATE] =
	    "UPDATE deliveries SET state = ?2, attempts = ?3,"
	    " next_attempt_ms = ?4, last_error = ?5 WHERE seq = ?1",
	[SQ_DLV_FEED] =
	    "SELECT " DLV_COLS " FROM deliveries AS d INDEXED BY deliveries_feed"
	    " JOIN events AS e ON e.id = d.event_id"
	    " WHERE d.feed_institution = ?1 AND d.seq > ?3"
	    " AND (?2 IS NULL OR d.subscription = ?2) AND d.state <> 2"
	    " ORDER BY d.seq LIMIT ?4",
	[SQ_DLV_MARK] =
	    "UPDATE deliveries SET state = 1 WHERE seq = ?1 AND state = 0",
	[SQ_DLV_DEAD] =
	    "SELECT " DLV_COLS " FROM deliveries AS d INDEXED BY deliveries_dead"
	    " JOIN events AS e ON e.id = d.event_id"
	    " WHERE d.subscription = ?1 AND d.state = 2"
	    " ORDER BY d.seq LIMIT ?2",
	[SQ_DLV_REDELIVER] =
	    "UPDATE deliveries SET state = 0, attempts = 0,"
	    " next_attempt_ms = ?3, last_error = NULL"
	    " WHERE subscription = ?1 AND state = 2 AND (?2 = 0 OR seq = ?2)",
	[SQ_BUNDLE_ADD] =
	    "INSERT INTO bundles (id, definition) VALUES (?1, ?2)",
	[SQ_BUNDLE_GET] = "SELECT definition FROM bundles WHERE id = ?1",
	[SQ_BUNDLE_LIST] = "SELECT definition FROM bundles ORDER BY id",
	[SQ_BATCH_ADD] =
	    "INSERT INTO batches (id, institution, client, end_user, bundle,"
	    " purpose, reference_date, household, status, total)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'loading', ?9)",
	[SQ_BATCH_ITEM_ADD] =
	    "INSERT INTO batch_items (batch, line, subject, state)"
	    " VALUES (?1, ?2, ?3, 0)",
	[SQ_BATCH_READY] =
	    "UPDATE batches SET status = 'queued' WHERE seq = ?1",
	[SQ_BATCH_SEQ] =
	    "SELECT seq FROM batches WHERE id = ?1 AND status <> 'loading'",
	[SQ_BATCH_GET] =
	    "SELECT id, institution, client, end_user, bundle, purpose,"
	    " reference_date, household, status, error, total, done, failed,"
	    " created_at FROM batches WHERE id = ?1 AND status <> 'loading'",
	[SQ_BATCH_UNFINISHED] =
	    "SELECT id FROM batches WHERE status IN ('queued', 'running')"
	    " ORDER BY seq",
	[SQ_BATCH_LOADING] = "SELECT seq FROM batches WHERE status = 'loading'",
	[SQ_BATCH_DELETE_ITEMS] = "DELETE FROM batch_items WHERE batch = ?1",
	[SQ_BATCH_DELETE] = "DELETE FROM batches WHERE seq = ?1",
	[SQ_BATCH_SET_STATUS] =
	    "UPDATE batches SET status = ?2, error = ?3, finished_at ="
	    " CASE WHEN ?2 IN ('done', 'failed')"
	    " THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END"
	    " WHERE id = ?1 AND status <> 'loading'",
	[SQ_BATCH_PENDING] =
	    "SELECT line, subject FROM batch_items"
	    " WHERE batch = ?1 AND line > ?2 AND state = 0"
	    " ORDER BY line LIMIT ?3",
	/* state = 0: a line never gets a second result. */
	[SQ_BATCH_RESULT_PUT] =
	    "UPDATE batch_items SET state = ?3, result = ?4"
	    " WHERE batch = ?1 AND line = ?2 AND state = 0",
	[SQ_BATCH_COUNT] =
	    "UPDATE batches SET done = done + ?2, failed = failed + ?3"
	    " WHERE seq = ?1",
	[SQ_BATCH_RESULTS] =
	    "SELECT line, subject, state, result FROM batch_items"
	    " WHERE batch = ?1 AND line > ?2 ORDER BY line LIMIT ?3",
};

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

static int
conn_exec(struct sq_conn *c, const char *sql, const char *what)
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
	if (conn_exec(c, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA cache_size = -16384;", "pragmas") == -1)
		goto fail;
	if (st->rdonly && conn_exec(c, "PRAGMA query_only = ON",
	    "query_only") == -1)
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
cr_sqlite_conn(struct cr_store *base)
{
	struct sq_store *st = (struct sq_store *)base;
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
	if (c->stmt[id] == NULL && sqlite3_prepare_v3(c->db, stmt_sql[id], -1,
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

int
cr_sqlite_step_write(struct sq_conn *c, sqlite3_stmt *s, const char *what)
{
	int rc;

	wlock_acquire(c->st);
	rc = cr_sqlite_step_done(c, s, what);
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
	return 0;
}

int
cr_sqlite_commit(struct sq_conn *c)
{
	int rc;

	if ((rc = run_simple(c, SQ_COMMIT, "commit")) == -1 &&
	    !sqlite3_get_autocommit(c->db))
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

/*
 * Schema.
 */

#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))

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
	if (version < 0 || (size_t)version > NMIGRATIONS) {
		log_warnx("store: %s: schema version %d is newer than this "
		    "program knows (%zu)", c->st->path, version, NMIGRATIONS);
		version = -1;
	}
 out:
	sqlite3_finalize(s);
	return version;
}

static int
migrate(struct sq_conn *c)
{
	const size_t n = NMIGRATIONS;
	char sql[64];
	int version, rc = -1;

	/* IMMEDIATE: two processes opening a new file migrate one by one. */
	if (conn_exec(c, "BEGIN IMMEDIATE", "begin") == -1)
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
		if (conn_exec(c, migrations[version], "migration") == -1)
			goto out;
	}
	/* PRAGMA takes no parameters; the number is ours, not input. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", n);
	if (conn_exec(c, sql, "user_version") == -1)
		goto out;
	rc = 0;
 out:
	if (rc == 0)
		rc = conn_exec(c, "COMMIT", "commit");
	if (rc == -1 && !sqlite3_get_autocommit(c->db))
		conn_exec(c, "ROLLBACK", "rollback");
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
	struct sq_store *st = (struct sq_store *)base;
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

static const struct cr_store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.institution_add = cr_sqlite_institution_add,
	.institution_get = cr_sqlite_institution_get,
	.institution_list = cr_sqlite_institution_list,
	.client_add = cr_sqlite_client_add,
	.client_by_token = cr_sqlite_client_by_token,
	.client_list = cr_sqlite_client_list,
	.registry_version = cr_sqlite_registry_version,
	.service_add = cr_sqlite_service_add,
	.service_get = cr_sqlite_service_get,
	.service_list = cr_sqlite_service_list,
	.authz_add = cr_sqlite_authz_add,
	.authz_delete = cr_sqlite_authz_delete,
	.authz_list = cr_sqlite_authz_list,
	.authz_find = cr_sqlite_authz_find,
	.dir_put = cr_sqlite_dir_put,
	.dir_put_many = cr_sqlite_dir_put_many,
	.dir_end = cr_sqlite_dir_end,
	.dir_list = cr_sqlite_dir_list,
	.dir_active = cr_sqlite_dir_active,
	.xlog_append = cr_sqlite_xlog_append,
	.xlog_tail = cr_sqlite_xlog_tail,
	.xlog_query = cr_sqlite_xlog_query,
	.xlog_scan = cr_sqlite_xlog_scan,
	.xlog_count = cr_sqlite_xlog_count,
	.event_type_add = cr_sqlite_event_type_add,
	.event_type_get = cr_sqlite_event_type_get,
	.event_type_list = cr_sqlite_event_type_list,
	.subscription_add = cr_sqlite_subscription_add,
	.subscription_get = cr_sqlite_subscription_get,
	.subscription_list = cr_sqlite_subscription_list,
	.subscription_delete = cr_sqlite_subscription_delete,
	.events_append = cr_sqlite_events_append,
	.deliveries_due = cr_sqlite_deliveries_due,
	.delivery_update = cr_sqlite_delivery_update,
	.deliveries_update = cr_sqlite_deliveries_update,
	.feed_read = cr_sqlite_feed_read,
	.dead_letters = cr_sqlite_dead_letters,
	.redeliver = cr_sqlite_redeliver,
	.bundle_add = cr_sqlite_bundle_add,
	.bundle_get = cr_sqlite_bundle_get,
	.bundle_list = cr_sqlite_bundle_list,
	.batch_add = cr_sqlite_batch_add,
	.batch_get = cr_sqlite_batch_get,
	.batch_unfinished = cr_sqlite_batch_unfinished,
	.batch_set_status = cr_sqlite_batch_set_status,
	.batch_pending = cr_sqlite_batch_pending,
	.batch_results_put = cr_sqlite_batch_results_put,
	.batch_results = cr_sqlite_batch_results,
};

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
	int rc, kind;

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
	st->base.ops = &sq_ops;
	st->rdonly = rdonly;
	if ((st->path = strdup(path)) == NULL) {
		log_warn("store: strdup");
		free(st);
		return -1;
	}
	if (file_kind(path, rdonly) == -1 ||
	    (rdonly && readonly_uri(path, &st->uri) == -1)) {
		free(st->path);
		free(st);
		return -1;
	}
	if ((rc = pthread_key_create(&st->key, conn_destroy)) != 0) {
		log_warnx("store: pthread_key_create: %s", strerror(rc));
		free(st->uri);
		free(st->path);
		free(st);
		return -1;
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->wmtx, NULL);
	pthread_cond_init(&st->wcond, NULL);

	/* From here on sq_close() undoes everything. */
	if ((c = conn_open(st, 1)) == NULL)
		goto fail;
	if (conn_register(st, c) == -1) {
		conn_free(c);
		goto fail;
	}
	if ((kind = schema_kind(c)) == -1)
		goto fail;
	if (rdonly) {
		/* Nothing is migrated or converted: the file stays as is. */
		if (kind == 1) {
			log_warnx("store: %s: an empty database, not a "
			    "Crossroads hub database", path);
			goto fail;
		}
		if (check_version(c) == -1)
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
