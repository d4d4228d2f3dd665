/*
 * PostgreSQL backend: connections and prepared statements, shared by
 * the files that implement each concern (store_pg_registry.c) and by
 * opening (store_pg.c). Uses none of them.
 *
 * Threads: every thread gets its own connection, opened on first use and
 * found again through a pthread key (as the SQLite backend does); its
 * destructor closes it when the thread exits and the store's close closes
 * those of threads still running. Each connection prepares a statement
 * the first time it runs it. A connection that the server dropped (a
 * restart, a failover) is replaced at its thread's next call, so that a
 * request fails but the next one reconnects.
 *
 * Never logged: the URL, which may hold a password.
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

#define SQLSTATE_UNIQUE		"23505"
#define SQLSTATE_FOREIGN_KEY	"23503"

/* libpq's messages end with a newline; log_warnx adds its own. */
void
cr_pg_log(const char *what, const char *msg)
{
	size_t len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	log_warnx("store: postgresql: %s: %.*s", what, (int)len, msg);
}

static void
conn_free(struct pg_conn *c)
{
	if (c == NULL)
		return;
	PQfinish(c->db);
	free(c);
}

static void
conn_unlink(struct pg_store *st, struct pg_conn *c)
{
	struct pg_conn **pp;

	pthread_mutex_lock(&st->lock);
	for (pp = &st->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
}

/* Key destructor: the thread that owned c is exiting. */
static void
conn_destroy(void *arg)
{
	struct pg_conn *c = arg;

	conn_unlink(c->st, c);
	conn_free(c);
}

int
cr_pg_simple(struct pg_conn *c, const char *sql, const char *what)
{
	PGresult *res;
	int rc = -1;

	res = PQexec(c->db, sql);
	if (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK)
		rc = 0;
	else {
		cr_pg_log(what, PQerrorMessage(c->db));
		if (PQstatus(c->db) != CONNECTION_OK)
			c->broken = 1;
	}
	PQclear(res);
	return rc;
}

static struct pg_conn *
conn_open(struct pg_store *st)
{
	struct pg_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("store: calloc");
		return NULL;
	}
	c->st = st;
	if ((c->db = PQconnectdb(st->conninfo)) == NULL) {
		log_warnx("store: postgresql: out of memory");
		goto fail;
	}
	if (PQstatus(c->db) != CONNECTION_OK) {
		cr_pg_log("connect", PQerrorMessage(c->db));
		goto fail;
	}
	/* Times are written as Unix ms and dates as text: no session
	   setting changes a value, but a read-only store must not write. */
	if (st->rdonly && cr_pg_simple(c,
	    "SET default_transaction_read_only = on", "read-only") == -1)
		goto fail;
	return c;
 fail:
	conn_free(c);
	return NULL;
}

struct pg_conn *
cr_pg_store_conn(struct pg_store *st)
{
	struct pg_conn *c;
	int rc;

	if ((c = pthread_getspecific(st->key)) != NULL) {
		if (!c->broken)
			return c;
		pthread_setspecific(st->key, NULL);
		conn_unlink(st, c);
		conn_free(c);
	}
	if ((c = conn_open(st)) == NULL)
		return NULL;
	if ((rc = pthread_setspecific(st->key, c)) != 0) {
		log_warnx("store: pthread_setspecific: %s", strerror(rc));
		conn_free(c);
		return NULL;
	}
	pthread_mutex_lock(&st->lock);
	c->next = st->conns;
	st->conns = c;
	pthread_mutex_unlock(&st->lock);
	return c;
}

struct pg_conn *
cr_pg_conn(struct cr_registry_store *reg)
{
	struct pg_store *st = (struct pg_store *)(void *)((char *)reg -
	    offsetof(struct pg_store, registry));

	return cr_pg_store_conn(st);
}

static int
prepare(struct pg_conn *c, enum pg_stmt id)
{
	char name[16];
	PGresult *res;
	int rc = -1;

	if (c->prepared[id])
		return 0;
	snprintf(name, sizeof(name), "cr%d", (int)id);
	res = PQprepare(c->db, name, cr_pg_stmt_sql[id], 0, NULL);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		c->prepared[id] = 1;
		rc = 0;
	} else {
		cr_pg_log("prepare", PQerrorMessage(c->db));
		if (PQstatus(c->db) != CONNECTION_OK)
			c->broken = 1;
	}
	PQclear(res);
	return rc;
}

int
cr_pg_exec(struct pg_conn *c, enum pg_stmt id, int n,
    const char *const *params, PGresult **resp, long *changes,
    const char *what)
{
	char name[16];
	PGresult *res;
	const char *state;
	int rc = CR_STORE_ERR;

	if (resp != NULL)
		*resp = NULL;
	if (changes != NULL)
		*changes = 0;
	if (prepare(c, id) == -1)
		return CR_STORE_ERR;
	snprintf(name, sizeof(name), "cr%d", (int)id);
	res = PQexecPrepared(c->db, name, n, params, NULL, NULL, 0);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		if (changes != NULL)
			*changes = strtol(PQcmdTuples(res), NULL, 10);
		if (resp != NULL) {
			*resp = res;
			res = NULL;
		}
		rc = CR_STORE_OK;
		goto out;
	default:
		break;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state != NULL && strcmp(state, SQLSTATE_UNIQUE) == 0)
		rc = CR_STORE_EXISTS;
	else if (state != NULL && strcmp(state, SQLSTATE_FOREIGN_KEY) == 0)
		rc = CR_STORE_NOTFOUND;
	else {
		cr_pg_log(what, PQerrorMessage(c->db));
		if (PQstatus(c->db) != CONNECTION_OK)
			c->broken = 1;
	}
 out:
	PQclear(res);
	return rc;
}

const char *
cr_pg_val(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

int
cr_pg_one_row(struct pg_conn *c, enum pg_stmt id, int n,
    const char *const *params, int (*fill)(const PGresult *, void *),
    void *arg, const char *what)
{
	PGresult *res;
	int rc;

	if ((rc = cr_pg_exec(c, id, n, params, &res, NULL, what)) !=
	    CR_STORE_OK)
		return rc;
	rc = PQntuples(res) > 0 ? fill(res, arg) : CR_STORE_NOTFOUND;
	PQclear(res);
	return rc;
}

int
cr_pg_list_rows(struct pg_conn *c, enum pg_stmt id, int n,
    const char *const *params, json_t *(*row)(const PGresult *, int),
    const char *what, json_t **out)
{
	PGresult *res;
	json_t *list = NULL, *o;
	int rc, i;

	*out = NULL;
	if ((rc = cr_pg_exec(c, id, n, params, &res, NULL, what)) !=
	    CR_STORE_OK)
		return rc;
	rc = CR_STORE_ERR;
	if ((list = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		if ((o = row(res, i)) == NULL ||
		    json_array_append_new(list, o) == -1) {
			log_warnx("store: postgresql: %s: cannot build row",
			    what);
			goto out;
		}
	}
	*out = list;
	list = NULL;
	rc = CR_STORE_OK;
 out:
	json_decref(list);
	PQclear(res);
	return rc;
}

int
cr_pg_store_init(struct pg_store *st, const char *url, int rdonly)
{
	if ((st->conninfo = strdup(url)) == NULL) {
		log_warn("store: strdup");
		return -1;
	}
	if (pthread_key_create(&st->key, conn_destroy) != 0) {
		log_warnx("store: pthread_key_create failed");
		free(st->conninfo);
		st->conninfo = NULL;
		return -1;
	}
	pthread_mutex_init(&st->lock, NULL);
	st->rdonly = rdonly;
	return 0;
}

void
cr_pg_store_free(struct pg_store *st)
{
	struct pg_conn *c, *next;

	/* Other threads' connections are closed here, not by their
	   destructors: this is the last use of the key. */
	pthread_mutex_lock(&st->lock);
	for (c = st->conns; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	st->conns = NULL;
	pthread_mutex_unlock(&st->lock);
	pthread_setspecific(st->key, NULL);
	pthread_key_delete(st->key);
	pthread_mutex_destroy(&st->lock);
	free(st->conninfo);
}
