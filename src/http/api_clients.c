/*
 * Client credentials with a lifecycle (docs/api.md, "Client
 * credentials"): listing an institution's client applications (never a
 * token), revoking one, rotating its token with an overlap; the token
 * itself is made here for creation too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api.h"
#include "events.h"
#include "registry_file.h"
#include "usage.h"
#include "util.h"

#define TOKEN_BYTES	32

void
cr_api_token_new(const char *prefix, char token[CR_REGISTRY_TOKEN_LEN + 1],
    uint8_t hash[CR_HASH_LEN])
{
	uint8_t raw[TOKEN_BYTES];

	randombytes_buf(raw, sizeof(raw));
	memcpy(token, prefix, 4);
	cr_util_hex(raw, sizeof(raw), token + 4);
	sodium_memzero(raw, sizeof(raw));
	cr_registry_token_hash(token, hash);
}

/* n digits at s; -1 when one is not a digit. */
static int
num(const char *s, int n)
{
	int v = 0;

	for (; n > 0; n--, s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int
cr_api_time_ms(const char *in, int64_t *ms)
{
	char norm[64], date[CR_DATE_LEN + 1];
	int32_t days;
	int frac = 0, i;

	/* Normalized to UTC: "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z". */
	if (cr_events_parse_time(in, norm, sizeof(norm)) == -1)
		return -1;
	cr_util_strlcpy(date, norm, sizeof(date));
	if (cr_date_to_days(date, &days) == -1)
		return -1;
	if (norm[19] == '.')
		for (i = 0; i < 3; i++)
			frac = frac * 10 + (norm[20 + i] >= '0' &&
			    norm[20 + i] <= '9' ? norm[20 + i] - '0' : 0);
	*ms = ((int64_t)days * 86400 + num(norm + 11, 2) * 3600 +
	    num(norm + 14, 2) * 60 + num(norm + 17, 2)) * 1000 + frac;
	return 0;
}

/* A Unix-ms member of a client_list row as RFC 3339, or JSON null. */
static json_t *
ms_json(int64_t ms)
{
	char ts[CR_TS_LEN + 1];

	if (ms <= 0)
		return json_null();
	cr_util_ms_rfc3339(ms, ts);
	return json_string(ts);
}

static int64_t
row_ms(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* The public view of a client_list row: never a token or its hash. */
static json_t *
client_view(struct cr_req *req, const json_t *o, int64_t now)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	int64_t used = row_ms(o, "last_used_ms"), mine, until;
	json_t *v;

	/* This process's uses not yet written. */
	if ((mine = cr_usage_last(req->hub->usage, id)) > used)
		used = mine;
	until = row_ms(o, "prev_valid_until_ms");
	v = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:n}",
	    "client_id", id, "institution",
	    json_string_value(json_object_get(o, "institution")),
	    "name", json_string_value(json_object_get(o, "name")),
	    "created_at", json_string_value(json_object_get(o, "created_at")),
	    "expires_at", ms_json(row_ms(o, "expires_ms")),
	    "last_used_at", ms_json(used),
	    "revoked_at", ms_json(row_ms(o, "revoked_ms")),
	    /* Set by clients registered with a certificate (TLS). */
	    "cert_sha256");
	/* While the token before the last rotation still works. */
	if (v != NULL)
		json_object_set_new(v, "previous_valid_until",
		    until > now ? ms_json(until) : json_null());
	return v;
}

/* A client's state as the audit trail keeps it: no token, no last use
   (it changes all the time and is no change of the registry). */
static json_t *
client_state(const json_t *o)
{
	return json_pack("{s:O,s:O,s:O,s:O,s:o,s:o,s:o}",
	    "client_id", json_object_get(o, "id"),
	    "institution", json_object_get(o, "institution"),
	    "name", json_object_get(o, "name"),
	    "created_at", json_object_get(o, "created_at"),
	    "expires_at", ms_json(row_ms(o, "expires_ms")),
	    "revoked_at", ms_json(row_ms(o, "revoked_ms")),
	    "previous_valid_until", ms_json(row_ms(o, "prev_valid_until_ms")));
}

/*
 * The client_list row of client id of institution (a new reference), or
 * NULL with the error answered (404, 500).
 */
static json_t *
find_client(struct cr_req *req, const char *institution, const char *id)
{
	struct cr_store *st = req->hub->store;
	json_t *list, *o, *found = NULL;
	size_t i;

	if (st->registry->ops->client_list(st->registry, &list) !=
	    CR_STORE_OK) {
		cr_http_storage_error(req);
		return NULL;
	}
	json_array_foreach(list, i, o)
		if (strcmp(json_string_value(json_object_get(o, "id")), id) ==
		    0 && strcmp(json_string_value(json_object_get(o,
		    "institution")), institution) == 0) {
			found = json_incref(o);
			break;
		}
	json_decref(list);
	if (found == NULL)
		cr_http_error(req, 404, "NOT_FOUND", "no client '%s' of "
		    "institution '%s'", id, institution);
	return found;
}

void
cr_api_client_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_institution in;
	json_t *list, *out, *o, *v;
	int64_t now = cr_util_wall_ms();
	size_t i;
	int rc;

	if (cr_http_require_operator(req) == -1)
		return;
	rc = st->registry->ops->institution_get(st->registry, req->params[0],
	    &in);
	if (rc == CR_STORE_NOTFOUND) {
		cr_http_error(req, 404, "NOT_FOUND", "no institution '%s'",
		    req->params[0]);
		return;
	}
	if (rc != CR_STORE_OK || st->registry->ops->client_list(st->registry,
	    &list) != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	if ((out = json_array()) == NULL)
		goto oom;
	json_array_foreach(list, i, o) {
		if (strcmp(json_string_value(json_object_get(o, "institution")),
		    in.id) != 0)
			continue;
		if ((v = client_view(req, o, now)) == NULL ||
		    json_array_append_new(out, v) == -1)
			goto oom;
	}
	json_decref(list);
	cr_http_reply_json(req, 200, json_pack("{s:o}", "clients", out));
	return;
oom:
	json_decref(out);
	json_decref(list);
	cr_http_error(req, 500, "INTERNAL", "out of memory");
}

void
cr_api_client_revoke(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	int64_t now = cr_util_wall_ms();
	json_t *row, *before = NULL, *after = NULL;
	char *empty;
	int rc;

	if (cr_http_require_role(req, CR_ROLE_SECURITY) == -1 ||
	    (row = find_client(req, req->params[0], req->params[1])) == NULL)
		return;
	/* Revoked again: nothing changes, nothing to audit. */
	if (row_ms(row, "revoked_ms") == 0) {
		before = client_state(row);
		json_object_set_new(row, "revoked_ms", json_integer(now));
		after = client_state(row);
		cr_api_audit_stage(req, "client.revoke", "client",
		    req->params[1], before, after);
	}
	rc = st->registry->ops->client_revoke(st->registry, req->params[0],
	    req->params[1], now);
	if (before != NULL)
		cr_api_audit_done(req, rc == CR_STORE_OK);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no client '%s' of "
		    "institution '%s'", req->params[1], req->params[0]);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else if ((empty = strdup("")) != NULL)
		cr_http_reply(req, 204, "application/json", empty, 0);
	else
		cr_http_error(req, 500, "INTERNAL", "out of memory");
	json_decref(before);
	json_decref(after);
	json_decref(row);
}

const struct cr_jsonv_field cr_api_rotate_spec[] = {
	{ "overlap_seconds", CR_JV_INT, 0, 0, 0, 90 * 86400 },
	CR_JSONV_END
};

void
cr_api_client_rotate(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	char token[CR_REGISTRY_TOKEN_LEN + 1];
	uint8_t hash[CR_HASH_LEN];
	json_t *b = NULL, *row = NULL, *ov, *before = NULL, *after = NULL;
	int64_t overlap_ms, until;
	int rc;

	if (cr_http_require_role(req, CR_ROLE_SECURITY) == -1)
		return;
	/* The body is optional: no body, the configured overlap. */
	if (req->body_len > 0 &&
	    (b = cr_http_body_json(req, cr_api_rotate_spec)) == NULL)
		return;
	overlap_ms = (int64_t)req->hub->cfg.client_rotate_overlap_s * 1000;
	if ((ov = json_object_get(b, "overlap_seconds")) != NULL)
		overlap_ms = (int64_t)json_integer_value(ov) * 1000;
	if ((row = find_client(req, req->params[0], req->params[1])) == NULL)
		goto out;
	if (row_ms(row, "revoked_ms") > 0) {
		cr_http_error(req, 409, "CONFLICT", "client '%s' is revoked",
		    req->params[1]);
		goto out;
	}
	cr_api_token_new(CR_REGISTRY_TOKEN_PREFIX, token, hash);
	until = cr_util_wall_ms() + overlap_ms;
	before = client_state(row);
	json_object_set_new(row, "prev_valid_until_ms", json_integer(until));
	after = client_state(row);
	cr_api_audit_stage(req, "client.rotate", "client", req->params[1],
	    before, after);
	rc = st->registry->ops->client_rotate(st->registry, req->params[0],
	    req->params[1], hash, until);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 409, "CONFLICT", "client '%s' is revoked",
		    req->params[1]);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 201, json_pack("{s:s,s:s,s:o}",
		    "client_id", req->params[1], "token", token,
		    "previous_valid_until", ms_json(until)));
	sodium_memzero(token, sizeof(token));
out:
	json_decref(before);
	json_decref(after);
	json_decref(row);
	json_decref(b);
}
