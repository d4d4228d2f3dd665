/*
 * The exchange log: every consultation attempt, granted, denied or failed,
 * appended to a hash chain and made durable before the reply goes out.
 *
 * One writer thread owns the chain. Request threads submit entries and
 * are called back once the batch holding their entry is committed (group
 * commit: one fsync for all entries that arrived while the previous batch
 * was being written). Submitting never blocks on I/O.
 *
 * Hash chain: entry.hash = BLAKE2b-256(prev_hash || canonical encoding of
 * the entry's fields, seq included, params only when not empty); the first
 * entry's prev_hash is 32 zero bytes. The canonical encoding is documented
 * in docs/exchange-log.md.
 */
#ifndef CR_XLOG_H
#define CR_XLOG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "store.h"

struct cr_xlog;

/*
 * Called on the writer thread once the entry is durable (rc 0) or could
 * not be written (rc -1). Must not block. seq is the entry's sequence
 * number (0 on failure).
 */
typedef void (*cr_xlog_done_fn)(void *arg, int rc, uint64_t seq);
/* The same, given the entry as written (seq and hash set; NULL when rc is
   -1), borrowed for the call. */
typedef void (*cr_xlog_written_fn)(void *arg, int rc,
    const struct cr_xlog_entry *e);

struct cr_xlog_config {
	size_t	max_batch;	/* entries per transaction; 0 = 4096 */
	int	rebuild_tree;	/* forget the stored Merkle tree and
				   signed heads, rebuild the tree from the
				   entries (an accepted rewrite of the log) */
};

/*
 * Reads the chain's tail from the store, brings the Merkle tree up to it
 * (the tree of entries written by a hub that had none is built here:
 * O(n) once), loads the tree's right frontier and starts the writer. -1
 * when the tree has leaves the log lacks (entries were removed). 0 or -1.
 */
int	cr_xlog_start(struct cr_store *, const struct cr_xlog_config *,
	    struct cr_xlog **out);

/*
 * Queues a copy of *e (its seq, prev_hash and hash are ignored and set by
 * the writer). done may be NULL. 0, or -1 when the log is stopping.
 */
int	cr_xlog_submit(struct cr_xlog *, const struct cr_xlog_entry *e,
	    cr_xlog_done_fn done, void *arg);

/*
 * Queues e[0..n) and waits until all are durable: 0, or -1 when one could
 * not be written (or the log is stopping). For callers that already wait
 * on storage on their own thread (directory writes); never from a done
 * callback. The entries go through the group commit like any others: n
 * entries cost a transaction per max_batch, not one each. They are copied
 * into the queue under its lock in one go (so that the writer takes them
 * together): keep n to a max_batch or less, or submitters wait for a long
 * copy (4096 entries, about 9 MB: a millisecond or so).
 */
int	cr_xlog_write(struct cr_xlog *, const struct cr_xlog_entry *e,
	    size_t n);

/* Writes everything queued, calls the callbacks, joins the writer, frees. */
int	cr_xlog_submit_entry(struct cr_xlog *, const struct cr_xlog_entry *e,
	    cr_xlog_written_fn written, void *arg);

/*
 * The Merkle tree over the committed entries (docs/exchange-log.md): its
 * size (the last durable seq) and root. Any thread.
 */
void	cr_xlog_tree(struct cr_xlog *, uint64_t *size,
	    uint8_t root[CR_HASH_LEN]);
/* Called on the writer thread after each commit with the new tree size;
   must not block. Set once, before entries are submitted. */
void	cr_xlog_on_commit(struct cr_xlog *, void (*fn)(void *, uint64_t),
	    void *arg);
/* An entry's Merkle leaf hash: SHA-256(0x00 || entry hash). */
void	cr_xlog_leaf_hash(const uint8_t entry_hash[CR_HASH_LEN],
	    uint8_t out[CR_HASH_LEN]);
/* A cr_merkle_node_fn over the stored tree and the entries' hashes; arg
   is the struct cr_store. At most 8 reads a subtree. */
int	cr_xlog_store_node(void *arg, unsigned level, uint64_t index,
	    uint8_t out[CR_HASH_LEN]);

/* Writes everything queued, calls the callbacks and joins the writer;
   cr_xlog_tree still answers. Submits fail from now on. */
void	cr_xlog_quiesce(struct cr_xlog *);
/* cr_xlog_quiesce if not done yet, then frees. */
void	cr_xlog_stop(struct cr_xlog *);

/* Computes e->hash from e->prev_hash and the entry's fields. */
void	cr_xlog_entry_hash(const struct cr_xlog_entry *e,
	    uint8_t out[CR_HASH_LEN]);

/*
 * A consultation's params as an entry holds them (and as they are
 * hashed): compact JSON with the keys sorted, "" for NULL or {}. 0, or -1
 * with out "" when the text needs outlen bytes or more.
 */
int	cr_xlog_params(const json_t *params, char *out, size_t outlen);

/*
 * Walks the whole chain in the store. Returns 0 when intact (*count set),
 * -1 when broken: *bad_seq names the first bad entry and why says what is
 * wrong ("hash mismatch", "sequence gap after 41", ...). -2 on store error.
 */
int	cr_xlog_verify(struct cr_store *, uint64_t *count, uint64_t *bad_seq,
	    char *why, size_t whylen);

/*
 * cr_xlog_verify, and with head (not NULL) also that the log extends it:
 * the tree recomputed from the entries' hashes has, at head->tree_size,
 * head->root (the signature is the caller's to check). A log shorter than
 * the head is "truncated"; another root "rewritten". Same returns.
 */
int	cr_xlog_verify_head(struct cr_store *,
	    const struct cr_tree_head *head, uint64_t *count, uint64_t *bad_seq,
	    char *why, size_t whylen);

/* JSON form of an entry as the API shows it (new reference). */
json_t	*cr_xlog_entry_json(const struct cr_xlog_entry *);

#endif
