/*
 * PostgreSQL backend: opening and migrating, closing, the health probe.
 * The concerns are in store_pg_*.c; so far only the registry
 * (store_pg_registry.c): the other concern tables of a PostgreSQL store
 * are NULL, which cr_store_open() refuses (store.c), so that no caller
 * meets one; cr_store_open_partial() gives them to those that check.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "store.h"
#include "store_pg_int.h"
#include "util.h"

/* Serializes migrations of one database among the nodes that start at
   once (pg_advisory_xact_lock key: "cr" "sm" in ASCII). */
#define MIGRATION_LOCK	"1668441453"

/*
 * Opening.
 */

/* The version in schema_version, 0 when there is none yet, -1 on error;
   *foreign = 1 when the schema has tables but none of ours. */
static int
schema_version(struct pg_conn *c, int *foreign)
{
	PGresult *res;
	int v = -1;

	*foreign = 0;
	res = PQexec(c->db, "SELECT (SELECT version FROM schema_version"
	    " WHERE id = 1), (SELECT count(*) FROM pg_tables"
	    " WHERE schemaname = current_schema()"
	    " AND tablename <> 'schema_version')");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		cr_pg_log("schema version", PQerrorMessage(c->db));
		goto out;
	}
	if (PQgetisnull(res, 0, 0)) {
		v = 0;
		*foreign = strcmp(PQgetvalue(res, 0, 1), "0") != 0;
	} else
		v = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
 out:
	PQclear(res);
	return v;
}

static int
latest_version(void)
{
	return cr_pg_migrations[cr_pg_nmigrations - 1].version;
}

/*
 * Brings the schema to the latest version, each migration in its own
 * transaction with the version it reaches, under an advisory lock so that
 * nodes starting together migrate once.
 */
static int
migrate(struct pg_conn *c)
{
	char sql[160];
	size_t i;
	int v, foreign;

	if (cr_pg_simple(c, "SET client_min_messages = warning", "session") ==
	    -1 || cr_pg_simple(c, cr_pg_sql_version_table, "schema_version") ==
	    -1)
		return -1;
	for (i = 0; i < cr_pg_nmigrations; i++) {
		if (cr_pg_simple(c, "BEGIN", "migration") == -1)
			return -1;
		if (cr_pg_simple(c, "SELECT pg_advisory_xact_lock("
		    MIGRATION_LOCK ")", "migration lock") == -1 ||
		    (v = schema_version(c, &foreign)) == -1)
			goto fail;
		if (v == 0 && foreign) {
			log_warnx("store: postgresql: the database holds"
			    " tables that are not a hub's; refusing it");
			goto fail;
		}
		if (v > latest_version()) {
			log_warnx("store: postgresql: schema version %d is"
			    " newer than this program's (%d)", v,
			    latest_version());
			goto fail;
		}
		if (v >= cr_pg_migrations[i].version) {
			if (cr_pg_simple(c, "COMMIT", "migration") == -1)
				return -1;
			continue;
		}
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version"
		    " (id, version) VALUES (1, %d) ON CONFLICT (id)"
		    " DO UPDATE SET version = excluded.version",
		    cr_pg_migrations[i].version);
		if (cr_pg_simple(c, cr_pg_migrations[i].sql, "migration") ==
		    -1 || cr_pg_simple(c, sql, "migration") == -1 ||
		    cr_pg_simple(c, "COMMIT", "migration") == -1)
			goto fail;
	}
	return 0;
 fail:
	cr_pg_simple(c, "ROLLBACK", "migration");
	return -1;
}

/* A store opened to read only is not migrated: it must be at this
   program's version already. */
static int
check_readonly(struct pg_conn *c)
{
	PGresult *res;
	int v, rc = -1;

	res = PQexec(c->db, "SELECT version FROM schema_version WHERE id = 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_warnx("store: postgresql: not a hub database");
		goto out;
	}
	v = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (v != latest_version())
		log_warnx("store: postgresql: schema version %d, this program"
		    " reads %d only", v, latest_version());
	else
		rc = 0;
 out:
	PQclear(res);
	return rc;
}

static void
pg_close(struct cr_store *base)
{
	struct pg_store *st = (struct pg_store *)base;

	cr_pg_store_free(st);
	free(st);
}

/* One committed write of the probe row: a read-only store, a server in
   recovery (a replica) or a full disk fail it. */
static int
pg_health(struct cr_store *base)
{
	struct pg_store *st = (struct pg_store *)base;
	struct pg_conn *c;
	char now[24];
	const char *p[1] = { now };
	long changes;
	int rc;

	if ((c = cr_pg_store_conn(st)) == NULL)
		return CR_STORE_ERR;
	snprintf(now, sizeof(now), "%lld", (long long)cr_util_wall_ms());
	rc = cr_pg_exec(c, PG_HEALTH_WRITE, 1, p, NULL, &changes, "health");
	if (rc != CR_STORE_OK)
		return CR_STORE_ERR;
	if (changes != 1) {
		log_warnx("store: postgresql: health: the probe row is"
		    " missing");
		return CR_STORE_ERR;
	}
	return CR_STORE_OK;
}

static int
pg_open(const char *url, int rdonly, struct cr_store **out)
{
	struct pg_store *st;
	struct pg_conn *c;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warn("store: calloc");
		return -1;
	}
	if (cr_pg_store_init(st, url, rdonly) == -1) {
		free(st);
		return -1;
	}
	st->base.name = "postgresql";
	st->base.close = pg_close;
	st->base.health = pg_health;
	st->registry.ops = &cr_pg_registry_ops;
	st->base.registry = &st->registry;
	/* Not stored on PostgreSQL yet: cr_store_open() refuses the store
	   of a whole hub (store.c). */
	st->base.directory = NULL;
	st->base.xlog = NULL;
	st->base.events = NULL;
	st->base.batches = NULL;
	st->base.audit = NULL;
	if ((c = cr_pg_store_conn(st)) == NULL ||
	    (rdonly ? check_readonly(c) : migrate(c)) == -1) {
		pg_close(&st->base);
		return -1;
	}
	*out = &st->base;
	return 0;
}

int
cr_store_pg_open(const char *url, struct cr_store **out)
{
	return pg_open(url, 0, out);
}

int
cr_store_pg_open_readonly(const char *url, struct cr_store **out)
{
	return pg_open(url, 1, out);
}
