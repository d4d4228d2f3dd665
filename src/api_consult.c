#include <stdio.h>
#include <string.h>

#include "api.h"
#include "consult.h"
#include "jsonv.h"
#include "metrics.h"
#include "util.h"

static const struct cr_jsonv_field consult_spec[] = {
	{ "subject", CR_JV_STRING, 1, 64, 0, 0 },
	{ "purpose", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "params", CR_JV_OBJECT, 0, 0, 0, 0 },
	{ "reference_date", CR_JV_DATE, 0, 0, 0, 0 },
	CR_JSONV_END
};

/* Runs on a worker thread after the resume: builds the answer there. */
static void
consult_reply(struct cr_req *req)
{
	struct cr_consult_result *res = req->ctx;
	json_t *j;

	cr_metrics_consult(cr_util_mono_ms() - req->start_ms);
	if (res == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	if (res->status != 200) {
		cr_http_error(req, res->status, res->error_code, "%s",
		    res->message);
		return;
	}
	j = json_pack("{s:s,s:s,s:s,s:s,s:O}", "request_id", req->request_id,
	    "service", res->service, "source", res->provider, "subject",
	    res->subject, "data", res->data);
	cr_http_reply_json(req, 200, j);
}

static void
consult_done(void *arg, struct cr_consult_result *res)
{
	struct cr_req *req = arg;

	req->ctx = res;
	req->ctx_free = (void (*)(void *))cr_consult_result_free;
	req->on_resume = consult_reply;
	cr_http_resume(req);
}

void
cr_api_consult(struct cr_req *req)
{
	struct cr_consult_req cr;
	char err[256];
	json_t *body = NULL;

	memset(&cr, 0, sizeof(cr));
	cr.who = cr_http_principal(req);
	cr.unauthenticated = cr_http_auth_message(req);
	cr.consumer = req->client.institution;
	cr.client_id = req->client.id;
	cr.service = req->params[0];
	cr.end_user = req->end_user;
	cr.request_id = req->request_id;
	if (req->body_too_large) {
		snprintf(err, sizeof(err), "body exceeds the limit of %zu "
		    "bytes", req->body_limit);
		cr.bad_request = err;
		cr.bad_status = 413;
	} else if (req->bad_end_user) {
		snprintf(err, sizeof(err), "X-End-User is longer than %zu "
		    "bytes", sizeof(req->end_user) - 1);
		cr.bad_request = err;
	} else if (cr_jsonv_parse_object(req->body ? req->body : "",
	    req->body_len, &body, err, sizeof(err)) == -1 ||
	    cr_jsonv_check(body, consult_spec, err, sizeof(err)) == -1)
		cr.bad_request = err;
	else {
		cr.params = json_object_get(body, "params");
		cr.reference_date = json_string_value(json_object_get(body,
		    "reference_date"));
	}
	/* Even a refused body tells the log what was asked, if it can. */
	cr.subject = json_string_value(json_object_get(body, "subject"));
	cr.purpose = json_string_value(json_object_get(body, "purpose"));
	cr_http_suspend(req);
	cr_consult_start(req->hub, &cr, consult_done, req);
	json_decref(body);
}
