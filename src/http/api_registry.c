/* Registry: institutions, client applications, services, authorizations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api.h"
#include "authz.h"
#include "cert.h"
#include "config.h"
#include "jsonv.h"
#include "registry_file.h"
#include "util.h"

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static int
require_valid_id(struct cr_req *req, const char *what, const char *id)
{
	/* Identifiers appear in URLs and logs: a safe alphabet only. */
	if (cr_registry_valid_id(id))
		return 0;
	cr_http_error(req, 400, "BAD_REQUEST", "%s '%s' may only contain "
	    "letters, digits, '.', '_' and '-'", what, id);
	return -1;
}

void
cr_api_institution_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_institution in;
	json_t *b;
	int rc;

	if (cr_http_require_operator(req) == -1 ||
	    (b = cr_http_body_json(req, cr_registry_institution_spec)) == NULL)
		return;
	memset(&in, 0, sizeof(in));
	cr_util_strlcpy(in.id, jstr(b, "id"), sizeof(in.id));
	cr_util_strlcpy(in.name, jstr(b, "name"), sizeof(in.name));
	cr_util_strlcpy(in.sector, jstr(b, "sector"), sizeof(in.sector));
	if (require_valid_id(req, "institution id", in.id) == -1)
		goto out;
	cr_api_audit_stage(req, "institution.create", "institution", in.id,
	    NULL, b);
	rc = st->registry->ops->institution_add(st->registry, &in);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	if (rc == CR_STORE_EXISTS)
		cr_http_error(req, 409, "CONFLICT", "institution '%s' exists",
		    in.id);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 201, json_incref(b));
out:
	json_decref(b);
}

void
cr_api_institution_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *list;

	if (cr_http_require_operator(req) == -1)
		return;
	if (st->registry->ops->institution_list(st->registry,
	    &list) != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	cr_http_reply_json(req, 200, json_pack("{s:o}", "institutions", list));
}

const struct cr_jsonv_field cr_api_client_spec[] = {
	{ "name", CR_JV_STRING, 1, CR_TEXT_MAX - 1, 0, 0 },
	{ "certificate", CR_JV_STRING, 0, CR_CERT_PEM_MAX, 0, 0 },
	{ "expires_at", CR_JV_STRING, 0, 64, 0, 0 },	/* RFC 3339 */
	CR_JSONV_END
};

/*
 * The client's certificate, when the body has one, as its fingerprint in
 * cl->cert_sha256. 0, or -1 answered.
 */
static int
client_certificate(struct cr_req *req, const json_t *b, struct cr_client *cl)
{
	uint8_t fp[CR_CERT_SHA256_LEN];
	const json_t *pem = json_object_get(b, "certificate");
	char err[128];

	if (pem == NULL || json_is_null(pem))
		return 0;
	/* Else the client could never authenticate here (http.c). */
	if (req->hub->cfg.tls_client_auth == CR_TLS_CLIENT_NONE) {
		cr_http_error(req, 400, "BAD_REQUEST", "this hub does not "
		    "verify client certificates (tls_client_ca)");
		return -1;
	}
	if (cr_cert_sha256_pem(json_string_value(pem),
	    json_string_length(pem), fp, err, sizeof(err)) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "certificate: %s", err);
		return -1;
	}
	cr_util_hex(fp, sizeof(fp), cl->cert_sha256);
	return 0;
}

void
cr_api_client_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_client cl;
	uint8_t hash[CR_HASH_LEN];
	char token[CR_REGISTRY_TOKEN_LEN + 1];
	const char *exp;
	json_t *b, *audit;
	int rc;

	if (cr_http_require_role(req, CR_ROLE_SECURITY) == -1 ||
	    (b = cr_http_body_json(req, cr_api_client_spec)) == NULL)
		return;
	memset(&cl, 0, sizeof(cl));
	/* Longer than any institution id: cut, it could name another. */
	if (strlen(req->params[0]) >= sizeof(cl.institution)) {
		cr_http_error(req, 404, "NOT_FOUND", "no institution '%s'",
		    req->params[0]);
		json_decref(b);
		return;
	}
	cr_util_uuid(cl.id);
	cr_util_strlcpy(cl.institution, req->params[0], sizeof(cl.institution));
	cr_util_strlcpy(cl.name, jstr(b, "name"), sizeof(cl.name));
	exp = json_string_value(json_object_get(b, "expires_at"));
	if (exp != NULL && (cr_api_time_ms(exp, &cl.expires_ms) == -1 ||
	    cl.expires_ms <= cr_util_wall_ms())) {
		cr_http_error(req, 400, "BAD_REQUEST", "expires_at must be an "
		    "RFC 3339 time in the future");
		json_decref(b);
		return;
	}
	if (client_certificate(req, b, &cl) == -1) {
		json_decref(b);
		return;
	}
	/* The token is shown once; only its hash is kept. */
	cr_api_token_new(CR_REGISTRY_TOKEN_PREFIX, token, hash);
	audit = json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "client_id", cl.id,
	    "institution", cl.institution, "name", cl.name, "expires_at", exp,
	    "cert_sha256", cl.cert_sha256[0] != '\0' ? cl.cert_sha256 : NULL);
	cr_api_audit_stage(req, "client.create", "client", cl.id, NULL, audit);
	rc = st->registry->ops->client_add(st->registry, &cl, hash);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	json_decref(audit);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no institution '%s'",
		    cl.institution);
	else if (rc == CR_STORE_EXISTS)
		cr_http_error(req, 409, "CONFLICT", "another client is "
		    "registered with this certificate");
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 201, json_pack(
		    "{s:s,s:s,s:s,s:s,s:s?,s:s?}", "client_id", cl.id,
		    "institution", cl.institution, "name", cl.name, "token", token, "expires_at", exp,
		    "cert_sha256", cl.cert_sha256[0] != '\0' ?
		    cl.cert_sha256 : NULL));
	sodium_memzero(token, sizeof(token));
	json_decref(b);
}

void
cr_api_service_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_service svc;
	json_t *b, *kind, *to;
	struct cr_event_type et;
	char err[256];
	int rc;

	if (cr_http_require_operator(req) == -1 ||
	    (b = cr_http_body_json(req, cr_registry_service_spec)) == NULL)
		return;
	memset(&et, 0, sizeof(et));
	memset(&svc, 0, sizeof(svc));
	cr_util_strlcpy(svc.id, jstr(b, "id"), sizeof(svc.id));
	cr_util_strlcpy(svc.provider, jstr(b, "provider"), sizeof(svc.provider));
	cr_util_strlcpy(svc.endpoint, jstr(b, "endpoint"), sizeof(svc.endpoint));
	kind = json_object_get(b, "subject_kind");
	cr_util_strlcpy(svc.subject_kind, kind ? json_string_value(kind) :
	    "person", sizeof(svc.subject_kind));
	svc.fields = json_object_get(b, "fields");
	svc.params = json_object_get(b, "params");
	to = json_object_get(b, "timeout_ms");
	svc.timeout_ms = to ? (int)json_integer_value(to) : 2000;
	if (require_valid_id(req, "service id", svc.id) == -1)
		goto out;
	if (cr_authz_fields_check(svc.fields, err, sizeof(err)) == -1 ||
	    cr_authz_params_decl_check(svc.params, err, sizeof(err)) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "%s", err);
		goto out;
	}
	if (strcmp(svc.subject_kind, "person") != 0 &&
	    strcmp(svc.subject_kind, "enterprise") != 0) {
		cr_http_error(req, 400, "BAD_REQUEST", "subject_kind must be "
		    "'person' or 'enterprise'");
		goto out;
	}
	if (strncmp(svc.endpoint, "http://", 7) != 0 &&
	    strncmp(svc.endpoint, "https://", 8) != 0) {
		cr_http_error(req, 400, "BAD_REQUEST", "endpoint must be an "
		    "http:// or https:// URL");
		goto out;
	}
	if (cr_registry_service_tls(b, &svc, err, sizeof(err)) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "%s", err);
		goto out;
	}
	/* Authorizations name services and event types alike: one id space. */
	rc = st->events->ops->event_type_get(st->events, svc.id, &et);
	if (rc == CR_STORE_OK)
		rc = CR_STORE_EXISTS;
	else if (rc == CR_STORE_NOTFOUND) {
		cr_api_audit_stage(req, "service.create", "service", svc.id,
		    NULL, b);
		rc = st->registry->ops->service_add(st->registry, &svc);
		cr_api_audit_done(req, rc == CR_STORE_OK);
	}
	if (rc == CR_STORE_EXISTS)
		cr_http_error(req, 409, "CONFLICT", "'%s' is already a service "
		    "or an event type",
		    svc.id);
	else if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no institution '%s' to "
		    "provide the service", svc.provider);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else {
		json_object_set_new(b, "subject_kind",
		    json_string(svc.subject_kind));
		json_object_set_new(b, "timeout_ms",
		    json_integer(svc.timeout_ms));
		if (svc.params == NULL)
			json_object_set_new(b, "params", json_array());
		cr_http_reply_json(req, 201, json_incref(b));
	}
out:
	cr_event_type_clear(&et);
	json_decref(b);
}

void
cr_api_service_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *list, *s;
	size_t i;

	if (cr_http_require_any(req) == -1)
		return;
	if (st->registry->ops->service_list(st->registry,
	    &list) != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	/* Where a source lives is the operator's business only. */
	if (req->principal != CR_PRINCIPAL_OPERATOR)
		json_array_foreach(list, i, s) {
			json_object_del(s, "endpoint");
			json_object_del(s, "ca_file");
			json_object_del(s, "client_cert");
			json_object_del(s, "client_key");
		}
	cr_http_reply_json(req, 200, json_pack("{s:o}", "services", list));
}

void
cr_api_authz_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_institution in;
	struct cr_service svc;
	struct cr_event_type et;
	struct cr_authz a;
	const json_t *allowed = NULL;
	const char *missing;
	char err[256];
	json_t *b, *audit;
	int rc;

	if (cr_http_require_operator(req) == -1 ||
	    (b = cr_http_body_json(req, cr_registry_authz_spec)) == NULL)
		return;
	memset(&svc, 0, sizeof(svc));
	memset(&et, 0, sizeof(et));
	cr_authz_from_json(b, &a);
	cr_util_uuid(a.id);
	if (a.valid_to[0] && strcmp(a.valid_to, a.valid_from) < 0) {
		cr_http_error(req, 400, "BAD_REQUEST", "valid_to is before "
		    "valid_from");
		goto out;
	}
	rc = st->registry->ops->institution_get(st->registry, a.consumer, &in);
	if (rc == CR_STORE_NOTFOUND) {
		cr_http_error(req, 404, "NOT_FOUND", "no institution '%s'",
		    a.consumer);
		goto out;
	}
	/* Event types are authorized like services (for subscriptions). */
	if (rc == CR_STORE_OK &&
	    (rc = st->registry->ops->service_get(st->registry,
	    a.service, &svc)) == CR_STORE_OK)
		allowed = svc.fields;
	else if (rc == CR_STORE_NOTFOUND &&
	    (rc = st->events->ops->event_type_get(st->events,
	    a.service, &et)) == CR_STORE_OK)
		allowed = et.fields;
	if (rc == CR_STORE_NOTFOUND) {
		cr_http_error(req, 404, "UNKNOWN_SERVICE", "no service or event "
		    "type '%s'", a.service);
		goto out;
	}
	if (rc != CR_STORE_OK)
		goto internal;
	/* Data minimization starts here: grant only what the service
	   declares (paths); an event type's fields are plain names. */
	if (svc.id[0]) {
		if (cr_authz_grant_check(a.fields, allowed, svc.id, err,
		    sizeof(err)) == -1) {
			cr_http_error(req, 400, "BAD_REQUEST", "%s", err);
			goto out;
		}
	} else if ((missing = cr_authz_fields_missing(a.fields, allowed)) !=
	    NULL) {
		cr_http_error(req, 400, "BAD_REQUEST", "field '%s' is not a "
		    "field of event type %s", missing, et.id);
		goto out;
	}
	audit = cr_authz_json(&a);
	cr_api_audit_stage(req, "authorization.create", "authorization", a.id,
	    NULL, audit);
	rc = st->registry->ops->authz_add(st->registry, &a);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	if (rc != CR_STORE_OK) {
		json_decref(audit);
		goto internal;
	}
	cr_http_reply_json(req, 201, audit);
	goto out;
internal:
	cr_http_storage_error(req);
out:
	cr_service_clear(&svc);
	cr_event_type_clear(&et);
	cr_authz_clear(&a);
	json_decref(b);
}

void
cr_api_authz_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *list;

	if (cr_http_require_operator(req) == -1)
		return;
	if (st->registry->ops->authz_list(st->registry,
	    cr_http_query(req, "consumer"), &list)
	    != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	cr_http_reply_json(req, 200, json_pack("{s:o}", "authorizations",
	    list));
}

/* The authorization id as listed (new reference), or NULL: none. */
static json_t *
authz_by_id(struct cr_store *st, const char *id, int *rc)
{
	json_t *list, *a, *found = NULL;
	size_t i;

	if ((*rc = st->registry->ops->authz_list(st->registry, NULL,
	    &list)) != CR_STORE_OK)
		return NULL;
	json_array_foreach(list, i, a)
		if (strcmp(json_string_value(json_object_get(a, "id")), id) ==
		    0) {
			found = json_incref(a);
			break;
		}
	json_decref(list);
	*rc = found != NULL ? CR_STORE_OK : CR_STORE_NOTFOUND;
	return found;
}

void
cr_api_authz_delete(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *before;
	char *empty;
	int rc;

	if (cr_http_require_operator(req) == -1)
		return;
	before = authz_by_id(st, req->params[0], &rc);
	if (rc == CR_STORE_OK) {
		cr_api_audit_stage(req, "authorization.delete",
		    "authorization", req->params[0], before, NULL);
		rc = st->registry->ops->authz_delete(st->registry,
		    req->params[0]);
		cr_api_audit_done(req, rc == CR_STORE_OK);
	}
	json_decref(before);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no authorization '%s'",
		    req->params[0]);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else if ((empty = strdup("")) != NULL)
		cr_http_reply(req, 204, "application/json", empty, 0);
}

const struct cr_jsonv_field cr_api_authz_patch_spec[] = {
	{ "fields", CR_JV_STRING_ARRAY, 0, CR_FIELD_PATH_MAX - 1, 0, 200 },
	{ "valid_from", CR_JV_DATE, 0, 0, 0, 0 },
	{ "valid_to", CR_JV_DATE_OR_NULL, 0, 0, 0, 0 },
	CR_JSONV_END
};

/*
 * The new fields of a narrowed authorization: each one granted already
 * (or under a granted path) and, for a service, a path it declares. 0, or
 * -1 answered (409 for a widening, 500).
 */
static int
patch_fields(struct cr_req *req, const struct cr_authz *a, const json_t *nf)
{
	struct cr_store *st = req->hub->store;
	struct cr_service svc;
	const char *f;
	char err[256];
	int rc;

	memset(&svc, 0, sizeof(svc));
	if ((f = cr_authz_fields_uncovered(nf, a->fields)) != NULL) {
		cr_http_error(req, 409, "CONFLICT", "field '%s' is not granted "
		    "now: widening an authorization is a new authorization", f);
		return -1;
	}
	rc = st->registry->ops->service_get(st->registry, a->service, &svc);
	if (rc == CR_STORE_OK) {
		rc = cr_authz_grant_check(nf, svc.fields, svc.id, err,
		    sizeof(err));
		cr_service_clear(&svc);
		if (rc == -1) {
			cr_http_error(req, 400, "BAD_REQUEST", "%s", err);
			return -1;
		}
		return 0;
	}
	if (rc != CR_STORE_NOTFOUND) {
		cr_http_storage_error(req);
		return -1;
	}
	/* An event type's fields are names: a subset of the granted ones. */
	if ((f = cr_authz_fields_missing(nf, a->fields)) != NULL) {
		cr_http_error(req, 409, "CONFLICT", "field '%s' is not granted "
		    "now: widening an authorization is a new authorization", f);
		return -1;
	}
	return 0;
}

void
cr_api_authz_update(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_authz a;
	json_t *b, *before = NULL, *after = NULL, *v;
	const char *d;
	int rc;

	memset(&a, 0, sizeof(a));
	if (cr_http_require_operator(req) == -1 ||
	    (b = cr_http_body_json(req, cr_api_authz_patch_spec)) == NULL)
		return;
	if (json_object_size(b) == 0) {
		cr_http_error(req, 400, "BAD_REQUEST", "nothing to change: "
		    "give fields, valid_from or valid_to");
		goto out;
	}
	if ((before = authz_by_id(st, req->params[0], &rc)) == NULL) {
		if (rc == CR_STORE_NOTFOUND)
			cr_http_error(req, 404, "NOT_FOUND", "no authorization "
			    "'%s'", req->params[0]);
		else
			cr_http_storage_error(req);
		goto out;
	}
	cr_authz_from_json(before, &a);
	cr_util_strlcpy(a.id, req->params[0], sizeof(a.id));
	/* Ending sooner or starting later narrows; the reverse widens. */
	if ((d = json_string_value(json_object_get(b, "valid_from"))) != NULL) {
		if (strcmp(d, a.valid_from) < 0) {
			cr_http_error(req, 409, "CONFLICT", "valid_from %s is "
			    "before %s: widening an authorization is a new "
			    "authorization", d, a.valid_from);
			goto out;
		}
		cr_util_strlcpy(a.valid_from, d, sizeof(a.valid_from));
	}
	if ((v = json_object_get(b, "valid_to")) != NULL) {
		d = json_string_value(v);
		if (a.valid_to[0] != '\0' && (d == NULL ||
		    strcmp(d, a.valid_to) > 0)) {
			cr_http_error(req, 409, "CONFLICT", "the authorization "
			    "ends on %s: widening an authorization is a new "
			    "authorization", a.valid_to);
			goto out;
		}
		if (d != NULL)
			cr_util_strlcpy(a.valid_to, d, sizeof(a.valid_to));
	}
	if (a.valid_to[0] != '\0' && strcmp(a.valid_to, a.valid_from) < 0) {
		cr_http_error(req, 400, "BAD_REQUEST", "valid_to is before "
		    "valid_from");
		goto out;
	}
	if ((v = json_object_get(b, "fields")) != NULL) {
		if (patch_fields(req, &a, v) == -1)
			goto out;
		json_decref(a.fields);
		a.fields = json_incref(v);
	}
	after = cr_authz_json(&a);
	cr_api_audit_stage(req, "authorization.update", "authorization", a.id,
	    before, after);
	rc = st->registry->ops->authz_update(st->registry, &a);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no authorization '%s'",
		    a.id);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 200, json_incref(after));
out:
	json_decref(after);
	json_decref(before);
	cr_authz_clear(&a);
	json_decref(b);
}
