/*
 * Internals shared by the files of the SQLite backend (store_sqlite.c:
 * connections, statements, schema; store_sqlite_registry.c: registry;
 * store_sqlite_data.c: reference directory and exchange log;
 * store_sqlite_events.c: events, subscriptions, deliveries). Not for use
 * outside the backend.
 */
#ifndef CR_STORE_SQLITE_INT_H
#define CR_STORE_SQLITE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "store.h"

/* Every statement the backend runs; the SQL is in store_sqlite.c. */
enum sq_stmt {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_INST_ADD,
	SQ_INST_GET,
	SQ_INST_LIST,
	SQ_CLIENT_ADD,
	SQ_CLIENT_BY_TOKEN,
	SQ_CLIENT_LIST,
	SQ_REG_VERSION,
	SQ_SVC_ADD,
	SQ_SVC_GET,
	SQ_SVC_LIST,
	SQ_AZ_ADD,
	SQ_AZ_DELETE,
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
	SQ_NSTMT
};

/* One connection, used by one thread only (SQLITE_OPEN_NOMUTEX). */
struct sq_conn {
	sqlite3		*db;
	sqlite3_stmt	*stmt[SQ_NSTMT];
	struct sq_store	*st;
	struct sq_conn	*next;
	int		 writing;	/* in a transaction, holding the turn */
};

struct sq_store {
	struct cr_store	 base;		/* first: callers see a cr_store */
	char		*path;
	char		*uri;		/* read-only copy: file:...?immutable=1;
					   NULL: path */
	int		 rdonly;
	pthread_key_t	 key;		/* this thread's struct sq_conn */
	pthread_mutex_t	 lock;		/* protects conns */
	struct sq_conn	*conns;		/* every open connection */
	/* FIFO ticket lock: one writing thread at a time, in order. */
	pthread_mutex_t	 wmtx;
	pthread_cond_t	 wcond;
	uint64_t	 wnext;		/* next ticket handed out */
	uint64_t	 wserving;	/* ticket whose turn it is */
};

/* This thread's connection, opened on first use; NULL (logged) on error. */
struct sq_conn	*cr_sqlite_conn(struct cr_store *);
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
/* Runs a listing statement (parameters bound): one element of a new array
   in *out per row, built by row(); resets the statement. */
int		 cr_sqlite_list_rows(struct sq_conn *, sqlite3_stmt *,
		    json_t *(*row)(sqlite3_stmt *), const char *what,
		    json_t **out);

/* Operations implemented in store_sqlite_registry.c. */
int	cr_sqlite_institution_add(struct cr_store *,
	    const struct cr_institution *);
int	cr_sqlite_institution_get(struct cr_store *, const char *,
	    struct cr_institution *);
int	cr_sqlite_institution_list(struct cr_store *, json_t **);
int	cr_sqlite_client_add(struct cr_store *, const struct cr_client *,
	    const uint8_t[CR_HASH_LEN]);
int	cr_sqlite_client_by_token(struct cr_store *, const uint8_t[CR_HASH_LEN],
	    struct cr_client *);
int	cr_sqlite_client_list(struct cr_store *, json_t **);
int	cr_sqlite_registry_version(struct cr_store *, uint64_t *);
int	cr_sqlite_service_add(struct cr_store *, const struct cr_service *);
int	cr_sqlite_service_get(struct cr_store *, const char *,
	    struct cr_service *);
int	cr_sqlite_service_list(struct cr_store *, json_t **);
int	cr_sqlite_authz_add(struct cr_store *, const struct cr_authz *);
int	cr_sqlite_authz_delete(struct cr_store *, const char *);
int	cr_sqlite_authz_list(struct cr_store *, const char *, json_t **);
int	cr_sqlite_authz_find(struct cr_store *, const char *, const char *,
	    const char *, const char *, struct cr_authz *);

/* Operations implemented in store_sqlite_data.c. */
int	cr_sqlite_dir_put(struct cr_store *, const struct cr_dir_entry *,
	    int *);
int	cr_sqlite_dir_put_many(struct cr_store *, const struct cr_dir_entry *,
	    size_t, int *);
int	cr_sqlite_dir_end(struct cr_store *, const char *, const char *,
	    const char *, const char *);
int	cr_sqlite_dir_list(struct cr_store *, const char *, const char *,
	    json_t **);
int	cr_sqlite_dir_active(struct cr_store *, const char *, const char *,
	    const json_t *, const char *);
int	cr_sqlite_xlog_append(struct cr_store *, const struct cr_xlog_entry *,
	    size_t);
int	cr_sqlite_xlog_tail(struct cr_store *, uint64_t *,
	    uint8_t[CR_HASH_LEN]);
int	cr_sqlite_xlog_query(struct cr_store *, const struct cr_xlog_filter *,
	    struct cr_xlog_entry *, size_t *);
int	cr_sqlite_xlog_scan(struct cr_store *, uint64_t,
	    int (*)(const struct cr_xlog_entry *, void *), void *);
int	cr_sqlite_xlog_count(struct cr_store *, uint64_t *);

/* Operations implemented in store_sqlite_events.c. */
int	cr_sqlite_event_type_add(struct cr_store *,
	    const struct cr_event_type *);
int	cr_sqlite_event_type_get(struct cr_store *, const char *,
	    struct cr_event_type *);
int	cr_sqlite_event_type_list(struct cr_store *, json_t **);
int	cr_sqlite_subscription_add(struct cr_store *,
	    const struct cr_subscription *);
int	cr_sqlite_subscription_get(struct cr_store *, const char *,
	    struct cr_subscription *);
int	cr_sqlite_subscription_list(struct cr_store *, const char *,
	    json_t **);
int	cr_sqlite_subscription_delete(struct cr_store *, const char *);
int	cr_sqlite_events_append(struct cr_store *, struct cr_event *, size_t,
	    size_t *);
int	cr_sqlite_deliveries_due(struct cr_store *, int64_t,
	    struct cr_delivery *, size_t *);
int	cr_sqlite_delivery_update(struct cr_store *,
	    const struct cr_delivery *);
int	cr_sqlite_deliveries_update(struct cr_store *,
	    const struct cr_delivery *, size_t);
int	cr_sqlite_feed_read(struct cr_store *, const char *, const char *,
	    uint64_t, struct cr_delivery *, size_t *);
int	cr_sqlite_dead_letters(struct cr_store *, const char *,
	    struct cr_delivery *, size_t *);
int	cr_sqlite_redeliver(struct cr_store *, const char *, uint64_t,
	    size_t *);

/* Operations implemented in store_sqlite_bundles.c. */
int	cr_sqlite_bundle_add(struct cr_store *, const char *, const json_t *);
int	cr_sqlite_bundle_get(struct cr_store *, const char *, json_t **);
int	cr_sqlite_bundle_list(struct cr_store *, json_t **);

/* Operations implemented in store_sqlite_batches.c. */
int	cr_sqlite_batch_add(struct cr_store *, const struct cr_batch *,
	    const char *const *, size_t);
int	cr_sqlite_batch_get(struct cr_store *, const char *, struct cr_batch *);
int	cr_sqlite_batch_unfinished(struct cr_store *, json_t **);
int	cr_sqlite_batch_set_status(struct cr_store *, const char *,
	    const char *, const char *);
int	cr_sqlite_batch_pending(struct cr_store *, const char *, uint64_t,
	    struct cr_batch_item *, size_t *);
int	cr_sqlite_batch_results_put(struct cr_store *, const char *,
	    const struct cr_batch_item *, size_t);
int	cr_sqlite_batch_results(struct cr_store *, const char *, uint64_t,
	    struct cr_batch_item *, size_t *);

#endif
