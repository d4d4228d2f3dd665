/*
 * Storage interface. Every persistent thing the hub keeps goes through
 * one table of function pointers per concern (registry, reference
 * directory, exchange log, events and deliveries, bundles and batches), so
 * that a second backend (PostgreSQL for multi-node deployments) slots in
 * beside store_sqlite*.c concern by concern without touching callers.
 *
 * Threading: a struct cr_store is shared by all threads; implementations
 * must be safe to call from any thread concurrently (the SQLite one keeps a
 * connection per thread).
 *
 * Ownership: structs passed in are borrowed. Structs filled out are the
 * caller's; their json_t members (fields, params, capacities) are new
 * references the caller releases with cr_service_clear()/cr_authz_clear(). json_t
 * lists returned through `out` are new references (json_decref).
 *
 * Return values: CR_STORE_OK (0), CR_STORE_NOTFOUND, CR_STORE_EXISTS, or
 * CR_STORE_ERR (-1, already logged with log_warnx).
 */
#ifndef CR_STORE_H
#define CR_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "date.h"
#include "ident.h"

#define CR_STORE_OK		0
#define CR_STORE_ERR		(-1)
#define CR_STORE_NOTFOUND	1
#define CR_STORE_EXISTS		2

#define CR_NAME_MAX		64	/* ids of institutions, capacities */
#define CR_KEY_MAX		128	/* ids of services, purposes */
#define CR_TEXT_MAX		256	/* names, legal bases */
#define CR_URL_MAX		1024
#define CR_PATH_MAX		1024	/* a file on the hub, with the NUL */
#define CR_HASH_LEN		32
#define CR_PARAMS_MAX		1024	/* a consultation's params as logged
					   (canonical JSON), with the NUL */

struct cr_institution {
	char	id[CR_NAME_MAX];
	char	name[CR_TEXT_MAX];
	char	sector[CR_NAME_MAX];
};

struct cr_client {
	char	id[40];			/* UUID */
	char	institution[CR_NAME_MAX];
	char	name[CR_TEXT_MAX];
	/* SHA-256 of the DER of the certificate it authenticates with
	   (64 lowercase hex), "" when registered without one. */
	char	cert_sha256[2 * CR_HASH_LEN + 1];
	int64_t	expires_ms;		/* Unix ms; 0: never (client_add) */
};

/* When a client was last authenticated (clients_touch). */
struct cr_client_use {
	char	id[40];
	int64_t	used_ms;		/* Unix ms */
};

/* A named operator account (docs/api.md, "Operators and roles"). */
#define CR_ROLE_NAME_MAX	16
struct cr_operator {
	char	id[40];			/* UUID */
	char	name[CR_NAME_MAX];
	char	role[CR_ROLE_NAME_MAX];	/* "admin", "auditor", "security" */
};

struct cr_service {
	char	 id[CR_KEY_MAX];
	char	 provider[CR_NAME_MAX];	/* institution id */
	char	 endpoint[CR_URL_MAX];
	char	 subject_kind[16];	/* "person" or "enterprise" */
	json_t	*fields;		/* array of field paths (authz.h) */
	json_t	*params;		/* [{"name","type"}], maybe empty;
					   NULL when written: none */
	int	 timeout_ms;
	/* https:// endpoints (docs/api.md, "Services over HTTPS"): PEM
	   files on the hub, absolute paths; "" when not set. */
	char	 ca_file[CR_PATH_MAX];
	char	 client_cert[CR_PATH_MAX];
	char	 client_key[CR_PATH_MAX];
};

struct cr_authz {
	char	 id[40];		/* UUID */
	char	 consumer[CR_NAME_MAX];
	char	 service[CR_KEY_MAX];
	char	 purpose[CR_KEY_MAX];
	char	 legal_basis[CR_TEXT_MAX];
	json_t	*fields;		/* array of strings */
	json_t	*capacities;		/* array of strings, maybe empty */
	char	 valid_from[CR_DATE_LEN + 1];
	char	 valid_to[CR_DATE_LEN + 1];	/* "" when open-ended */
};

/*
 * A capacity of the catalogue (CBSS sector rules): an institution may
 * declare it in the reference directory when it is one of institutions or
 * its sector is one of sectors. Both lists may be empty: then no one may.
 */
struct cr_capacity {
	char	 id[CR_NAME_MAX];
	char	 name[CR_TEXT_MAX];
	json_t	*institutions;		/* array of institution ids */
	json_t	*sectors;		/* array of sectors */
};

struct cr_dir_entry {
	char	subject[CR_SUBJECT_MAX];
	char	institution[CR_NAME_MAX];
	char	capacity[CR_NAME_MAX];
	char	from[CR_DATE_LEN + 1];
	char	to[CR_DATE_LEN + 1];	/* "" when open-ended */
};

/* Outcome of a consultation attempt, as logged. */
#define CR_OUTCOME_GRANTED	"granted"
#define CR_OUTCOME_DENIED	"denied"
#define CR_OUTCOME_FAILED	"failed"

struct cr_xlog_entry {
	uint64_t seq;			/* assigned by the log writer, from 1 */
	char	 ts[32];		/* RFC 3339 UTC */
	char	 request_id[64];
	char	 consumer[CR_NAME_MAX];	/* institution, "" if unauthenticated */
	char	 client[40];		/* client id, "operator", or "" */
	char	 end_user[128];
	char	 service[CR_KEY_MAX];
	char	 provider[CR_NAME_MAX];
	/* Normalized; as sent when refused as invalid. */
	char	 subject[CR_SUBJECT_RAW_MAX];
	char	 purpose[CR_KEY_MAX];
	char	 legal_basis[CR_TEXT_MAX];
	char	 outcome[8];		/* CR_OUTCOME_* */
	int	 status;		/* HTTP status sent to the consumer */
	char	 error_code[32];	/* "" when granted */
	char	 params[CR_PARAMS_MAX];	/* "" when none (cr_xlog_params) */
	uint8_t	 prev_hash[CR_HASH_LEN];
	uint8_t	 hash[CR_HASH_LEN];
};

/*
 * Events (mutations pushed by authentic sources). An event type is
 * authorized like a service: a subscriber needs an authorization whose
 * `service` is the event type's id.
 */
struct cr_event_type {
	char	 id[CR_KEY_MAX];
	char	 provider[CR_NAME_MAX];	/* institution that publishes */
	json_t	*fields;		/* array of strings */
	/* 1: delivered to every subscriber whose institution has integrated
	   the subject in any capacity, whatever the subscription's
	   capacities (deaths, identifier replacements: the CBSS rule). */
	int	 all_integrations;
};

struct cr_event {
	uint64_t id;			/* assigned by events_append, from 1 */
	char	 type[CR_KEY_MAX];
	char	 provider[CR_NAME_MAX];
	char	 subject[CR_SUBJECT_MAX];
	char	 occurred_at[32];	/* RFC 3339 UTC */
	char	 published_at[32];	/* RFC 3339 UTC, set by the caller */
	json_t	*data;			/* object */
};

struct cr_subscription {
	char	 id[40];		/* UUID */
	char	 institution[CR_NAME_MAX];
	char	 client[40];		/* client that created it */
	char	 event_type[CR_KEY_MAX];
	json_t	*capacities;		/* array of strings, maybe empty:
					   empty means any capacity */
	char	 url[CR_URL_MAX];	/* webhook; "" for a feed */
	int	 feed;			/* 1: pull feed */
	char	 secret[65];		/* 64 hex chars: HMAC key */
	char	 created_at[32];
};

#define CR_DELIVERY_PENDING	0
#define CR_DELIVERY_DELIVERED	1
#define CR_DELIVERY_DEAD	2

/* One event routed to one subscription. */
struct cr_delivery {
	uint64_t seq;			/* monotonic over all deliveries; the
					   feed cursor */
	char	 subscription[40];
	uint64_t event_id;
	int	 state;			/* CR_DELIVERY_* */
	int	 attempts;
	int64_t	 next_attempt_ms;	/* Unix time in ms */
	char	 last_error[160];
	struct cr_event event;		/* filled by the reading ops */
};

/*
 * The exchange log's Merkle tree (hub/merkle.h, docs/exchange-log.md): a
 * perfect subtree of 2^level leaves starting at leaf index << level (leaf
 * index seq - 1), by its root. The hub stores the levels 4, 8, 12, ...
 * only (xlog.c says why).
 */
struct cr_xlog_node {
	unsigned level;
	uint64_t index;
	uint8_t	 hash[CR_HASH_LEN];
};

#define CR_SIG_LEN		64	/* Ed25519 */
#define CR_KEY_ID_LEN		64	/* hex digits */

/* A signed tree head: the root of the first tree_size entries' tree. */
struct cr_tree_head {
	uint64_t tree_size;
	int64_t	 timestamp_ms;		/* signed at: Unix ms */
	uint8_t	 root[CR_HASH_LEN];
	char	 key_id[CR_KEY_ID_LEN + 1];
	uint8_t	 signature[CR_SIG_LEN];
};

struct cr_xlog_filter {
	const char	*subject;	/* required */
	const char	*consumer;	/* NULL: any */
	uint64_t	 before_seq;	/* 0: from the newest */
	int		 limit;		/* 1..1000 */
};

/*
 * Batches of verifications (docs/batches.md): the subjects of a batch
 * are kept as items, lines 1..total, each with one result once done.
 */
#define CR_BATCH_SUBJECT_MAX	65	/* a subject as sent, with NUL */

struct cr_batch {
	char	 id[40];		/* UUID */
	char	 institution[CR_NAME_MAX];	/* of the creating client */
	char	 client[40];
	char	 end_user[128];
	char	 bundle[CR_KEY_MAX];
	char	 purpose[CR_KEY_MAX];
	char	 reference_date[CR_DATE_LEN + 1];
	int	 household;
	char	 status[16];		/* queued, running, done, failed */
	char	 error[CR_TEXT_MAX];	/* failed: why */
	uint64_t total;
	uint64_t done;			/* items with a result, failed ones
					   included */
	uint64_t failed;
	char	 created_at[32];
};

#define CR_BATCH_ITEM_PENDING	0
#define CR_BATCH_ITEM_DONE	1
#define CR_BATCH_ITEM_FAILED	2

struct cr_batch_item {
	uint64_t line;			/* from 1 */
	char	 subject[CR_BATCH_SUBJECT_MAX];
	int	 state;			/* CR_BATCH_ITEM_* */
	char	*result;		/* one JSON line, malloc'd; NULL while
					   pending */
};

/*
 * The audit trail (docs/audit.md): one entry per change to the registry,
 * bundles, event types, subscriptions and capacities, hash-chained. The
 * store assigns seq and prev_hash inside the write transaction (so that
 * several processes on one database chain one after another) and calls
 * the caller's hash function to seal the entry; the encoding it hashes is
 * the hub's (hub/audit.c).
 */
#define CR_AUDIT_ACTION_MAX	48
#define CR_AUDIT_OBJECT_MAX	(CR_KEY_MAX + 48)

struct cr_audit_entry {
	uint64_t seq;			/* from 1, set by the store */
	char	 ts[32];		/* RFC 3339 UTC */
	char	 actor[CR_NAME_MAX];	/* "admin", an operator, a client id */
	char	 action[CR_AUDIT_ACTION_MAX];	/* "client.revoke", ... */
	char	 object[CR_AUDIT_OBJECT_MAX];	/* "client:<id>", ... */
	char	*before;		/* compact JSON text, or NULL */
	char	*after;
	uint8_t	 prev_hash[CR_HASH_LEN];	/* set by the store */
	uint8_t	 hash[CR_HASH_LEN];		/* set by hash() */
};

typedef void (*cr_audit_hash_fn)(const struct cr_audit_entry *,
    uint8_t out[CR_HASH_LEN]);

/*
 * A store is five concerns, each a table of function pointers with the
 * object that implements it, so that a backend can be written concern by
 * concern and a wrapper (the registry cache) replaces one concern and
 * passes the others through untouched. Every operation takes its concern's
 * handle: st->directory->ops->dir_active(st->directory, ...).
 */
struct cr_registry_store;
struct cr_directory_store;
struct cr_xlog_store;
struct cr_event_store;
struct cr_batch_store;
struct cr_audit_store;

/* Institutions, clients, services, authorizations. */
struct cr_registry_ops {
	/* Institutions and their client applications. */
	int	(*institution_add)(struct cr_registry_store *, const struct cr_institution *);
	int	(*institution_get)(struct cr_registry_store *, const char *id,
		    struct cr_institution *);
	/* out: [{"id","name","sector"}] ordered by id */
	int	(*institution_list)(struct cr_registry_store *, json_t **out);
	int	(*client_add)(struct cr_registry_store *, const struct cr_client *,
		    const uint8_t token_hash[CR_HASH_LEN]);
	/* The client whose current token, or previous token still in its
	   overlap (client_rotate), hashes to token_hash, unless revoked or
	   expired at now_ms (Unix ms); NOTFOUND otherwise. */
	int	(*client_by_token)(struct cr_registry_store *,
		    const uint8_t token_hash[CR_HASH_LEN], int64_t now_ms,
		    struct cr_client *);
	/* The client registered with that certificate (64 lowercase hex),
	   unless revoked or expired now; NOTFOUND otherwise. Never cached:
	   a removed registration stops its certificate's next request. */
	int	(*client_by_cert)(struct cr_registry_store *,
		    const char *cert_sha256, struct cr_client *);
	/* out: [{"id","institution","name","created_at","token_hash"(64
	   hex),"prev_token_hash"(hex or null),"prev_valid_until_ms",
	   "expires_ms","revoked_ms","last_used_ms","cert_sha256"(hex or
	   null)}] ordered by id, the revoked ones included; the _ms members
	   are Unix ms or null. */
	int	(*client_list)(struct cr_registry_store *, json_t **out);
	/* Revokes client id of institution at now_ms: NOTFOUND when there
	   is no such client; OK (nothing changed) when already revoked. */
	int	(*client_revoke)(struct cr_registry_store *,
		    const char *institution, const char *id, int64_t now_ms);
	/* Gives client id of institution the token hash new_hash; its
	   current token stays valid until prev_valid_until_ms (the one
	   before, if any, no longer is). NOTFOUND when there is no such
	   client or it is revoked. */
	int	(*client_rotate)(struct cr_registry_store *,
		    const char *institution, const char *id,
		    const uint8_t new_hash[CR_HASH_LEN],
		    int64_t prev_valid_until_ms);
	/* Records last-use times (a later time wins over the stored one) in
	   one transaction. Not a registry change: registry_version stays. */
	int	(*clients_touch)(struct cr_registry_store *,
		    const struct cr_client_use *, size_t n);
	/* Named operators. EXISTS when the name (or token hash) is taken. */
	int	(*operator_add)(struct cr_registry_store *,
		    const struct cr_operator *,
		    const uint8_t token_hash[CR_HASH_LEN]);
	/* The operator whose token hashes to token_hash, unless revoked;
	   NOTFOUND otherwise. */
	int	(*operator_by_token)(struct cr_registry_store *,
		    const uint8_t token_hash[CR_HASH_LEN], struct cr_operator *);
	/* out: [{"id","name","role","created_at","token_hash"(64 hex),
	   "revoked_ms"(Unix ms or null)}] ordered by name, revoked ones
	   included. */
	int	(*operator_list)(struct cr_registry_store *, json_t **out);
	/* NOTFOUND when there is no such operator; OK (nothing changed)
	   when already revoked. */
	int	(*operator_revoke)(struct cr_registry_store *, const char *id,
		    int64_t now_ms);
	/* A new token hash at once (no overlap); NOTFOUND when there is no
	   such operator or it is revoked. */
	int	(*operator_rotate)(struct cr_registry_store *, const char *id,
		    const uint8_t new_hash[CR_HASH_LEN]);
	/* A number that changes whenever institutions, clients, operators,
	   services or authorizations change, from any process: lets a cache
	   of the registry notice changes made by another process. */
	int	(*registry_version)(struct cr_registry_store *, uint64_t *version);

	/* Services. */
	int	(*service_add)(struct cr_registry_store *, const struct cr_service *);
	int	(*service_get)(struct cr_registry_store *, const char *id,
		    struct cr_service *);
	/* out: [{"id","provider","endpoint","subject_kind","fields","params",
	   "timeout_ms"}] */
	int	(*service_list)(struct cr_registry_store *, json_t **out);

	/* Authorizations. */
	int	(*authz_add)(struct cr_registry_store *, const struct cr_authz *);
	int	(*authz_delete)(struct cr_registry_store *, const char *id);
	/* Rewrites the fields, valid_from and valid_to of authorization
	   a->id (the rest stays); NOTFOUND when there is none. */
	int	(*authz_update)(struct cr_registry_store *, const struct cr_authz *a);
	/* out: [{"id","consumer","service","purpose","legal_basis","fields",
	   "capacities","valid_from","valid_to"(null when open)}] */
	int	(*authz_list)(struct cr_registry_store *, const char *consumer_or_null,
		    json_t **out);
	/* The authorization of consumer for service and purpose that is valid
	   on date (valid_from <= date <= valid_to); NOTFOUND when none. */
	int	(*authz_find)(struct cr_registry_store *, const char *consumer,
		    const char *service, const char *purpose, const char *date,
		    struct cr_authz *out);

	/* Capacities (the caller checks that the institutions exist).
	   capacity_add: EXISTS when the id is taken. capacity_update
	   replaces name, institutions and sectors; NOTFOUND when there is
	   no such capacity. */
	int	(*capacity_add)(struct cr_registry_store *,
		    const struct cr_capacity *);
	int	(*capacity_update)(struct cr_registry_store *,
		    const struct cr_capacity *);
	int	(*capacity_get)(struct cr_registry_store *, const char *id,
		    struct cr_capacity *);
	/* out: [{"id","name","institutions","sectors"}] ordered by id */
	int	(*capacity_list)(struct cr_registry_store *, json_t **out);
};

struct cr_directory_ops {
	/* Reference directory. A record is keyed by (institution, subject,
	   capacity, from). */
	/* Inserts or updates `to`; *created = 1 when new, 0 when the key
	   existed (same record again, or a changed end date). */
	int	(*dir_put)(struct cr_directory_store *, const struct cr_dir_entry *,
		    int *created);
	/* Many records in one transaction; created[i] as for dir_put. */
	int	(*dir_put_many)(struct cr_directory_store *, const struct cr_dir_entry *,
		    size_t n, int *created);
	/* Ends the integration of subject by institution in capacity on
	   `to` (inclusive): open or later-ending records get to = `to`, records
	   starting after `to` are deleted. NOTFOUND when no record was open
	   after `to`. */
	int	(*dir_end)(struct cr_directory_store *, const char *institution,
		    const char *subject, const char *capacity, const char *to);
	/* out: [{"institution","sector","capacity","from","to"(null)}] */
	int	(*dir_list)(struct cr_directory_store *, const char *subject,
		    const char *institution_or_null, json_t **out);
	/* 1 when institution has a record for subject with one of the
	   capacities (array of strings) whose period contains date; 0 when
	   not; CR_STORE_ERR on error. */
	int	(*dir_active)(struct cr_directory_store *, const char *institution,
		    const char *subject, const json_t *capacities,
		    const char *date);

};

struct cr_xlog_ops {
	/* Exchange log. Appends n entries (seq, prev_hash, hash already set)
	   and the Merkle tree nodes they complete in one transaction that is
	   durable (fsync'd) when this returns. */
	int	(*xlog_append)(struct cr_xlog_store *, const struct cr_xlog_entry *,
		    size_t n, const struct cr_xlog_node *nodes, size_t nnodes);
	/* Seq and hash of the newest entry; 0 and zeros when empty. */
	int	(*xlog_tail)(struct cr_xlog_store *, uint64_t *seq,
		    uint8_t hash[CR_HASH_LEN]);
	/* Matching entries, newest first, filled into out[0..*n). */
	int	(*xlog_query)(struct cr_xlog_store *, const struct cr_xlog_filter *,
		    struct cr_xlog_entry *out, size_t *n);
	/* Calls cb on every entry with seq >= from_seq in seq order; stops
	   when cb returns non-zero and returns that value. */
	int	(*xlog_scan)(struct cr_xlog_store *, uint64_t from_seq,
		    int (*cb)(const struct cr_xlog_entry *, void *), void *arg);
	/* Number of entries. */
	int	(*xlog_count)(struct cr_xlog_store *, uint64_t *count);

	/* The Merkle tree: nodes written apart from entries (the tree of a
	   log written before it had one), in one durable transaction. */
	int	(*tree_put)(struct cr_xlog_store *,
		    const struct cr_xlog_node *, size_t n);
	/* One node's hash; NOTFOUND when it is not (yet) stored. */
	int	(*tree_get)(struct cr_xlog_store *, unsigned level,
		    uint64_t index, uint8_t hash[CR_HASH_LEN]);
	/* Number of nodes stored at level (the highest index + 1). */
	int	(*tree_count)(struct cr_xlog_store *, unsigned level,
		    uint64_t *count);
	/* The hashes of entries from_seq .. from_seq + n - 1 into out[0..n);
	   NOTFOUND when one of them is missing. */
	int	(*xlog_hashes)(struct cr_xlog_store *, uint64_t from_seq,
		    size_t n, uint8_t (*out)[CR_HASH_LEN]);
	/* Forgets the whole tree and every signed head (an accepted rewrite
	   of the log: both are rebuilt from the entries). */
	int	(*tree_reset)(struct cr_xlog_store *);
	/* Signed tree heads: one per tree size (a second one of the same size
	   replaces the first), durable when this returns. */
	int	(*head_put)(struct cr_xlog_store *,
		    const struct cr_tree_head *);
	/* The head of tree_size, or the newest for 0; NOTFOUND. */
	int	(*head_get)(struct cr_xlog_store *, uint64_t tree_size,
		    struct cr_tree_head *);

};

/* Event types, subscriptions, events and their deliveries. */
struct cr_event_ops {
	/* Event types: EXISTS, NOTFOUND (unknown provider) as for services. */
	int	(*event_type_add)(struct cr_event_store *, const struct cr_event_type *);
	int	(*event_type_get)(struct cr_event_store *, const char *id,
		    struct cr_event_type *);
	/* out: [{"id","provider","fields","all_integrations"(bool)}] */
	int	(*event_type_list)(struct cr_event_store *, json_t **out);

	/* Subscriptions. */
	int	(*subscription_add)(struct cr_event_store *,
		    const struct cr_subscription *);
	int	(*subscription_get)(struct cr_event_store *, const char *id,
		    struct cr_subscription *);
	/* out: [{"id","institution","event_type","capacities","delivery":
	   {"url"} or {"feed":true},"created_at"}] (no secret); NULL: all */
	int	(*subscription_list)(struct cr_event_store *,
		    const char *institution_or_null, json_t **out);
	int	(*subscription_delete)(struct cr_event_store *, const char *id);

	/*
	 * Appends n events (ids assigned in order, written back to
	 * events[i].id) and routes each in the same transaction, durable
	 * (fsync'd) when this returns: one delivery per subscription of the
	 * event's type whose institution has the subject integrated on the
	 * date of occurred_at with one of the subscription's capacities (any
	 * capacity when the subscription lists none or the type has
	 * all_integrations). Deliveries get increasing seqs in event order.
	 * routed[i], when not NULL, receives the number of deliveries.
	 */
	int	(*events_append)(struct cr_event_store *, struct cr_event *events,
		    size_t n, size_t *routed);
	/*
	 * Webhook work: up to *n pending deliveries of non-feed
	 * subscriptions whose next_attempt_ms <= now_ms, in seq order, with
	 * their events; *n is set to the number filled.
	 */
	int	(*deliveries_due)(struct cr_event_store *, int64_t now_ms,
		    struct cr_delivery *out, size_t *n);
	/* Sets state, attempts, next_attempt_ms and last_error of delivery
	   seq. NOTFOUND when there is none. */
	int	(*delivery_update)(struct cr_event_store *, const struct cr_delivery *);
	/* delivery_update of d[0..n) in one transaction, durable when this
	   returns, applied in order (a later entry for a seq wins); a seq
	   with no row is skipped. All or nothing. */
	int	(*deliveries_update)(struct cr_event_store *, const struct cr_delivery *,
		    size_t n);
	/*
	 * Feed: up to *n deliveries with seq > after of the feed
	 * subscriptions of institution (all of them when subscription is
	 * NULL), in seq order, with their events; marks them delivered.
	 */
	int	(*feed_read)(struct cr_event_store *, const char *institution,
		    const char *subscription_or_null, uint64_t after,
		    struct cr_delivery *out, size_t *n);
	/* Dead letters of a subscription, oldest first (up to *n). */
	int	(*dead_letters)(struct cr_event_store *, const char *subscription,
		    struct cr_delivery *out, size_t *n);
	/* Dead deliveries of subscription (all when seq is 0) back to
	   pending, attempts 0, due now; *count how many. */
	int	(*redeliver)(struct cr_event_store *, const char *subscription,
		    uint64_t seq, size_t *count);

};

/* Bundles of verifications and batches. */
struct cr_batch_ops {
	/* Bundles (verifications): definitions stored as JSON text. */
	/* EXISTS when id is taken. */
	int	(*bundle_add)(struct cr_batch_store *, const char *id,
		    const json_t *definition);
	/* *definition: the object as added (new reference); NOTFOUND. */
	int	(*bundle_get)(struct cr_batch_store *, const char *id,
		    json_t **definition);
	/* out: [definition, ...] ordered by id */
	int	(*bundle_list)(struct cr_batch_store *, json_t **out);

	/*
	 * Batches. batch_add stores b (status "queued", counts 0) and
	 * subjects[0..n) as pending lines 1..n, durable when this returns
	 * (written in chunks, so that other writers wait little; a batch
	 * whose load did not finish is invisible and removed by
	 * batch_unfinished). EXISTS when the id is taken.
	 */
	int	(*batch_add)(struct cr_batch_store *, const struct cr_batch *b,
		    const char *const *subjects, size_t n);
	int	(*batch_get)(struct cr_batch_store *, const char *id,
		    struct cr_batch *out);
	/* out: ids of the batches queued or running, oldest first. */
	int	(*batch_unfinished)(struct cr_batch_store *, json_t **out);
	/* error: "" or NULL unless failed. */
	int	(*batch_set_status)(struct cr_batch_store *, const char *id,
		    const char *status, const char *error);
	/* Up to *n pending items with line > after, in line order
	   (result NULL); *n is set to the number filled. */
	int	(*batch_pending)(struct cr_batch_store *, const char *id,
		    uint64_t after, struct cr_batch_item *out, size_t *n);
	/* Records items[0..n) (state done or failed, result) and the counts
	   in one transaction, durable when this returns. An item that has
	   its result already keeps it: each line has one result, ever. */
	int	(*batch_results_put)(struct cr_batch_store *, const char *id,
		    const struct cr_batch_item *items, size_t n);
	/* Up to *n items with line > after, in line order, with their
	   results (free with cr_batch_items_clear). */
	int	(*batch_results)(struct cr_batch_store *, const char *id,
		    uint64_t after, struct cr_batch_item *out, size_t *n);
};

/* The audit trail. */
struct cr_audit_ops {
	/* Appends e in a transaction of its own, durable when this returns;
	   e's seq, prev_hash and hash are set (hash by hash()). */
	int	(*audit_append)(struct cr_audit_store *, struct cr_audit_entry *e,
		    cr_audit_hash_fn hash);
	/*
	 * Stages a copy of e for this thread's next write transaction
	 * through the store: it is appended in that transaction, so that a
	 * change and its entry commit together or not at all. The first
	 * write transaction that ends, committed or not, consumes it.
	 */
	int	(*audit_stage)(struct cr_audit_store *,
		    const struct cr_audit_entry *e, cr_audit_hash_fn hash);
	/* Ends staging: 1 when the staged entry was committed, 0 when not
	   (nothing was written, or the transaction failed). */
	int	(*audit_unstage)(struct cr_audit_store *);
	/* Calls cb on every entry with seq > after (of object only, unless
	   NULL) in seq order, entries' text borrowed for the call; stops
	   when cb returns non-zero and returns that value. */
	int	(*audit_scan)(struct cr_audit_store *, uint64_t after,
		    const char *object_or_null,
		    int (*cb)(const struct cr_audit_entry *, void *), void *arg);
};

struct cr_registry_store	{ const struct cr_registry_ops	*ops; };
struct cr_directory_store	{ const struct cr_directory_ops	*ops; };
struct cr_xlog_store		{ const struct cr_xlog_ops	*ops; };
struct cr_event_store		{ const struct cr_event_ops	*ops; };
struct cr_batch_store		{ const struct cr_batch_ops	*ops; };
struct cr_audit_store		{ const struct cr_audit_ops	*ops; };

struct cr_store {
	const char			*name;		/* backend: "sqlite" */
	void				(*close)(struct cr_store *);
	/*
	 * Whether the storage takes a durable write now (a full disk, a
	 * file or file system made read-only fail it): CR_STORE_OK or
	 * CR_STORE_ERR (logged). Costs one committed write (an fsync), so
	 * callers rate-limit it (/readyz). Here rather than in a concern:
	 * it is about the medium every concern writes to, not about any one
	 * of them, and a backend with several databases checks them all.
	 * A wrapper that copies this struct must pass it on to its inner
	 * store.
	 */
	int				(*health)(struct cr_store *);
	struct cr_registry_store	*registry;
	struct cr_directory_store	*directory;
	struct cr_xlog_store		*xlog;
	struct cr_event_store		*events;
	struct cr_batch_store		*batches;
	struct cr_audit_store		*audit;
};

/*
 * Opens (creating and migrating as needed) the store at `uri`: a plain
 * path or "sqlite:PATH" for the embedded SQLite backend, a
 * "postgresql://" or "postgres://" URL (libpq's) for PostgreSQL. An
 * existing file or database must be a hub's (or empty): someone else's,
 * a source's, is refused as it is. Every concern is there: a backend that
 * does not store one of them yet is refused (logged). 0 or -1 (logged).
 */
int	cr_store_open(const char *uri, struct cr_store **out);
/*
 * As cr_store_open, but a backend may leave the concerns it does not
 * store yet NULL (PostgreSQL: all but the registry and health so far);
 * the caller checks those it uses.
 */
int	cr_store_open_partial(const char *uri, struct cr_store **out);
/*
 * Opens an existing hub database to read it only (the offline commands
 * that read, an auditor's copy on read-only media): nothing is created,
 * migrated or converted, and every write fails. A missing file, or one
 * without the hub's tables, is refused. 0 or -1 (logged).
 */
int	cr_store_open_readonly(const char *uri, struct cr_store **out);
void	cr_store_close(struct cr_store *);

/* Release the json members of filled-out structs; safe on zeroed ones. */
void	cr_service_clear(struct cr_service *);
void	cr_authz_clear(struct cr_authz *);
void	cr_capacity_clear(struct cr_capacity *);
void	cr_event_type_clear(struct cr_event_type *);
void	cr_event_clear(struct cr_event *);
void	cr_subscription_clear(struct cr_subscription *);
/* Clears each delivery's event. */
void	cr_deliveries_clear(struct cr_delivery *, size_t n);
/* Frees each item's result. */
void	cr_batch_items_clear(struct cr_batch_item *, size_t n);

/* SQLite backend constructors (store_sqlite.c). */
int	cr_store_sqlite_open(const char *path, struct cr_store **out);
int	cr_store_sqlite_open_readonly(const char *path, struct cr_store **out);

/* PostgreSQL backend constructors (store_pg.c); url: a libpq URL. */
int	cr_store_pg_open(const char *url, struct cr_store **out);
int	cr_store_pg_open_readonly(const char *url, struct cr_store **out);

/*
 * Wraps a store with an in-memory snapshot of the registry (clients,
 * services, authorizations), so that the consult path's lookups of those
 * touch no database (store_cache.c). Writes through the wrapper take
 * effect at once; writes by other processes within refresh_ms. Takes
 * ownership of inner (closed with the wrapper).
 */
int	cr_store_cache_wrap(struct cr_store *inner, unsigned refresh_ms,
	    struct cr_store **out);

#endif
