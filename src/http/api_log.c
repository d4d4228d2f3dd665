/* Exchange log queries: who consulted what about whom, when and why. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "directory.h"
#include "merkle.h"
#include "sth.h"
#include "translog.h"
#include "util.h"

#define LOG_LIMIT_DEFAULT	100
#define LOG_LIMIT_MAX		1000

void
cr_api_log_query(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_xlog_filter f;
	struct cr_xlog_entry *entries = NULL;
	char subject[CR_SUBJECT_RAW_MAX];
	const char *s, *v;
	unsigned long long n;
	json_t *list;
	size_t i, count;

	if (cr_http_require_operator(req) == -1)
		return;
	memset(&f, 0, sizeof(f));
	f.limit = LOG_LIMIT_DEFAULT;
	if ((s = cr_http_query(req, "subject")) == NULL || *s == '\0') {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'subject' is required");
		return;
	}
	/* Refused attempts are logged with the subject as sent: text, at
	   most as long as a consultation accepts. */
	if (!cr_util_utf8_text(s) || strlen(s) >= sizeof(subject)) {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'subject' must be UTF-8 text of at most %zu bytes",
		    sizeof(subject) - 1);
		return;
	}
	if (cr_directory_subject(req->hub, s, subject, sizeof(subject)) == -1)
		cr_util_strlcpy(subject, s, sizeof(subject));
	f.subject = subject;
	f.consumer = cr_http_query(req, "consumer");
	if (f.consumer != NULL && !cr_util_utf8_text(f.consumer)) {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'consumer' must be UTF-8 text");
		return;
	}
	if ((v = cr_http_query(req, "limit")) != NULL) {
		if (cr_util_parse_ull(v, 1, LOG_LIMIT_MAX, &n) == -1) {
			cr_http_error(req, 400, "BAD_REQUEST", "limit must be "
			    "a number from 1 to %d", LOG_LIMIT_MAX);
			return;
		}
		f.limit = (int)n;
	}
	if ((v = cr_http_query(req, "before")) != NULL) {
		if (cr_util_parse_ull(v, 1, ~0ULL >> 1, &n) == -1) {
			cr_http_error(req, 400, "BAD_REQUEST", "before must be "
			    "a sequence number");
			return;
		}
		f.before_seq = n;
	}
	if ((entries = calloc((size_t)f.limit, sizeof(*entries))) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	count = (size_t)f.limit;
	if (st->xlog->ops->xlog_query(st->xlog,
	    &f, entries, &count) != CR_STORE_OK) {
		cr_http_storage_error(req);
		goto out;
	}
	list = json_array();
	for (i = 0; i < count; i++)
		json_array_append_new(list, cr_xlog_entry_json(&entries[i]));
	cr_http_reply_json(req, 200, json_pack("{s:o}", "entries", list));
out:
	free(entries);
}

/*
 * The transparency of the log (docs/exchange-log.md): the hub's key, its
 * newest signed head, and proofs against any tree size up to the log's.
 * Any authenticated caller: a consumer checks that its own exchange is in
 * the log, a witness that the log only grows.
 */
void
cr_api_log_key(struct cr_req *req)
{
	uint8_t pk[CR_STH_PK_LEN];

	if (cr_http_require_any(req) == -1)
		return;
	cr_translog_public_key(req->hub->translog, pk);
	cr_http_reply_json(req, 200, cr_sth_key_json(pk));
}

void
cr_api_log_head(struct cr_req *req)
{
	struct cr_tree_head h;

	if (cr_http_require_any(req) == -1)
		return;
	if (cr_translog_head(req->hub->translog, &h) == -1) {
		cr_http_error(req, 503, "UNAVAILABLE", "no tree head is "
		    "published yet");
		return;
	}
	cr_http_reply_json(req, 200, cr_sth_json(&h));
}

/*
 * A size from the query, or the newest head's when absent; 0, or -1 with
 * the error answered. The log's own size bounds it.
 */
static int
proof_size(struct cr_req *req, const char *name, uint64_t min, uint64_t *out)
{
	struct cr_tree_head h;
	uint8_t root[CR_HASH_LEN];
	uint64_t size;
	char err[128];

	if (cr_sth_query_number(name, cr_http_query(req, name), 1, min, out,
	    err, sizeof(err)) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "%s", err);
		return -1;
	}
	if (cr_http_query(req, name) == NULL) {
		if (cr_translog_head(req->hub->translog, &h) == -1) {
			cr_http_error(req, 503, "UNAVAILABLE", "no tree head "
			    "is published yet");
			return -1;
		}
		*out = h.tree_size;
		return 0;
	}
	cr_xlog_tree(req->hub->xlog, &size, root);
	if (*out > size) {
		cr_http_error(req, 404, "NOT_FOUND", "the log has %llu "
		    "entries, not %llu", (unsigned long long)size,
		    (unsigned long long)*out);
		return -1;
	}
	return 0;
}

void
cr_api_log_inclusion(struct cr_req *req)
{
	uint8_t path[CR_MERKLE_MAX_PATH][CR_HASH_LEN], leaf[CR_HASH_LEN];
	char err[128], hex[2 * CR_HASH_LEN + 1];
	struct cr_store *st = req->hub->store;
	uint64_t seq, size;
	size_t len;
	json_t *p;

	if (cr_http_require_any(req) == -1)
		return;
	if (cr_sth_query_number("seq", cr_http_query(req, "seq"), 0, 1, &seq,
	    err, sizeof(err)) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "%s", err);
		return;
	}
	if (proof_size(req, "tree_size", 1, &size) == -1)
		return;
	if (seq > size) {
		cr_http_error(req, 400, "BAD_REQUEST", "seq %llu is not in a "
		    "tree of %llu entries", (unsigned long long)seq,
		    (unsigned long long)size);
		return;
	}
	if (cr_xlog_store_node(st, 0, seq - 1, leaf) == -1 ||
	    cr_merkle_inclusion(cr_xlog_store_node, st, seq - 1, size, path,
	    &len) == -1) {
		cr_http_storage_error(req);
		return;
	}
	cr_util_hex(leaf, CR_HASH_LEN, hex);
	if ((p = cr_sth_hashes_json(path, len)) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	cr_http_reply_json(req, 200, json_pack("{s:I,s:I,s:s,s:o}", "seq",
	    (json_int_t)seq, "tree_size", (json_int_t)size, "leaf_hash", hex,
	    "audit_path", p));
}

void
cr_api_log_consistency(struct cr_req *req)
{
	uint8_t proof[CR_MERKLE_MAX_PROOF][CR_HASH_LEN];
	struct cr_store *st = req->hub->store;
	uint64_t first, second;
	char err[128];
	size_t len;
	json_t *p;

	if (cr_http_require_any(req) == -1)
		return;
	if (cr_sth_query_number("first", cr_http_query(req, "first"), 0, 0,
	    &first, err, sizeof(err)) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "%s", err);
		return;
	}
	if (proof_size(req, "second", 0, &second) == -1)
		return;
	if (first > second) {
		cr_http_error(req, 400, "BAD_REQUEST", "first (%llu) is after "
		    "second (%llu)", (unsigned long long)first,
		    (unsigned long long)second);
		return;
	}
	if (cr_merkle_consistency(cr_xlog_store_node, st, first, second, proof,
	    &len) == -1) {
		cr_http_storage_error(req);
		return;
	}
	if ((p = cr_sth_hashes_json(proof, len)) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	cr_http_reply_json(req, 200, json_pack("{s:I,s:I,s:o}", "first",
	    (json_int_t)first, "second", (json_int_t)second, "proof", p));
}
