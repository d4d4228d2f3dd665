/*
 * The audit trail (docs/audit.md): who changed what in the registry,
 * bundles, event types, subscriptions and capacities, when, with the
 * object before and after, in a hash chain of its own.
 *
 * A change made through the store is audited in its own transaction:
 *
 *	cr_audit_stage(st, actor, "client.revoke", "client:ID", before, after);
 *	rc = st->registry->ops->client_revoke(...);
 *	cr_audit_done(st, rc == CR_STORE_OK);
 *
 * The staged entry is written inside the change's write transaction when
 * the backend can (SQLite does); cr_audit_done() appends it on its own
 * otherwise, and drops it when the change failed. cr_audit_record()
 * writes an entry by itself, for changes that are not one store write.
 *
 * before and after are borrowed; they are written as compact JSON with
 * sorted keys. NULL: none (a creation has no before, a deletion no after).
 * They must never hold a token or a token's hash.
 */
#ifndef CR_AUDIT_H
#define CR_AUDIT_H

#include <jansson.h>

#include "store.h"

/* 0, or -1 (logged): the caller goes on without staging and calls
   cr_audit_done() all the same. */
int	cr_audit_stage(struct cr_store *, const char *actor, const char *action,
	    const char *object, const json_t *before, const json_t *after);
/* After the staged change: when changed, makes sure the entry is written
   (0, or -1 logged when it could not be); otherwise drops it. */
int	cr_audit_done(struct cr_store *, int changed);
/* One entry in a transaction of its own. 0 or -1 (logged). */
int	cr_audit_record(struct cr_store *, const char *actor,
	    const char *action, const char *object, const json_t *before,
	    const json_t *after);

/* The entry's hash from its prev_hash and fields (docs/audit.md). */
void	cr_audit_entry_hash(const struct cr_audit_entry *,
	    uint8_t out[CR_HASH_LEN]);
/* JSON form of an entry as GET /v1/audit shows it (new reference). */
json_t	*cr_audit_entry_json(const struct cr_audit_entry *);
/*
 * Walks the whole chain: 0 when intact (*count set), -1 when broken
 * (*bad_seq names the first bad entry, why says what is wrong), -2 on
 * store error.
 */
int	cr_audit_verify(struct cr_store *, uint64_t *count, uint64_t *bad_seq,
	    char *why, size_t whylen);

#endif
