/*
 * Internals shared by the files of the PostgreSQL backend (store_pg.c:
 * opening and migrating; store_pg_conn.c: connections, statements;
 * store_pg_sql.c: the SQL; store_pg_registry.c: the registry). Not for use
 * outside the backend.
 */
#ifndef CR_STORE_PG_INT_H
#define CR_STORE_PG_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store.h"

/* Every statement the backend prepares; the SQL is in store_pg_sql.c. */
enum pg_stmt {
	PG_INST_ADD,
	PG_INST_GET,
	PG_INST_LIST,
	PG_CLIENT_ADD,
	PG_CLIENT_BY_TOKEN,
	PG_CLIENT_BY_CERT,
	PG_CLIENT_LIST,
	PG_CLIENT_REVOKE,
	PG_CLIENT_ROTATE,
	PG_CLIENT_TOUCH,
	PG_OP_ADD,
	PG_OP_BY_TOKEN,
	PG_OP_LIST,
	PG_OP_REVOKE,
	PG_OP_ROTATE,
	PG_REG_VERSION,
	PG_SVC_ADD,
	PG_SVC_GET,
	PG_SVC_LIST,
	PG_AZ_ADD,
	PG_AZ_DELETE,
	PG_AZ_UPDATE,
	PG_AZ_LIST,
	PG_AZ_LIST_CONSUMER,
	PG_AZ_FIND,
	PG_CAP_ADD,
	PG_CAP_UPDATE,
	PG_CAP_GET,
	PG_CAP_LIST,
	PG_HEALTH_WRITE,
	PG_NSTMT
};

/* Migration to version `version` (store_pg_sql.c says how they map to
   SQLite's). */
struct pg_migration {
	int		 version;
	const char	*sql;
};

extern const struct pg_migration cr_pg_migrations[];
extern const size_t cr_pg_nmigrations;
extern const char cr_pg_sql_version_table[];
extern const char *const cr_pg_stmt_sql[PG_NSTMT];

struct pg_store;

/* One thread's connection, with the statements prepared on it. */
struct pg_conn {
	struct pg_store	*st;
	PGconn		*db;
	int		 broken;	/* lost: replaced at next use */
	unsigned char	 prepared[PG_NSTMT];
	struct pg_conn	*next;		/* st->conns */
};

struct pg_store {
	struct cr_store			 base;
	struct cr_registry_store	 registry;
	char				*conninfo;	/* the URL as given */
	int				 rdonly;
	pthread_key_t			 key;		/* this thread's conn */
	pthread_mutex_t			 lock;		/* conns */
	struct pg_conn			*conns;
};

extern const struct cr_registry_ops cr_pg_registry_ops;

/* Sets up / frees st's connection state (not st itself); 0 or -1. */
int	cr_pg_store_init(struct pg_store *st, const char *url, int rdonly);
void	cr_pg_store_free(struct pg_store *st);
/* This thread's connection, opened or replaced (broken) as needed; NULL
   (logged) when it cannot connect. */
struct pg_conn	*cr_pg_store_conn(struct pg_store *);
/* This thread's connection to the store of a registry handle; NULL
   (logged) when it cannot connect. */
struct pg_conn	*cr_pg_conn(struct cr_registry_store *);

/*
 * Runs prepared statement id with n text parameters (NULL: SQL NULL).
 * CR_STORE_OK with *res the result (the caller PQclear()s it; res may be
 * NULL for a write), CR_STORE_EXISTS on a unique violation, CR_STORE_NOTFOUND
 * on a foreign key violation, CR_STORE_ERR (logged) otherwise; *res is
 * NULL unless OK. *changes (when not NULL) gets the rows a write changed.
 */
int	cr_pg_exec(struct pg_conn *, enum pg_stmt id, int n,
	    const char *const *params, PGresult **res, long *changes,
	    const char *what);
/* A statement without parameters or result ("BEGIN"); 0 or -1 (logged). */
int	cr_pg_simple(struct pg_conn *, const char *sql, const char *what);

/*
 * Runs statement id and hands its single row to fill(res, arg):
 * CR_STORE_NOTFOUND when there is none, else fill's result.
 */
int	cr_pg_one_row(struct pg_conn *, enum pg_stmt id, int n,
	    const char *const *params, int (*fill)(const PGresult *, void *),
	    void *arg, const char *what);
/* Runs statement id; *out: a JSON array of row(res, i) for each row, a
   new reference (NULL unless OK). */
int	cr_pg_list_rows(struct pg_conn *, enum pg_stmt id, int n,
	    const char *const *params, json_t *(*row)(const PGresult *, int),
	    const char *what, json_t **out);

/* Logs libpq's message msg about what (never the URL). */
void	cr_pg_log(const char *what, const char *msg);

/* A column's text, NULL when SQL NULL (borrowed from res). */
const char	*cr_pg_val(const PGresult *, int row, int col);

#endif
