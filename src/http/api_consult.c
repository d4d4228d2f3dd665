#include <stdio.h>
#include <string.h>

#include "api.h"
#include "consult.h"
#include "jsonv.h"
#include "metrics.h"
#include "util.h"

const struct cr_jsonv_field cr_api_consult_spec[] = {
	{ "subject", CR_JV_STRING, 1, CR_SUBJECT_RAW_MAX - 1, 0, 0 },
	{ "purpose", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "params", CR_JV_OBJECT, 0, 0, 0, 0 },
	{ "reference_date", CR_JV_DATE, 0, 0, 0, 0 },
	CR_JSONV_END
};

/*
 * Runs on a worker thread after the resume. The answer was built before
 * its log entry was written (cr_consult_result.body): sent as is, so
 * that the status sent is the one logged.
 */
static void
consult_reply(struct cr_req *req)
{
	struct cr_consult_result *res = req->ctx;

	cr_metrics_consult(cr_util_mono_ms() - req->start_ms);
	if (res == NULL || res->body == NULL) {
		/* Out of memory: the entry, if any, says 500 too. */
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	/* Which entry to ask an inclusion proof of (docs/exchange-log.md):
	   only an answer that was logged has one. */
	if (res->log_seq != 0) {
		char seq[24], hex[2 * CR_HASH_LEN + 1];

		snprintf(seq, sizeof(seq), "%llu",
		    (unsigned long long)res->log_seq);
		cr_util_hex(res->log_hash, CR_HASH_LEN, hex);
		cr_http_header(req, "X-Crossroads-Log-Seq", seq);
		cr_http_header(req, "X-Crossroads-Log-Hash", hex);
	}
	cr_http_reply(req, res->status, "application/json", res->body,
	    res->body_len);
	res->body = NULL;
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
	/*
	 * Without a valid token, or past a rate limit: 401 or 429 at once,
	 * with no exchange-log entry of its own. Such attempts are counted
	 * by address and written in aggregate (unauth.h); otherwise anyone
	 * could make the hub write and fsync an entry per request. A token
	 * that could not be checked is the hub's failure: logged below.
	 */
	if (req->limited != CR_LIMITED_NO || (cr.who == CR_PRINCIPAL_NONE &&
	    req->auth_failure != CR_AUTH_STORE_ERROR)) {
		(void)cr_http_require_any(req);
		return;
	}
	cr.unauthenticated = cr_http_auth_message(req);
	cr.consumer = req->client.institution;
	cr.client_id = req->client.id;
	cr.service = req->params[0];
	cr.end_user = req->end_user;
	cr.request_id = req->request_id;
	cr.answer = 1;
	if (req->body_too_large) {
		snprintf(err, sizeof(err), "body exceeds the limit of %zu "
		    "bytes", req->body_limit);
		cr.bad_request = err;
		cr.bad_status = 413;
	} else {
		/* Parsed even when a header is refused: the log then still
		   shows what was asked, of whom, for what. */
		if (cr_jsonv_parse_object(req->body ? req->body : "",
		    req->body_len, &body, err, sizeof(err)) == -1 ||
		    cr_jsonv_check(body, cr_api_consult_spec, err, sizeof(err)) == -1)
			cr.bad_request = err;
		if (req->end_user_error[0] != '\0')
			cr.bad_request = req->end_user_error;
		else if (cr.bad_request == NULL) {
			cr.params = json_object_get(body, "params");
			cr.reference_date = json_string_value(json_object_get(
			    body, "reference_date"));
		}
	}
	/* Even a refused body tells the log what was asked, if it can. */
	cr.subject = json_string_value(json_object_get(body, "subject"));
	cr.purpose = json_string_value(json_object_get(body, "purpose"));
	cr_http_suspend(req);
	cr_consult_start(req->hub, &cr, consult_done, req);
	json_decref(body);
}
