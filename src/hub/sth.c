/* Signed tree heads: the signed bytes, Ed25519, JSON forms (sth.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "date.h"
#include "sth.h"
#include "util.h"

#define B64_SIG_LEN	88	/* base64 of 64 bytes, with padding */
#define B64_PK_LEN	44	/* of 32 bytes */

static void
put_u64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

void
cr_sth_message(const struct cr_tree_head *h, uint8_t out[CR_STH_MSG_LEN])
{
	/* The context and its NUL: 24 bytes. */
	memcpy(out, CR_STH_CONTEXT, sizeof(CR_STH_CONTEXT));
	put_u64(out + 24, h->tree_size);
	put_u64(out + 32, (uint64_t)h->timestamp_ms);
	memcpy(out + 40, h->root, CR_HASH_LEN);
}

void
cr_sth_key_id(const uint8_t pk[CR_STH_PK_LEN], char out[CR_KEY_ID_LEN + 1])
{
	uint8_t d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(d, pk, CR_STH_PK_LEN);
	cr_util_hex(d, sizeof(d), out);
}

void
cr_sth_sign(struct cr_tree_head *h, const uint8_t sk[CR_STH_SK_LEN])
{
	uint8_t msg[CR_STH_MSG_LEN];

	/* libsodium's secret key ends with the public key. */
	cr_sth_key_id(sk + CR_STH_SEED_LEN, h->key_id);
	cr_sth_message(h, msg);
	crypto_sign_detached(h->signature, NULL, msg, sizeof(msg), sk);
}

int
cr_sth_verify(const struct cr_tree_head *h, const uint8_t pk[CR_STH_PK_LEN])
{
	uint8_t msg[CR_STH_MSG_LEN];
	char id[CR_KEY_ID_LEN + 1];

	cr_sth_key_id(pk, id);
	if (strcmp(id, h->key_id) != 0)
		return -1;
	cr_sth_message(h, msg);
	return crypto_sign_verify_detached(h->signature, msg, sizeof(msg),
	    pk) == 0 ? 0 : -1;
}

int
cr_sth_time_format(int64_t ms, char *out, size_t outlen)
{
	char date[CR_DATE_LEN + 1];
	int64_t days, rem;

	if (ms < 0 || ms > 253402300799999LL || outlen < CR_TS_LEN + 1)
		return -1;
	days = ms / 86400000;
	rem = ms % 86400000;
	cr_date_from_days((int32_t)days, date);
	snprintf(out, outlen, "%sT%02d:%02d:%02d.%03dZ", date,
	    (int)(rem / 3600000), (int)(rem / 60000 % 60),
	    (int)(rem / 1000 % 60), (int)(rem % 1000));
	return 0;
}

/* n decimal digits at s, exactly. */
static int
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
cr_sth_time_parse(const char *s, int64_t *ms)
{
	char date[CR_DATE_LEN + 1];
	int32_t days;
	int hh, mm, ss, mss;

	if (strlen(s) != CR_TS_LEN || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[23] != 'Z')
		return -1;
	memcpy(date, s, CR_DATE_LEN);
	date[CR_DATE_LEN] = '\0';
	if (cr_date_to_days(date, &days) == -1 || days < 0 ||
	    digits(s + 11, 2, &hh) == -1 || digits(s + 14, 2, &mm) == -1 ||
	    digits(s + 17, 2, &ss) == -1 || digits(s + 20, 3, &mss) == -1 ||
	    hh > 23 || mm > 59 || ss > 59)
		return -1;
	*ms = (int64_t)days * 86400000 + (int64_t)hh * 3600000 +
	    (int64_t)mm * 60000 + (int64_t)ss * 1000 + mss;
	return 0;
}

json_t *
cr_sth_json(const struct cr_tree_head *h)
{
	char root[2 * CR_HASH_LEN + 1], ts[CR_TS_LEN + 1];
	char sig[B64_SIG_LEN + 1];

	cr_util_hex(h->root, CR_HASH_LEN, root);
	if (cr_sth_time_format(h->timestamp_ms, ts, sizeof(ts)) == -1)
		return NULL;
	sodium_bin2base64(sig, sizeof(sig), h->signature, CR_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:I,s:s,s:s,s:s,s:s}", "tree_size",
	    (json_int_t)h->tree_size, "root_hash", root, "timestamp", ts,
	    "key_id", h->key_id, "signature", sig);
}

/* Exactly len bytes of base64 (with padding) decoding to n bytes. */
static int
b64_exact(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (sodium_base642bin(out, n, s, strlen(s), NULL, &got, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != n ||
	    end == NULL || *end != '\0')
		return -1;
	return 0;
}

static int
hex_hash(const char *s, uint8_t out[CR_HASH_LEN])
{
	size_t i;

	if (strlen(s) != 2 * CR_HASH_LEN)
		return -1;
	/* Lowercase only: one spelling per hash. */
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			return -1;
	return cr_util_unhex(s, out, CR_HASH_LEN);
}

int
cr_sth_from_json(const json_t *o, struct cr_tree_head *h, char *err,
    size_t errlen)
{
	const json_t *size, *root, *ts, *id, *sig;
	json_int_t n;

	memset(h, 0, sizeof(*h));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "a tree head is a JSON object");
		return -1;
	}
	size = json_object_get(o, "tree_size");
	root = json_object_get(o, "root_hash");
	ts = json_object_get(o, "timestamp");
	id = json_object_get(o, "key_id");
	sig = json_object_get(o, "signature");
	if (!json_is_integer(size) || (n = json_integer_value(size)) < 0) {
		snprintf(err, errlen, "tree_size: expected a whole number");
		return -1;
	}
	h->tree_size = (uint64_t)n;
	if (!json_is_string(root) || hex_hash(json_string_value(root),
	    h->root) == -1) {
		snprintf(err, errlen, "root_hash: expected 64 lowercase hex "
		    "digits");
		return -1;
	}
	if (!json_is_string(ts) || cr_sth_time_parse(json_string_value(ts),
	    &h->timestamp_ms) == -1) {
		snprintf(err, errlen, "timestamp: expected "
		    "YYYY-MM-DDTHH:MM:SS.mmmZ");
		return -1;
	}
	if (!json_is_string(id) || strlen(json_string_value(id)) !=
	    CR_KEY_ID_LEN || hex_hash(json_string_value(id), (uint8_t[32]){0})
	    == -1) {
		snprintf(err, errlen, "key_id: expected 64 lowercase hex "
		    "digits");
		return -1;
	}
	cr_util_strlcpy(h->key_id, json_string_value(id), sizeof(h->key_id));
	if (!json_is_string(sig) || b64_exact(json_string_value(sig),
	    h->signature, CR_SIG_LEN) == -1) {
		snprintf(err, errlen, "signature: expected the base64 of 64 "
		    "bytes");
		return -1;
	}
	return 0;
}

/* jansson's message quotes the input: as text, whatever the bytes. */
static void
not_json(const json_error_t *je, char *err, size_t errlen)
{
	char text[JSON_ERROR_TEXT_LENGTH + 16];

	snprintf(text, sizeof(text), "not JSON: %s", je->text);
	/* Stops before a character that does not fit, never inside. */
	cr_util_utf8_copy(err, errlen, text);
}

int
cr_sth_parse(const char *text, size_t len, struct cr_tree_head *out,
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *o;
	int rc;

	if ((o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		memset(out, 0, sizeof(*out));
		not_json(&je, err, errlen);
		return -1;
	}
	rc = cr_sth_from_json(o, out, err, errlen);
	json_decref(o);
	return rc;
}

json_t *
cr_sth_key_json(const uint8_t pk[CR_STH_PK_LEN])
{
	char id[CR_KEY_ID_LEN + 1], b64[B64_PK_LEN + 1];

	cr_sth_key_id(pk, id);
	sodium_bin2base64(b64, sizeof(b64), pk, CR_STH_PK_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:s,s:s,s:s}", "key_id", id, "algorithm", "ed25519",
	    "public_key", b64);
}

int
cr_sth_parse_key(const char *text, size_t len, uint8_t pk[CR_STH_PK_LEN],
    char *err, size_t errlen)
{
	char id[CR_KEY_ID_LEN + 1];
	const char *alg, *b64, *kid;
	json_error_t je;
	json_t *o;
	int rc = -1;

	if ((o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		not_json(&je, err, errlen);
		return -1;
	}
	alg = json_string_value(json_object_get(o, "algorithm"));
	b64 = json_string_value(json_object_get(o, "public_key"));
	kid = json_string_value(json_object_get(o, "key_id"));
	if (alg == NULL || strcmp(alg, "ed25519") != 0)
		snprintf(err, errlen, "algorithm: expected \"ed25519\"");
	else if (b64 == NULL || b64_exact(b64, pk, CR_STH_PK_LEN) == -1)
		snprintf(err, errlen, "public_key: expected the base64 of 32 "
		    "bytes");
	else {
		cr_sth_key_id(pk, id);
		if (kid == NULL || strcmp(kid, id) != 0)
			snprintf(err, errlen, "key_id: not the SHA-256 of the "
			    "public key");
		else
			rc = 0;
	}
	json_decref(o);
	return rc;
}

int
cr_sth_hashes_from_json(const json_t *arr, uint8_t out[][CR_HASH_LEN],
    size_t max, size_t *len, char *err, size_t errlen)
{
	size_t i, n;
	const char *s;

	*len = 0;
	if (!json_is_array(arr)) {
		snprintf(err, errlen, "expected an array of hashes");
		return -1;
	}
	if ((n = json_array_size(arr)) > max) {
		snprintf(err, errlen, "more than %zu hashes", max);
		return -1;
	}
	for (i = 0; i < n; i++) {
		s = json_string_value(json_array_get(arr, i));
		if (s == NULL || hex_hash(s, out[i]) == -1) {
			snprintf(err, errlen, "hash %zu: expected 64 lowercase "
			    "hex digits", i);
			return -1;
		}
	}
	*len = n;
	return 0;
}

json_t *
cr_sth_hashes_json(const uint8_t h[][CR_HASH_LEN], size_t n)
{
	char hex[2 * CR_HASH_LEN + 1];
	json_t *a;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		cr_util_hex(h[i], CR_HASH_LEN, hex);
		if (json_array_append_new(a, json_string(hex)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int
cr_sth_query_number(const char *name, const char *value, int optional,
    uint64_t min, uint64_t *out, char *err, size_t errlen)
{
	unsigned long long n;

	*out = 0;
	if (value == NULL && optional)
		return 0;
	if (value == NULL) {
		snprintf(err, errlen, "query parameter '%s' is required", name);
		return -1;
	}
	if (cr_util_parse_ull(value, min, (unsigned long long)INT64_MAX,
	    &n) == -1) {
		snprintf(err, errlen, "query parameter '%s' must be a whole "
		    "number from %llu", name, (unsigned long long)min);
		return -1;
	}
	*out = n;
	return 0;
}
