/*
 * The exchange log writer: group commit of hash-chained entries.
 *
 * Request threads only copy their entry into the submit buffer under a
 * short mutex; the single writer thread swaps that buffer with its own
 * (now empty) one, so every entry queued while the previous transaction
 * was being fsync'd goes out in the next transaction. Once both buffers
 * have grown to the peak load nothing is allocated per entry.
 *
 * Only the writer touches last_seq/last_hash, so the chain needs no lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"
#include "xlog.h"

#define XLOG_DEFAULT_BATCH	4096
#define XLOG_INITIAL_CAP	256

struct xlog_cb {
	cr_xlog_done_fn	 done;
	void		*arg;
};

/* One side of the double buffer: entries and their callbacks, in step. */
struct xlog_buf {
	struct cr_xlog_entry	*entries;
	struct xlog_cb		*cbs;
	size_t			 len;
	size_t			 cap;
};

struct cr_xlog {
	struct cr_store	*store;
	size_t		 max_batch;

	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	int		 stopping;	/* under mtx */
	struct xlog_buf	 queue;		/* submitters' side, under mtx */
	struct xlog_buf	 work;		/* writer's side, writer only */

	/* Chain tail, writer only (and start before the thread exists). */
	uint64_t	 last_seq;
	uint8_t		 last_hash[CR_HASH_LEN];
};

static int
buf_reserve(struct xlog_buf *b, size_t want)
{
	struct cr_xlog_entry *e;
	struct xlog_cb *c;
	size_t cap;

	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : XLOG_INITIAL_CAP;
	while (cap < want)
		cap *= 2;
	if ((e = reallocarray(b->entries, cap, sizeof(*e))) == NULL)
		return -1;
	b->entries = e;
	if ((c = reallocarray(b->cbs, cap, sizeof(*c))) == NULL)
		return -1;
	b->cbs = c;
	b->cap = cap;
	return 0;
}

static void
buf_free(struct xlog_buf *b)
{
	free(b->entries);
	free(b->cbs);
	memset(b, 0, sizeof(*b));
}

/* Length-prefixed, so that no two field splits encode the same bytes. */
#define HASH_FIELD(st, e, f)	cr_util_hash_text((st), (e)->f, sizeof((e)->f))

void
cr_xlog_entry_hash(const struct cr_xlog_entry *e, uint8_t out[CR_HASH_LEN])
{
	crypto_generichash_state st;
	uint8_t seq[8];
	int i;

	for (i = 0; i < 8; i++)
		seq[i] = (uint8_t)(e->seq >> (56 - 8 * i));

	crypto_generichash_init(&st, NULL, 0, CR_HASH_LEN);
	crypto_generichash_update(&st, e->prev_hash, CR_HASH_LEN);
	crypto_generichash_update(&st, seq, sizeof(seq));
	cr_util_hash_u32(&st, (uint32_t)e->status);
	HASH_FIELD(&st, e, ts);
	HASH_FIELD(&st, e, request_id);
	HASH_FIELD(&st, e, consumer);
	HASH_FIELD(&st, e, client);
	HASH_FIELD(&st, e, end_user);
	HASH_FIELD(&st, e, service);
	HASH_FIELD(&st, e, provider);
	HASH_FIELD(&st, e, subject);
	HASH_FIELD(&st, e, purpose);
	HASH_FIELD(&st, e, legal_basis);
	HASH_FIELD(&st, e, outcome);
	HASH_FIELD(&st, e, error_code);
	/* Only when present: entries from before params keep their hash. */
	if (e->params[0] != '\0')
		HASH_FIELD(&st, e, params);
	crypto_generichash_final(&st, out, CR_HASH_LEN);
}

int
cr_xlog_params(const json_t *params, char *out, size_t outlen)
{
	size_t n;

	out[0] = '\0';
	if (params == NULL || (json_is_object(params) &&
	    json_object_size(params) == 0))
		return 0;
	n = json_dumpb(params, out, outlen - 1, JSON_COMPACT | JSON_SORT_KEYS);
	if (n == 0 || n > outlen - 1) {
		out[0] = '\0';
		return -1;
	}
	out[n] = '\0';
	return 0;
}

/*
 * Writes entries [0, n) of the work buffer as one transaction and reports
 * to their callbacks. On failure the chain is re-read from the store rather
 * than trusted: whatever the backend did, the next batch links to what is
 * really there.
 */
static void
xlog_commit(struct cr_xlog *x, struct cr_xlog_entry *ents,
    struct xlog_cb *cbs, size_t n)
{
	uint8_t prev[CR_HASH_LEN];
	uint64_t seq = x->last_seq;
	double t0, ms;
	size_t i;
	int rc;

	memcpy(prev, x->last_hash, CR_HASH_LEN);
	for (i = 0; i < n; i++) {
		ents[i].seq = ++seq;
		memcpy(ents[i].prev_hash, prev, CR_HASH_LEN);
		cr_xlog_entry_hash(&ents[i], ents[i].hash);
		memcpy(prev, ents[i].hash, CR_HASH_LEN);
	}

	t0 = cr_util_mono_ms();
	rc = x->store->xlog->ops->xlog_append(x->store->xlog, ents, n);
	ms = cr_util_mono_ms() - t0;

	if (rc == CR_STORE_OK) {
		x->last_seq = seq;
		memcpy(x->last_hash, prev, CR_HASH_LEN);
		/* Only committed batches count: the metric is "entries logged". */
		cr_metrics_xlog_batch(n, ms);
		for (i = 0; i < n; i++)
			if (cbs[i].done != NULL)
				cbs[i].done(cbs[i].arg, 0, ents[i].seq);
		return;
	}

	log_warnx("xlog: appending %zu entries (seq %" PRIu64 "..%" PRIu64
	    ") failed; their requests are refused", n, x->last_seq + 1, seq);
	if (x->store->xlog->ops->xlog_tail(x->store->xlog,
	    &seq, prev) == CR_STORE_OK) {
		x->last_seq = seq;
		memcpy(x->last_hash, prev, CR_HASH_LEN);
	} else
		log_warnx("xlog: cannot re-read the chain tail; keeping seq %"
		    PRIu64, x->last_seq);
	for (i = 0; i < n; i++)
		if (cbs[i].done != NULL)
			cbs[i].done(cbs[i].arg, -1, 0);
}

static void *
xlog_writer(void *arg)
{
	struct cr_xlog *x = arg;
	struct xlog_buf tmp;
	size_t off, n;

	for (;;) {
		pthread_mutex_lock(&x->mtx);
		while (x->queue.len == 0 && !x->stopping)
			pthread_cond_wait(&x->cond, &x->mtx);
		if (x->queue.len == 0) {
			/* stopping and drained: no submit can add more. */
			pthread_mutex_unlock(&x->mtx);
			break;
		}
		tmp = x->queue;
		x->queue = x->work;
		x->work = tmp;
		pthread_mutex_unlock(&x->mtx);

		for (off = 0; off < x->work.len; off += n) {
			n = x->work.len - off;
			if (n > x->max_batch)
				n = x->max_batch;
			xlog_commit(x, x->work.entries + off, x->work.cbs + off,
			    n);
		}
		x->work.len = 0;
	}
	return NULL;
}

int
cr_xlog_start(struct cr_store *store, const struct cr_xlog_config *cfg,
    struct cr_xlog **out)
{
	struct cr_xlog *x = NULL;
	int mtx = 0, cond = 0, rc = -1, err;

	*out = NULL;
	if (sodium_init() < 0) {
		log_warnx("xlog: libsodium initialisation failed");
		goto out;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		log_warn("xlog: calloc");
		goto out;
	}
	x->store = store;
	x->max_batch = cfg != NULL && cfg->max_batch > 0 ? cfg->max_batch :
	    XLOG_DEFAULT_BATCH;
	if (store->xlog->ops->xlog_tail(store->xlog,
	    &x->last_seq, x->last_hash) !=
	    CR_STORE_OK) {
		log_warnx("xlog: cannot read the chain tail");
		goto out;
	}
	if (buf_reserve(&x->queue, XLOG_INITIAL_CAP) == -1 ||
	    buf_reserve(&x->work, XLOG_INITIAL_CAP) == -1) {
		log_warn("xlog: buffers");
		goto out;
	}
	if ((err = pthread_mutex_init(&x->mtx, NULL)) != 0) {
		errno = err;
		log_warn("xlog: pthread_mutex_init");
		goto out;
	}
	mtx = 1;
	if ((err = pthread_cond_init(&x->cond, NULL)) != 0) {
		errno = err;
		log_warn("xlog: pthread_cond_init");
		goto out;
	}
	cond = 1;
	if ((err = pthread_create(&x->thread, NULL, xlog_writer, x)) != 0) {
		errno = err;
		log_warn("xlog: pthread_create");
		goto out;
	}
	pthread_setname_np(x->thread, "cr-xlog");
	*out = x;
	x = NULL;
	rc = 0;
out:
	if (x != NULL) {
		if (cond)
			pthread_cond_destroy(&x->cond);
		if (mtx)
			pthread_mutex_destroy(&x->mtx);
		buf_free(&x->queue);
		buf_free(&x->work);
		free(x);
	}
	return rc;
}

int
cr_xlog_submit(struct cr_xlog *x, const struct cr_xlog_entry *e,
    cr_xlog_done_fn done, void *arg)
{
	struct cr_xlog_entry *slot;
	int rc = -1;

	pthread_mutex_lock(&x->mtx);
	if (x->stopping)
		goto out;
	/* Grows only past the previous peak; normally no allocation here. */
	if (buf_reserve(&x->queue, x->queue.len + 1) == -1) {
		log_warn("xlog: queue");
		goto out;
	}
	slot = &x->queue.entries[x->queue.len];
	memcpy(slot, e, sizeof(*slot));
	slot->seq = 0;
	memset(slot->prev_hash, 0, CR_HASH_LEN);
	memset(slot->hash, 0, CR_HASH_LEN);
	x->queue.cbs[x->queue.len].done = done;
	x->queue.cbs[x->queue.len].arg = arg;
	x->queue.len++;
	/* Only the writer waits on cond. */
	pthread_cond_signal(&x->cond);
	rc = 0;
out:
	pthread_mutex_unlock(&x->mtx);
	return rc;
}

void
cr_xlog_stop(struct cr_xlog *x)
{
	if (x == NULL)
		return;
	pthread_mutex_lock(&x->mtx);
	x->stopping = 1;
	pthread_cond_signal(&x->cond);
	pthread_mutex_unlock(&x->mtx);
	pthread_join(x->thread, NULL);
	pthread_cond_destroy(&x->cond);
	pthread_mutex_destroy(&x->mtx);
	buf_free(&x->queue);
	buf_free(&x->work);
	free(x);
}

struct verify_state {
	uint64_t	 expect;	/* next seq */
	uint8_t		 prev[CR_HASH_LEN];
	uint64_t	 bad_seq;
	char		*why;
	size_t		 whylen;
};

static int
verify_cb(const struct cr_xlog_entry *e, void *arg)
{
	struct verify_state *vs = arg;
	uint8_t h[CR_HASH_LEN];

	if (e->seq != vs->expect) {
		/* A missing entry is reported under its own number. */
		vs->bad_seq = e->seq > vs->expect ? vs->expect : e->seq;
		if (e->seq > vs->expect)
			snprintf(vs->why, vs->whylen, "sequence gap after %"
			    PRIu64 " (next entry is %" PRIu64 ")",
			    vs->expect - 1, e->seq);
		else
			snprintf(vs->why, vs->whylen, "sequence out of order "
			    "(%" PRIu64 " after %" PRIu64 ")", e->seq,
			    vs->expect - 1);
		return 1;
	}
	if (sodium_memcmp(e->prev_hash, vs->prev, CR_HASH_LEN) != 0) {
		vs->bad_seq = e->seq;
		if (e->seq == 1)
			snprintf(vs->why, vs->whylen,
			    "prev_hash of the first entry is not zero");
		else
			snprintf(vs->why, vs->whylen, "prev_hash does not "
			    "match the hash of entry %" PRIu64, e->seq - 1);
		return 1;
	}
	cr_xlog_entry_hash(e, h);
	if (sodium_memcmp(h, e->hash, CR_HASH_LEN) != 0) {
		vs->bad_seq = e->seq;
		snprintf(vs->why, vs->whylen, "hash mismatch");
		return 1;
	}
	memcpy(vs->prev, e->hash, CR_HASH_LEN);
	vs->expect++;
	return 0;
}

int
cr_xlog_verify(struct cr_store *store, uint64_t *count, uint64_t *bad_seq,
    char *why, size_t whylen)
{
	struct verify_state vs;
	char dummy[1];
	int rc;

	memset(&vs, 0, sizeof(vs));
	vs.expect = 1;
	vs.why = why != NULL && whylen > 0 ? why : dummy;
	vs.whylen = why != NULL && whylen > 0 ? whylen : sizeof(dummy);
	vs.why[0] = '\0';
	if (count != NULL)
		*count = 0;
	if (bad_seq != NULL)
		*bad_seq = 0;

	rc = store->xlog->ops->xlog_scan(store->xlog, 1, verify_cb, &vs);
	if (rc == 0) {
		if (count != NULL)
			*count = vs.expect - 1;
		return 0;
	}
	if (rc == 1) {
		if (count != NULL)
			*count = vs.expect - 1;
		if (bad_seq != NULL)
			*bad_seq = vs.bad_seq;
		return -1;
	}
	snprintf(vs.why, vs.whylen, "store error while reading the log");
	return -2;
}

/*
 * Empty means absent (no end user, no error code, unauthenticated caller):
 * null lets a reader tell that apart from a value. Bytes that are not UTF-8
 * (in entries written before the hub escaped them on the way in) are shown
 * escaped as \xNN, as they are now, rather than losing the entry.
 */
static json_t *
text_json(const char *s, size_t size)
{
	char tmp[4 * CR_TEXT_MAX];
	size_t len = strnlen(s, size);
	json_t *j;

	if (len == 0)
		return json_null();
	if ((j = json_stringn(s, len)) != NULL || len == size)
		return j;
	cr_util_utf8_copy(tmp, sizeof(tmp), s);
	return json_string(tmp);
}

#define SET_TEXT(o, e, f, r)						\
	do {								\
		if (json_object_set_new((o), #f,			\
		    text_json((e)->f, sizeof((e)->f))) != 0)		\
			(r) = -1;					\
	} while (0)

/* The object the params text encodes; the text itself if it is not one. */
static json_t *
params_json(const struct cr_xlog_entry *e)
{
	json_t *j;

	if (e->params[0] == '\0')
		return json_null();
	j = json_loadb(e->params, strnlen(e->params, sizeof(e->params)), 0,
	    NULL);
	if (json_is_object(j))
		return j;
	json_decref(j);
	return text_json(e->params, sizeof(e->params));
}

json_t *
cr_xlog_entry_json(const struct cr_xlog_entry *e)
{
	char hex[2 * CR_HASH_LEN + 1];
	json_t *o;
	int r = 0;

	if ((o = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(o, "seq", json_integer((json_int_t)e->seq))
	    != 0)
		r = -1;
	SET_TEXT(o, e, ts, r);
	SET_TEXT(o, e, request_id, r);
	SET_TEXT(o, e, consumer, r);
	SET_TEXT(o, e, client, r);
	SET_TEXT(o, e, end_user, r);
	SET_TEXT(o, e, service, r);
	SET_TEXT(o, e, provider, r);
	SET_TEXT(o, e, subject, r);
	SET_TEXT(o, e, purpose, r);
	SET_TEXT(o, e, legal_basis, r);
	SET_TEXT(o, e, outcome, r);
	if (json_object_set_new(o, "status", json_integer(e->status)) != 0)
		r = -1;
	SET_TEXT(o, e, error_code, r);
	if (json_object_set_new(o, "params", params_json(e)) != 0)
		r = -1;
	cr_util_hex(e->hash, CR_HASH_LEN, hex);
	if (json_object_set_new(o, "hash", json_string(hex)) != 0)
		r = -1;
	if (r != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
