/*
 * Bundles and verifications (docs/verification.md): the operator defines
 * bundles; clients run verifications, which suspend the request until
 * every consultation is in or the bundle's deadline has passed.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "bundle.h"
#include "jsonv.h"
#include "verify.h"

const struct cr_jsonv_field cr_api_verify_spec[] = {
	{ "subject", CR_JV_STRING, 1, 64, 0, 0 },
	{ "purpose", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "household", CR_JV_BOOL, 0, 0, 0, 0 },
	{ "reference_date", CR_JV_DATE, 0, 0, 0, 0 },
	CR_JSONV_END
};

void
cr_api_bundle_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_bundle *b = NULL;
	struct cr_service svc;
	json_t *body = NULL;
	char err[512];
	size_t i;
	int rc;

	memset(&svc, 0, sizeof(svc));
	if (cr_http_require_operator(req) == -1)
		return;
	if (cr_jsonv_parse_object(req->body ? req->body : "", req->body_len,
	    &body, err, sizeof(err)) == -1 ||
	    cr_bundle_parse(body, &b, err, sizeof(err)) == -1) {
		cr_http_error(req, 400, "BAD_REQUEST", "%s", err);
		goto out;
	}
	/* A bundle names services that exist: a typo fails here, not at
	   every verification. */
	for (i = 0; i < b->nservices; i++) {
		rc = st->registry->ops->service_get(st->registry,
		    b->services[i], &svc);
		cr_service_clear(&svc);
		if (rc == CR_STORE_NOTFOUND) {
			cr_http_error(req, 400, "BAD_REQUEST", "services[%zu]: "
			    "no service '%s'", i, b->services[i]);
			goto out;
		}
		if (rc != CR_STORE_OK) {
			cr_http_storage_error(req);
			goto out;
		}
	}
	cr_api_audit_stage(req, "bundle.create", "bundle", b->id, NULL, b->def);
	rc = st->batches->ops->bundle_add(st->batches, b->id, b->def);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	if (rc == CR_STORE_EXISTS)
		cr_http_error(req, 409, "CONFLICT", "bundle '%s' exists", b->id);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 201, json_incref(b->def));
out:
	cr_bundle_free(b);
	json_decref(body);
}

void
cr_api_bundle_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *list;

	if (cr_http_require_any(req) == -1)
		return;
	if (st->batches->ops->bundle_list(st->batches, &list) != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	cr_http_reply_json(req, 200, json_pack("{s:o}", "bundles", list));
}

void
cr_api_bundle_get(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *def;
	int rc;

	if (cr_http_require_any(req) == -1)
		return;
	rc = st->batches->ops->bundle_get(st->batches, req->params[0], &def);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no bundle '%s'",
		    req->params[0]);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_http_reply_json(req, 200, def);
}

/* Runs on a worker thread after the resume: rules and answer there. */
static void
verify_reply(struct cr_req *req)
{
	struct cr_verification *v = req->ctx;
	json_t *j;

	if (v == NULL || (j = cr_verify_answer(v)) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	cr_http_reply_json(req, 200, j);
}

static void
verify_done(void *arg, struct cr_verification *v)
{
	struct cr_req *req = arg;

	req->ctx = v;
	req->ctx_free = (void (*)(void *))cr_verify_release;
	req->on_resume = verify_reply;
	cr_http_resume(req);
}

int
cr_api_bundle_load(struct cr_req *req, const char *id, struct cr_bundle **out)
{
	char err[512];

	switch (cr_bundle_load(req->hub->store, id, out, NULL, err,
	    sizeof(err))) {
	case CR_STORE_OK:
		return 0;
	case CR_STORE_NOTFOUND:
		cr_http_error(req, 404, "NOT_FOUND", "no bundle '%s'", id);
		break;
	case CR_BUNDLE_INVALID:
		cr_http_error(req, 500, "INTERNAL", "stored bundle '%s' is "
		    "invalid: %s", id, err);
		break;
	default:
		cr_http_storage_error(req);
		break;
	}
	return -1;
}

void
cr_api_verify(struct cr_req *req)
{
	struct cr_verify_req vr;
	struct cr_bundle *b = NULL;
	json_t *body = NULL;
	const char *subject;
	char norm[CR_SUBJECT_MAX];

	if (cr_http_require_client(req) == -1 ||
	    (body = cr_http_body_json(req, cr_api_verify_spec)) == NULL)
		return;
	if (cr_api_bundle_load(req, req->params[0], &b) == -1)
		goto out;
	/* Refused here once rather than by each consultation. */
	subject = json_string_value(json_object_get(body, "subject"));
	if (cr_ident_normalize(req->hub->person_scheme, subject, norm,
	    sizeof(norm)) == -1 && cr_ident_normalize(
	    req->hub->enterprise_scheme, subject, norm, sizeof(norm)) == -1) {
		cr_http_error(req, 400, "INVALID_SUBJECT", "'%s' is not a "
		    "valid identifier", subject);
		goto out;
	}
	memset(&vr, 0, sizeof(vr));
	vr.consumer = req->client.institution;
	vr.client_id = req->client.id;
	vr.end_user = req->end_user;
	vr.request_id = req->request_id;
	vr.subject = norm;
	vr.purpose = json_string_value(json_object_get(body, "purpose"));
	vr.reference_date = json_string_value(json_object_get(body,
	    "reference_date"));
	vr.household = json_is_true(json_object_get(body, "household"));
	cr_http_suspend(req);
	cr_verify_start(req->hub, b, &vr, verify_done, req);
	b = NULL;
out:
	cr_bundle_free(b);
	json_decref(body);
}
