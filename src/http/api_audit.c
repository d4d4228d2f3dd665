/*
 * The audit trail over HTTP (docs/audit.md): GET /v1/audit for every
 * operator role, and an authorization's history, which is its part of
 * the trail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "util.h"

#define AUDIT_LIMIT_DEFAULT	100
#define AUDIT_LIMIT_MAX		1000

struct collect {
	json_t	*list;
	size_t	 limit;
	int	 oom;
};

static int
collect_one(const struct cr_audit_entry *e, void *arg)
{
	struct collect *c = arg;
	json_t *j;

	if ((j = cr_audit_entry_json(e)) == NULL ||
	    json_array_append_new(c->list, j) == -1) {
		c->oom = 1;
		return 1;
	}
	return json_array_size(c->list) >= c->limit ? 1 : 0;
}

/* Answers the entries after `after` (of object, unless NULL). */
static void
reply_entries(struct cr_req *req, const char *key, uint64_t after,
    size_t limit, const char *object)
{
	struct cr_store *st = req->hub->store;
	struct collect c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.limit = limit;
	if ((c.list = json_array()) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	rc = st->audit->ops->audit_scan(st->audit, after, object, collect_one,
	    &c);
	if (c.oom) {
		json_decref(c.list);
		cr_http_error(req, 500, "INTERNAL", "out of memory");
	} else if (rc != CR_STORE_OK && rc != 1) {
		json_decref(c.list);
		cr_http_storage_error(req);
	} else
		cr_http_reply_json(req, 200, json_pack("{s:o}", key, c.list));
}

void
cr_api_audit_stage(struct cr_req *req, const char *action, const char *kind,
    const char *id, const json_t *before, const json_t *after)
{
	char object[CR_AUDIT_OBJECT_MAX];

	snprintf(object, sizeof(object), "%s:%s", kind, id);
	cr_audit_stage(req->hub->store, req->actor, action, object, before,
	    after);
}

void
cr_api_audit_done(struct cr_req *req, int changed)
{
	cr_audit_done(req->hub->store, changed);
}

void
cr_api_audit_list(struct cr_req *req)
{
	unsigned long long after = 0, limit = AUDIT_LIMIT_DEFAULT;
	const char *v;

	if (cr_http_require_operator(req) == -1)
		return;
	if ((v = cr_http_query(req, "after")) != NULL &&
	    cr_util_parse_ull(v, 0, ~0ULL >> 1, &after) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "after must be a "
		    "sequence number");
		return;
	}
	if ((v = cr_http_query(req, "limit")) != NULL &&
	    cr_util_parse_ull(v, 1, AUDIT_LIMIT_MAX, &limit) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "limit must be a number "
		    "from 1 to %d", AUDIT_LIMIT_MAX);
		return;
	}
	if ((v = cr_http_query(req, "object")) != NULL &&
	    (!cr_util_utf8_text(v) || strlen(v) >= CR_AUDIT_OBJECT_MAX)) {
		cr_http_error(req, 400, "BAD_REQUEST", "object must be UTF-8 "
		    "text of at most %d bytes", CR_AUDIT_OBJECT_MAX - 1);
		return;
	}
	reply_entries(req, "entries", after, (size_t)limit, v);
}

void
cr_api_authz_history(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	char object[CR_AUDIT_OBJECT_MAX];
	json_t *list, *a;
	size_t i;
	int found = 0;

	if (cr_http_require_operator(req) == -1)
		return;
	/* A deleted authorization has a history too: the trail knows it. */
	if (st->registry->ops->authz_list(st->registry, NULL, &list) !=
	    CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	json_array_foreach(list, i, a)
		if (strcmp(json_string_value(json_object_get(a, "id")),
		    req->params[0]) == 0)
			found = 1;
	json_decref(list);
	if ((size_t)snprintf(object, sizeof(object), "authorization:%s",
	    req->params[0]) >= sizeof(object)) {
		cr_http_error(req, 404, "NOT_FOUND", "no authorization '%s'",
		    req->params[0]);
		return;
	}
	if (!found) {
		struct collect c;

		memset(&c, 0, sizeof(c));
		c.limit = 1;
		if ((c.list = json_array()) == NULL) {
			cr_http_error(req, 500, "INTERNAL", "out of memory");
			return;
		}
		st->audit->ops->audit_scan(st->audit, 0, object, collect_one,
		    &c);
		found = json_array_size(c.list) > 0;
		json_decref(c.list);
		if (!found) {
			cr_http_error(req, 404, "NOT_FOUND", "no authorization "
			    "'%s'", req->params[0]);
			return;
		}
	}
	reply_entries(req, "history", 0, AUDIT_LIMIT_MAX, object);
}
