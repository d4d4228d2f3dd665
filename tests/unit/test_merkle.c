/*
 * Merkle trees (src/hub/merkle.c) against RFC 9162's definitions: the
 * roots, audit paths and consistency proofs of the Certificate
 * Transparency test tree (the eight leaves of RFC 6962's reference
 * tests), computed independently with Python's hashlib from the RFC's
 * recursive definitions (the program is in docs/exchange-log.md); then
 * every proof of every tree up to 70 leaves built and verified, and every
 * one-hash change of a proof refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "merkle.h"

#define H	CR_MERKLE_HASH_LEN
#define MAXN	70

/* The leaf hashes of a tree; subtrees computed from them by definition. */
struct tree {
	uint8_t	leaf[MAXN][H];
	size_t	n;
	int	lookups;
};

static void
unhex(const char *s, uint8_t *out, size_t n)
{
	size_t i;
	unsigned v;

	assert_int_equal(strlen(s), 2 * n);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* MTH by the RFC's recursion, straight from the leaves. */
static void
mth(const struct tree *t, uint64_t lo, uint64_t hi, uint8_t out[H])
{
	uint8_t l[H], r[H];
	uint64_t k = 1;

	if (hi - lo == 1) {
		memcpy(out, t->leaf[lo], H);
		return;
	}
	while (k << 1 < hi - lo)
		k <<= 1;
	mth(t, lo, lo + k, l);
	mth(t, lo + k, hi, r);
	cr_merkle_node_hash(l, r, out);
}

static int
tree_node(void *arg, unsigned level, uint64_t index, uint8_t out[H])
{
	struct tree *t = arg;
	uint64_t lo = index << level, hi = lo + ((uint64_t)1 << level);

	t->lookups++;
	if (hi > t->n)
		return -1;
	mth(t, lo, hi, out);
	return 0;
}

static const uint8_t *ct_leaves[8] = {
	(const uint8_t *)"", (const uint8_t *)"\x00", (const uint8_t *)"\x10",
	(const uint8_t *)"\x20\x21", (const uint8_t *)"\x30\x31",
	(const uint8_t *)"\x40\x41\x42\x43",
	(const uint8_t *)"\x50\x51\x52\x53\x54\x55\x56\x57",
	(const uint8_t *)"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b"
	    "\x6c\x6d\x6e\x6f",
};
static const size_t ct_len[8] = { 0, 1, 1, 2, 2, 4, 8, 16 };

static const char *ct_roots[8] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void
ct_tree(struct tree *t, size_t n)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++)
		cr_merkle_leaf_hash(ct_leaves[i], ct_len[i], t->leaf[i]);
	t->n = n;
}

static void
test_empty(void **state)
{
	struct cr_merkle_frontier f;
	uint8_t r[H], want[H];

	(void)state;
	unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    want, H);
	cr_merkle_frontier_init(&f);
	cr_merkle_root(&f, r);
	assert_memory_equal(r, want, H);
	assert_int_equal(cr_merkle_root_at(tree_node, NULL, 0, r), 0);
	assert_memory_equal(r, want, H);
}

static void
test_ct_roots(void **state)
{
	struct cr_merkle_frontier f;
	struct tree t;
	uint8_t r[H], want[H];
	size_t i;

	(void)state;
	ct_tree(&t, 8);
	cr_merkle_frontier_init(&f);
	for (i = 0; i < 8; i++) {
		cr_merkle_append(&f, t.leaf[i], NULL, NULL);
		unhex(ct_roots[i], want, H);
		cr_merkle_root(&f, r);
		assert_memory_equal(r, want, H);
		assert_int_equal(cr_merkle_root_at(tree_node, &t, i + 1, r),
		    0);
		assert_memory_equal(r, want, H);
	}
}

/* Proof of the vector: n hashes given in hex. */
static void
expect_proof(uint8_t got[][H], size_t len, size_t n, ...)
{
	uint8_t want[H];
	va_list ap;
	size_t i;

	assert_int_equal(len, n);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		unhex(va_arg(ap, const char *), want, H);
		assert_memory_equal(got[i], want, H);
	}
	va_end(ap);
}

static void
test_ct_proofs(void **state)
{
	uint8_t p[CR_MERKLE_MAX_PROOF][H], r1[H], r2[H];
	struct tree t;
	size_t len;

	(void)state;
	ct_tree(&t, 8);
	assert_int_equal(cr_merkle_inclusion(tree_node, &t, 0, 8, p, &len), 0);
	expect_proof(p, len, 3,
	    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4");
	assert_int_equal(cr_merkle_inclusion(tree_node, &t, 5, 8, p, &len), 0);
	expect_proof(p, len, 3,
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
	assert_int_equal(cr_merkle_inclusion(tree_node, &t, 2, 3, p, &len), 0);
	expect_proof(p, len, 1,
	    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
	unhex(ct_roots[2], r1, H);
	assert_int_equal(cr_merkle_verify_inclusion(2, 3, t.leaf[2], p, len,
	    r1), 0);

	assert_int_equal(cr_merkle_consistency(tree_node, &t, 1, 8, p, &len),
	    0);
	expect_proof(p, len, 3,
	    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4");
	assert_int_equal(cr_merkle_consistency(tree_node, &t, 6, 8, p, &len),
	    0);
	expect_proof(p, len, 3,
	    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
	unhex(ct_roots[5], r1, H);
	unhex(ct_roots[7], r2, H);
	assert_int_equal(cr_merkle_verify_consistency(6, 8, r1, r2, p, len),
	    0);
	assert_int_equal(cr_merkle_consistency(tree_node, &t, 2, 5, p, &len),
	    0);
	expect_proof(p, len, 2,
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b");
	assert_int_equal(cr_merkle_consistency(tree_node, &t, 3, 7, p, &len),
	    0);
	expect_proof(p, len, 4,
	    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
	    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
	    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	    "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e");
	unhex(ct_roots[2], r1, H);
	unhex(ct_roots[6], r2, H);
	assert_int_equal(cr_merkle_verify_consistency(3, 7, r1, r2, p, len),
	    0);
	/* Out of range. */
	assert_int_equal(cr_merkle_inclusion(tree_node, &t, 8, 8, p, &len), -1);
	assert_int_equal(cr_merkle_consistency(tree_node, &t, 5, 4, p, &len),
	    -1);
}

/* A tree of n leaves: leaf i is the 8 bytes of i. */
static void
count_tree(struct tree *t, size_t n)
{
	uint8_t b[8];
	size_t i;
	int k;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++) {
		for (k = 0; k < 8; k++)
			b[k] = (uint8_t)(i >> (56 - 8 * k));
		cr_merkle_leaf_hash(b, sizeof(b), t->leaf[i]);
	}
	t->n = n;
}

/* The frontier gives the definition's root and every completed subtree. */
static void
test_frontier(void **state)
{
	struct cr_merkle_node done[CR_MERKLE_MAX_LEVELS];
	struct cr_merkle_frontier f, g;
	struct tree t;
	uint8_t r[H], want[H];
	size_t i, j, nd;

	(void)state;
	count_tree(&t, MAXN);
	cr_merkle_frontier_init(&f);
	for (i = 0; i < MAXN; i++) {
		cr_merkle_append(&f, t.leaf[i], done, &nd);
		assert_true(nd >= 1);
		for (j = 0; j < nd; j++) {
			assert_int_equal(tree_node(&t, done[j].level,
			    done[j].index, want), 0);
			assert_memory_equal(done[j].hash, want, H);
			/* It ends at the new leaf. */
			assert_int_equal((done[j].index + 1) << done[j].level,
			    i + 1);
		}
		cr_merkle_root(&f, r);
		mth(&t, 0, i + 1, want);
		assert_memory_equal(r, want, H);
		assert_int_equal(cr_merkle_frontier_load(tree_node, &t, i + 1,
		    &g), 0);
		cr_merkle_root(&g, r);
		assert_memory_equal(r, want, H);
	}
}

static void
test_all_proofs(void **state)
{
	uint8_t p[CR_MERKLE_MAX_PROOF][H], r1[H], r2[H], bad[H];
	struct tree t;
	size_t n, m, i, len;

	(void)state;
	count_tree(&t, MAXN);
	for (n = 1; n <= MAXN; n++) {
		mth(&t, 0, n, r2);
		for (m = 0; m < n; m++) {
			assert_int_equal(cr_merkle_inclusion(tree_node, &t, m,
			    n, p, &len), 0);
			assert_int_equal(cr_merkle_verify_inclusion(m, n,
			    t.leaf[m], p, len, r2), 0);
			/* Another leaf, another index, a changed hash. */
			assert_int_equal(cr_merkle_verify_inclusion(m, n,
			    t.leaf[(m + 1) % MAXN], p, len, r2), -1);
			if (n > 1)
				assert_int_equal(cr_merkle_verify_inclusion(
				    (m + 1) % n, n, t.leaf[m], p, len, r2), -1);
			for (i = 0; i < len; i++) {
				memcpy(bad, p[i], H);
				p[i][7] ^= 0x40;
				assert_int_equal(cr_merkle_verify_inclusion(m,
				    n, t.leaf[m], p, len, r2), -1);
				memcpy(p[i], bad, H);
			}
			if (len > 0)
				assert_int_equal(cr_merkle_verify_inclusion(m,
				    n, t.leaf[m], p, len - 1, r2), -1);
		}
		for (m = 1; m <= n; m++) {
			mth(&t, 0, m, r1);
			assert_int_equal(cr_merkle_consistency(tree_node, &t,
			    m, n, p, &len), 0);
			assert_int_equal(cr_merkle_verify_consistency(m, n, r1,
			    r2, p, len), 0);
			for (i = 0; i < len; i++) {
				memcpy(bad, p[i], H);
				p[i][3] ^= 0x01;
				assert_int_equal(cr_merkle_verify_consistency(
				    m, n, r1, r2, p, len), -1);
				memcpy(p[i], bad, H);
			}
			if (m < n) {
				/* A different old root (a fork) fails. */
				memcpy(bad, r1, H);
				bad[0] ^= 1;
				assert_int_equal(cr_merkle_verify_consistency(
				    m, n, bad, r2, p, len), -1);
			}
		}
	}
}

/* A proof costs a few subtree lookups per level, not one per leaf. */
static void
test_lookups(void **state)
{
	uint8_t p[CR_MERKLE_MAX_PROOF][H];
	struct tree t;
	size_t len;

	(void)state;
	count_tree(&t, MAXN);
	t.lookups = 0;
	assert_int_equal(cr_merkle_inclusion(tree_node, &t, 37, 69, p, &len),
	    0);
	assert_true(t.lookups <= 7 * 7);
	t.lookups = 0;
	assert_int_equal(cr_merkle_consistency(tree_node, &t, 37, 69, p, &len),
	    0);
	assert_true(t.lookups <= 7 * 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_ct_roots),
		cmocka_unit_test(test_ct_proofs),
		cmocka_unit_test(test_frontier),
		cmocka_unit_test(test_all_proofs),
		cmocka_unit_test(test_lookups),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
