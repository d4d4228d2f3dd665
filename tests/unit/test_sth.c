/*
 * Signed tree heads (src/hub/sth.c, translog.c) against the test vectors
 * of docs/exchange-log.md, computed independently in Python (hashlib and
 * the cryptography package's Ed25519): a log of five entries, its roots,
 * an audit path, a consistency proof and a head signed with the published
 * test key (seed 00 01 02 ... 1f). Then the JSON forms, the key file
 * (created 0600, refused when others may read it) and the head file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "merkle.h"
#include "sth.h"
#include "translog.h"
#include "util.h"
#include "xlog.h"

static const char *entries[5] = {
	"a97e084e39a9530957ac33579627cc5f4464ff2aaa552a8e76f8c62b3990d847",
	"1201177ea54db56c880bcdf793b5b2999fe56d9a3dea6fc48dc973bce1beecb6",
	"b499729dfe57ba79de84273b5058976c4f7a569802098cb60823811062693441",
	"92c37353666f54b0de489eaaa8201cdd905375a294a7de1706f01dc874edb9fd",
	"b7519d5a916a8f789e7c82233499af115fa77c7399518af53e6e7d850f720d95",
};
static const char *leaves[5] = {
	"f893d61cc9e9e83413b59fc404e4c1b4b2f75bf2618b8ee8899d21e7ad56645b",
	"c00bba61cbf428499f51fa528401a30378e159fd85619147f4b81efdb7491502",
	"1056c4516e8c548ae6ca4aef7c85d28b5bca14bd6ddb5a34d7422ce3eb6c63bf",
	"1fb0fc92a88a7f76bd4bbd96a9d3249a24d72b83dd2b270ede7a76b6a12f83d7",
	"83dda345a143dd4528a2e97938a8b5578eea7d2c7d19c98ce28ee3f8c3d81666",
};
#define ROOT3 "dcecac3c63bda597594b24569d5cdad437300ea14d487a8a4cb9c026c32a6fa9"
#define ROOT5 "59d33229be4b446762c1a50d5e6afcfb2c831e7b6e488f724028e328b4ed3a24"
#define PK_B64 "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
#define KEY_ID "56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c"
#define MSG "63726f7373726f6164732d747265652d686561642d763100" \
	"0000000000000005000001a240ecf200" ROOT5
#define SIG "sblpMdFfpHfVI6DB6qw4YnIMRqXPS+E9lABoazaRD75l20JWYpXClQS/StMy3xB5" \
	"wVchqW8OKi6bVMeLt5BMDw=="

static uint8_t	leaf[5][CR_HASH_LEN];

static void
unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(cr_util_unhex(s, out, n), 0);
}

static void
hex_is(const uint8_t *h, size_t n, const char *want)
{
	char buf[256];

	cr_util_hex(h, n, buf);
	assert_string_equal(buf, want);
}

static int
node(void *arg, unsigned level, uint64_t index, uint8_t out[CR_HASH_LEN])
{
	uint8_t l[CR_HASH_LEN], r[CR_HASH_LEN];
	uint64_t lo = index << level, hi = lo + ((uint64_t)1 << level);

	if (hi > 5)
		return -1;
	if (level == 0) {
		memcpy(out, leaf[lo], CR_HASH_LEN);
		return 0;
	}
	if (node(arg, level - 1, 2 * index, l) == -1 ||
	    node(arg, level - 1, 2 * index + 1, r) == -1)
		return -1;
	cr_merkle_node_hash(l, r, out);
	return 0;
}

static void
test_tree_vectors(void **state)
{
	uint8_t e[CR_HASH_LEN], r[CR_HASH_LEN];
	uint8_t p[CR_MERKLE_MAX_PROOF][CR_HASH_LEN];
	size_t i, len;

	(void)state;
	for (i = 0; i < 5; i++) {
		unhex(entries[i], e, CR_HASH_LEN);
		cr_xlog_leaf_hash(e, leaf[i]);
		hex_is(leaf[i], CR_HASH_LEN, leaves[i]);
	}
	assert_int_equal(cr_merkle_root_at(node, NULL, 3, r), 0);
	hex_is(r, CR_HASH_LEN, ROOT3);
	assert_int_equal(cr_merkle_root_at(node, NULL, 5, r), 0);
	hex_is(r, CR_HASH_LEN, ROOT5);
	/* seq 3 is leaf index 2. */
	assert_int_equal(cr_merkle_inclusion(node, NULL, 2, 5, p, &len), 0);
	assert_int_equal(len, 3);
	hex_is(p[0], CR_HASH_LEN, leaves[3]);
	hex_is(p[1], CR_HASH_LEN,
	    "eaadddae33dc38ea12b24545b573c14d37564b9a2dd68db9e7d9cff91c072f29");
	hex_is(p[2], CR_HASH_LEN, leaves[4]);
	assert_int_equal(cr_merkle_consistency(node, NULL, 3, 5, p, &len), 0);
	assert_int_equal(len, 4);
	hex_is(p[0], CR_HASH_LEN, leaves[2]);
	hex_is(p[1], CR_HASH_LEN, leaves[3]);
	hex_is(p[2], CR_HASH_LEN,
	    "eaadddae33dc38ea12b24545b573c14d37564b9a2dd68db9e7d9cff91c072f29");
	hex_is(p[3], CR_HASH_LEN, leaves[4]);
}

static void
test_key(uint8_t sk[CR_STH_SK_LEN], uint8_t pk[CR_STH_PK_LEN])
{
	uint8_t seed[CR_STH_SEED_LEN];
	size_t i;

	for (i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)i;
	crypto_sign_seed_keypair(pk, sk, seed);
}

static void
test_signature_vector(void **state)
{
	uint8_t sk[CR_STH_SK_LEN], pk[CR_STH_PK_LEN], msg[CR_STH_MSG_LEN];
	struct cr_tree_head h, g;
	char err[256], *text, b64[128];
	json_t *j;

	(void)state;
	test_key(sk, pk);
	sodium_bin2base64(b64, sizeof(b64), pk, sizeof(pk),
	    sodium_base64_VARIANT_ORIGINAL);
	assert_string_equal(b64, PK_B64);
	memset(&h, 0, sizeof(h));
	h.tree_size = 5;
	assert_int_equal(cr_sth_time_parse("2026-12-04T12:00:00.000Z",
	    &h.timestamp_ms), 0);
	unhex(ROOT5, h.root, CR_HASH_LEN);
	cr_sth_message(&h, msg);
	hex_is(msg, sizeof(msg), MSG);
	cr_sth_sign(&h, sk);
	assert_string_equal(h.key_id, KEY_ID);
	sodium_bin2base64(b64, sizeof(b64), h.signature, CR_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	assert_string_equal(b64, SIG);
	assert_int_equal(cr_sth_verify(&h, pk), 0);
	g = h;
	g.timestamp_ms++;
	assert_int_equal(cr_sth_verify(&g, pk), -1);
	g = h;
	g.key_id[0] = g.key_id[0] == '0' ? '1' : '0';
	assert_int_equal(cr_sth_verify(&g, pk), -1);

	/* The JSON form, and back. */
	assert_non_null(j = cr_sth_json(&h));
	assert_non_null(text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT));
	assert_string_equal(text, "{\"key_id\":\"" KEY_ID "\",\"root_hash\":\""
	    ROOT5 "\",\"signature\":\"" SIG "\",\"timestamp\":"
	    "\"2026-12-04T12:00:00.000Z\",\"tree_size\":5}");
	assert_int_equal(cr_sth_parse(text, strlen(text), &g, err,
	    sizeof(err)), 0);
	assert_memory_equal(&g, &h, sizeof(h));
	free(text);
	json_decref(j);
	/* The key's JSON. */
	assert_non_null(j = cr_sth_key_json(pk));
	assert_non_null(text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT));
	assert_string_equal(text, "{\"algorithm\":\"ed25519\",\"key_id\":\""
	    KEY_ID "\",\"public_key\":\"" PK_B64 "\"}");
	free(text);
	json_decref(j);
}

static void
test_parse_refusals(void **state)
{
	static const char *bad[] = {
		"", "[]", "{}",
		"{\"tree_size\":-1,\"root_hash\":\"" ROOT5 "\",\"timestamp\":"
		    "\"2026-12-04T12:00:00.000Z\",\"key_id\":\"" KEY_ID "\","
		    "\"signature\":\"" SIG "\"}",
		"{\"tree_size\":5,\"root_hash\":\"" ROOT3 "0\",\"timestamp\":"
		    "\"2026-12-04T12:00:00.000Z\",\"key_id\":\"" KEY_ID "\","
		    "\"signature\":\"" SIG "\"}",
		"{\"tree_size\":5,\"root_hash\":\"" ROOT5 "\",\"timestamp\":"
		    "\"2026-12-04T12:00:00Z\",\"key_id\":\"" KEY_ID "\","
		    "\"signature\":\"" SIG "\"}",
		"{\"tree_size\":5,\"root_hash\":\"" ROOT5 "\",\"timestamp\":"
		    "\"2026-12-04T12:00:00.000Z\",\"key_id\":\"" KEY_ID "\","
		    "\"signature\":\"AAAA\"}",
		"{\"tree_size\":5,\"tree_size\":6,\"root_hash\":\"" ROOT5 "\","
		    "\"timestamp\":\"2026-12-04T12:00:00.000Z\",\"key_id\":\""
		    KEY_ID "\",\"signature\":\"" SIG "\"}",
	};
	struct cr_tree_head h;
	char err[256];
	size_t i;
	int64_t ms;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(cr_sth_parse(bad[i], strlen(bad[i]), &h, err,
		    sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(cr_sth_time_parse("2026-02-30T00:00:00.000Z", &ms),
	    -1);
	assert_int_equal(cr_sth_time_parse("1969-12-31T23:59:59.999Z", &ms),
	    -1);
	assert_int_equal(cr_sth_time_parse("1970-01-01T00:00:00.001Z", &ms),
	    0);
	assert_int_equal(ms, 1);
}

static void
test_files(void **state)
{
	uint8_t sk[CR_STH_SK_LEN], pk[CR_STH_PK_LEN];
	uint8_t sk2[CR_STH_SK_LEN], pk2[CR_STH_PK_LEN];
	char dir[64], key[128], head[128], err[512];
	struct cr_tree_head h, g;
	struct stat sb;
	int missing;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_sth.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/log.key", dir);
	snprintf(head, sizeof(head), "%s/log.head", dir);
	assert_int_equal(cr_translog_key_file(key, 0, sk, pk, err,
	    sizeof(err)), -1);
	assert_int_equal(cr_translog_key_file(key, 1, sk, pk, err,
	    sizeof(err)), 0);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(cr_translog_key_file(key, 1, sk2, pk2, err,
	    sizeof(err)), 0);
	assert_memory_equal(pk, pk2, sizeof(pk));
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(cr_translog_key_file(key, 1, sk2, pk2, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));

	assert_int_equal(cr_translog_head_read(head, &h, &missing, err,
	    sizeof(err)), -1);
	assert_int_equal(missing, 1);
	memset(&h, 0, sizeof(h));
	h.tree_size = 42;
	h.timestamp_ms = 1796385600123LL;
	memset(h.root, 0xab, sizeof(h.root));
	cr_sth_sign(&h, sk);
	assert_int_equal(cr_translog_head_write(head, &h, err, sizeof(err)),
	    0);
	assert_int_equal(cr_translog_head_read(head, &g, &missing, err,
	    sizeof(err)), 0);
	assert_memory_equal(&g, &h, sizeof(h));
	assert_int_equal(cr_sth_verify(&g, pk), 0);
	unlink(key);
	unlink(head);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_vectors),
		cmocka_unit_test(test_signature_vector),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_files),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
