/*
 * Signed tree heads of the exchange log (docs/exchange-log.md): the bytes
 * that are signed, Ed25519 signing and verification, and the JSON forms
 * of a head, of the hub's public key and of proofs, as GET /v1/log/...
 * answers them and as the head file, `log verify --head` and the witness
 * read them. Pure functions: no I/O, no global state.
 *
 * The signed message (CR_STH_MSG_LEN bytes):
 *	"crossroads-tree-head-v1" 0x00	24 bytes
 *	tree_size			 8 bytes, unsigned big-endian
 *	timestamp			 8 bytes, ms since the Unix epoch, BE
 *	root_hash			32 bytes
 * key_id is the lowercase hex SHA-256 of the 32-byte public key.
 */
#ifndef CR_STH_H
#define CR_STH_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "store.h"

#define CR_STH_MSG_LEN		72
#define CR_STH_PK_LEN		32	/* Ed25519 public key */
#define CR_STH_SK_LEN		64	/* libsodium's: seed || pk */
#define CR_STH_SEED_LEN		32
#define CR_STH_CONTEXT		"crossroads-tree-head-v1"

void	cr_sth_message(const struct cr_tree_head *,
	    uint8_t out[CR_STH_MSG_LEN]);
void	cr_sth_key_id(const uint8_t pk[CR_STH_PK_LEN],
	    char out[CR_KEY_ID_LEN + 1]);
/* Sets h->key_id and h->signature from the other fields. */
void	cr_sth_sign(struct cr_tree_head *h,
	    const uint8_t sk[CR_STH_SK_LEN]);
/* 0 when h is signed by pk (key_id included); -1 otherwise. */
int	cr_sth_verify(const struct cr_tree_head *h,
	    const uint8_t pk[CR_STH_PK_LEN]);

/* {"tree_size","root_hash","timestamp","key_id","signature"} (new ref). */
json_t	*cr_sth_json(const struct cr_tree_head *);
/*
 * A head from its JSON text (len bytes) or object: every member present
 * with its type, hashes as 64 hex digits, the signature as base64 of 64
 * bytes, the timestamp as RFC 3339 UTC with milliseconds. Unknown members
 * are ignored. 0, or -1 with err set.
 */
int	cr_sth_parse(const char *text, size_t len, struct cr_tree_head *out,
	    char *err, size_t errlen);
int	cr_sth_from_json(const json_t *, struct cr_tree_head *out, char *err,
	    size_t errlen);

/* {"key_id","algorithm":"ed25519","public_key":"<base64>"} (new ref). */
json_t	*cr_sth_key_json(const uint8_t pk[CR_STH_PK_LEN]);
/* The public key from that JSON (its key_id checked). 0 or -1, err set. */
int	cr_sth_parse_key(const char *text, size_t len,
	    uint8_t pk[CR_STH_PK_LEN], char *err, size_t errlen);

/* "2026-12-04T10:00:00.123Z" from ms since the epoch, and back (exactly
   that form, years 1970..9999). out has CR_TS_LEN + 1 bytes. */
int	cr_sth_time_format(int64_t ms, char *out, size_t outlen);
int	cr_sth_time_parse(const char *s, int64_t *ms);

/*
 * A JSON array of hex hashes (an audit path, a consistency proof) into
 * out (room for max). 0 with *len, or -1 with err set.
 */
int	cr_sth_hashes_from_json(const json_t *arr,
	    uint8_t out[][CR_HASH_LEN], size_t max, size_t *len, char *err,
	    size_t errlen);
/* The array of hex hashes (new reference, NULL when out of memory). */
json_t	*cr_sth_hashes_json(const uint8_t h[][CR_HASH_LEN], size_t n);

/*
 * The numbers of a proof request's query (?seq=N&tree_size=M, or
 * ?first=M&second=N): a decimal number from min to 2^63 - 1, no sign, no
 * space. NULL (absent) gives *out = 0 and 0 when optional. 0, or -1 with
 * err naming the parameter.
 */
int	cr_sth_query_number(const char *name, const char *value,
	    int optional, uint64_t min, uint64_t *out, char *err,
	    size_t errlen);

#endif
