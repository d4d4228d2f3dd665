/*
 * SQLite backend of the source adapter's database access (srcdb.h).
 *
 * Defence in depth, because the database belongs to an institution and the
 * queries come from a config file: connections are opened with
 * SQLITE_OPEN_READONLY and "PRAGMA query_only"; an authorizer allows only
 * reads and function calls while a statement is prepared; every query must
 * be one statement that sqlite3_stmt_readonly() accepts; values are always
 * bound, never spliced.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "log.h"
#include "srcdb.h"

#define SRCDB_MAX_PARAMS	100
#define SRCDB_NAME_MAX		64
#define SRCDB_BUSY_MS		5000

struct sq_conn {
	LIST_ENTRY(sq_conn)	 entry;
	sqlite3			*db;
	sqlite3_stmt		**stmts;	/* by query id, lazily */
	size_t			 nstmts;
};

struct sq_db {
	struct cr_srcdb		 pub;	/* first: the ops cast */
	char			*path;
	pthread_key_t		 key;
	pthread_mutex_t		 mtx;
	LIST_HEAD(, sq_conn)	 conns;
	char			**sql;		/* rewritten, by query id */
	size_t			 nsql;
};

/* Shared by backends ------------------------------------------------------ */

void
cr_srcdb_shape_free(struct cr_srcdb_shape *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nparams; i++)
		free(s->params[i]);
	for (i = 0; i < s->ncolumns; i++)
		free(s->columns[i]);
	free(s->params);
	free(s->columns);
	memset(s, 0, sizeof(*s));
}

int
cr_srcdb_open(const char *uri, struct cr_srcdb **out, char *err,
    size_t errlen)
{
	if (strncmp(uri, "sqlite:", 7) == 0)
		return cr_srcdb_sqlite_open(uri + 7, out, err, errlen);
	if (strncmp(uri, "postgres:", 9) == 0 ||
	    strncmp(uri, "postgresql:", 11) == 0) {
		snprintf(err, errlen, "PostgreSQL is not supported by this "
		    "build");
		return -1;
	}
	return cr_srcdb_sqlite_open(uri, out, err, errlen);
}

void
cr_srcdb_close(struct cr_srcdb *db)
{
	if (db != NULL)
		db->ops->close(db);
}

static int
is_ident_start(int c)
{
	return isalpha(c) || c == '_';
}

static int
is_ident(int c)
{
	return isalnum(c) || c == '_';
}

/* A character that SQLite takes as part of an identifier or keyword. */
static int
is_sql_ident(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Length of the quoted run at s (s[0] is the opening quote). */
static size_t
quoted_len(const char *s, char close)
{
	size_t i = 1;

	for (;;) {
		if (s[i] == '\0')
			return i;
		if (s[i] == close) {
			/* '' inside '...' (and "" inside "...") escape. */
			if (close != ']' && s[i + 1] == close) {
				i += 2;
				continue;
			}
			return i + 1;
		}
		i++;
	}
}

/* Length of the comment at s, or 0 when none starts there. */
static size_t
comment_len(const char *s)
{
	const char *e;

	if (s[0] == '-' && s[1] == '-')
		return strcspn(s, "\n");
	if (s[0] == '/' && s[1] == '*') {
		if ((e = strstr(s + 2, "*/")) == NULL)
			return strlen(s);
		return (size_t)(e + 2 - s);
	}
	return 0;
}

static int
add_name(char ***names, size_t *n, const char *name, size_t *index,
    char *err, size_t errlen)
{
	char **nv;
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strcmp((*names)[i], name) == 0) {
			*index = i;
			return 0;
		}
	}
	if (*n >= SRCDB_MAX_PARAMS) {
		snprintf(err, errlen, "more than %d distinct parameters",
		    SRCDB_MAX_PARAMS);
		return -1;
	}
	if ((nv = realloc(*names, (*n + 1) * sizeof(*nv))) == NULL)
		goto oom;
	*names = nv;
	if ((nv[*n] = strdup(name)) == NULL)
		goto oom;
	*index = (*n)++;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/*
 * Reads a :name parameter at s (s[0] == ':', s[1] starts an identifier)
 * into name; returns its length in the SQL, or 0 with err.
 */
static size_t
param_at(const char *s, char *name, size_t namesize, char *err,
    size_t errlen)
{
	size_t i = 1, n;

	while (is_ident((unsigned char)s[i]))
		i++;
	if (i - 1 == 6 && strncmp(s + 1, "params", 6) == 0) {
		if (s[i] != '.' || !is_ident_start((unsigned char)s[i + 1])) {
			snprintf(err, errlen, "':params' must be followed by "
			    "'.NAME', as in :params.year");
			return 0;
		}
		i++;
		while (is_ident((unsigned char)s[i]))
			i++;
	} else if (s[i] == '.' && is_ident_start((unsigned char)s[i + 1])) {
		snprintf(err, errlen, "parameter '%.*s': only :params.NAME "
		    "may contain a dot", (int)(i + 1 +
		    strspn(s + i + 1, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")), s);
		return 0;
	}
	n = i - 1;
	if (n >= namesize) {
		snprintf(err, errlen, "parameter name longer than %zu "
		    "characters", namesize - 1);
		return 0;
	}
	memcpy(name, s + 1, n);
	name[n] = '\0';
	return i;
}

int
cr_srcdb_rewrite(const char *sql, char mark, char **out, char ***names,
    size_t *nnames, char *err, size_t errlen)
{
	char name[SRCDB_NAME_MAX];
	FILE *f;
	char *buf = NULL;
	size_t len = 0, i = 0, n, idx;
	unsigned char prev = ' ';
	int rc = -1;

	*out = NULL;
	*names = NULL;
	*nnames = 0;
	if ((f = open_memstream(&buf, &len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (sql[i] != '\0') {
		unsigned char c = (unsigned char)sql[i];

		n = 0;
		if (c == '\'' || c == '"' || c == '`')
			n = quoted_len(sql + i, (char)c);
		else if (c == '[')
			n = quoted_len(sql + i, ']');
		else
			n = comment_len(sql + i);
		if (n > 0) {
			fwrite(sql + i, 1, n, f);
			i += n;
			prev = ' ';
			continue;
		}
		if (c == ':' && is_ident_start((unsigned char)sql[i + 1])) {
			if ((n = param_at(sql + i, name, sizeof(name), err,
			    errlen)) == 0)
				goto out;
			if (add_name(names, nnames, name, &idx, err,
			    errlen) == -1)
				goto out;
			fprintf(f, "%c%zu", mark, idx + 1);
			i += n;
			prev = '0';
			continue;
		}
		if (c == '?' || ((c == '@' || c == '$' || c == '#') &&
		    !is_sql_ident(prev) && is_sql_ident(
		    (unsigned char)sql[i + 1]))) {
			snprintf(err, errlen, "parameter '%c%.*s': use the "
			    "named form :subject, :params.NAME or :COLUMN", c,
			    (int)strspn(sql + i + 1, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), sql + i + 1);
			goto out;
		}
		fputc(c, f);
		prev = c;
		i++;
	}
	rc = 0;
out:
	if (fclose(f) != 0 && rc == 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0) {
		*out = buf;
		return 0;
	}
	free(buf);
	for (i = 0; i < *nnames; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*nnames = 0;
	return -1;
}

/* Connections ------------------------------------------------------------- */

/* Prepared statements may read and call functions; nothing else. */
static int
sq_authorize(void *arg, int action, const char *a, const char *b,
    const char *c, const char *d)
{
	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_FUNCTION:
	case SQLITE_RECURSIVE:
		return SQLITE_OK;
	default:
		return SQLITE_DENY;
	}
}

static void
sq_conn_free(struct sq_conn *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nstmts; i++)
		sqlite3_finalize(c->stmts[i]);
	free(c->stmts);
	sqlite3_close(c->db);
	free(c);
}

static struct sq_conn *
sq_conn_open(const char *path, char *err, size_t errlen)
{
	struct sq_conn *c;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    c->db != NULL ? sqlite3_errmsg(c->db) :
		    sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(c->db, SRCDB_BUSY_MS);
	sqlite3_limit(c->db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0,
	    NULL);
	if (sqlite3_exec(c->db, "PRAGMA query_only = 1", NULL, NULL,
	    NULL) != SQLITE_OK)
		goto sqlerr;
	/* Reading the schema tells a database from any other file now. */
	if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM sqlite_master",
	    -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto sqlerr;
	sqlite3_finalize(st);
	sqlite3_set_authorizer(c->db, sq_authorize, NULL);
	return c;
sqlerr:
	snprintf(err, errlen, "cannot read %s: %s", path,
	    sqlite3_errmsg(c->db));
	sqlite3_finalize(st);
fail:
	sq_conn_free(c);
	return NULL;
}

/* The calling thread's connection, opened on first use. */
static struct sq_conn *
sq_conn_get(struct sq_db *d, char *err, size_t errlen)
{
	struct sq_conn *c;

	if ((c = pthread_getspecific(d->key)) != NULL)
		return c;
	if ((c = sq_conn_open(d->path, err, errlen)) == NULL)
		return NULL;
	if (pthread_setspecific(d->key, c) != 0) {
		snprintf(err, errlen, "pthread_setspecific failed");
		sq_conn_free(c);
		return NULL;
	}
	pthread_mutex_lock(&d->mtx);
	LIST_INSERT_HEAD(&d->conns, c, entry);
	pthread_mutex_unlock(&d->mtx);
	return c;
}

static sqlite3_stmt *
sq_stmt(struct sq_db *d, struct sq_conn *c, int qid)
{
	size_t q = (size_t)qid;

	if (q >= c->nstmts) {
		sqlite3_stmt **nv;

		if ((nv = realloc(c->stmts, d->nsql * sizeof(*nv))) == NULL)
			return NULL;
		memset(nv + c->nstmts, 0, (d->nsql - c->nstmts) *
		    sizeof(*nv));
		c->stmts = nv;
		c->nstmts = d->nsql;
	}
	if (c->stmts[q] == NULL &&
	    sqlite3_prepare_v3(c->db, d->sql[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &c->stmts[q], NULL) != SQLITE_OK) {
		log_warnx("source database: query %d: %s", qid,
		    sqlite3_errmsg(c->db));
		sqlite3_finalize(c->stmts[q]);
		c->stmts[q] = NULL;
	}
	return c->stmts[q];
}

/* Prepare (start-up) ------------------------------------------------------ */

/* 1 when the statement's first keyword is SELECT or WITH. */
static int
starts_with_select(const char *s)
{
	size_t n;

	for (;;) {
		while (isspace((unsigned char)*s) || *s == '(')
			s++;
		if ((n = comment_len(s)) == 0)
			break;
		s += n;
	}
	for (n = 0; is_sql_ident((unsigned char)s[n]); n++)
		;
	return (n == 6 && strncasecmp(s, "select", 6) == 0) ||
	    (n == 4 && strncasecmp(s, "with", 4) == 0);
}

/* 0 when nothing but blanks, comments and semicolons follow. */
static int
only_one_statement(sqlite3 *db, const char *tail)
{
	sqlite3_stmt *st = NULL;
	const char *next;

	while (*tail != '\0') {
		if (sqlite3_prepare_v2(db, tail, -1, &st, &next) !=
		    SQLITE_OK || st != NULL) {
			sqlite3_finalize(st);
			return -1;
		}
		if (next == tail)
			break;
		tail = next;
	}
	return 0;
}

static int
sq_check(sqlite3 *db, sqlite3_stmt *st, const char *tail, size_t nnames,
    struct cr_srcdb_shape *shape, char *err, size_t errlen)
{
	int i, j, n;

	if (only_one_statement(db, tail) == -1) {
		snprintf(err, errlen, "only one statement is allowed: "
		    "remove what follows the first ';'");
		return -1;
	}
	if (!starts_with_select(sqlite3_sql(st)) ||
	    !sqlite3_stmt_readonly(st) || sqlite3_stmt_isexplain(st) ||
	    sqlite3_column_count(st) == 0) {
		snprintf(err, errlen, "only a read-only SELECT is allowed");
		return -1;
	}
	n = sqlite3_bind_parameter_count(st);
	for (i = 1; i <= n; i++) {
		const char *pn = sqlite3_bind_parameter_name(st, i);
		char want[16];

		snprintf(want, sizeof(want), "?%d", i);
		if (pn == NULL || strcmp(pn, want) != 0) {
			snprintf(err, errlen, "parameter '%s': use the named "
			    "form :subject, :params.NAME or :COLUMN",
			    pn != NULL ? pn : "?");
			return -1;
		}
	}
	if ((size_t)n != nnames) {
		snprintf(err, errlen, "unexpected parameters");
		return -1;
	}
	n = sqlite3_column_count(st);
	if ((shape->columns = calloc((size_t)n, sizeof(char *))) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		const char *cn = sqlite3_column_name(st, i);

		if (cn == NULL)
			goto oom;
		for (j = 0; j < i; j++) {
			if (strcmp(shape->columns[j], cn) == 0) {
				snprintf(err, errlen, "column '%s' appears "
				    "twice in the result: rename one with AS",
				    cn);
				return -1;
			}
		}
		if ((shape->columns[i] = strdup(cn)) == NULL)
			goto oom;
		shape->ncolumns++;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int
sq_prepare(struct cr_srcdb *pub, const char *sql,
    struct cr_srcdb_shape *shape, char *err, size_t errlen)
{
	struct sq_db *d = (struct sq_db *)pub;
	struct sq_conn *c;
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	char *rw = NULL, **nv;
	int rc = -1;

	memset(shape, 0, sizeof(*shape));
	if ((c = sq_conn_get(d, err, errlen)) == NULL)
		return -1;
	if (cr_srcdb_rewrite(sql, '?', &rw, &shape->params, &shape->nparams,
	    err, errlen) == -1)
		goto out;
	if (sqlite3_prepare_v2(c->db, rw, -1, &st, &tail) != SQLITE_OK) {
		if (sqlite3_errcode(c->db) == SQLITE_AUTH)
			snprintf(err, errlen, "only a read-only SELECT is "
			    "allowed: this statement does more than read");
		else
			snprintf(err, errlen, "query does not prepare: %s",
			    sqlite3_errmsg(c->db));
		goto out;
	}
	if (st == NULL) {
		snprintf(err, errlen, "empty query");
		goto out;
	}
	if (sq_check(c->db, st, tail, shape->nparams, shape, err, errlen) ==
	    -1)
		goto out;
	if ((nv = realloc(d->sql, (d->nsql + 1) * sizeof(*nv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	d->sql = nv;
	/* Only the statement itself: the tail holds no more than comments. */
	rw[tail - rw] = '\0';
	nv[d->nsql] = rw;
	rw = NULL;
	rc = (int)d->nsql++;
out:
	sqlite3_finalize(st);
	free(rw);
	if (rc < 0)
		cr_srcdb_shape_free(shape);
	return rc;
}

/* Execution --------------------------------------------------------------- */

static int
sq_bind(sqlite3_stmt *st, int i, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return sqlite3_bind_text(st, i, json_string_value(v),
		    (int)json_string_length(v), SQLITE_STATIC);
	case JSON_INTEGER:
		return sqlite3_bind_int64(st, i, json_integer_value(v));
	case JSON_REAL:
		return sqlite3_bind_double(st, i, json_real_value(v));
	case JSON_TRUE:
		return sqlite3_bind_int(st, i, 1);
	case JSON_FALSE:
		return sqlite3_bind_int(st, i, 0);
	case JSON_NULL:
		return sqlite3_bind_null(st, i);
	default:
		return SQLITE_MISMATCH;
	}
}

static json_t *
sq_value(sqlite3_stmt *st, int i)
{
	const void *blob;
	char *b64;
	json_t *v;
	size_t n, b64len;

	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		/* JSON has no infinity nor NaN. */
		if ((v = json_real(sqlite3_column_double(st, i))) == NULL)
			v = json_null();
		return v;
	case SQLITE_TEXT:
		/* NULL on invalid UTF-8: the caller reports it. */
		return json_stringn((const char *)sqlite3_column_text(st, i),
		    (size_t)sqlite3_column_bytes(st, i));
	case SQLITE_BLOB:
		blob = sqlite3_column_blob(st, i);
		n = (size_t)sqlite3_column_bytes(st, i);
		b64len = sodium_base64_encoded_len(n,
		    sodium_base64_VARIANT_ORIGINAL);
		if ((b64 = malloc(b64len)) == NULL)
			return NULL;
		sodium_bin2base64(b64, b64len, blob != NULL ? blob : "", n,
		    sodium_base64_VARIANT_ORIGINAL);
		v = json_string(b64);
		free(b64);
		return v;
	default:
		return json_null();
	}
}

static int
sq_exec(struct cr_srcdb *pub, int qid, json_t *const *args, size_t nargs,
    size_t maxrows, json_t **rows)
{
	struct sq_db *d = (struct sq_db *)pub;
	struct sq_conn *c;
	sqlite3_stmt *st;
	json_t *row = NULL;
	char err[256];
	size_t i, n = 0;
	int rc = CR_SRCDB_ERR, src;

	*rows = NULL;
	if (qid < 0 || (size_t)qid >= d->nsql) {
		log_warnx("source database: no query %d", qid);
		return CR_SRCDB_ERR;
	}
	if ((c = sq_conn_get(d, err, sizeof(err))) == NULL) {
		log_warnx("source database: %s", err);
		return CR_SRCDB_ERR;
	}
	if ((st = sq_stmt(d, c, qid)) == NULL)
		return CR_SRCDB_ERR;
	for (i = 0; i < nargs; i++) {
		if (sq_bind(st, (int)i + 1, args[i]) != SQLITE_OK) {
			log_warnx("source database: query %d: cannot bind "
			    "parameter %zu", qid, i + 1);
			goto out;
		}
	}
	if ((*rows = json_array()) == NULL)
		goto out;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		int col, ncol = sqlite3_data_count(st);

		if (n == maxrows) {
			rc = CR_SRCDB_TOO_MANY;
			goto out;
		}
		if ((row = json_object()) == NULL)
			goto out;
		for (col = 0; col < ncol; col++) {
			json_t *v = sq_value(st, col);

			if (v == NULL) {
				log_warnx("source database: query %d: column "
				    "%s: not valid UTF-8 or out of memory", qid,
				    sqlite3_column_name(st, col));
				goto out;
			}
			if (json_object_set_new(row, sqlite3_column_name(st,
			    col), v) == -1)
				goto out;
		}
		if (json_array_append_new(*rows, row) == -1) {
			row = NULL;
			goto out;
		}
		row = NULL;
		n++;
	}
	if (src != SQLITE_DONE) {
		log_warnx("source database: query %d: %s", qid,
		    sqlite3_errmsg(c->db));
		goto out;
	}
	rc = CR_SRCDB_OK;
out:
	json_decref(row);
	if (rc == CR_SRCDB_ERR) {
		json_decref(*rows);
		*rows = NULL;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static void
sq_close(struct cr_srcdb *pub)
{
	struct sq_db *d = (struct sq_db *)pub;
	struct sq_conn *c;
	size_t i;

	/* Every thread that used the database has stopped by now. */
	while ((c = LIST_FIRST(&d->conns)) != NULL) {
		LIST_REMOVE(c, entry);
		sq_conn_free(c);
	}
	pthread_key_delete(d->key);
	pthread_mutex_destroy(&d->mtx);
	for (i = 0; i < d->nsql; i++)
		free(d->sql[i]);
	free(d->sql);
	free(d->path);
	free(d);
}

static const struct cr_srcdb_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.prepare = sq_prepare,
	.exec = sq_exec,
};

int
cr_srcdb_sqlite_open(const char *path, struct cr_srcdb **out, char *err,
    size_t errlen)
{
	struct sq_db *d;
	struct sq_conn *c;
	int rc;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->path = strdup(path)) == NULL) {
		free(d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->pub.ops = &sq_ops;
	LIST_INIT(&d->conns);
	if ((rc = pthread_key_create(&d->key, NULL)) != 0) {
		snprintf(err, errlen, "pthread_key_create: %s", strerror(rc));
		free(d->path);
		free(d);
		return -1;
	}
	pthread_mutex_init(&d->mtx, NULL);
	/* Open once now, so that a bad path fails at start-up. */
	if ((c = sq_conn_get(d, err, errlen)) == NULL) {
		sq_close(&d->pub);
		return -1;
	}
	*out = &d->pub;
	return 0;
}
