/*
 * The audit trail's entries and hash chain (audit.h, docs/audit.md).
 *
 * hash = BLAKE2b-256(prev_hash || seq as 8 bytes big-endian ||
 *        text(ts) || text(actor) || text(action) || text(object) ||
 *        opt(before) || opt(after))
 * where text(s) is s's length as 4 bytes big-endian then its UTF-8 bytes,
 * and opt(j) is one byte 0 when there is no JSON, else one byte 1 then
 * text(j); prev_hash is 32 zero bytes for entry 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "log.h"
#include "util.h"

static void
hash_opt(crypto_generichash_state *st, const char *s)
{
	uint8_t tag = s != NULL;

	crypto_generichash_update(st, &tag, 1);
	if (s != NULL)
		cr_util_hash_text(st, s, strlen(s));
}

void
cr_audit_entry_hash(const struct cr_audit_entry *e, uint8_t out[CR_HASH_LEN])
{
	crypto_generichash_state st;
	uint8_t seq[8];
	int i;

	for (i = 0; i < 8; i++)
		seq[i] = (uint8_t)(e->seq >> (56 - 8 * i));
	crypto_generichash_init(&st, NULL, 0, CR_HASH_LEN);
	crypto_generichash_update(&st, e->prev_hash, CR_HASH_LEN);
	crypto_generichash_update(&st, seq, sizeof(seq));
	cr_util_hash_text(&st, e->ts, sizeof(e->ts));
	cr_util_hash_text(&st, e->actor, sizeof(e->actor));
	cr_util_hash_text(&st, e->action, sizeof(e->action));
	cr_util_hash_text(&st, e->object, sizeof(e->object));
	hash_opt(&st, e->before);
	hash_opt(&st, e->after);
	crypto_generichash_final(&st, out, CR_HASH_LEN);
}

/* Fills e (before/after malloc'd: entry_clear); 0 or -1. */
static int
entry_make(struct cr_audit_entry *e, const char *actor, const char *action,
    const char *object, const json_t *before, const json_t *after)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;

	memset(e, 0, sizeof(*e));
	cr_util_now_rfc3339(e->ts);
	cr_util_strlcpy(e->actor, actor != NULL ? actor : "", sizeof(e->actor));
	cr_util_strlcpy(e->action, action, sizeof(e->action));
	cr_util_strlcpy(e->object, object, sizeof(e->object));
	if ((before != NULL && (e->before = json_dumps(before, flags)) ==
	    NULL) || (after != NULL && (e->after = json_dumps(after,
	    flags)) == NULL)) {
		free(e->before);
		e->before = NULL;
		log_warnx("audit: cannot encode %s of %s", action, object);
		return -1;
	}
	return 0;
}

static void
entry_clear(struct cr_audit_entry *e)
{
	free(e->before);
	free(e->after);
	e->before = e->after = NULL;
}

/*
 * What cr_audit_done() writes when the change did not take the staged
 * entry: one a thread, as staging is.
 */
static _Thread_local struct {
	int			 pending;
	struct cr_audit_entry	 e;
} staged;

int
cr_audit_stage(struct cr_store *st, const char *actor, const char *action,
    const char *object, const json_t *before, const json_t *after)
{
	if (staged.pending) {
		entry_clear(&staged.e);
		staged.pending = 0;
	}
	if (entry_make(&staged.e, actor, action, object, before, after) == -1)
		return -1;
	staged.pending = 1;
	if (st->audit == NULL || st->audit->ops->audit_stage(st->audit,
	    &staged.e, cr_audit_entry_hash) != CR_STORE_OK)
		return -1;
	return 0;
}

int
cr_audit_done(struct cr_store *st, int changed)
{
	int committed = 0, rc = 0;

	if (st->audit != NULL)
		committed = st->audit->ops->audit_unstage(st->audit);
	if (!staged.pending)
		return 0;
	/* The change is in, its entry not: on its own, then. */
	if (changed && !committed && (st->audit == NULL ||
	    st->audit->ops->audit_append(st->audit, &staged.e,
	    cr_audit_entry_hash) != CR_STORE_OK)) {
		log_warnx("audit: cannot record %s of %s by %s",
		    staged.e.action, staged.e.object, staged.e.actor);
		rc = -1;
	}
	entry_clear(&staged.e);
	staged.pending = 0;
	return rc;
}

int
cr_audit_record(struct cr_store *st, const char *actor, const char *action,
    const char *object, const json_t *before, const json_t *after)
{
	struct cr_audit_entry e;
	int rc = -1;

	if (entry_make(&e, actor, action, object, before, after) == -1)
		return -1;
	if (st->audit != NULL && st->audit->ops->audit_append(st->audit, &e,
	    cr_audit_entry_hash) == CR_STORE_OK)
		rc = 0;
	else
		log_warnx("audit: cannot record %s of %s by %s", action, object,
		    e.actor);
	entry_clear(&e);
	return rc;
}

/* JSON text as stored, parsed; JSON null when none or unparseable. */
static json_t *
text_json(const char *s)
{
	json_t *j;

	if (s == NULL || (j = json_loads(s, JSON_DECODE_ANY, NULL)) == NULL)
		return json_null();
	return j;
}

json_t *
cr_audit_entry_json(const struct cr_audit_entry *e)
{
	char hex[2 * CR_HASH_LEN + 1];

	cr_util_hex(e->hash, CR_HASH_LEN, hex);
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:s}",
	    "seq", (json_int_t)e->seq, "ts", e->ts, "actor", e->actor,
	    "action", e->action, "object", e->object,
	    "before", text_json(e->before), "after", text_json(e->after),
	    "hash", hex);
}

struct verify_state {
	uint64_t	 expect;
	uint8_t		 prev[CR_HASH_LEN];
	uint64_t	*bad;
	char		*why;
	size_t		 whylen;
};

static int
verify_one(const struct cr_audit_entry *e, void *arg)
{
	struct verify_state *v = arg;
	uint8_t h[CR_HASH_LEN];

	if (e->seq != v->expect) {
		*v->bad = e->seq;
		snprintf(v->why, v->whylen, "sequence gap after %llu",
		    (unsigned long long)(v->expect - 1));
		return 1;
	}
	if (sodium_memcmp(e->prev_hash, v->prev, CR_HASH_LEN) != 0) {
		*v->bad = e->seq;
		snprintf(v->why, v->whylen, "prev_hash does not match entry "
		    "%llu", (unsigned long long)(e->seq - 1));
		return 1;
	}
	cr_audit_entry_hash(e, h);
	if (sodium_memcmp(h, e->hash, CR_HASH_LEN) != 0) {
		*v->bad = e->seq;
		snprintf(v->why, v->whylen, "hash mismatch");
		return 1;
	}
	memcpy(v->prev, e->hash, CR_HASH_LEN);
	v->expect++;
	return 0;
}

int
cr_audit_verify(struct cr_store *st, uint64_t *count, uint64_t *bad_seq,
    char *why, size_t whylen)
{
	struct verify_state v;
	int rc;

	memset(&v, 0, sizeof(v));
	v.expect = 1;
	v.bad = bad_seq;
	v.why = why;
	v.whylen = whylen;
	*count = 0;
	*bad_seq = 0;
	if (st->audit == NULL)
		return -2;
	rc = st->audit->ops->audit_scan(st->audit, 0, NULL, verify_one, &v);
	if (rc == 1)
		return -1;
	if (rc != CR_STORE_OK)
		return -2;
	*count = v.expect - 1;
	return 0;
}
