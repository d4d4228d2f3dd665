/* Reference directory: who has integrated which subject, in which capacity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "directory.h"
#include "jsonv.h"
#include "util.h"
#include "xlog.h"

/* Lines stored, then logged, together: the log's max_batch. */
#define BATCH_CHUNK	4096

static void
directory_fail(struct cr_req *req, const struct cr_dir_error *e)
{
	cr_http_error(req, e->status, e->code, "%s", e->message);
}

/*
 * Writes the log entries of a directory change and waits until they are
 * durable. The directory write before it waited for its own commit on
 * this thread already, so this wait is of the same kind; the entries go
 * through the group commit with the consultations'. 0, or -1 answered.
 */
static int
directory_log(struct cr_req *req, const struct cr_xlog_entry *le, size_t n,
    int changed)
{
	if (cr_xlog_write(req->hub->xlog, le, n) == 0)
		return 0;
	if (changed)
		cr_http_error(req, 503, "UNAVAILABLE", "the change is stored "
		    "but the exchange log could not be written: send it "
		    "again");
	else
		cr_http_error(req, 503, "UNAVAILABLE", "the exchange log "
		    "could not be written");
	return -1;
}

/* 0 when the caller may declare e's capacity; -1 answered (and logged
   when refused). */
static int
directory_allowed(struct cr_req *req, const struct cr_dir_entry *e)
{
	struct cr_xlog_entry le;
	struct cr_dir_error err;

	if (cr_directory_capacity_allowed(req->hub->store, e->institution,
	    e->capacity, &err) == 0)
		return 0;
	if (err.status == 403) {
		cr_directory_log_entry(&le, CR_DIR_LOG_INTEGRATE, e,
		    req->request_id, req->client.id, req->end_user,
		    CR_OUTCOME_DENIED, err.status, err.code);
		if (directory_log(req, &le, 1, 0) == -1)
			return -1;
	}
	directory_fail(req, &err);
	return -1;
}

void
cr_api_directory_put(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_dir_entry e;
	struct cr_dir_error err;
	struct cr_xlog_entry le;
	json_t *b = NULL;
	int created;

	if (cr_http_require_client(req) == -1)
		return;
	if (cr_directory_parse_record(req->hub, req->body ? req->body : "",
	    req->body_len, req->client.institution, &e, &err) == -1) {
		directory_fail(req, &err);
		return;
	}
	if (directory_allowed(req, &e) == -1)
		return;
	if (st->directory->ops->dir_put(st->directory,
	    &e, &created) != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	cr_directory_log_entry(&le, CR_DIR_LOG_INTEGRATE, &e, req->request_id,
	    req->client.id, req->end_user, CR_OUTCOME_GRANTED,
	    created ? 201 : 200, "");
	if (directory_log(req, &le, 1, 1) == -1)
		return;
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
	/* Ending is never refused by the catalogue: an institution that may
	   no longer declare a capacity must still be able to end the
	   integrations it declared (its own only, by the record's key). */
	rc = st->directory->ops->dir_end(st->directory,
	    req->client.institution, subject, capacity,
	    to);
	if (rc == CR_STORE_OK) {
		struct cr_dir_entry e;
		struct cr_xlog_entry le;

		memset(&e, 0, sizeof(e));
		cr_util_strlcpy(e.subject, subject, sizeof(e.subject));
		cr_util_strlcpy(e.institution, req->client.institution,
		    sizeof(e.institution));
		cr_util_strlcpy(e.capacity, capacity, sizeof(e.capacity));
		cr_util_strlcpy(e.to, to, sizeof(e.to));
		cr_directory_log_entry(&le, CR_DIR_LOG_END, &e,
		    req->request_id, req->client.id, req->end_user,
		    CR_OUTCOME_GRANTED, 200, "");
		if (directory_log(req, &le, 1, 1) == -1)
			goto out;
	}
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
	/* The chunk's log entries: the refused lines' as they come, the
	   stored ones' after their commit. */
	struct cr_xlog_entry	*log;
	size_t			 nlog;
	size_t			 accepted;
	json_t			*rejected;
	int			 failed;	/* 500: storage */
	int			 unlogged;	/* 503: the log */
	/* The catalogue's last answer: batches mostly repeat a capacity. */
	char			 last_cap[CR_NAME_MAX];
	int			 last_rc;
	struct cr_dir_error	 last_err;
};

static int
batch_flush(struct batch_state *bs)
{
	struct cr_store *st = bs->req->hub->store;
	struct cr_req *req = bs->req;
	size_t i;

	if (bs->n > 0 && st->directory->ops->dir_put_many(st->directory,
	    bs->entries, bs->n, bs->created) != CR_STORE_OK) {
		bs->failed = 1;
		return -1;
	}
	for (i = 0; i < bs->n; i++)
		cr_directory_log_entry(&bs->log[bs->nlog++],
		    CR_DIR_LOG_INTEGRATE, &bs->entries[i], req->request_id,
		    req->client.id, req->end_user, CR_OUTCOME_GRANTED,
		    bs->created[i] ? 201 : 200, "");
	/* One or two group commits for the whole chunk, not one a line. */
	if (cr_xlog_write(req->hub->xlog, bs->log, bs->nlog) == -1) {
		bs->unlogged = 1;
		return -1;
	}
	bs->accepted += bs->n;
	bs->n = 0;
	bs->nlog = 0;
	return 0;
}

static void
batch_reject(struct batch_state *bs, size_t lineno,
    const struct cr_dir_error *err)
{
	json_array_append_new(bs->rejected, json_pack("{s:I,s:{s:s,s:s}}",
	    "line", (json_int_t)lineno, "error", "code", err->code,
	    "message", err->message));
}

static int
batch_line(const char *line, size_t len, size_t lineno, void *arg)
{
	struct batch_state *bs = arg;
	struct cr_req *req = bs->req;
	struct cr_dir_entry *e = &bs->entries[bs->n];
	struct cr_dir_error err;

	if (cr_directory_parse_record(req->hub, line, len,
	    req->client.institution, e, &err) == -1) {
		batch_reject(bs, lineno, &err);
		return 0;
	}
	if (strcmp(e->capacity, bs->last_cap) != 0) {
		bs->last_rc = cr_directory_capacity_allowed(req->hub->store,
		    e->institution, e->capacity, &bs->last_err);
		/* A storage error is not remembered: the next line asks. */
		if (bs->last_rc == 0 || bs->last_err.status == 403)
			cr_util_strlcpy(bs->last_cap, e->capacity,
			    sizeof(bs->last_cap));
	}
	if (bs->last_rc == -1) {
		if (bs->last_err.status != 403) {
			bs->failed = 1;
			return -1;
		}
		batch_reject(bs, lineno, &bs->last_err);
		cr_directory_log_entry(&bs->log[bs->nlog++],
		    CR_DIR_LOG_INTEGRATE, e, req->request_id, req->client.id,
		    req->end_user, CR_OUTCOME_DENIED, 403, bs->last_err.code);
	} else
		bs->n++;
	if (bs->n + bs->nlog == BATCH_CHUNK)
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
	bs.log = calloc(BATCH_CHUNK, sizeof(*bs.log));
	bs.rejected = json_array();
	if (bs.entries == NULL || bs.created == NULL || bs.log == NULL ||
	    bs.rejected == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		goto out;
	}
	if (cr_jsonv_ndjson_lines(req->body ? req->body : "", req->body_len,
	    batch_line, &bs) == -1 || batch_flush(&bs) == -1) {
		if (bs.unlogged)
			cr_http_error(req, 503, "UNAVAILABLE", "the exchange "
			    "log could not be written after %zu accepted "
			    "records; the last chunk (up to %d lines) is "
			    "stored but not logged: send the batch again",
			    bs.accepted, BATCH_CHUNK);
		else
			cr_http_error(req, 500, "INTERNAL", "storage error "
			    "after %zu accepted records", bs.accepted);
		goto out;
	}
	cr_http_reply_json(req, 200, json_pack("{s:I,s:O}", "accepted",
	    (json_int_t)bs.accepted, "rejected", bs.rejected));
out:
	json_decref(bs.rejected);
	free(bs.entries);
	free(bs.created);
	free(bs.log);
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
