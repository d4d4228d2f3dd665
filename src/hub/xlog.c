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
#include "merkle.h"
#include "metrics.h"
#include "store.h"
#include "util.h"
#include "xlog.h"

#define XLOG_DEFAULT_BATCH	4096
#define XLOG_INITIAL_CAP	256

struct xlog_cb {
	cr_xlog_done_fn		 done;
	cr_xlog_written_fn	 written;	/* instead of done */
	void			*arg;
};

/* Tree nodes a batch completes, writer only; grows to the peak batch. */
struct xlog_nodes {
	struct cr_xlog_node	*v;
	size_t			 len;
	size_t			 cap;
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
	int		 joined;	/* the writer has exited */
	struct xlog_buf	 queue;		/* submitters' side, under mtx */
	struct xlog_buf	 work;		/* writer's side, writer only */

	/* Chain tail, writer only (and start before the thread exists). */
	uint64_t	 last_seq;
	uint8_t		 last_hash[CR_HASH_LEN];
	/* The Merkle tree's right frontier (always last_seq leaves) and the
	   nodes of the batch being written, writer only. */
	struct cr_merkle_frontier frontier;
	struct xlog_nodes	 nodes;
	/* The committed tree for other threads, under tree_mtx. */
	pthread_mutex_t	 tree_mtx;
	uint64_t	 tree_size;
	uint8_t		 tree_root[CR_HASH_LEN];
	/* The commit hook: set under mtx, copied by the writer under mtx
	   when it takes the queue (the copy is the writer's). */
	void		(*committed)(void *, uint64_t);
	void		*committed_arg;
	void		(*w_committed)(void *, uint64_t);
	void		*w_committed_arg;
};

static int
nodes_reserve(struct xlog_nodes *nb, size_t want)
{
	struct cr_xlog_node *v;
	size_t cap;

	if (want <= nb->cap)
		return 0;
	cap = nb->cap ? nb->cap : XLOG_INITIAL_CAP;
	while (cap < want)
		cap *= 2;
	if ((v = reallocarray(nb->v, cap, sizeof(*v))) == NULL)
		return -1;
	nb->v = v;
	nb->cap = cap;
	return 0;
}

/*
 * The leaf of an entry is its 32-byte chain hash: it covers every field,
 * its seq and, through prev_hash, the history before it, whatever kind
 * of entry it is.
 */
void
cr_xlog_leaf_hash(const uint8_t entry_hash[CR_HASH_LEN],
    uint8_t out[CR_HASH_LEN])
{
	cr_merkle_leaf_hash(entry_hash, CR_HASH_LEN, out);
}

/*
 * Which subtrees are stored: every TREE_STRIDE-th level. Storing them all
 * would add two rows to each entry's transaction, which took a quarter to
 * a half off the writer's ceiling (bench/xlog.sh); these take one row per
 * 15 entries. A subtree of another level is computed from at most
 * 2^(TREE_STRIDE - 1) = 8 stored ones below it, or from as many entries'
 * hashes (a leaf is SHA-256(0x00 || entry hash): nothing to store).
 */
#define TREE_STRIDE	4

static int
tree_stored(unsigned level)
{
	return level > 0 && level % TREE_STRIDE == 0;
}

/* Appends one entry's leaf to f and the stored nodes it completes to nb. */
static void
tree_add(struct cr_merkle_frontier *f, struct xlog_nodes *nb,
    const uint8_t entry_hash[CR_HASH_LEN])
{
	struct cr_merkle_node done[CR_MERKLE_MAX_LEVELS];
	uint8_t leaf[CR_HASH_LEN];
	size_t i, n;

	cr_xlog_leaf_hash(entry_hash, leaf);
	cr_merkle_append(f, leaf, done, &n);
	for (i = 0; i < n; i++) {
		if (!tree_stored(done[i].level))
			continue;
		nb->v[nb->len].level = done[i].level;
		nb->v[nb->len].index = done[i].index;
		memcpy(nb->v[nb->len].hash, done[i].hash, CR_HASH_LEN);
		nb->len++;
	}
}

int
cr_xlog_store_node(void *arg, unsigned level, uint64_t index,
    uint8_t out[CR_HASH_LEN])
{
	uint8_t h[1 << (TREE_STRIDE - 1)][CR_HASH_LEN];
	struct cr_store *st = arg;
	unsigned below = level % TREE_STRIDE;
	size_t n = (size_t)1 << below, i;
	uint64_t first;

	if (tree_stored(level))
		return st->xlog->ops->tree_get(st->xlog, level, index, out) ==
		    CR_STORE_OK ? 0 : -1;
	if (level >= CR_MERKLE_MAX_LEVELS || index > (UINT64_MAX >> level))
		return -1;
	first = index << below;
	if (level < TREE_STRIDE) {
		/* From the entries: seq = leaf index + 1. */
		if (st->xlog->ops->xlog_hashes(st->xlog, (index << level) + 1,
		    n, h) != CR_STORE_OK)
			return -1;
		for (i = 0; i < n; i++)
			cr_xlog_leaf_hash(h[i], h[i]);
	} else {
		for (i = 0; i < n; i++)
			if (st->xlog->ops->tree_get(st->xlog, level - below,
			    first + i, h[i]) != CR_STORE_OK)
				return -1;
	}
	for (; n > 1; n /= 2)
		for (i = 0; i < n / 2; i++)
			cr_merkle_node_hash(h[2 * i], h[2 * i + 1], h[i]);
	memcpy(out, h[0], CR_HASH_LEN);
	return 0;
}

static void
tree_publish(struct cr_xlog *x)
{
	uint8_t root[CR_HASH_LEN];

	cr_merkle_root(&x->frontier, root);
	pthread_mutex_lock(&x->tree_mtx);
	x->tree_size = x->frontier.size;
	memcpy(x->tree_root, root, CR_HASH_LEN);
	pthread_mutex_unlock(&x->tree_mtx);
	if (x->w_committed != NULL)
		x->w_committed(x->w_committed_arg, x->frontier.size);
}

void
cr_xlog_tree(struct cr_xlog *x, uint64_t *size, uint8_t root[CR_HASH_LEN])
{
	pthread_mutex_lock(&x->tree_mtx);
	*size = x->tree_size;
	memcpy(root, x->tree_root, CR_HASH_LEN);
	pthread_mutex_unlock(&x->tree_mtx);
}

void
cr_xlog_on_commit(struct cr_xlog *x, void (*fn)(void *, uint64_t),
    void *arg)
{
	/* Set before any submit, or while the writer is idle at start. */
	pthread_mutex_lock(&x->mtx);
	x->committed = fn;
	x->committed_arg = arg;
	pthread_mutex_unlock(&x->mtx);
}

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
report(struct xlog_cb *cb, int rc, const struct cr_xlog_entry *e)
{
	if (cb->written != NULL)
		cb->written(cb->arg, rc, rc == 0 ? e : NULL);
	else if (cb->done != NULL)
		cb->done(cb->arg, rc, rc == 0 ? e->seq : 0);
}

static void
xlog_commit(struct cr_xlog *x, struct cr_xlog_entry *ents,
    struct xlog_cb *cbs, size_t n)
{
	struct cr_merkle_frontier f;
	uint8_t prev[CR_HASH_LEN];
	uint64_t seq = x->last_seq;
	double t0, ms;
	size_t i;
	int rc;

	/* Each leaf completes one node and on average one more. */
	if (nodes_reserve(&x->nodes, 2 * n + CR_MERKLE_MAX_LEVELS) == -1) {
		log_warn("xlog: tree nodes");
		for (i = 0; i < n; i++)
			report(&cbs[i], -1, &ents[i]);
		return;
	}
	x->nodes.len = 0;
	f = x->frontier;
	memcpy(prev, x->last_hash, CR_HASH_LEN);
	for (i = 0; i < n; i++) {
		ents[i].seq = ++seq;
		memcpy(ents[i].prev_hash, prev, CR_HASH_LEN);
		cr_xlog_entry_hash(&ents[i], ents[i].hash);
		memcpy(prev, ents[i].hash, CR_HASH_LEN);
		tree_add(&f, &x->nodes, ents[i].hash);
	}

	t0 = cr_util_mono_ms();
	rc = x->store->xlog->ops->xlog_append(x->store->xlog, ents, n,
	    x->nodes.v, x->nodes.len);
	ms = cr_util_mono_ms() - t0;

	if (rc == CR_STORE_OK) {
		x->last_seq = seq;
		memcpy(x->last_hash, prev, CR_HASH_LEN);
		x->frontier = f;
		/* Only committed batches count: the metric is "entries logged". */
		cr_metrics_xlog_batch(n, ms);
		tree_publish(x);
		for (i = 0; i < n; i++)
			report(&cbs[i], 0, &ents[i]);
		return;
	}

	log_warnx("xlog: appending %zu entries (seq %" PRIu64 "..%" PRIu64
	    ") failed; their requests are refused", n, x->last_seq + 1, seq);
	if (x->store->xlog->ops->xlog_tail(x->store->xlog,
	    &seq, prev) == CR_STORE_OK) {
		if (seq != x->frontier.size && cr_merkle_frontier_load(
		    cr_xlog_store_node, x->store, seq, &f) == 0)
			x->frontier = f;
		else if (seq != x->frontier.size)
			log_warnx("xlog: cannot re-read the Merkle tree at %"
			    PRIu64, seq);
		x->last_seq = seq;
		memcpy(x->last_hash, prev, CR_HASH_LEN);
	} else
		log_warnx("xlog: cannot re-read the chain tail; keeping seq %"
		    PRIu64, x->last_seq);
	for (i = 0; i < n; i++)
		report(&cbs[i], -1, &ents[i]);
}

/*
 * Brings the stored tree up to the log: the leaves of entries written
 * before the tree existed (or after a reset) are added from the entries'
 * hashes, a page at a time, each page one transaction.
 */
#define TREE_FILL_PAGE	4096

struct tree_fill {
	struct cr_xlog		*x;
	struct xlog_nodes	 nb;
	uint64_t		 expect;
	int			 failed;
};

static int
tree_fill_flush(struct tree_fill *tf)
{
	struct cr_store *st = tf->x->store;

	if (tf->nb.len == 0)
		return 0;
	if (st->xlog->ops->tree_put(st->xlog, tf->nb.v, tf->nb.len) !=
	    CR_STORE_OK)
		return -1;
	tf->nb.len = 0;
	return 0;
}

static int
tree_fill_cb(const struct cr_xlog_entry *e, void *arg)
{
	struct tree_fill *tf = arg;

	if (e->seq != tf->expect) {
		log_warnx("xlog: entry %" PRIu64 " is missing: cannot build "
		    "the Merkle tree", tf->expect);
		tf->failed = 1;
		return 1;
	}
	tree_add(&tf->x->frontier, &tf->nb, e->hash);
	tf->expect++;
	if (tf->nb.len + CR_MERKLE_MAX_LEVELS > tf->nb.cap &&
	    tree_fill_flush(tf) == -1) {
		tf->failed = 1;
		return 1;
	}
	return 0;
}

static int
tree_start(struct cr_xlog *x, int rebuild)
{
	struct cr_store *st = x->store;
	struct tree_fill tf;
	uint64_t leaves, blocks;
	int rc = -1;

	memset(&tf, 0, sizeof(tf));
	if (rebuild && st->xlog->ops->tree_reset(st->xlog) != CR_STORE_OK) {
		log_warnx("xlog: cannot reset the Merkle tree");
		return -1;
	}
	/* The entries that stored subtrees cover: whole blocks of 16. */
	if (st->xlog->ops->tree_count(st->xlog, TREE_STRIDE, &blocks) !=
	    CR_STORE_OK) {
		log_warnx("xlog: cannot read the Merkle tree");
		return -1;
	}
	leaves = blocks << TREE_STRIDE;
	if (leaves > x->last_seq) {
		log_warnx("xlog: the Merkle tree covers %" PRIu64 " entries "
		    "but the log has only %" PRIu64 ": entries were removed",
		    leaves, x->last_seq);
		return -1;
	}
	if (cr_merkle_frontier_load(cr_xlog_store_node, st, leaves,
	    &x->frontier) == -1) {
		log_warnx("xlog: the Merkle tree of %" PRIu64 " leaves is "
		    "incomplete", leaves);
		return -1;
	}
	if (leaves == x->last_seq)
		return 0;
	/* The last few entries of every log are read again; more only for
	   a log written without the tree. */
	if (x->last_seq - leaves >= (1U << TREE_STRIDE))
		log_info("xlog: adding entries %" PRIu64 "..%" PRIu64 " to the "
		    "Merkle tree", leaves + 1, x->last_seq);
	tf.x = x;
	tf.expect = leaves + 1;
	if (nodes_reserve(&tf.nb, 2 * TREE_FILL_PAGE) == -1)
		goto out;
	if (st->xlog->ops->xlog_scan(st->xlog, leaves + 1, tree_fill_cb,
	    &tf) != 0 || tf.failed || tree_fill_flush(&tf) == -1) {
		log_warnx("xlog: cannot build the Merkle tree");
		goto out;
	}
	if (x->frontier.size != x->last_seq) {
		log_warnx("xlog: the Merkle tree has %" PRIu64 " leaves, the "
		    "log %" PRIu64 " entries", x->frontier.size, x->last_seq);
		goto out;
	}
	rc = 0;
out:
	free(tf.nb.v);
	return rc;
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
		x->w_committed = x->committed;
		x->w_committed_arg = x->committed_arg;
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
	int mtx = 0, cond = 0, tmtx = 0, rc = -1, err;

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
	if (tree_start(x, cfg != NULL && cfg->rebuild_tree) == -1)
		goto out;
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
	if ((err = pthread_mutex_init(&x->tree_mtx, NULL)) != 0) {
		errno = err;
		log_warn("xlog: pthread_mutex_init");
		goto out;
	}
	tmtx = 1;
	x->tree_size = x->frontier.size;
	cr_merkle_root(&x->frontier, x->tree_root);
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
		if (tmtx)
			pthread_mutex_destroy(&x->tree_mtx);
		if (cond)
			pthread_cond_destroy(&x->cond);
		if (mtx)
			pthread_mutex_destroy(&x->mtx);
		buf_free(&x->queue);
		buf_free(&x->work);
		free(x->nodes.v);
		free(x);
	}
	return rc;
}

/* Queues e[0..n), all with the same callbacks, under one lock: the writer
   takes them together, in one transaction when n <= max_batch. */
static int
xlog_enqueue(struct cr_xlog *x, const struct cr_xlog_entry *e, size_t n,
    cr_xlog_done_fn done, cr_xlog_written_fn written, void *arg)
{
	struct cr_xlog_entry *slot;
	size_t i;
	int rc = -1;

	pthread_mutex_lock(&x->mtx);
	if (x->stopping)
		goto out;
	/* Grows only past the previous peak; normally no allocation here. */
	if (buf_reserve(&x->queue, x->queue.len + n) == -1) {
		log_warn("xlog: queue");
		goto out;
	}
	for (i = 0; i < n; i++) {
		slot = &x->queue.entries[x->queue.len];
		memcpy(slot, &e[i], sizeof(*slot));
		slot->seq = 0;
		memset(slot->prev_hash, 0, CR_HASH_LEN);
		memset(slot->hash, 0, CR_HASH_LEN);
		x->queue.cbs[x->queue.len].done = done;
		x->queue.cbs[x->queue.len].written = written;
		x->queue.cbs[x->queue.len].arg = arg;
		x->queue.len++;
	}
	/* Only the writer waits on cond. */
	pthread_cond_signal(&x->cond);
	rc = 0;
out:
	pthread_mutex_unlock(&x->mtx);
	return rc;
}

int
cr_xlog_submit(struct cr_xlog *x, const struct cr_xlog_entry *e,
    cr_xlog_done_fn done, void *arg)
{
	return xlog_enqueue(x, e, 1, done, NULL, arg);
}

/* What cr_xlog_write waits for: its entries' callbacks. */
struct xlog_wait {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	size_t		 pending;
	int		 failed;
};

static void
xlog_wait_done(void *arg, int rc, uint64_t seq)
{
	struct xlog_wait *w = arg;

	(void)seq;
	pthread_mutex_lock(&w->mtx);
	if (rc != 0)
		w->failed = 1;
	if (--w->pending == 0)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
}

int
cr_xlog_write(struct cr_xlog *x, const struct cr_xlog_entry *e, size_t n)
{
	struct xlog_wait w;

	if (n == 0)
		return 0;
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mtx, NULL);
	pthread_cond_init(&w.cond, NULL);
	w.pending = n;
	if (xlog_enqueue(x, e, n, xlog_wait_done, NULL, &w) == -1) {
		w.failed = 1;
		w.pending = 0;
	}
	pthread_mutex_lock(&w.mtx);
	while (w.pending > 0)
		pthread_cond_wait(&w.cond, &w.mtx);
	pthread_mutex_unlock(&w.mtx);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.mtx);
	return w.failed ? -1 : 0;
}


int
cr_xlog_submit_entry(struct cr_xlog *x, const struct cr_xlog_entry *e,
    cr_xlog_written_fn written, void *arg)
{
	return xlog_enqueue(x, e, 1, NULL, written, arg);
}

void
cr_xlog_quiesce(struct cr_xlog *x)
{
	if (x == NULL || x->joined)
		return;
	pthread_mutex_lock(&x->mtx);
	x->stopping = 1;
	pthread_cond_signal(&x->cond);
	pthread_mutex_unlock(&x->mtx);
	pthread_join(x->thread, NULL);
	x->joined = 1;
}

void
cr_xlog_stop(struct cr_xlog *x)
{
	if (x == NULL)
		return;
	cr_xlog_quiesce(x);
	pthread_cond_destroy(&x->cond);
	pthread_mutex_destroy(&x->mtx);
	pthread_mutex_destroy(&x->tree_mtx);
	buf_free(&x->queue);
	buf_free(&x->work);
	free(x->nodes.v);
	free(x);
}

struct verify_state {
	uint64_t	 expect;	/* next seq */
	uint8_t		 prev[CR_HASH_LEN];
	uint64_t	 bad_seq;
	char		*why;
	size_t		 whylen;
	/* The tree recomputed from the entries, and the head to meet. */
	struct cr_merkle_frontier	 tree;
	const struct cr_tree_head	*head;
	int				 head_met;	/* 1 met, -1 no */
};

/* At the head's size: does the recomputed tree have the head's root? */
static void
verify_head_check(struct verify_state *vs)
{
	uint8_t root[CR_HASH_LEN];

	if (vs->head == NULL || vs->head_met != 0 ||
	    vs->tree.size != vs->head->tree_size)
		return;
	cr_merkle_root(&vs->tree, root);
	vs->head_met = sodium_memcmp(root, vs->head->root, CR_HASH_LEN) == 0 ?
	    1 : -1;
}

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
	if (vs->head != NULL) {
		cr_xlog_leaf_hash(e->hash, h);
		cr_merkle_append(&vs->tree, h, NULL, NULL);
		verify_head_check(vs);
		if (vs->head_met == -1) {
			vs->bad_seq = e->seq;
			snprintf(vs->why, vs->whylen, "the first %" PRIu64
			    " entries do not have the saved head's root: the "
			    "log was rewritten", vs->head->tree_size);
			return 1;
		}
	}
	return 0;
}

int
cr_xlog_verify(struct cr_store *store, uint64_t *count, uint64_t *bad_seq,
    char *why, size_t whylen)
{
	return cr_xlog_verify_head(store, NULL, count, bad_seq, why, whylen);
}

int
cr_xlog_verify_head(struct cr_store *store, const struct cr_tree_head *head,
    uint64_t *count, uint64_t *bad_seq, char *why, size_t whylen)
{
	struct verify_state *vs;
	char dummy[1];
	int rc;

	/* The frontier is 2 KiB: not on a small thread stack. */
	if ((vs = calloc(1, sizeof(*vs))) == NULL) {
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "out of memory");
		return -2;
	}
	vs->expect = 1;
	vs->why = why != NULL && whylen > 0 ? why : dummy;
	vs->whylen = why != NULL && whylen > 0 ? whylen : sizeof(dummy);
	vs->why[0] = '\0';
	vs->head = head;
	cr_merkle_frontier_init(&vs->tree);
	if (count != NULL)
		*count = 0;
	if (bad_seq != NULL)
		*bad_seq = 0;
	verify_head_check(vs);	/* a head of size 0 */

	rc = store->xlog->ops->xlog_scan(store->xlog, 1, verify_cb, vs);
	if (count != NULL)
		*count = vs->expect - 1;
	if (rc == 0 && head != NULL && vs->head_met == -1) {
		/* Only an empty head's root can differ before any entry. */
		snprintf(vs->why, vs->whylen, "the saved head's root is not "
		    "that of an empty log");
		rc = 1;
	} else if (rc == 0 && head != NULL && vs->head_met == 0) {
		vs->bad_seq = vs->expect;
		snprintf(vs->why, vs->whylen, "the log has %" PRIu64
		    " entries, the saved head %" PRIu64 ": the log was "
		    "truncated", vs->expect - 1, head->tree_size);
		rc = 1;
	}
	if (rc == 0) {
		free(vs);
		return 0;
	}
	if (rc == 1) {
		if (bad_seq != NULL)
			*bad_seq = vs->bad_seq;
		free(vs);
		return -1;
	}
	snprintf(vs->why, vs->whylen, "store error while reading the log");
	free(vs);
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
