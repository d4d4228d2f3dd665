/*
 * Named operator accounts (docs/api.md, "Operators and roles"): created,
 * listed, revoked and given a new token by an admin, or by a security
 * operator for accounts other than admins (so that security cannot make
 * itself admin). The bootstrap token (CROSSROADS_ADMIN_TOKEN) is no
 * account: it cannot be listed or revoked here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api.h"
#include "registry_file.h"
#include "util.h"

const struct cr_jsonv_field cr_api_operator_spec[] = {
	{ "name", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "role", CR_JV_STRING, 1, CR_ROLE_NAME_MAX - 1, 0, 0 },
	CR_JSONV_END
};

/* 403 unless the caller may manage an account of that role. */
static int
may_manage(struct cr_req *req, const char *role)
{
	if (req->role == CR_ROLE_ADMIN || strcmp(role, "admin") != 0)
		return 0;
	cr_http_error(req, 403, "NOT_AUTHORIZED", "only an admin manages "
	    "admin operators");
	return -1;
}

static json_t *
ms_json(const json_t *v)
{
	char ts[CR_TS_LEN + 1];

	if (!json_is_integer(v))
		return json_null();
	cr_util_ms_rfc3339((int64_t)json_integer_value(v), ts);
	return json_string(ts);
}

static json_t *
operator_view(const json_t *o)
{
	return json_pack("{s:O,s:O,s:O,s:O,s:o}",
	    "operator_id", json_object_get(o, "id"),
	    "name", json_object_get(o, "name"),
	    "role", json_object_get(o, "role"),
	    "created_at", json_object_get(o, "created_at"),
	    "revoked_at", ms_json(json_object_get(o, "revoked_ms")));
}

/* The operator_list row of id (new reference), or NULL answered (404,
   500). */
static json_t *
find_operator(struct cr_req *req, const char *id)
{
	struct cr_store *st = req->hub->store;
	json_t *list, *o, *found = NULL;
	size_t i;

	if (st->registry->ops->operator_list(st->registry, &list) !=
	    CR_STORE_OK) {
		cr_http_storage_error(req);
		return NULL;
	}
	json_array_foreach(list, i, o)
		if (strcmp(json_string_value(json_object_get(o, "id")), id) ==
		    0) {
			found = json_incref(o);
			break;
		}
	json_decref(list);
	if (found == NULL)
		cr_http_error(req, 404, "NOT_FOUND", "no operator '%s'", id);
	return found;
}

void
cr_api_operator_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	char token[CR_REGISTRY_TOKEN_LEN + 1];
	uint8_t hash[CR_HASH_LEN];
	struct cr_operator op;
	json_t *b, *audit;
	int rc;

	if (cr_http_require_role(req, CR_ROLE_SECURITY) == -1 ||
	    (b = cr_http_body_json(req, cr_api_operator_spec)) == NULL)
		return;
	memset(&op, 0, sizeof(op));
	cr_util_uuid(op.id);
	cr_util_strlcpy(op.name, json_string_value(json_object_get(b, "name")),
	    sizeof(op.name));
	cr_util_strlcpy(op.role, json_string_value(json_object_get(b, "role")),
	    sizeof(op.role));
	/* Names are actors in the audit trail: "admin" is the bootstrap
	   token's. */
	if (!cr_registry_valid_id(op.name) || strcmp(op.name, "admin") == 0) {
		cr_http_error(req, 400, "BAD_REQUEST", "operator name '%s' may "
		    "only contain letters, digits, '.', '_' and '-', and is not "
		    "'admin'", op.name);
		goto out;
	}
	if (cr_http_role_bit(op.role) == 0) {
		cr_http_error(req, 400, "BAD_REQUEST", "role must be 'admin', "
		    "'auditor' or 'security'");
		goto out;
	}
	if (may_manage(req, op.role) == -1)
		goto out;
	cr_api_token_new(CR_OPERATOR_TOKEN_PREFIX, token, hash);
	audit = json_pack("{s:s,s:s,s:s}", "operator_id", op.id, "name",
	    op.name, "role", op.role);
	cr_api_audit_stage(req, "operator.create", "operator", op.id, NULL,
	    audit);
	rc = st->registry->ops->operator_add(st->registry, &op, hash);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	json_decref(audit);
	if (rc == CR_STORE_EXISTS)
		cr_http_error(req, 409, "CONFLICT", "operator '%s' exists",
		    op.name);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 201, json_pack("{s:s,s:s,s:s,s:s}",
		    "operator_id", op.id, "name", op.name, "role", op.role,
		    "token", token));
	sodium_memzero(token, sizeof(token));
out:
	json_decref(b);
}

void
cr_api_operator_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *list, *out, *o, *v;
	size_t i;

	if (cr_http_require_operator(req) == -1)
		return;
	if (st->registry->ops->operator_list(st->registry, &list) !=
	    CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	if ((out = json_array()) == NULL)
		goto oom;
	json_array_foreach(list, i, o)
		if ((v = operator_view(o)) == NULL ||
		    json_array_append_new(out, v) == -1)
			goto oom;
	json_decref(list);
	cr_http_reply_json(req, 200, json_pack("{s:o}", "operators", out));
	return;
oom:
	json_decref(out);
	json_decref(list);
	cr_http_error(req, 500, "INTERNAL", "out of memory");
}

void
cr_api_operator_revoke(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *row, *before = NULL, *after = NULL;
	int64_t now;
	char *empty;
	int rc;

	if (cr_http_require_role(req, CR_ROLE_SECURITY) == -1 ||
	    (row = find_operator(req, req->params[0])) == NULL)
		return;
	if (may_manage(req, json_string_value(json_object_get(row,
	    "role"))) == -1)
		goto out;
	now = cr_util_wall_ms();
	if (json_is_null(json_object_get(row, "revoked_ms"))) {
		before = operator_view(row);
		json_object_set_new(row, "revoked_ms", json_integer(now));
		after = operator_view(row);
		cr_api_audit_stage(req, "operator.revoke", "operator",
		    req->params[0], before, after);
	}
	rc = st->registry->ops->operator_revoke(st->registry, req->params[0],
	    now);
	if (before != NULL)
		cr_api_audit_done(req, rc == CR_STORE_OK);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no operator '%s'",
		    req->params[0]);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else if ((empty = strdup("")) != NULL)
		cr_http_reply(req, 204, "application/json", empty, 0);
	else
		cr_http_error(req, 500, "INTERNAL", "out of memory");
out:
	json_decref(before);
	json_decref(after);
	json_decref(row);
}

void
cr_api_operator_rotate(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	char token[CR_REGISTRY_TOKEN_LEN + 1];
	uint8_t hash[CR_HASH_LEN];
	json_t *row, *state;
	int rc;

	if (cr_http_require_role(req, CR_ROLE_SECURITY) == -1 ||
	    (row = find_operator(req, req->params[0])) == NULL)
		return;
	if (may_manage(req, json_string_value(json_object_get(row,
	    "role"))) == -1)
		goto out;
	cr_api_token_new(CR_OPERATOR_TOKEN_PREFIX, token, hash);
	state = operator_view(row);
	cr_api_audit_stage(req, "operator.rotate", "operator", req->params[0],
	    state, state);
	rc = st->registry->ops->operator_rotate(st->registry, req->params[0],
	    hash);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	json_decref(state);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 409, "CONFLICT", "operator '%s' is revoked",
		    req->params[0]);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 201, json_pack("{s:s,s:s}",
		    "operator_id", req->params[0], "token", token));
	sodium_memzero(token, sizeof(token));
out:
	json_decref(row);
}
