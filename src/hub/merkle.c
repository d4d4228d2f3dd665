/*
 * RFC 9162 Merkle trees: hashing, the right frontier, proofs and their
 * verification (merkle.h). The proof builders follow the RFC's recursive
 * definitions, unrolled into loops that walk from the root down and
 * collect hashes in root-to-leaf order, then reverse them: the RFC's
 * paths go from the leaf up.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "merkle.h"

void
cr_merkle_leaf_hash(const uint8_t *leaf, size_t len,
    uint8_t out[CR_MERKLE_HASH_LEN])
{
	crypto_hash_sha256_state st;
	const uint8_t prefix = 0x00;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	crypto_hash_sha256_update(&st, leaf, len);
	crypto_hash_sha256_final(&st, out);
}

void
cr_merkle_node_hash(const uint8_t left[CR_MERKLE_HASH_LEN],
    const uint8_t right[CR_MERKLE_HASH_LEN], uint8_t out[CR_MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * CR_MERKLE_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left, CR_MERKLE_HASH_LEN);
	memcpy(buf + 1 + CR_MERKLE_HASH_LEN, right, CR_MERKLE_HASH_LEN);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

void
cr_merkle_empty_root(uint8_t out[CR_MERKLE_HASH_LEN])
{
	crypto_hash_sha256(out, NULL, 0);
}

void
cr_merkle_frontier_init(struct cr_merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

void
cr_merkle_append(struct cr_merkle_frontier *f,
    const uint8_t leaf_hash[CR_MERKLE_HASH_LEN], struct cr_merkle_node *done,
    size_t *ndone)
{
	uint8_t cur[CR_MERKLE_HASH_LEN];
	uint64_t s = f->size;
	unsigned l = 0;
	size_t n = 0;

	memcpy(cur, leaf_hash, CR_MERKLE_HASH_LEN);
	if (done != NULL) {
		done[n].level = 0;
		done[n].index = s;
		memcpy(done[n].hash, cur, CR_MERKLE_HASH_LEN);
		n++;
	}
	/* Each set low bit of the old size is a left sibling to merge. */
	while (l < CR_MERKLE_MAX_LEVELS - 1 && (s >> l) & 1) {
		cr_merkle_node_hash(f->node[l], cur, cur);
		l++;
		if (done != NULL) {
			done[n].level = l;
			done[n].index = s >> l;
			memcpy(done[n].hash, cur, CR_MERKLE_HASH_LEN);
			n++;
		}
	}
	memcpy(f->node[l], cur, CR_MERKLE_HASH_LEN);
	f->size = s + 1;
	if (ndone != NULL)
		*ndone = n;
}

void
cr_merkle_root(const struct cr_merkle_frontier *f,
    uint8_t out[CR_MERKLE_HASH_LEN])
{
	uint8_t r[CR_MERKLE_HASH_LEN];
	unsigned k;
	int have = 0;

	if (f->size == 0) {
		cr_merkle_empty_root(out);
		return;
	}
	/* Smallest subtree first: it is the rightmost. */
	for (k = 0; k < CR_MERKLE_MAX_LEVELS; k++) {
		if (!((f->size >> k) & 1))
			continue;
		if (!have)
			memcpy(r, f->node[k], CR_MERKLE_HASH_LEN);
		else
			cr_merkle_node_hash(f->node[k], r, r);
		have = 1;
	}
	memcpy(out, r, CR_MERKLE_HASH_LEN);
}

/* The largest power of two strictly below n (n > 1). */
static uint64_t
split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static int
is_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

static unsigned
log2_exact(uint64_t n)
{
	unsigned l = 0;

	while (n > 1) {
		n >>= 1;
		l++;
	}
	return l;
}

int
cr_merkle_subtree(cr_merkle_node_fn fn, void *arg, uint64_t lo, uint64_t hi,
    uint8_t out[CR_MERKLE_HASH_LEN])
{
	uint8_t l[CR_MERKLE_HASH_LEN], r[CR_MERKLE_HASH_LEN];
	uint64_t n, k;
	unsigned lv;

	if (hi <= lo)
		return -1;
	n = hi - lo;
	if (is_pow2(n) && lo % n == 0) {
		lv = log2_exact(n);
		return fn(arg, lv, lo >> lv, out);
	}
	/* Depth is bounded: each step at least halves n. */
	k = split_point(n);
	if (cr_merkle_subtree(fn, arg, lo, lo + k, l) == -1 ||
	    cr_merkle_subtree(fn, arg, lo + k, hi, r) == -1)
		return -1;
	cr_merkle_node_hash(l, r, out);
	return 0;
}

int
cr_merkle_root_at(cr_merkle_node_fn fn, void *arg, uint64_t size,
    uint8_t out[CR_MERKLE_HASH_LEN])
{
	if (size == 0) {
		cr_merkle_empty_root(out);
		return 0;
	}
	return cr_merkle_subtree(fn, arg, 0, size, out);
}

int
cr_merkle_frontier_load(cr_merkle_node_fn fn, void *arg, uint64_t size,
    struct cr_merkle_frontier *out)
{
	uint64_t off = 0;
	int k;

	cr_merkle_frontier_init(out);
	for (k = CR_MERKLE_MAX_LEVELS - 1; k >= 0; k--) {
		if (!((size >> k) & 1))
			continue;
		if (fn(arg, (unsigned)k, off >> k, out->node[k]) == -1)
			return -1;
		off += (uint64_t)1 << k;
	}
	out->size = size;
	return 0;
}

static void
reverse(uint8_t h[][CR_MERKLE_HASH_LEN], size_t n)
{
	uint8_t t[CR_MERKLE_HASH_LEN];
	size_t i;

	for (i = 0; i < n / 2; i++) {
		memcpy(t, h[i], CR_MERKLE_HASH_LEN);
		memcpy(h[i], h[n - 1 - i], CR_MERKLE_HASH_LEN);
		memcpy(h[n - 1 - i], t, CR_MERKLE_HASH_LEN);
	}
}

int
cr_merkle_inclusion(cr_merkle_node_fn fn, void *arg, uint64_t index,
    uint64_t size, uint8_t path[][CR_MERKLE_HASH_LEN], size_t *len)
{
	uint64_t lo = 0, hi = size, k;
	size_t n = 0;

	*len = 0;
	if (index >= size)
		return -1;
	while (hi - lo > 1) {
		if (n >= CR_MERKLE_MAX_PATH)
			return -1;
		k = split_point(hi - lo);
		if (index < lo + k) {
			if (cr_merkle_subtree(fn, arg, lo + k, hi, path[n]) ==
			    -1)
				return -1;
			hi = lo + k;
		} else {
			if (cr_merkle_subtree(fn, arg, lo, lo + k, path[n]) ==
			    -1)
				return -1;
			lo += k;
		}
		n++;
	}
	reverse(path, n);
	*len = n;
	return 0;
}

int
cr_merkle_consistency(cr_merkle_node_fn fn, void *arg, uint64_t first,
    uint64_t second, uint8_t proof[][CR_MERKLE_HASH_LEN], size_t *len)
{
	uint64_t lo = 0, hi = second, m = first, k;
	size_t n = 0;
	int whole = 1;	/* the RFC's b: still the old tree's own root */

	*len = 0;
	if (first > second)
		return -1;
	if (first == 0 || first == second)
		return 0;
	for (;;) {
		if (n >= CR_MERKLE_MAX_PROOF)
			return -1;
		if (m == hi - lo) {
			if (!whole) {
				if (cr_merkle_subtree(fn, arg, lo, hi,
				    proof[n]) == -1)
					return -1;
				n++;
			}
			break;
		}
		k = split_point(hi - lo);
		if (m <= k) {
			if (cr_merkle_subtree(fn, arg, lo + k, hi, proof[n]) ==
			    -1)
				return -1;
			hi = lo + k;
		} else {
			if (cr_merkle_subtree(fn, arg, lo, lo + k, proof[n]) ==
			    -1)
				return -1;
			m -= k;
			lo += k;
			whole = 0;
		}
		n++;
	}
	reverse(proof, n);
	*len = n;
	return 0;
}

int
cr_merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[CR_MERKLE_HASH_LEN],
    const uint8_t path[][CR_MERKLE_HASH_LEN], size_t len,
    const uint8_t root[CR_MERKLE_HASH_LEN])
{
	uint8_t r[CR_MERKLE_HASH_LEN];
	uint64_t fn, sn;
	size_t i;

	if (index >= size)
		return -1;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, CR_MERKLE_HASH_LEN);
	for (i = 0; i < len; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			cr_merkle_node_hash(path[i], r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			cr_merkle_node_hash(r, path[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || sodium_memcmp(r, root, CR_MERKLE_HASH_LEN) != 0)
		return -1;
	return 0;
}

int
cr_merkle_verify_consistency(uint64_t first, uint64_t second,
    const uint8_t root1[CR_MERKLE_HASH_LEN],
    const uint8_t root2[CR_MERKLE_HASH_LEN],
    const uint8_t proof[][CR_MERKLE_HASH_LEN], size_t len)
{
	uint8_t fr[CR_MERKLE_HASH_LEN], sr[CR_MERKLE_HASH_LEN];
	uint64_t fn, sn;
	size_t i = 0;

	if (first > second)
		return -1;
	if (first == second)
		return len == 0 && sodium_memcmp(root1, root2,
		    CR_MERKLE_HASH_LEN) == 0 ? 0 : -1;
	/* Every tree extends the empty one. */
	if (first == 0)
		return len == 0 ? 0 : -1;
	if (len == 0)
		return -1;
	/* A perfect old tree is its own first node: the proof omits it. */
	if (is_pow2(first)) {
		memcpy(fr, root1, CR_MERKLE_HASH_LEN);
	} else {
		memcpy(fr, proof[0], CR_MERKLE_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, CR_MERKLE_HASH_LEN);
	fn = first - 1;
	sn = second - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < len; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			cr_merkle_node_hash(proof[i], fr, fr);
			cr_merkle_node_hash(proof[i], sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			cr_merkle_node_hash(sr, proof[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || sodium_memcmp(fr, root1, CR_MERKLE_HASH_LEN) != 0 ||
	    sodium_memcmp(sr, root2, CR_MERKLE_HASH_LEN) != 0)
		return -1;
	return 0;
}
