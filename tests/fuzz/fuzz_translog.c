/*
 * Fuzz target for the transparency log's parsers (src/hub/sth.c): a
 * signed tree head's JSON (the head file, GET /v1/log/head), the hub's
 * key JSON (GET /v1/log/key), a proof's array of hashes, and the numbers
 * of a proof request's query. Parts are separated by lines "--":
 *	head JSON -- key JSON -- proof JSON -- query value -- index size
 * Checks:
 * - a head is accepted exactly when its members have their types and
 *   forms (an independent reading below), and its JSON form parses back
 *   to the same head; a head signed here verifies, any change of it not;
 * - a key is accepted only with its key_id the SHA-256 of the key;
 * - hashes are accepted exactly as 64 lowercase hex digits each, at most
 *   CR_MERKLE_MAX_PROOF, and verifying them as proofs never succeeds
 *   against a root they were not built for (and never crashes);
 * - a query number is accepted exactly when it is decimal digits only (at
 *   least one, leading zeros allowed) of a value from the minimum to
 *   2^63 - 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "merkle.h"
#include "sth.h"
#include "util.h"

static uint8_t	sk[CR_STH_SK_LEN], pk[CR_STH_PK_LEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[CR_STH_SEED_LEN];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(seed, 7, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	return 0;
}

static int
lower_hex(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return 1;
}

/* The oracle's view of a head object's members. */
static int
head_ok(const json_t *o)
{
	const json_t *n = json_object_get(o, "tree_size");
	const char *ts = json_string_value(json_object_get(o, "timestamp"));
	const char *sig = json_string_value(json_object_get(o, "signature"));
	const char *r = json_string_value(json_object_get(o, "root_hash"));
	const char *id = json_string_value(json_object_get(o, "key_id"));
	uint8_t buf[CR_SIG_LEN + 8];
	size_t got;
	const char *end;
	int64_t ms;

	if (!json_is_object(o) || !json_is_integer(n) ||
	    json_integer_value(n) < 0 || r == NULL || !lower_hex(r, 64) ||
	    id == NULL || !lower_hex(id, 64) || ts == NULL || sig == NULL)
		return 0;
	if (cr_sth_time_parse(ts, &ms) == -1)
		return 0;
	if (strlen(sig) != 88 || sodium_base642bin(buf, sizeof(buf), sig,
	    strlen(sig), NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
	    0 || got != CR_SIG_LEN || *end != '\0')
		return 0;
	return 1;
}

static void
check_time(const char *ts)
{
	char back[CR_TS_LEN + 1];
	int64_t ms;

	if (cr_sth_time_parse(ts, &ms) == -1)
		return;
	FUZZ_CHECK(ms >= 0);
	FUZZ_CHECK(cr_sth_time_format(ms, back, sizeof(back)) == 0);
	FUZZ_CHECK(strcmp(back, ts) == 0);
}

static void
check_head(const char *p, size_t n)
{
	struct cr_tree_head h, g;
	json_error_t je;
	char err[256], *text;
	json_t *o, *j;
	int rc;

	rc = cr_sth_parse(p, n, &h, err, sizeof(err));
	o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
	if (o != NULL && json_is_string(json_object_get(o, "timestamp")))
		check_time(json_string_value(json_object_get(o, "timestamp")));
	FUZZ_CHECK((rc == 0) == (o != NULL && head_ok(o)));
	json_decref(o);
	if (rc == -1) {
		fuzz_check_msg(err);
		return;
	}
	FUZZ_CHECK((j = cr_sth_json(&h)) != NULL);
	FUZZ_CHECK((text = json_dumps(j, JSON_COMPACT)) != NULL);
	json_decref(j);
	FUZZ_CHECK(cr_sth_parse(text, strlen(text), &g, err, sizeof(err)) ==
	    0);
	free(text);
	FUZZ_CHECK(memcmp(&h, &g, sizeof(h)) == 0);
	/* Whatever it said, signed here it verifies, changed it does not. */
	cr_sth_sign(&g, sk);
	FUZZ_CHECK(cr_sth_verify(&g, pk) == 0);
	g.tree_size ^= 1;
	FUZZ_CHECK(cr_sth_verify(&g, pk) == -1);
	(void)cr_sth_verify(&h, pk);
}

static void
check_key(const char *p, size_t n)
{
	uint8_t k[CR_STH_PK_LEN];
	char err[256], id[CR_KEY_ID_LEN + 1];
	json_t *j;
	const char *kid;

	if (cr_sth_parse_key(p, n, k, err, sizeof(err)) == -1) {
		fuzz_check_msg(err);
		return;
	}
	j = json_loadb(p, n, 0, NULL);
	FUZZ_CHECK(j != NULL);
	kid = json_string_value(json_object_get(j, "key_id"));
	cr_sth_key_id(k, id);
	FUZZ_CHECK(kid != NULL && strcmp(kid, id) == 0);
	json_decref(j);
}

static void
check_proof(const char *p, size_t n, uint64_t index, uint64_t size)
{
	uint8_t h[CR_MERKLE_MAX_PROOF][CR_HASH_LEN], root[CR_HASH_LEN];
	uint8_t leaf[CR_HASH_LEN];
	char err[256];
	json_t *a, *back;
	size_t len, i;
	int rc, want = 1;

	a = json_loadb(p, n, 0, NULL);
	rc = cr_sth_hashes_from_json(a, h, CR_MERKLE_MAX_PROOF, &len, err,
	    sizeof(err));
	if (!json_is_array(a) || json_array_size(a) > CR_MERKLE_MAX_PROOF)
		want = 0;
	for (i = 0; want && i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (s == NULL || !lower_hex(s, 64))
			want = 0;
	}
	FUZZ_CHECK((rc == 0) == want);
	if (rc == -1) {
		fuzz_check_msg(err);
		json_decref(a);
		return;
	}
	FUZZ_CHECK((back = cr_sth_hashes_json((const uint8_t (*)[32])h, len))
	    != NULL);
	FUZZ_CHECK(json_equal(back, a));
	json_decref(back);
	json_decref(a);
	/* A root no hash here can lead to: SHA-256 of "not a root". */
	crypto_hash_sha256(root, (const uint8_t *)"not a root", 10);
	memset(leaf, 0x5a, sizeof(leaf));
	FUZZ_CHECK(cr_merkle_verify_inclusion(index, size, leaf,
	    (const uint8_t (*)[32])h, len > CR_MERKLE_MAX_PATH ?
	    CR_MERKLE_MAX_PATH : len, root) == -1);
	if (index < size && index > 0)
		FUZZ_CHECK(cr_merkle_verify_consistency(index, size, leaf,
		    root, (const uint8_t (*)[32])h, len) == -1);
}

/* The oracle: digits only, no sign, min..INT64_MAX. */
static void
check_query(const char *v, uint64_t min)
{
	char err[128];
	uint64_t got;
	size_t i, len = strlen(v);
	unsigned long long x = 0;
	int ok = len > 0, rc;

	for (i = 0; ok && i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			ok = 0;
		else if (x > ((unsigned long long)INT64_MAX - 9) / 10 + 1)
			ok = 0;		/* past 2^63 - 1 already */
		else
			x = x * 10 + (unsigned)(v[i] - '0');
	}
	if (ok && (x > (unsigned long long)INT64_MAX || x < min))
		ok = 0;
	rc = cr_sth_query_number("n", v, 0, min, &got, err, sizeof(err));
	FUZZ_CHECK((rc == 0) == ok);
	if (rc == 0)
		FUZZ_CHECK(got == x);
	else
		fuzz_check_msg(err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p[5];
	size_t n[5], k;
	char *q;
	unsigned long long a = 0, b = 0;

	k = fuzz_split((const char *)data, size, p, n, 5);
	check_head(p[0], n[0]);
	if (k > 1)
		check_key(p[1], n[1]);
	if (k > 4) {
		q = fuzz_strndup(p[4], n[4]);
		if (sscanf(q, "%llu %llu", &a, &b) != 2)
			a = b = 0;
		free(q);
	}
	if (k > 2)
		check_proof(p[2], n[2], a % 1000, b % 1000);
	if (k > 3) {
		q = fuzz_strndup(p[3], n[3]);
		if (strlen(q) == n[3]) {
			/* One value a line: no NUL, no newline at its end. */
			if (n[3] > 0 && q[n[3] - 1] == '\n')
				q[n[3] - 1] = '\0';
			check_query(q, 0);
			check_query(q, 1);
		}
		free(q);
	}
	return 0;
}
