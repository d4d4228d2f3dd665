/* Reference directory: who has integrated which subject, in which capacity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "directory.h"
#include "jsonv.h"
#include "util.h"

#define BATCH_CHUNK	5000

static void
directory_fail(struct cr_req *req, const struct cr_dir_error *e)
{
	cr_http_error(req, e->status, e->code, "%s", e->message);
}

void
cr_api_directory_put(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_dir_entry e;
	struct cr_dir_error err;
	json_t *b = NULL;
	int created;

	if (cr_http_require_client(req) == -1)
		return;
	if (cr_directory_parse_record(req->hub, req->body ? req->body : "",
	    req->body_len, req->client.institution, &e, &err) == -1) {
		directory_fail(req, &err);
		return;
	}
	if (st->directory->ops->dir_put(st->directory,
	    &e, &created) != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	b = cr_directory_entry_json(&e, NULL);
	cr_http_reply_json(req, created ? 201 : 200, b);
}

const struct cr_jsonv_field cr_api_directory_remove_spec[] = {
	{ "subject", CR_JV_STRING, 1, 64, 0, 0 },
	{ "capacity", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "to", CR_JV_DATE, 0, 0, 0, 0 },
	CR_JSONV_END
};

void
cr_api_directory_remove(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	char subject[CR_SUBJECT_MAX], to[CR_DATE_LEN + 1];
	const char *capacity, *t;
	json_t *b;
	int rc;

	if (cr_http_require_client(req) == -1 ||
	    (b = cr_http_body_json(req, cr_api_directory_remove_spec)) == NULL)
		return;
	if (cr_directory_subject(req->hub, json_string_value(
	    json_object_get(b, "subject")), subject, sizeof(subject)) == -1) {
		cr_http_error(req, 400, "INVALID_SUBJECT", "'%s' is not a "
		    "valid identifier", json_string_value(json_object_get(b,
		    "subject")));
		goto out;
	}
	capacity = json_string_value(json_object_get(b, "capacity"));
	/* Without an end date the integration stops counting today. */
	if ((t = json_string_value(json_object_get(b, "to"))) != NULL)
		cr_util_strlcpy(to, t, sizeof(to));
	else {
		char today[CR_DATE_LEN + 1];

		cr_date_today(today);
		cr_date_add_days(today, -1, to);
	}
	rc = st->directory->ops->dir_end(st->directory,
	    req->client.institution, subject, capacity,
	    to);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no integration of this "
		    "subject in capacity '%s' open after %s", capacity, to);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 200, json_pack("{s:s,s:s,s:s,s:s}",
		    "subject", subject, "institution", req->client.institution,
		    "capacity", capacity, "to", to));
out:
	json_decref(b);
}

struct batch_state {
	struct cr_req		*req;
	struct cr_dir_entry	*entries;
	size_t			 n;
	int			*created;
	size_t			 accepted;
	json_t			*rejected;
	int			 failed;
};

static int
batch_flush(struct batch_state *bs)
{
	struct cr_store *st = bs->req->hub->store;

	if (bs->n == 0)
		return 0;
	if (st->directory->ops->dir_put_many(st->directory,
	    bs->entries, bs->n, bs->created)
	    != CR_STORE_OK) {
		bs->failed = 1;
		return -1;
	}
	bs->accepted += bs->n;
	bs->n = 0;
	return 0;
}

static int
batch_line(const char *line, size_t len, size_t lineno, void *arg)
{
	struct batch_state *bs = arg;
	struct cr_dir_error err;

	if (cr_directory_parse_record(bs->req->hub, line, len,
	    bs->req->client.institution, &bs->entries[bs->n], &err) == -1) {
		json_array_append_new(bs->rejected, json_pack(
		    "{s:I,s:{s:s,s:s}}", "line", (json_int_t)lineno, "error",
		    "code", err.code, "message", err.message));
		return 0;
	}
	if (++bs->n == BATCH_CHUNK)
		return batch_flush(bs);
	return 0;
}

void
cr_api_directory_batch(struct cr_req *req)
{
	struct batch_state bs;

	if (cr_http_require_client(req) == -1)
		return;
	memset(&bs, 0, sizeof(bs));
	bs.req = req;
	bs.entries = calloc(BATCH_CHUNK, sizeof(*bs.entries));
	bs.created = calloc(BATCH_CHUNK, sizeof(*bs.created));
	bs.rejected = json_array();
	if (bs.entries == NULL || bs.created == NULL || bs.rejected == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		goto out;
	}
	if (cr_jsonv_ndjson_lines(req->body ? req->body : "", req->body_len,
	    batch_line, &bs) == -1 || batch_flush(&bs) == -1 || bs.failed) {
		cr_http_error(req, 500, "INTERNAL", "storage error after %zu "
		    "accepted records", bs.accepted);
		goto out;
	}
	cr_http_reply_json(req, 200, json_pack("{s:I,s:O}", "accepted",
	    (json_int_t)bs.accepted, "rejected", bs.rejected));
out:
	json_decref(bs.rejected);
	free(bs.entries);
	free(bs.created);
}

void
cr_api_directory_get(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	char subject[CR_SUBJECT_MAX];
	json_t *list;

	if (cr_http_require_any(req) == -1)
		return;
	if (cr_directory_subject(req->hub, req->params[0], subject,
	    sizeof(subject)) == -1) {
		cr_http_error(req, 400, "INVALID_SUBJECT", "'%s' is not a "
		    "valid identifier", req->params[0]);
		return;
	}
	/* An institution sees its own integrations only. */
	if (st->directory->ops->dir_list(st->directory,
	    subject, req->principal ==
	    CR_PRINCIPAL_OPERATOR ? NULL : req->client.institution, &list)
	    != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	cr_http_reply_json(req, 200, json_pack("{s:s,s:o}", "subject", subject,
	    "entries", list));
}
