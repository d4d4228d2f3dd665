/*
 * Internals shared by the files of the SQLite backend (store_sqlite.c:
 * opening and migrating; store_sqlite_conn.c: connections, statements,
 * the write turn; store_sqlite_sql.c: the SQL; store_sqlite_registry.c:
 * registry; store_sqlite_data.c: reference directory and exchange log;
 * store_sqlite_events.c: events, subscriptions, deliveries;
 * store_sqlite_batches.c: bundles and batches). Not for use outside the
 * backend.
 */
#ifndef CR_STORE_SQLITE_INT_H
#define CR_STORE_SQLITE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "store.h"

/* Every statement the backend runs; the SQL is in store_sqlite_sql.c. */
enum sq_stmt {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_INST_ADD,
	SQ_INST_GET,
	SQ_INST_LIST,
	SQ_CLIENT_ADD,
	SQ_CLIENT_BY_TOKEN,
	SQ_CLIENT_BY_CERT,
	SQ_CLIENT_LIST,
	SQ_CLIENT_REVOKE,
	SQ_CLIENT_ROTATE,
	SQ_CLIENT_TOUCH,
	SQ_OP_ADD,
	SQ_OP_BY_TOKEN,
	SQ_OP_LIST,
	SQ_OP_REVOKE,
	SQ_OP_ROTATE,
	SQ_REG_VERSION,
	SQ_SVC_ADD,
	SQ_SVC_GET,
	SQ_SVC_LIST,
	SQ_AZ_ADD,
	SQ_AZ_DELETE,
	SQ_AZ_UPDATE,
	SQ_AZ_LIST,
	SQ_AZ_LIST_CONSUMER,
	SQ_AZ_FIND,
	SQ_DIR_INSERT,
	SQ_DIR_SET_TO,
	SQ_DIR_END_DELETE,
	SQ_DIR_END_UPDATE,
	SQ_DIR_LIST,
	SQ_DIR_ACTIVE,
	SQ_XLOG_INSERT,
	SQ_XLOG_TAIL,
	SQ_XLOG_QUERY,
	SQ_XLOG_SCAN,
	SQ_XLOG_COUNT,
	SQ_TREE_PUT,
	SQ_TREE_GET,
	SQ_TREE_COUNT,
	SQ_XLOG_HASHES,
	SQ_TREE_RESET,
	SQ_HEADS_RESET,
	SQ_HEAD_PUT,
	SQ_HEAD_GET,
	SQ_HEAD_LATEST,
	SQ_ET_ADD,
	SQ_ET_GET,
	SQ_ET_LIST,
	SQ_SUB_ADD,
	SQ_SUB_GET,
	SQ_SUB_LIST,
	SQ_SUB_DELETE,
	SQ_SUB_DELETE_DELIVERIES,
	SQ_EV_INSERT,
	SQ_EV_ROUTE,
	SQ_DLV_DUE,
	SQ_DLV_UPDATE,
	SQ_DLV_FEED,
	SQ_DLV_MARK,
	SQ_DLV_DEAD,
	SQ_DLV_REDELIVER,
	SQ_BUNDLE_ADD,
	SQ_BUNDLE_GET,
	SQ_BUNDLE_LIST,
	SQ_BATCH_ADD,
	SQ_BATCH_ITEM_ADD,
	SQ_BATCH_READY,
	SQ_BATCH_SEQ,
	SQ_BATCH_GET,
	SQ_BATCH_UNFINISHED,
	SQ_BATCH_LOADING,
	SQ_BATCH_DELETE_ITEMS,
	SQ_BATCH_DELETE,
	SQ_BATCH_SET_STATUS,
	SQ_BATCH_PENDING,
	SQ_BATCH_RESULT_PUT,
	SQ_BATCH_COUNT,
	SQ_BATCH_RESULTS,
	SQ_HEALTH_WRITE,
	SQ_CAP_ADD,
	SQ_CAP_UPDATE,
	SQ_CAP_GET,
	SQ_CAP_LIST,
	SQ_AUDIT_TAIL,
	SQ_AUDIT_INSERT,
	SQ_AUDIT_SCAN,
	SQ_AUDIT_SCAN_OBJECT,
	SQ_NSTMT
};

/* The text of each statement, and the schema migrations: migrations[i]
   takes the schema from version i to i + 1 (store_sqlite_sql.c). */
extern const char *const	cr_sqlite_stmt_sql[SQ_NSTMT];
extern const char *const	cr_sqlite_migrations[];
extern const size_t		cr_sqlite_nmigrations;
/* Read-only opens of older schema versions: [version] temp views (SQL),
   or NULL when that version is refused (store_sqlite_sql.c). */
extern const char *const	cr_sqlite_readonly_compat[];
extern const size_t		cr_sqlite_nreadonly_compat;

/* One connection, used by one thread only (SQLITE_OPEN_NOMUTEX). */
struct sq_conn {
	sqlite3		*db;
	sqlite3_stmt	*stmt[SQ_NSTMT];
	struct sq_store	*st;
	struct sq_conn	*next;
	int		 writing;	/* in a transaction, holding the turn */
	/* An audit entry staged for the next write transaction
	   (store_sqlite_audit.c): staged_write(c) appends it inside the
	   transaction, before COMMIT; 0 or CR_STORE_ERR. */
	void		*staged;
	int		(*staged_write)(struct sq_conn *);
	int		 staged_committed;
	int		 tx_changes;	/* sqlite3_total_changes at BEGIN */
};

struct sq_store {
	struct cr_store	 base;		/* first: callers see a cr_store */
	char		*uri;		/* read-only copy: file:...?immutable=1;
					   NULL: path */
	int		 rdonly;
	const char	*compat;	/* read-only: SQL run on every new
					   connection first, or NULL */
	/* The concerns' handles: each operation finds the store from the
	   one it is given (sq_of). */
	struct cr_registry_store	registry;
	struct cr_directory_store	directory;
	struct cr_xlog_store		xlog;
	struct cr_event_store		events;
	struct cr_batch_store		batches;
	struct cr_audit_store		audit;
	char		*path;
	pthread_key_t	 key;		/* this thread's struct sq_conn */
	pthread_mutex_t	 lock;		/* protects conns */
	struct sq_conn	*conns;		/* every open connection */
	/* FIFO ticket lock: one writing thread at a time, in order. */
	pthread_mutex_t	 wmtx;
	pthread_cond_t	 wcond;
	uint64_t	 wnext;		/* next ticket handed out */
	uint64_t	 wserving;	/* ticket whose turn it is */
};

/* The store that a concern's handle belongs to. */
#define SQ_OF(handle, member) \
	((struct sq_store *)(void *)((char *)(handle) - \
	    offsetof(struct sq_store, member)))

/*
 * This thread's connection, opened on first use; NULL (logged) on error.
 * cr_sqlite_conn(h) takes the handle of any concern, so that every
 * operation starts the same way whichever table it implements.
 */
struct sq_conn	*cr_sqlite_store_conn(struct sq_store *);
#define cr_sqlite_conn(h) cr_sqlite_store_conn(_Generic((h),		\
	struct cr_registry_store *: SQ_OF((h), registry),		\
	struct cr_directory_store *: SQ_OF((h), directory),		\
	struct cr_xlog_store *: SQ_OF((h), xlog),			\
	struct cr_event_store *: SQ_OF((h), events),			\
	struct cr_batch_store *: SQ_OF((h), batches),			\
	struct cr_audit_store *: SQ_OF((h), audit)))
/* Sets up st's path, thread key and locks (store_sqlite_conn.c); 0 or -1
   (logged). cr_sqlite_store_free() undoes it and closes every
   connection, once no other thread uses the store. */
int		 cr_sqlite_store_init(struct sq_store *, const char *path);
void		 cr_sqlite_store_free(struct sq_store *);
/* A connection of no thread's, for a caller that closes it at once with
   cr_sqlite_conn_close() (the storage probe); NULL (logged) on error. */
struct sq_conn	*cr_sqlite_conn_private(struct sq_store *);
void		 cr_sqlite_conn_close(struct sq_conn *);
/* The first connection of a store, allowed to create the file. */
struct sq_conn	*cr_sqlite_conn_first(struct sq_store *);
/* Runs SQL text without results; 0, or -1 logged with `what`. */
int		 cr_sqlite_exec(struct sq_conn *, const char *sql,
		    const char *what);
/* The cached statement, prepared on first use; NULL (logged) on error. */
sqlite3_stmt	*cr_sqlite_stmt(struct sq_conn *, enum sq_stmt);
/* Resets a statement after use and drops its bindings. */
void		 cr_sqlite_done(sqlite3_stmt *);
/*
 * Maps a failed step's result code: unique/primary-key violations to
 * CR_STORE_EXISTS, foreign-key violations to CR_STORE_NOTFOUND, anything
 * else is logged with `what` and gives CR_STORE_ERR.
 */
int		 cr_sqlite_fail(struct sq_conn *, int rc, const char *what);
/* Steps a statement that returns no rows, maps errors as above, resets. */
int		 cr_sqlite_step_done(struct sq_conn *, sqlite3_stmt *,
		    const char *what);
/* The same for a single-statement write outside a transaction: waits for
   this thread's turn to write first. */
int		 cr_sqlite_step_write(struct sq_conn *, sqlite3_stmt *,
		    const char *what);
/* Logs sqlite3_errmsg with `what`; returns CR_STORE_ERR. */
int		 cr_sqlite_err(struct sq_conn *, const char *what);

/*
 * BEGIN IMMEDIATE (after waiting for this thread's turn to write) and
 * COMMIT; 0 or CR_STORE_ERR (logged). A failed COMMIT rolls back. Both
 * COMMIT and ROLLBACK give the turn up; ROLLBACK is a no-op outside a
 * transaction.
 */
int		 cr_sqlite_begin(struct sq_conn *);
int		 cr_sqlite_commit(struct sq_conn *);
void		 cr_sqlite_rollback(struct sq_conn *);

/* Binds s, or NULL when s is NULL or empty; SQLITE_STATIC. */
int		 cr_sqlite_bind_opt(sqlite3_stmt *, int, const char *s);
#define BIND_TEXT(s, i, v) \
	sqlite3_bind_text((s), (i), (v), -1, SQLITE_STATIC)
/* Copies a text column ("" for NULL) with truncation. */
void		 cr_sqlite_col_str(sqlite3_stmt *, int, char *dst, size_t);
/*
 * Runs a statement that reads one row by its key (bound is 0 when binding
 * the key failed): fill(s, out) on the row gives CR_STORE_OK or
 * CR_STORE_ERR; CR_STORE_NOTFOUND without a row; errors are logged with
 * `what`. Resets the statement.
 */
int		 cr_sqlite_one_row(struct sq_conn *, sqlite3_stmt *, int bound,
		    int (*fill)(sqlite3_stmt *, void *), void *out,
		    const char *what);
/* Runs a listing statement (parameters bound): one element of a new array
   in *out per row, built by row(); resets the statement. */
int		 cr_sqlite_list_rows(struct sq_conn *, sqlite3_stmt *,
		    json_t *(*row)(sqlite3_stmt *), const char *what,
		    json_t **out);

/* The concerns' tables, one per file that implements it. */
extern const struct cr_registry_ops	cr_sqlite_registry_ops;
extern const struct cr_directory_ops	cr_sqlite_directory_ops;	/* _data.c */
extern const struct cr_xlog_ops		cr_sqlite_xlog_ops;		/* _data.c */
extern const struct cr_event_ops	cr_sqlite_event_ops;
extern const struct cr_batch_ops	cr_sqlite_batch_ops;
extern const struct cr_audit_ops	cr_sqlite_audit_ops;

#endif
