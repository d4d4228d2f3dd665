/*
 * The capacity catalogue: which institutions, by id or by sector, may
 * declare which capacity in the reference directory (docs/api.md,
 * "Capacities"). Written by the operator, read by anyone authenticated:
 * an institution needs to know what it may declare.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "registry_file.h"
#include "util.h"

/* The body as a checked capacity, or -1 with the error answered. */
static int
capacity_body(struct cr_req *req, const json_t *b, struct cr_capacity *cap)
{
	char msg[256];
	int rc;

	if ((rc = cr_registry_capacity_check(req->hub->store, NULL, b, msg,
	    sizeof(msg))) == -2) {
		cr_http_storage_error(req);
		return -1;
	}
	if (rc == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "capacity '%s': %s",
		    json_string_value(json_object_get(b, "id")), msg);
		return -1;
	}
	cr_registry_capacity_from_json(b, cap);
	return 0;
}

void
cr_api_capacity_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_capacity cap;
	json_t *b, *after = NULL;
	int rc;

	memset(&cap, 0, sizeof(cap));
	if (cr_http_require_role(req, CR_ROLE_SECURITY) == -1 ||
	    (b = cr_http_body_json(req, cr_registry_capacity_spec)) == NULL)
		return;
	if (capacity_body(req, b, &cap) == -1)
		goto out;
	after = cr_registry_capacity_json(&cap);
	cr_api_audit_stage(req, "capacity.create", "capacity", cap.id, NULL,
	    after);
	rc = st->registry->ops->capacity_add(st->registry, &cap);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	if (rc == CR_STORE_EXISTS)
		cr_http_error(req, 409, "CONFLICT", "capacity '%s' exists; "
		    "PUT /v1/capacities/%s changes who may declare it", cap.id,
		    cap.id);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 201, json_incref(after));
out:
	cr_capacity_clear(&cap);
	json_decref(after);
	json_decref(b);
}

void
cr_api_capacity_update(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_capacity cap, old;
	json_t *b, *before = NULL, *after = NULL;
	const char *id;
	int rc;

	memset(&cap, 0, sizeof(cap));
	memset(&old, 0, sizeof(old));
	if (cr_http_require_role(req, CR_ROLE_SECURITY) == -1 ||
	    (b = cr_http_body_json(req, cr_registry_capacity_spec)) == NULL)
		return;
	id = json_string_value(json_object_get(b, "id"));
	if (strcmp(id, req->params[0]) != 0) {
		cr_http_error(req, 400, "BAD_REQUEST", "the body's id '%s' is "
		    "not the path's '%s'", id, req->params[0]);
		goto out;
	}
	if (capacity_body(req, b, &cap) == -1)
		goto out;
	rc = st->registry->ops->capacity_get(st->registry, cap.id, &old);
	if (rc == CR_STORE_OK) {
		before = cr_registry_capacity_json(&old);
		after = cr_registry_capacity_json(&cap);
		cr_api_audit_stage(req, "capacity.update", "capacity", cap.id,
		    before, after);
		rc = st->registry->ops->capacity_update(st->registry, &cap);
		cr_api_audit_done(req, rc == CR_STORE_OK);
	}
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no capacity '%s'",
		    cap.id);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 200, json_incref(after));
out:
	cr_capacity_clear(&old);
	cr_capacity_clear(&cap);
	json_decref(before);
	json_decref(after);
	json_decref(b);
}

void
cr_api_capacity_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *list;

	if (cr_http_require_any(req) == -1)
		return;
	if (st->registry->ops->capacity_list(st->registry, &list) !=
	    CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	cr_http_reply_json(req, 200, json_pack("{s:o}", "capacities", list));
}
