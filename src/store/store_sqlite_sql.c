/*
 * The SQL of the SQLite backend, kept apart from the code that runs it:
 * the schema migrations and the text of every prepared statement
 * (store_sqlite_int.h names them). Reviewing a query or a migration means
 * reading this file only.
 */
#include <stddef.h>

#include "store_sqlite_int.h"

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
const char *const cr_sqlite_migrations[] = {
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

	/*
	 * 6: the params a service declares ([{"name","type"}]), and those of
	 * each consultation in its log entry ('' when none: the entries
	 * written before keep their hash, docs/exchange-log.md).
	 */
	("ALTER TABLE services ADD COLUMN params TEXT NOT NULL DEFAULT '[]';"
	 "ALTER TABLE xlog ADD COLUMN params TEXT NOT NULL DEFAULT '';"),

	/*
	 * 7: one row that the storage probe (/readyz) rewrites, so that it
	 * checks a real committed write without touching anyone's data.
	 */
	"CREATE TABLE health ("
	"  id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),"
	"  at INTEGER NOT NULL"
	");"
	"INSERT INTO health (id, at) VALUES (1, 0);",

	/* 8: TLS. Clients authenticated by a certificate (docs/api.md,
	   "Client certificates"): its SHA-256, one client per certificate; */
	"ALTER TABLE clients ADD COLUMN cert_sha256 TEXT;"
	"CREATE UNIQUE INDEX clients_cert ON clients(cert_sha256)"
	"  WHERE cert_sha256 IS NOT NULL;"
	/* and services over HTTPS: the CA and the hub's certificate. */
	"ALTER TABLE services ADD COLUMN ca_file TEXT;"
	"ALTER TABLE services ADD COLUMN client_cert TEXT;"
	"ALTER TABLE services ADD COLUMN client_key TEXT;",

	/*
	 * 9: the capacity catalogue: which institutions (JSON array of ids)
	 * and sectors (JSON array) may declare each capacity in the
	 * directory. Not in the registry cache: no registry_version trigger.
	 */
	"CREATE TABLE capacities ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  name TEXT NOT NULL,"
	"  institutions TEXT NOT NULL,"
	"  sectors TEXT NOT NULL"
	");",

	/*
	 * 10: the exchange log's Merkle tree, perfect subtrees by level and
	 * index (the hub stores the levels 4, 8, 12, ...: about one row per
	 * 15 entries), and the signed tree heads (docs/exchange-log.md). The
	 * tree of the entries written before is built by the hub at its next
	 * start.
	 */
	("CREATE TABLE xlog_tree ("
	 "  level INTEGER NOT NULL,"
	 "  idx INTEGER NOT NULL,"
	 "  hash BLOB NOT NULL,"
	 "  PRIMARY KEY (level, idx)"
	 ") WITHOUT ROWID;"
	 "CREATE TABLE xlog_heads ("
	 "  tree_size INTEGER PRIMARY KEY,"
	 "  timestamp_ms INTEGER NOT NULL,"
	 "  root BLOB NOT NULL,"
	 "  key_id TEXT NOT NULL,"
	 "  signature BLOB NOT NULL"
	 ");"),

	/*
	 * 11: credentials with a lifecycle (docs/api.md, "Client
	 * credentials"): expiry, revocation, the previous token of a
	 * rotation and until when it stays valid, all Unix ms. Last use
	 * goes to a table of its own, without registry_version triggers:
	 * it is written every few seconds and must not make every
	 * registry cache reload.
	 */
	("ALTER TABLE clients ADD COLUMN expires_ms INTEGER;"
	 "ALTER TABLE clients ADD COLUMN revoked_ms INTEGER;"
	 "ALTER TABLE clients ADD COLUMN prev_token_hash BLOB;"
	 "ALTER TABLE clients ADD COLUMN prev_valid_until_ms INTEGER;"
	 "CREATE INDEX clients_prev_token ON clients(prev_token_hash)"
	 "  WHERE prev_token_hash IS NOT NULL;"
	 "CREATE TABLE client_usage ("
	 "  client TEXT PRIMARY KEY NOT NULL,"
	 "  last_used_ms INTEGER NOT NULL"
	 ");"),

	/*
	 * 12: named operator accounts with a role; their tokens are checked
	 * through the registry cache like clients', so changes bump the
	 * registry version.
	 */
	("CREATE TABLE operators ("
	 "  id TEXT PRIMARY KEY NOT NULL,"
	 "  name TEXT NOT NULL UNIQUE,"
	 "  role TEXT NOT NULL CHECK (role IN ('admin', 'auditor', 'security')),"
	 "  token_hash BLOB NOT NULL UNIQUE,"
	 "  created_at TEXT NOT NULL"
	 "    DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
	 "  revoked_ms INTEGER"
	 ");"
	 "CREATE TRIGGER operators_INSERT_version AFTER INSERT ON operators"
	 " BEGIN UPDATE registry_version SET version = version + 1; END;"
	 "CREATE TRIGGER operators_UPDATE_version AFTER UPDATE ON operators"
	 " BEGIN UPDATE registry_version SET version = version + 1; END;"
	 "CREATE TRIGGER operators_DELETE_version AFTER DELETE ON operators"
	 " BEGIN UPDATE registry_version SET version = version + 1; END;"),

	/*
	 * 13: the audit trail (docs/audit.md), hash-chained like the
	 * exchange log; before and after are compact JSON text, NULL when
	 * there is none (a creation has no before, a deletion no after).
	 */
	("CREATE TABLE audit ("
	 "  seq INTEGER PRIMARY KEY,"
	 "  ts TEXT NOT NULL,"
	 "  actor TEXT NOT NULL,"
	 "  action TEXT NOT NULL,"
	 "  object TEXT NOT NULL,"
	 "  before TEXT,"
	 "  after TEXT,"
	 "  prev_hash BLOB NOT NULL,"
	 "  hash BLOB NOT NULL"
	 ");"
	 "CREATE INDEX audit_object ON audit(object, seq);"),
};

#define AZ_COLS "id, consumer, service, purpose, legal_basis, fields, " \
	"capacities, valid_from, valid_to"
#define XLOG_COLS "seq, ts, request_id, consumer, client, end_user, " \
	"service, provider, subject, purpose, legal_basis, outcome, status, " \
	"error_code, prev_hash, hash, params"

#define SUB_COLS "id, institution, client, event_type, capacities, url, " \
	"feed, secret, created_at"
#define DLV_COLS "d.seq, d.subscription, d.event_id, d.state, d.attempts, " \
	"d.next_attempt_ms, d.last_error, e.id, e.type, e.provider, " \
	"e.subject, e.occurred_at, e.published_at, e.data"

const char *const cr_sqlite_stmt_sql[SQ_NSTMT] = {
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
	    "INSERT INTO clients (id, institution, name, token_hash,"
	    " cert_sha256, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* ?2: now. The previous token of a rotation counts until its end. */
	[SQ_CLIENT_BY_TOKEN] =
	    "SELECT id, institution, name, expires_ms, cert_sha256 FROM clients"
	    " WHERE (token_hash = ?1 OR (prev_token_hash = ?1"
	    " AND prev_valid_until_ms > ?2))"
	    " AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?2)",
	/* ?2: now. A revoked or expired registration is no one's. */
	[SQ_CLIENT_BY_CERT] =
	    "SELECT id, institution, name, expires_ms, cert_sha256 FROM clients"
	    " WHERE cert_sha256 = ?1"
	    " AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?2)",
	[SQ_CLIENT_LIST] =
	    "SELECT c.id, c.institution, c.name, c.token_hash, c.created_at,"
	    " c.prev_token_hash, c.prev_valid_until_ms, c.expires_ms,"
	    " c.revoked_ms, u.last_used_ms, c.cert_sha256 FROM clients AS c"
	    " LEFT JOIN client_usage AS u ON u.client = c.id ORDER BY c.id",
	[SQ_CLIENT_REVOKE] =
	    "UPDATE clients SET revoked_ms = coalesce(revoked_ms, ?3)"
	    " WHERE id = ?2 AND institution = ?1",
	[SQ_CLIENT_ROTATE] =
	    "UPDATE clients SET prev_token_hash = token_hash,"
	    " prev_valid_until_ms = ?4, token_hash = ?3"
	    " WHERE id = ?2 AND institution = ?1 AND revoked_ms IS NULL",
	[SQ_CLIENT_TOUCH] =
	    "INSERT INTO client_usage (client, last_used_ms) VALUES (?1, ?2)"
	    " ON CONFLICT (client) DO UPDATE"
	    " SET last_used_ms = max(last_used_ms, excluded.last_used_ms)",
	[SQ_OP_ADD] =
	    "INSERT INTO operators (id, name, role, token_hash)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[SQ_OP_BY_TOKEN] =
	    "SELECT id, name, role FROM operators"
	    " WHERE token_hash = ?1 AND revoked_ms IS NULL",
	[SQ_OP_LIST] =
	    "SELECT id, name, role, created_at, token_hash, revoked_ms"
	    " FROM operators ORDER BY name",
	[SQ_OP_REVOKE] =
	    "UPDATE operators SET revoked_ms = coalesce(revoked_ms, ?2)"
	    " WHERE id = ?1",
	[SQ_OP_ROTATE] =
	    "UPDATE operators SET token_hash = ?2"
	    " WHERE id = ?1 AND revoked_ms IS NULL",
	[SQ_REG_VERSION] = "SELECT version FROM registry_version WHERE id = 1",
	[SQ_SVC_ADD] =
	    "INSERT INTO services (id, provider, endpoint, subject_kind,"
	    " fields, timeout_ms, params, ca_file, client_cert, client_key)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[SQ_SVC_GET] =
	    "SELECT id, provider, endpoint, subject_kind, fields, timeout_ms,"
	    " params, ca_file, client_cert, client_key"
	    " FROM services WHERE id = ?1",
	[SQ_SVC_LIST] =
	    "SELECT id, provider, endpoint, subject_kind, fields, timeout_ms,"
	    " params, ca_file, client_cert, client_key"
	    " FROM services ORDER BY id",
	[SQ_AZ_ADD] =
	    "INSERT INTO authorizations (" AZ_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQ_AZ_DELETE] = "DELETE FROM authorizations WHERE id = ?1",
	[SQ_AZ_UPDATE] =
	    "UPDATE authorizations SET fields = ?2, valid_from = ?3,"
	    " valid_to = ?4 WHERE id = ?1",
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
	    " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
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
	/* OR IGNORE: rebuilding a tree's missing part may meet a node that
	   is there already; it is the same hash or the log was rewritten,
	   which the start-up check reports. */
	[SQ_TREE_PUT] =
	    "INSERT OR IGNORE INTO xlog_tree (level, idx, hash)"
	    " VALUES (?1, ?2, ?3)",
	[SQ_TREE_GET] =
	    "SELECT hash FROM xlog_tree WHERE level = ?1 AND idx = ?2",
	/* max, not count: one step down the primary key. */
	[SQ_TREE_COUNT] = "SELECT max(idx) FROM xlog_tree WHERE level = ?1",
	[SQ_XLOG_HASHES] =
	    "SELECT seq, hash FROM xlog WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
	[SQ_TREE_RESET] = "DELETE FROM xlog_tree",
	[SQ_HEADS_RESET] = "DELETE FROM xlog_heads",
	[SQ_HEAD_PUT] =
	    "INSERT OR REPLACE INTO xlog_heads (tree_size, timestamp_ms, root,"
	    " key_id, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_HEAD_GET] =
	    "SELECT tree_size, timestamp_ms, root, key_id, signature"
	    " FROM xlog_heads WHERE tree_size = ?1",
	[SQ_HEAD_LATEST] =
	    "SELECT tree_size, timestamp_ms, root, key_id, signature"
	    " FROM xlog_heads ORDER BY tree_size DESC LIMIT 1",
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
	[SQ_HEALTH_WRITE] =
	    "UPDATE health SET at = ?1 WHERE id = 1",
	[SQ_CAP_ADD] =
	    "INSERT INTO capacities (id, name, institutions, sectors)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[SQ_CAP_UPDATE] =
	    "UPDATE capacities SET name = ?2, institutions = ?3, sectors = ?4"
	    " WHERE id = ?1",
	[SQ_CAP_GET] =
	    "SELECT id, name, institutions, sectors FROM capacities"
	    " WHERE id = ?1",
	[SQ_CAP_LIST] =
	    "SELECT id, name, institutions, sectors FROM capacities ORDER BY id",
	[SQ_AUDIT_TAIL] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[SQ_AUDIT_INSERT] =
	    "INSERT INTO audit (seq, ts, actor, action, object, before, after,"
	    " prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQ_AUDIT_SCAN] =
	    "SELECT seq, ts, actor, action, object, before, after, prev_hash,"
	    " hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[SQ_AUDIT_SCAN_OBJECT] =
	    "SELECT seq, ts, actor, action, object, before, after, prev_hash,"
	    " hash FROM audit WHERE object = ?3 AND seq > ?1 ORDER BY seq"
	    " LIMIT ?2",
};

const size_t cr_sqlite_nmigrations =
    sizeof(cr_sqlite_migrations) / sizeof(cr_sqlite_migrations[0]);

/*
 * A store opened to read only is not migrated, yet the versions just
 * before this program's still read: cr_sqlite_readonly_compat[v] is run on
 * each connection to a file at version v (temp views, which unqualified
 * names find before main's tables, give the columns that later migrations
 * added, with the values they give rows written before them); NULL: that
 * version is refused. Kept in step with each migration while it only adds
 * columns, or tables that a read-only store never reads.
 */
/* 8's columns. */
#define RO_TLS_SERVICE_COLS \
    ", NULL AS ca_file, NULL AS client_cert, NULL AS client_key"
/* 11: the clients' lifecycle columns, null, and no last use. */
#define RO_LIFE_COLS \
    ", NULL AS expires_ms, NULL AS revoked_ms, NULL AS prev_token_hash," \
    " NULL AS prev_valid_until_ms"
#define RO_USAGE \
    "CREATE TEMP VIEW client_usage AS SELECT '' AS client," \
    " 0 AS last_used_ms WHERE 0;"
/* 8: no client certificates (and 11's columns). */
#define RO_TLS_CLIENTS \
    "CREATE TEMP VIEW clients AS SELECT *, NULL AS cert_sha256" \
    RO_LIFE_COLS " FROM main.clients;" RO_USAGE
#define RO_CLIENTS \
    "CREATE TEMP VIEW clients AS SELECT *" RO_LIFE_COLS \
    " FROM main.clients;" RO_USAGE
#define RO_TLS \
    "CREATE TEMP VIEW services AS SELECT *" RO_TLS_SERVICE_COLS \
    " FROM main.services;" RO_TLS_CLIENTS
#define RO_PARAMS \
    "CREATE TEMP VIEW services AS SELECT *, '[]' AS params" \
    RO_TLS_SERVICE_COLS " FROM main.services;" RO_TLS_CLIENTS \
    "CREATE TEMP VIEW xlog AS SELECT *, '' AS params FROM main.xlog;"
/* 12: no named operators. */
#define RO_OPERATORS \
    "CREATE TEMP VIEW operators AS SELECT '' AS id, '' AS name," \
    " '' AS role, '' AS created_at, x'' AS token_hash," \
    " NULL AS revoked_ms WHERE 0;"
/* 13: an empty audit trail. */
#define RO_AUDIT \
    "CREATE TEMP VIEW audit AS SELECT 0 AS seq, '' AS ts, '' AS actor," \
    " '' AS action, '' AS object, NULL AS before, NULL AS after," \
    " x'' AS prev_hash, x'' AS hash WHERE 0;"
const char *const cr_sqlite_readonly_compat[] = {
	[5] = RO_PARAMS RO_OPERATORS RO_AUDIT,
	/* 7 added the health table, which only the probe writes. */
	[6] = RO_TLS RO_OPERATORS RO_AUDIT,
	[7] = RO_TLS RO_OPERATORS RO_AUDIT,
	/* 9 added the capacity catalogue, which no read-only command reads;
	   10 the Merkle tree and the heads: log verify recomputes the tree
	   from the entries and reads neither. */
	[8] = RO_CLIENTS RO_OPERATORS RO_AUDIT,
	[9] = RO_CLIENTS RO_OPERATORS RO_AUDIT,
	[10] = RO_CLIENTS RO_OPERATORS RO_AUDIT,
	[11] = RO_OPERATORS RO_AUDIT,
	[12] = RO_AUDIT,
};
const size_t cr_sqlite_nreadonly_compat =
    sizeof(cr_sqlite_readonly_compat) / sizeof(cr_sqlite_readonly_compat[0]);
