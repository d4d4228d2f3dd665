/*
 * Fuzz target for the source adapter's config file (adapter_config.c,
 * docs/source-adapter.md) and its `:param` scanner (cr_srcdb_rewrite):
 * the text is read by cr_adapter_config_parse, then every query is
 * rewritten for both placeholder marks and prepared against a real
 * (small, read-only) SQLite database. Checks:
 * - a failure names the file and says why;
 * - what is accepted holds what the documentation promises: valid and
 *   distinct service names and paths, one main query, placed first,
 *   nested queries with distinct identifier names, at most 32 queries;
 * - the rewrite gives the same text for '?' and '$' but for the mark,
 *   numbers each distinct name once, and names are :subject,
 *   :params.NAME or a plain identifier;
 * - a query that prepares takes exactly the parameters the rewrite found,
 *   in the same order, and gives at least one column.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "adapter.h"
#include "fuzz.h"
#include "srcdb.h"

#define NAME	"fuzz-adapter.conf"

static char	dbdir[128];
static char	dbpath[160];

/* A database for the queries to prepare against, made once. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char schema[] =
	    "CREATE TABLE person(id TEXT PRIMARY KEY, name TEXT, "
	    "birth_date TEXT, employer_id INTEGER);"
	    "CREATE TABLE employer(id INTEGER PRIMARY KEY, name TEXT);"
	    "CREATE TABLE wage(person_id TEXT, month TEXT, gross REAL);"
	    "INSERT INTO person VALUES('85073003328','Ann','1985-07-30',1);"
	    "INSERT INTO employer VALUES(1,'Acme');";
	sqlite3 *db;

	fuzz_tmpdir("adapter", dbdir, sizeof(dbdir));
	snprintf(dbpath, sizeof(dbpath), "%s/source.db", dbdir);
	FUZZ_CHECK(sqlite3_open(dbpath, &db) == SQLITE_OK);
	FUZZ_CHECK(sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	return 0;
}

static int
ident(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

static void
check_param_name(const char *pn)
{
	if (strncmp(pn, "params.", 7) == 0)
		FUZZ_CHECK(ident(pn + 7, strlen(pn + 7)));
	else
		FUZZ_CHECK(ident(pn, strlen(pn)));
}

/* Rewrites sql both ways; 0 with the names (freed by the caller) or -1. */
static int
check_rewrite(const char *sql, char ***names, size_t *nnames)
{
	char *q = NULL, *d = NULL, **dn = NULL, err[256];
	size_t ndn = 0, i, j;
	int rq, rd;

	err[0] = '\0';
	rq = cr_srcdb_rewrite(sql, '?', &q, names, nnames, err, sizeof(err));
	if (rq == -1) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(q == NULL && *names == NULL && *nnames == 0);
	}
	rd = cr_srcdb_rewrite(sql, '$', &d, &dn, &ndn, err, sizeof(err));
	FUZZ_CHECK(rq == rd);
	if (rq == -1)
		return -1;
	FUZZ_CHECK(strlen(q) == strlen(d));
	for (i = 0; q[i] != '\0'; i++)
		FUZZ_CHECK(q[i] == d[i] || (q[i] == '?' && d[i] == '$'));
	FUZZ_CHECK(ndn == *nnames);
	for (i = 0; i < *nnames; i++) {
		FUZZ_CHECK(strcmp((*names)[i], dn[i]) == 0);
		check_param_name((*names)[i]);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp((*names)[i], (*names)[j]) != 0);
		free(dn[i]);
	}
	free(dn);
	free(q);
	free(d);
	return 0;
}

static void
free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
check_query(struct cr_srcdb *db, const struct cr_adapter_query *q)
{
	struct cr_srcdb_shape shape;
	char **names = NULL, err[512];
	size_t nnames = 0, i;
	int rw;

	FUZZ_CHECK(q->sql != NULL && q->sql[0] != '\0');
	if (q->kind == CR_AQ_MAIN)
		FUZZ_CHECK(q->name == NULL);
	else
		FUZZ_CHECK(q->name != NULL && ident(q->name, strlen(q->name)));
	rw = check_rewrite(q->sql, &names, &nnames);
	err[0] = '\0';
	if (db->ops->prepare(db, q->sql, &shape, err, sizeof(err)) < 0) {
		FUZZ_CHECK(err[0] != '\0');
		free_names(names, nnames);
		return;
	}
	/* Prepared: the rewrite accepted it too, with the same names. */
	FUZZ_CHECK(rw == 0);
	FUZZ_CHECK(shape.nparams == nnames);
	for (i = 0; i < nnames; i++)
		FUZZ_CHECK(strcmp(shape.params[i], names[i]) == 0);
	FUZZ_CHECK(shape.ncolumns > 0);
	cr_srcdb_shape_free(&shape);
	free_names(names, nnames);
}

static void
check_config(const struct cr_adapter_config *c)
{
	struct cr_srcdb *db = NULL;
	char err[512];
	size_t i, j, k;

	FUZZ_CHECK(c->nservices <= 256);
	for (i = 0; i < c->nservices; i++) {
		const struct cr_adapter_service *s = &c->services[i];
		size_t nmain = 0;

		FUZZ_CHECK(s->name[0] != '\0');
		for (j = 0; s->name[j] != '\0'; j++)
			FUZZ_CHECK(isalnum((unsigned char)s->name[j]) ||
			    strchr("._-", s->name[j]) != NULL);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(c->services[j].name, s->name) != 0);
		if (s->path_line != 0)
			FUZZ_CHECK(s->path[0] == '/');
		FUZZ_CHECK(s->nqueries <= 32);
		for (j = 0; j < s->nqueries; j++) {
			if (s->queries[j].kind == CR_AQ_MAIN)
				nmain++;
			for (k = 0; k < j; k++)
				if (s->queries[j].name != NULL &&
				    s->queries[k].name != NULL)
					FUZZ_CHECK(strcmp(s->queries[j].name,
					    s->queries[k].name) != 0);
		}
		FUZZ_CHECK(nmain <= 1);
		if (nmain == 1)
			FUZZ_CHECK(s->queries[0].kind == CR_AQ_MAIN);
		if (s->nqueries == 0)
			continue;
		if (db == NULL)
			FUZZ_CHECK(cr_srcdb_open(dbpath, &db, err,
			    sizeof(err)) == 0);
		for (j = 0; j < s->nqueries; j++)
			check_query(db, &s->queries[j]);
	}
	/* A database per input: prepared queries stay until it closes. */
	cr_srcdb_close(db);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_adapter_config c;
	char err[1024];

	err[0] = '\0';
	if (cr_adapter_config_parse(&c, NAME, (const char *)data, size, err,
	    sizeof(err)) == -1) {
		FUZZ_CHECK(strncmp(err, NAME ":", strlen(NAME ":")) == 0);
		FUZZ_CHECK(err[strlen(NAME ":")] != '\0');
	} else {
		FUZZ_CHECK(c.db == NULL);
		check_config(&c);
	}
	cr_adapter_config_free(&c);
	return 0;
}
