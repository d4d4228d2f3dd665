/*
 * A Merkle tree in the shape of RFC 9162 (Certificate Transparency 2.0),
 * section 2.1, with SHA-256:
 *
 *	leaf hash = SHA-256(0x00 || leaf)
 *	node hash = SHA-256(0x01 || left || right)
 *	MTH({})   = SHA-256("")
 *
 * and for n > 1 leaves, k the largest power of two below n,
 * MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n])). What a leaf is belongs to
 * the caller (the exchange log: the entry's 32-byte chain hash).
 *
 * Pure functions, no I/O, no allocation. Proofs are built through a
 * callback that gives the root of a perfect, aligned subtree (2^level
 * leaves starting at index << level), so that a store that keeps those
 * roots answers a proof with O(log^2 n) lookups at worst and never reads
 * the leaves of a big subtree.
 */
#ifndef CR_MERKLE_H
#define CR_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define CR_MERKLE_HASH_LEN	32
/* Levels of a tree of up to 2^63 leaves. */
#define CR_MERKLE_MAX_LEVELS	64
/* Hashes in an inclusion proof, and in a consistency proof. */
#define CR_MERKLE_MAX_PATH	64
#define CR_MERKLE_MAX_PROOF	128

void	cr_merkle_leaf_hash(const uint8_t *leaf, size_t len,
	    uint8_t out[CR_MERKLE_HASH_LEN]);
void	cr_merkle_node_hash(const uint8_t left[CR_MERKLE_HASH_LEN],
	    const uint8_t right[CR_MERKLE_HASH_LEN],
	    uint8_t out[CR_MERKLE_HASH_LEN]);
/* SHA-256 of nothing: the root of the empty tree. */
void	cr_merkle_empty_root(uint8_t out[CR_MERKLE_HASH_LEN]);

/*
 * The right frontier of a tree of `size` leaves: for every bit k set in
 * size, the root of the perfect subtree of 2^k leaves that bit stands for
 * (the compact range [0, size)). Enough to append and to compute the root
 * in O(log n).
 */
struct cr_merkle_frontier {
	uint64_t	size;
	uint8_t		node[CR_MERKLE_MAX_LEVELS][CR_MERKLE_HASH_LEN];
};

/* One perfect, aligned subtree: 2^level leaves from index << level. */
struct cr_merkle_node {
	unsigned	level;
	uint64_t	index;
	uint8_t		hash[CR_MERKLE_HASH_LEN];
};

void	cr_merkle_frontier_init(struct cr_merkle_frontier *);
/*
 * Appends a leaf (its leaf hash). The perfect subtrees it completes are
 * written to done[0..*ndone): the leaf itself (level 0) first, then each
 * larger one; at most CR_MERKLE_MAX_LEVELS. done may be NULL.
 */
void	cr_merkle_append(struct cr_merkle_frontier *,
	    const uint8_t leaf_hash[CR_MERKLE_HASH_LEN],
	    struct cr_merkle_node *done, size_t *ndone);
void	cr_merkle_root(const struct cr_merkle_frontier *,
	    uint8_t out[CR_MERKLE_HASH_LEN]);

/*
 * Gives the hash of the perfect subtree (level, index): 0, or -1 when it
 * cannot (a store error, a subtree that does not exist).
 */
typedef int (*cr_merkle_node_fn)(void *arg, unsigned level, uint64_t index,
    uint8_t out[CR_MERKLE_HASH_LEN]);

/* The frontier of the first `size` leaves, from their subtrees. 0 or -1. */
int	cr_merkle_frontier_load(cr_merkle_node_fn, void *arg, uint64_t size,
	    struct cr_merkle_frontier *out);
/* MTH(D[lo:hi]), lo < hi. 0 or -1. */
int	cr_merkle_subtree(cr_merkle_node_fn, void *arg, uint64_t lo,
	    uint64_t hi, uint8_t out[CR_MERKLE_HASH_LEN]);
/* Root of the first `size` leaves (the empty root for 0). 0 or -1. */
int	cr_merkle_root_at(cr_merkle_node_fn, void *arg, uint64_t size,
	    uint8_t out[CR_MERKLE_HASH_LEN]);

/*
 * RFC 9162 2.1.3.1: the audit path of leaf `index` (from 0) in the tree of
 * the first `size` leaves, index < size; path has room for
 * CR_MERKLE_MAX_PATH hashes. 0 or -1.
 */
int	cr_merkle_inclusion(cr_merkle_node_fn, void *arg, uint64_t index,
	    uint64_t size, uint8_t path[][CR_MERKLE_HASH_LEN], size_t *len);
/*
 * RFC 9162 2.1.4.1: the consistency proof from the tree of the first
 * `first` leaves to that of the first `second`, first <= second (empty
 * when first is 0 or equals second); room for CR_MERKLE_MAX_PROOF. 0 or -1.
 */
int	cr_merkle_consistency(cr_merkle_node_fn, void *arg, uint64_t first,
	    uint64_t second, uint8_t proof[][CR_MERKLE_HASH_LEN], size_t *len);

/* RFC 9162 2.1.3.2. 0 when the path proves leaf_hash at index in the tree
   of size leaves whose root is root; -1 otherwise. */
int	cr_merkle_verify_inclusion(uint64_t index, uint64_t size,
	    const uint8_t leaf_hash[CR_MERKLE_HASH_LEN],
	    const uint8_t path[][CR_MERKLE_HASH_LEN], size_t len,
	    const uint8_t root[CR_MERKLE_HASH_LEN]);
/* RFC 9162 2.1.4.2. 0 when the proof shows the tree of `second` leaves
   (root2) extends that of `first` (root1); -1 otherwise. */
int	cr_merkle_verify_consistency(uint64_t first, uint64_t second,
	    const uint8_t root1[CR_MERKLE_HASH_LEN],
	    const uint8_t root2[CR_MERKLE_HASH_LEN],
	    const uint8_t proof[][CR_MERKLE_HASH_LEN], size_t len);

#endif
