/*
 * The PostgreSQL side of the store tests: when CR_TEST_PG_URL names a
 * database (tests/support/pgcluster.py starts a cluster and sets it), the
 * suites run against it instead of a SQLite file, each test on a database
 * emptied first.
 */
#ifndef CR_TEST_PG_FIXTURE_H
#define CR_TEST_PG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

/* The PostgreSQL database the suite runs against; NULL: SQLite. */
static inline const char *
fx_pg_url(void)
{
	const char *url = getenv("CR_TEST_PG_URL");

	return url != NULL && *url != '\0' ? url : NULL;
}

/* Drops everything a previous test left in the database. */
static inline int
fx_pg_reset(const char *url)
{
	PGconn *db = PQconnectdb(url);
	PGresult *res;
	int rc = -1;

	if (PQstatus(db) == CONNECTION_OK) {
		res = PQexec(db, "SET client_min_messages = warning;"
		    "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			rc = 0;
		else
			fprintf(stderr, "fx_pg_reset: %s", PQerrorMessage(db));
		PQclear(res);
	} else
		fprintf(stderr, "fx_pg_reset: %s", PQerrorMessage(db));
	PQfinish(db);
	return rc;
}

#endif
