/*
 * The SQL of the PostgreSQL backend, kept apart from the code that runs
 * it: the schema migrations and the text of every prepared statement
 * (store_pg_int.h names them), as store_sqlite_sql.c is for SQLite.
 */
#include <stddef.h>

#include "store_pg_int.h"

/*
 * Text columns compare and sort byte by byte ("C"), as SQLite's do,
 * whatever the database's locale: list orders and the comparisons of
 * dates written as YYYY-MM-DD must not depend on how the database was
 * created.
 */
#define T	"TEXT COLLATE \"C\""
/* Unix ms of now, and the RFC 3339 UTC text SQLite's strftime gives. */
#define NOW_TEXT \
	"to_char(clock_timestamp() AT TIME ZONE 'UTC'," \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define REG_TRIGGER(table) \
	"CREATE TRIGGER " table "_version AFTER INSERT OR UPDATE OR DELETE" \
	" ON " table " FOR EACH ROW EXECUTE FUNCTION registry_bump();"

/*
 * Schema migrations, applied in order in one transaction each, under an
 * advisory lock (several nodes may start at once); schema_version holds
 * the version reached. Versions are SQLite's (cr_sqlite_migrations[]):
 * a database at version v holds what a SQLite file at version v does.
 * There were no PostgreSQL databases before version 13, so the first
 * migration creates the schema of SQLite's versions 1 to 13 at once;
 * later ones are appended one per SQLite migration, with its number.
 *
 * Types: ids and dates are text, hashes and signatures bytea, times in
 * Unix ms bigint, JSON lists the compact JSON text SQLite keeps (read
 * back by the same code; jsonb would not keep the text as written).
 * Identity columns stand for SQLite's AUTOINCREMENT: a number once given
 * is never given again.
 */
const struct pg_migration cr_pg_migrations[] = {
	{ 13,
	"CREATE TABLE institutions ("
	"  id " T " PRIMARY KEY,"
	"  name " T " NOT NULL,"
	"  sector " T " NOT NULL"
	");"
	"CREATE TABLE clients ("
	"  id " T " PRIMARY KEY,"
	"  institution " T " NOT NULL REFERENCES institutions(id),"
	"  name " T " NOT NULL,"
	"  token_hash BYTEA NOT NULL UNIQUE,"
	"  created_at " T " NOT NULL DEFAULT " NOW_TEXT ","
	"  cert_sha256 " T ","
	"  expires_ms BIGINT,"
	"  revoked_ms BIGINT,"
	"  prev_token_hash BYTEA,"
	"  prev_valid_until_ms BIGINT"
	");"
	"CREATE UNIQUE INDEX clients_cert ON clients(cert_sha256)"
	"  WHERE cert_sha256 IS NOT NULL;"
	"CREATE INDEX clients_prev_token ON clients(prev_token_hash)"
	"  WHERE prev_token_hash IS NOT NULL;"
	"CREATE TABLE client_usage ("
	"  client " T " PRIMARY KEY,"
	"  last_used_ms BIGINT NOT NULL"
	");"
	"CREATE TABLE services ("
	"  id " T " PRIMARY KEY,"
	"  provider " T " NOT NULL REFERENCES institutions(id),"
	"  endpoint " T " NOT NULL,"
	"  subject_kind " T " NOT NULL,"
	"  fields " T " NOT NULL,"
	"  timeout_ms INTEGER NOT NULL,"
	"  params " T " NOT NULL DEFAULT '[]',"
	"  ca_file " T ","
	"  client_cert " T ","
	"  client_key " T
	");"
	/* No foreign key on service: event types are authorized alike. */
	"CREATE TABLE authorizations ("
	"  id " T " PRIMARY KEY,"
	"  consumer " T " NOT NULL REFERENCES institutions(id),"
	"  service " T " NOT NULL,"
	"  purpose " T " NOT NULL,"
	"  legal_basis " T " NOT NULL,"
	"  fields " T " NOT NULL,"
	"  capacities " T " NOT NULL,"
	"  valid_from " T " NOT NULL,"
	"  valid_to " T
	");"
	"CREATE INDEX authorizations_lookup"
	"  ON authorizations(consumer, service, purpose);"
	"CREATE TABLE operators ("
	"  id " T " PRIMARY KEY,"
	"  name " T " NOT NULL UNIQUE,"
	"  role " T " NOT NULL CHECK (role IN ('admin', 'auditor', 'security')),"
	"  token_hash BYTEA NOT NULL UNIQUE,"
	"  created_at " T " NOT NULL DEFAULT " NOW_TEXT ","
	"  revoked_ms BIGINT"
	");"
	"CREATE TABLE capacities ("
	"  id " T " PRIMARY KEY,"
	"  name " T " NOT NULL,"
	"  institutions " T " NOT NULL,"
	"  sectors " T " NOT NULL"
	");"
	/* The registry's version, bumped by every row changed in the tables
	   the registry cache holds, as SQLite's row triggers do. */
	"CREATE TABLE registry_version ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  version BIGINT NOT NULL"
	");"
	"INSERT INTO registry_version (id, version) VALUES (1, 0);"
	"CREATE FUNCTION registry_bump() RETURNS trigger LANGUAGE plpgsql AS"
	" $$BEGIN UPDATE registry_version SET version = version + 1;"
	" RETURN NULL; END$$;"
	REG_TRIGGER("institutions")
	REG_TRIGGER("clients")
	REG_TRIGGER("services")
	REG_TRIGGER("authorizations")
	REG_TRIGGER("operators")
	"CREATE TABLE directory ("
	"  subject " T " NOT NULL,"
	"  institution " T " NOT NULL REFERENCES institutions(id),"
	"  capacity " T " NOT NULL,"
	"  from_date " T " NOT NULL,"
	"  to_date " T ","
	"  PRIMARY KEY (subject, institution, capacity, from_date)"
	");"
	"CREATE TABLE xlog ("
	"  seq BIGINT PRIMARY KEY,"
	"  ts " T " NOT NULL,"
	"  request_id " T " NOT NULL,"
	"  consumer " T " NOT NULL,"
	"  client " T " NOT NULL,"
	"  end_user " T " NOT NULL,"
	"  service " T " NOT NULL,"
	"  provider " T " NOT NULL,"
	"  subject " T " NOT NULL,"
	"  purpose " T " NOT NULL,"
	"  legal_basis " T " NOT NULL,"
	"  outcome " T " NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  error_code " T " NOT NULL,"
	"  prev_hash BYTEA NOT NULL,"
	"  hash BYTEA NOT NULL,"
	"  params " T " NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX xlog_subject ON xlog(subject, seq);"
	"CREATE TABLE xlog_tree ("
	"  level INTEGER NOT NULL,"
	"  idx BIGINT NOT NULL,"
	"  hash BYTEA NOT NULL,"
	"  PRIMARY KEY (level, idx)"
	");"
	"CREATE TABLE xlog_heads ("
	"  tree_size BIGINT PRIMARY KEY,"
	"  timestamp_ms BIGINT NOT NULL,"
	"  root BYTEA NOT NULL,"
	"  key_id " T " NOT NULL,"
	"  signature BYTEA NOT NULL"
	");"
	"CREATE TABLE event_types ("
	"  id " T " PRIMARY KEY,"
	"  provider " T " NOT NULL REFERENCES institutions(id),"
	"  fields " T " NOT NULL,"
	"  all_integrations INTEGER NOT NULL"
	");"
	"CREATE TABLE events ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  type " T " NOT NULL,"
	"  provider " T " NOT NULL,"
	"  subject " T " NOT NULL,"
	"  occurred_at " T " NOT NULL,"
	"  published_at " T " NOT NULL,"
	"  data " T " NOT NULL"
	");"
	"CREATE TABLE subscriptions ("
	"  id " T " PRIMARY KEY,"
	"  institution " T " NOT NULL REFERENCES institutions(id),"
	"  client " T " NOT NULL,"
	"  event_type " T " NOT NULL REFERENCES event_types(id),"
	"  capacities " T " NOT NULL,"
	"  url " T ","
	"  feed INTEGER NOT NULL,"
	"  secret " T " NOT NULL,"
	"  created_at " T " NOT NULL"
	");"
	"CREATE INDEX subscriptions_event_type ON subscriptions(event_type, id);"
	"CREATE INDEX subscriptions_institution"
	"  ON subscriptions(institution, id);"
	"CREATE TABLE deliveries ("
	"  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  subscription " T " NOT NULL,"
	"  event_id BIGINT NOT NULL,"
	"  feed_institution " T ","
	"  state INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  next_attempt_ms BIGINT NOT NULL,"
	"  last_error " T
	");"
	"CREATE INDEX deliveries_due ON deliveries(next_attempt_ms)"
	"  WHERE state = 0 AND feed_institution IS NULL;"
	"CREATE INDEX deliveries_feed ON deliveries(feed_institution, seq)"
	"  WHERE feed_institution IS NOT NULL;"
	"CREATE INDEX deliveries_subscription"
	"  ON deliveries(subscription, seq);"
	"CREATE INDEX deliveries_dead ON deliveries(subscription, seq)"
	"  WHERE state = 2;"
	"CREATE TABLE bundles ("
	"  id " T " PRIMARY KEY,"
	"  definition " T " NOT NULL,"
	"  created_at " T " NOT NULL DEFAULT " NOW_TEXT
	");"
	"CREATE TABLE batches ("
	"  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  id " T " NOT NULL UNIQUE,"
	"  institution " T " NOT NULL,"
	"  client " T " NOT NULL,"
	"  end_user " T " NOT NULL,"
	"  bundle " T " NOT NULL,"
	"  purpose " T " NOT NULL,"
	"  reference_date " T " NOT NULL,"
	"  household INTEGER NOT NULL,"
	"  status " T " NOT NULL,"
	"  error " T ","
	"  total BIGINT NOT NULL,"
	"  done BIGINT NOT NULL DEFAULT 0,"
	"  failed BIGINT NOT NULL DEFAULT 0,"
	"  created_at " T " NOT NULL DEFAULT " NOW_TEXT ","
	"  finished_at " T
	");"
	"CREATE TABLE batch_items ("
	"  batch BIGINT NOT NULL,"
	"  line BIGINT NOT NULL,"
	"  subject " T " NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  result " T ","
	"  PRIMARY KEY (batch, line)"
	");"
	"CREATE TABLE health ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  at BIGINT NOT NULL"
	");"
	"INSERT INTO health (id, at) VALUES (1, 0);"
	"CREATE TABLE audit ("
	"  seq BIGINT PRIMARY KEY,"
	"  ts " T " NOT NULL,"
	"  actor " T " NOT NULL,"
	"  action " T " NOT NULL,"
	"  object " T " NOT NULL,"
	"  before " T ","
	"  after " T ","
	"  prev_hash BYTEA NOT NULL,"
	"  hash BYTEA NOT NULL"
	");"
	"CREATE INDEX audit_object ON audit(object, seq);" },
};
#undef REG_TRIGGER

const size_t cr_pg_nmigrations =
    sizeof(cr_pg_migrations) / sizeof(cr_pg_migrations[0]);

/* The statements that run outside a migration's transaction. */
const char cr_pg_sql_version_table[] =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  version INTEGER NOT NULL"
    ")";

#define AZ_COLS "id, consumer, service, purpose, legal_basis, fields, " \
	"capacities, valid_from, valid_to"
#define CLIENT_COLS "id, institution, name, expires_ms, cert_sha256"
#define SVC_COLS "id, provider, endpoint, subject_kind, fields, timeout_ms," \
	" params, ca_file, client_cert, client_key"

/*
 * Hashes travel as hex text both ways (decode/encode), so that every
 * parameter and column is text and one code path reads them all.
 */
const char *const cr_pg_stmt_sql[PG_NSTMT] = {
	[PG_INST_ADD] =
	    "INSERT INTO institutions (id, name, sector) VALUES ($1, $2, $3)",
	[PG_INST_GET] =
	    "SELECT id, name, sector FROM institutions WHERE id = $1",
	[PG_INST_LIST] =
	    "SELECT id, name, sector FROM institutions ORDER BY id",
	[PG_CLIENT_ADD] =
	    "INSERT INTO clients (id, institution, name, token_hash,"
	    " cert_sha256, expires_ms)"
	    " VALUES ($1, $2, $3, decode($4, 'hex'), $5, $6)",
	/* $2: now. The previous token of a rotation counts until its end. */
	[PG_CLIENT_BY_TOKEN] =
	    "SELECT " CLIENT_COLS " FROM clients"
	    " WHERE (token_hash = decode($1, 'hex')"
	    " OR (prev_token_hash = decode($1, 'hex')"
	    " AND prev_valid_until_ms > $2))"
	    " AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $2)",
	[PG_CLIENT_BY_CERT] =
	    "SELECT " CLIENT_COLS " FROM clients WHERE cert_sha256 = $1"
	    " AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $2)",
	[PG_CLIENT_LIST] =
	    "SELECT c.id, c.institution, c.name, encode(c.token_hash, 'hex'),"
	    " c.created_at, encode(c.prev_token_hash, 'hex'),"
	    " c.prev_valid_until_ms, c.expires_ms, c.revoked_ms,"
	    " u.last_used_ms, c.cert_sha256 FROM clients AS c"
	    " LEFT JOIN client_usage AS u ON u.client = c.id ORDER BY c.id",
	[PG_CLIENT_REVOKE] =
	    "UPDATE clients SET revoked_ms = coalesce(revoked_ms, $3)"
	    " WHERE id = $2 AND institution = $1",
	[PG_CLIENT_ROTATE] =
	    "UPDATE clients SET prev_token_hash = token_hash,"
	    " prev_valid_until_ms = $4, token_hash = decode($3, 'hex')"
	    " WHERE id = $2 AND institution = $1 AND revoked_ms IS NULL",
	[PG_CLIENT_TOUCH] =
	    "INSERT INTO client_usage (client, last_used_ms) VALUES ($1, $2)"
	    " ON CONFLICT (client) DO UPDATE SET last_used_ms ="
	    " greatest(client_usage.last_used_ms, excluded.last_used_ms)",
	[PG_OP_ADD] =
	    "INSERT INTO operators (id, name, role, token_hash)"
	    " VALUES ($1, $2, $3, decode($4, 'hex'))",
	[PG_OP_BY_TOKEN] =
	    "SELECT id, name, role FROM operators"
	    " WHERE token_hash = decode($1, 'hex') AND revoked_ms IS NULL",
	[PG_OP_LIST] =
	    "SELECT id, name, role, created_at, encode(token_hash, 'hex'),"
	    " revoked_ms FROM operators ORDER BY name",
	[PG_OP_REVOKE] =
	    "UPDATE operators SET revoked_ms = coalesce(revoked_ms, $2)"
	    " WHERE id = $1",
	[PG_OP_ROTATE] =
	    "UPDATE operators SET token_hash = decode($2, 'hex')"
	    " WHERE id = $1 AND revoked_ms IS NULL",
	[PG_REG_VERSION] = "SELECT version FROM registry_version WHERE id = 1",
	[PG_SVC_ADD] =
	    "INSERT INTO services (" SVC_COLS ")"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
	[PG_SVC_GET] = "SELECT " SVC_COLS " FROM services WHERE id = $1",
	[PG_SVC_LIST] = "SELECT " SVC_COLS " FROM services ORDER BY id",
	[PG_AZ_ADD] =
	    "INSERT INTO authorizations (" AZ_COLS ")"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	[PG_AZ_DELETE] = "DELETE FROM authorizations WHERE id = $1",
	[PG_AZ_UPDATE] =
	    "UPDATE authorizations SET fields = $2, valid_from = $3,"
	    " valid_to = $4 WHERE id = $1",
	[PG_AZ_LIST] =
	    "SELECT " AZ_COLS " FROM authorizations"
	    " ORDER BY consumer, service, purpose, valid_from, id",
	[PG_AZ_LIST_CONSUMER] =
	    "SELECT " AZ_COLS " FROM authorizations WHERE consumer = $1"
	    " ORDER BY consumer, service, purpose, valid_from, id",
	/* Overlapping periods: the one that started last wins. */
	[PG_AZ_FIND] =
	    "SELECT " AZ_COLS " FROM authorizations"
	    " WHERE consumer = $1 AND service = $2 AND purpose = $3"
	    " AND valid_from <= $4 AND (valid_to IS NULL OR valid_to >= $4)"
	    " ORDER BY valid_from DESC, id LIMIT 1",
	[PG_CAP_ADD] =
	    "INSERT INTO capacities (id, name, institutions, sectors)"
	    " VALUES ($1, $2, $3, $4)",
	[PG_CAP_UPDATE] =
	    "UPDATE capacities SET name = $2, institutions = $3, sectors = $4"
	    " WHERE id = $1",
	[PG_CAP_GET] =
	    "SELECT id, name, institutions, sectors FROM capacities"
	    " WHERE id = $1",
	[PG_CAP_LIST] =
	    "SELECT id, name, institutions, sectors FROM capacities ORDER BY id",
	[PG_HEALTH_WRITE] = "UPDATE health SET at = $1 WHERE id = 1",
};
