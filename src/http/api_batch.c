/*
 * Batches (docs/batches.md): POST /v1/batches stores the subjects and
 * hands the batch to the runner (batch.c); GET /v1/batches/{id} shows its
 * progress; GET /v1/batches/{id}/results streams its results from the
 * store, a page at a time, once it is done.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "batch.h"
#include "bundle.h"
#include "util.h"

#define RESULTS_PAGE	512

/* 1: CSV, 0: NDJSON, -1: neither. Without a type, the first byte says. */
static int
body_kind(const struct cr_req *req)
{
	const char *t = req->content_type;
	size_t n;

	if (t == NULL || *t == '\0') {
		const char *p = req->body != NULL ? req->body : "";

		p += strspn(p, " \t\r\n");
		return *p == '{' ? 0 : 1;
	}
	n = strcspn(t, "; \t");
	if ((n == 8 && strncasecmp(t, "text/csv", n) == 0))
		return 1;
	if ((n == 20 && strncasecmp(t, "application/x-ndjson", n) == 0) ||
	    (n == 20 && strncasecmp(t, "application/ndjson", n) == 0) ||
	    (n == 17 && strncasecmp(t, "application/jsonl", n) == 0) ||
	    (n == 16 && strncasecmp(t, "application/json", n) == 0))
		return 0;
	return -1;
}

static int
query_bool(struct cr_req *req, const char *key, int *out)
{
	const char *v = cr_http_query(req, key);

	*out = 0;
	if (v == NULL || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || *v == '\0') {
		*out = 1;
		return 0;
	}
	return -1;
}

void
cr_api_batch_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_bundle *b = NULL;
	struct cr_batch bt;
	const char *bundle, *purpose, *refdate;
	char **subjects = NULL, err[512];
	size_t n = 0;
	int csv;

	if (cr_http_require_client(req) == -1)
		return;
	memset(&bt, 0, sizeof(bt));
	bundle = cr_http_query(req, "bundle");
	purpose = cr_http_query(req, "purpose");
	refdate = cr_http_query(req, "reference_date");
	/* Stored, logged and quoted back: text, never cut. */
	if (bundle == NULL || *bundle == '\0' || strlen(bundle) >= CR_KEY_MAX ||
	    !cr_util_utf8_text(bundle)) {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'bundle' is required (UTF-8 text of at most %d bytes)",
		    CR_KEY_MAX - 1);
		goto out;
	}
	if (purpose == NULL || *purpose == '\0' ||
	    strlen(purpose) >= CR_KEY_MAX || !cr_util_utf8_text(purpose)) {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'purpose' is required (UTF-8 text of at most %d bytes)",
		    CR_KEY_MAX - 1);
		goto out;
	}
	if (query_bool(req, "household", &bt.household) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'household' must be true or false");
		goto out;
	}
	if (refdate != NULL && cr_date_valid(refdate) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'reference_date' must be a date (YYYY-MM-DD)");
		goto out;
	}
	if ((csv = body_kind(req)) == -1) {
		cr_http_error(req, 415, "UNSUPPORTED_MEDIA_TYPE", "send "
		    "application/x-ndjson or text/csv");
		goto out;
	}
	if (cr_api_bundle_load(req, bundle, &b) == -1)
		goto out;
	if (req->body == NULL || cr_batch_parse(req->body, req->body_len, csv,
	    &subjects, &n, err, sizeof(err)) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "%s", req->body == NULL ?
		    "no subjects" : err);
		goto out;
	}
	cr_util_uuid(bt.id);
	cr_util_strlcpy(bt.institution, req->client.institution,
	    sizeof(bt.institution));
	cr_util_strlcpy(bt.client, req->client.id, sizeof(bt.client));
	cr_util_strlcpy(bt.end_user, req->end_user, sizeof(bt.end_user));
	cr_util_strlcpy(bt.bundle, bundle, sizeof(bt.bundle));
	cr_util_strlcpy(bt.purpose, purpose, sizeof(bt.purpose));
	/* Fixed now, so that a batch resumed tomorrow checks the same day. */
	if (refdate != NULL)
		cr_util_strlcpy(bt.reference_date, refdate,
		    sizeof(bt.reference_date));
	else
		cr_date_today(bt.reference_date);
	bt.total = n;
	/* The 202 only once every subject is durable. */
	if (st->batches->ops->batch_add(st->batches,
	    &bt, (const char *const *)subjects, n) !=
	    CR_STORE_OK) {
		cr_http_storage_error(req);
		goto out;
	}
	cr_batch_runner_add(req->hub->batches, bt.id);
	cr_http_reply_json(req, 202, json_pack("{s:s,s:s,s:I}", "id", bt.id,
	    "status", "queued", "total", (json_int_t)n));
out:
	free(subjects);
	cr_bundle_free(b);
}

/* The batch, if the caller may see it (else answered). 0 or -1. */
static int
batch_visible(struct cr_req *req, struct cr_batch *bt)
{
	struct cr_store *st = req->hub->store;
	int rc;

	if (cr_http_require_any(req) == -1)
		return -1;
	rc = st->batches->ops->batch_get(st->batches, req->params[0], bt);
	if (rc == CR_STORE_ERR) {
		cr_http_storage_error(req);
		return -1;
	}
	/* Another institution's batch does not exist, as far as it knows. */
	if (rc == CR_STORE_NOTFOUND || (req->principal == CR_PRINCIPAL_CLIENT &&
	    strcmp(bt->institution, req->client.institution) != 0)) {
		cr_http_error(req, 404, "NOT_FOUND", "no batch '%s'",
		    req->params[0]);
		return -1;
	}
	return 0;
}

void
cr_api_batch_get(struct cr_req *req)
{
	struct cr_batch bt;
	json_t *j;

	if (batch_visible(req, &bt) == -1)
		return;
	j = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:I,s:I,s:I,s:s}",
	    "id", bt.id, "status", bt.status, "bundle", bt.bundle,
	    "purpose", bt.purpose, "household", bt.household,
	    "reference_date", bt.reference_date,
	    "total", (json_int_t)bt.total, "done", (json_int_t)bt.done,
	    "failed", (json_int_t)bt.failed, "created_at", bt.created_at);
	if (j != NULL && bt.error[0] != '\0')
		json_object_set_new(j, "error", json_string(bt.error));
	cr_http_reply_json(req, 200, j);
}

/* The results stream: pages of items read from the store as MHD asks. */
struct results {
	struct cr_store		*st;
	char			 id[40];
	uint64_t		 after;		/* last line read */
	uint64_t		 total;
	struct cr_batch_item	 page[RESULTS_PAGE];
	size_t			 n, i, off;	/* item, bytes of it sent */
	int			 eof;
};

static void
results_free(void *arg)
{
	struct results *rs = arg;

	cr_batch_items_clear(rs->page, rs->n);
	free(rs);
}

static long
results_read(void *arg, char *buf, size_t max)
{
	struct results *rs = arg;
	struct cr_batch_item *it;
	const char *txt;
	size_t len, take, w = 0;

	while (w < max) {
		if (rs->i == rs->n) {
			if (rs->eof)
				break;
			cr_batch_items_clear(rs->page, rs->n);
			rs->n = RESULTS_PAGE;
			rs->i = 0;
			if (rs->st->batches->ops->batch_results(rs->st->batches,
			    rs->id,
			    rs->after, rs->page, &rs->n) != CR_STORE_OK) {
				rs->n = 0;
				/* Cut short: the client sees a broken
				   transfer, not a short file. */
				return -1;
			}
			if (rs->n < RESULTS_PAGE)
				rs->eof = 1;
			if (rs->n == 0)
				break;
			rs->after = rs->page[rs->n - 1].line;
		}
		it = &rs->page[rs->i];
		txt = it->result != NULL ? it->result : "null";
		len = strlen(txt) + 1;		/* and the newline */
		take = len - rs->off < max - w ? len - rs->off : max - w;
		if (rs->off + take == len) {
			memcpy(buf + w, txt + rs->off, take - 1);
			buf[w + take - 1] = '\n';
		} else
			memcpy(buf + w, txt + rs->off, take);
		w += take;
		rs->off += take;
		if (rs->off == len) {
			rs->off = 0;
			rs->i++;
		}
	}
	return (long)w;
}

void
cr_api_batch_results(struct cr_req *req)
{
	struct results *rs;
	struct cr_batch bt;

	if (batch_visible(req, &bt) == -1)
		return;
	if (strcmp(bt.status, "done") != 0) {
		if (strcmp(bt.status, "failed") == 0)
			cr_http_error(req, 409, "CONFLICT", "batch %s failed: "
			    "%s", bt.id, bt.error);
		else
			cr_http_error(req, 409, "CONFLICT", "batch %s is %s: "
			    "%" PRIu64 " of %" PRIu64 " lines done; results "
			    "once it is done", bt.id, bt.status, bt.done,
			    bt.total);
		return;
	}
	if ((rs = calloc(1, sizeof(*rs))) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	rs->st = req->hub->store;
	rs->total = bt.total;
	cr_util_strlcpy(rs->id, bt.id, sizeof(rs->id));
	cr_http_reply_stream(req, 200, "application/x-ndjson", results_read,
	    rs, results_free);
}
