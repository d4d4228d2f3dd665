#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "authz.h"
#include "consult.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "xlog.h"

struct consult_op {
	struct cr_hub		*hub;
	struct cr_consult_result *res;
	struct cr_xlog_entry	 entry;
	struct cr_authz		 authz;
	json_t			*declared;	/* the service's fields */
	cr_consult_done_fn	 done;
	void			*arg;
	long			 timeout_ms;	/* given to the source */
	int			 answer;	/* cr_consult_req.answer */
	char			 endpoint[CR_URL_MAX];	/* for the log */
};

static void
op_free(struct consult_op *op)
{
	cr_authz_clear(&op->authz);
	json_decref(op->declared);
	free(op);
}

static const char *
outcome_of(int status, const char *code)
{
	if (status < 300 || strcmp(code, "NO_DATA") == 0)
		return CR_OUTCOME_GRANTED;
	if (status >= 500)
		return CR_OUTCOME_FAILED;
	return CR_OUTCOME_DENIED;
}

/* The consumer's answer into res->body, from res. 0, or -1 (NULL). */
static int
answer_build(struct consult_op *op)
{
	struct cr_consult_result *res = op->res;
	json_t *j;

	free(res->body);
	res->body = NULL;
	res->body_len = 0;
	if (res->status == 200) {
		j = json_pack("{s:s,s:s,s:s,s:s,s:O}", "request_id",
		    op->entry.request_id, "service", res->service, "source",
		    res->provider, "subject", res->subject, "data", res->data);
		res->body = j != NULL ? json_dumps(j, CR_ANSWER_JSON_FLAGS) :
		    NULL;
		json_decref(j);
		if (res->body != NULL)
			res->body_len = strlen(res->body);
	} else
		res->body = cr_answer_error_text(op->entry.request_id,
		    res->error_code, res->message, &res->body_len);
	return res->body != NULL ? 0 : -1;
}

/*
 * Replaces the outcome decided when its answer cannot be built or its
 * entry cannot be logged; no data goes out.
 */
static void
result_set(struct consult_op *op, int status, const char *code,
    const char *message)
{
	struct cr_consult_result *res = op->res;

	/* Nothing leaves the hub that is not in the log. */
	json_decref(res->data);
	res->data = NULL;
	res->status = status;
	cr_util_strlcpy(res->error_code, code, sizeof(res->error_code));
	cr_util_strlcpy(res->message, message, sizeof(res->message));
	if (op->answer)
		answer_build(op);
}

/* Runs on the log writer thread once the entry is durable (or not). */
static void
consult_logged(void *arg, int rc, const struct cr_xlog_entry *e)
{
	struct consult_op *op = arg;
	struct cr_consult_result *res = op->res;

	if (rc == 0) {
		res->log_seq = e->seq;
		memcpy(res->log_hash, e->hash, CR_HASH_LEN);
	} else
		result_set(op, 500, "INTERNAL", "the exchange log could not be "
		    "written");
	op->res = NULL;
	op->done(op->arg, res);
	op_free(op);
}

/*
 * Sets the outcome, builds the answer, then logs it; the caller is told
 * once it is durable. The one place that decides the status sent: what
 * the entry records is what the consumer gets (only a failure to log
 * changes it later, and then there is no entry).
 */
static void
consult_finish(struct consult_op *op, int status, const char *code,
    const char *fmt, ...) CR_PRINTF(4, 5);

static void
consult_finish(struct consult_op *op, int status, const char *code,
    const char *fmt, ...)
{
	struct cr_consult_result *res = op->res;
	va_list ap;

	res->status = status;
	cr_util_strlcpy(res->error_code, code, sizeof(res->error_code));
	if (fmt != NULL) {
		/* Messages quote what the client sent: text only. */
		va_start(ap, fmt);
		cr_util_utf8_vformat(res->message, sizeof(res->message), fmt,
		    ap);
		va_end(ap);
	}
	if (op->answer && answer_build(op) == -1)
		result_set(op, 500, "INTERNAL", "out of memory");
	op->entry.status = res->status;
	cr_util_strlcpy(op->entry.error_code, res->error_code,
	    sizeof(op->entry.error_code));
	cr_util_strlcpy(op->entry.outcome, outcome_of(res->status,
	    res->error_code), sizeof(op->entry.outcome));
	cr_util_strlcpy(op->entry.provider, res->provider,
	    sizeof(op->entry.provider));
	if (cr_xlog_submit_entry(op->hub->xlog, &op->entry, consult_logged,
	    op) == -1) {
		result_set(op, 503, "UNAVAILABLE", "the hub is shutting down");
		op->res = NULL;
		op->done(op->arg, res);
		op_free(op);
	}
}

/*
 * A source failed: the detail (the endpoint, curl's error, the HTTP
 * status) is the operator's, in the log and the metrics; the consumer
 * gets the code and a neutral message (consult_answered).
 */
static void
source_failed(struct consult_op *op, enum cr_metrics_source_error kind,
    const char *fmt, ...) CR_PRINTF(3, 4);

static void
source_failed(struct consult_op *op, enum cr_metrics_source_error kind,
    const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	cr_util_utf8_vformat(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	cr_metrics_source_error(op->entry.service, kind);
	log_warnx("consult %s: service %s, source %s at %s: %s",
	    op->entry.request_id, op->entry.service, op->res->provider,
	    op->endpoint, detail);
}

#define SOURCE_UNAVAILABLE_MSG	"the authentic source is unavailable"
#define SOURCE_TIMEOUT_MSG	"the authentic source did not answer in time"

int
cr_consult_answer_data(const json_t *declared, const json_t *granted,
    const char *body, size_t len, json_t **out, struct cr_authz_drift *drift)
{
	json_error_t jerr;
	json_t *j, *data;

	*out = NULL;
	j = json_loadb(body, len, 0, &jerr);
	data = json_object_get(j, "data");
	if (json_is_object(data))
		*out = cr_authz_minimize(declared, granted, data, drift);
	json_decref(j);
	return *out != NULL ? 0 : -1;
}

/* Runs on the source transport's thread. */
static void
consult_answered(void *arg, const struct cr_source_result *sr)
{
	struct consult_op *op = arg;
	struct cr_authz_drift drift;

	cr_metrics_source(sr->elapsed_ms);
	if (sr->error == CR_SOURCE_TIMEOUT) {
		source_failed(op, CR_METRICS_SRC_TIMEOUT, "no answer within "
		    "%ld ms: %s", op->timeout_ms, sr->detail);
		consult_finish(op, 504, "SOURCE_TIMEOUT", SOURCE_TIMEOUT_MSG);
		return;
	}
	if (sr->error != CR_SOURCE_OK) {
		source_failed(op, CR_METRICS_SRC_UNAVAILABLE, "%s", sr->detail);
		consult_finish(op, 502, "SOURCE_UNAVAILABLE",
		    SOURCE_UNAVAILABLE_MSG);
		return;
	}
	if (sr->http_status == 404) {
		consult_finish(op, 404, "NO_DATA", "source %s holds nothing "
		    "on this subject", op->res->provider);
		return;
	}
	if (sr->http_status != 200 || cr_consult_answer_data(op->declared,
	    op->authz.fields, sr->body, sr->body_len, &op->res->data, &drift)
	    == -1)
		goto bad;
	if (drift.undeclared > 0 &&
	    cr_metrics_source_undeclared(op->res->service, drift.undeclared))
		log_warnx("source of service %s answers '%s', which the "
		    "service does not declare: never passed on, counted in "
		    "crossroads_source_undeclared_fields_total",
		    op->res->service, drift.first);
	consult_finish(op, 200, "", NULL);
	return;
bad:
	if (sr->http_status != 200)
		source_failed(op, CR_METRICS_SRC_BAD_RESPONSE, "answered HTTP "
		    "%ld", sr->http_status);
	else
		source_failed(op, CR_METRICS_SRC_BAD_RESPONSE, "answered "
		    "without a JSON object 'data'");
	consult_finish(op, 502, "SOURCE_UNAVAILABLE", SOURCE_UNAVAILABLE_MSG);
}

static int
consult_call_source(struct consult_op *op, const struct cr_service *svc,
    const struct cr_consult_req *r)
{
	struct cr_source_request sreq;
	json_t *body, *params;
	char *s;
	int rc;

	params = r->params != NULL ? json_incref((json_t *)r->params) :
	    json_object();
	body = json_pack("{s:s,s:o,s:s,s:s,s:s}", "subject", op->res->subject,
	    "params", params,
	    "request_id", r->request_id, "consumer", r->consumer,
	    "purpose", r->purpose);
	if (body == NULL)
		return -1;
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s == NULL)
		return -1;
	memset(&sreq, 0, sizeof(sreq));
	cr_util_strlcpy(op->endpoint, svc->endpoint, sizeof(op->endpoint));
	sreq.url = svc->endpoint;
	sreq.ca_file = svc->ca_file[0] != '\0' ? svc->ca_file : NULL;
	sreq.client_cert = svc->client_cert[0] != '\0' ? svc->client_cert :
	    NULL;
	sreq.client_key = svc->client_key[0] != '\0' ? svc->client_key : NULL;
	sreq.body = s;
	sreq.body_len = strlen(s);
	sreq.timeout_ms = svc->timeout_ms > 0 ? svc->timeout_ms : 2000;
	if (r->timeout_ms > 0 && r->timeout_ms < sreq.timeout_ms)
		sreq.timeout_ms = r->timeout_ms;
	op->timeout_ms = sreq.timeout_ms;
	sreq.request_id = r->request_id;
	rc = op->hub->sources->ops->submit(op->hub->sources, &sreq,
	    consult_answered, op);
	free(s);
	return rc;
}

static int
subject_normalize(struct cr_hub *hub, const struct cr_service *svc,
    int known, const char *subject, char *out, size_t outlen)
{
	if (known && strcmp(svc->subject_kind, "enterprise") == 0)
		return cr_ident_normalize(hub->enterprise_scheme, subject, out,
		    outlen);
	if (cr_ident_normalize(hub->person_scheme, subject, out, outlen) == 0)
		return 0;
	/* Service unknown: the subject may be of either kind. */
	if (!known)
		return cr_ident_normalize(hub->enterprise_scheme, subject, out,
		    outlen);
	return -1;
}

void
cr_consult_start(struct cr_hub *hub, const struct cr_consult_req *r,
    cr_consult_done_fn done, void *arg)
{
	struct cr_store *st = hub->store;
	struct consult_op *op;
	struct cr_service svc;
	char today[CR_DATE_LEN + 1], err[256];
	int svc_rc, params_fit;

	memset(&svc, 0, sizeof(svc));
	op = calloc(1, sizeof(*op));
	if (op == NULL || (op->res = calloc(1, sizeof(*op->res))) == NULL) {
		free(op);
		done(arg, NULL);
		return;
	}
	op->hub = hub;
	op->done = done;
	op->arg = arg;
	op->answer = r->answer;

	/*
	 * The log shows the attempt as it came, even when refused. What the
	 * client chose is copied as text (cr_util_utf8_copy: invalid bytes
	 * escaped); a value too long for its field can only be a refused
	 * one (the checks below refuse it), recorded cut at a character.
	 */
	cr_util_now_rfc3339(op->entry.ts);
	cr_util_strlcpy(op->entry.request_id, r->request_id,
	    sizeof(op->entry.request_id));
	cr_util_strlcpy(op->entry.consumer, r->consumer ? r->consumer : "",
	    sizeof(op->entry.consumer));
	cr_util_strlcpy(op->entry.client, r->client_id ? r->client_id : "",
	    sizeof(op->entry.client));
	cr_util_utf8_copy(op->entry.end_user, sizeof(op->entry.end_user),
	    r->end_user ? r->end_user : "");
	cr_util_utf8_copy(op->entry.service, sizeof(op->entry.service),
	    r->service ? r->service : "");
	cr_util_utf8_copy(op->entry.subject, sizeof(op->entry.subject),
	    r->subject ? r->subject : "");
	cr_util_utf8_copy(op->entry.purpose, sizeof(op->entry.purpose),
	    r->purpose ? r->purpose : "");
	params_fit = cr_xlog_params(r->params, op->entry.params,
	    sizeof(op->entry.params)) == 0;
	cr_util_strlcpy(op->res->service, op->entry.service,
	    sizeof(op->res->service));

	if (r->who == CR_PRINCIPAL_NONE) {
		consult_finish(op, 401, "UNAUTHENTICATED", "%s",
		    r->unauthenticated != NULL ? r->unauthenticated :
		    "missing bearer token");
		return;
	}
	if (r->who != CR_PRINCIPAL_CLIENT) {
		consult_finish(op, 403, "NOT_AUTHORIZED", "consultations are "
		    "made with an institution's client token");
		return;
	}
	if (r->bad_request != NULL) {
		if (r->bad_status == 413)
			consult_finish(op, 413, "PAYLOAD_TOO_LARGE", "%s",
			    r->bad_request);
		else
			consult_finish(op, 400, "BAD_REQUEST", "%s",
			    r->bad_request);
		return;
	}
	svc_rc = st->registry->ops->service_get(st->registry, r->service, &svc);
	if (svc_rc == CR_STORE_ERR)
		goto internal;
	if (subject_normalize(hub, &svc, svc_rc == CR_STORE_OK, r->subject,
	    op->res->subject, sizeof(op->res->subject)) == -1) {
		/* Left unspecified by the scheme: cleared. The message
		   quotes the subject whole, as the log has it. */
		op->res->subject[0] = '\0';
		consult_finish(op, 400, "INVALID_SUBJECT", "'%s' is not a "
		    "valid identifier", op->entry.subject);
		goto out;
	}
	cr_util_strlcpy(op->entry.subject, op->res->subject,
	    sizeof(op->entry.subject));
	if (svc_rc == CR_STORE_NOTFOUND) {
		consult_finish(op, 404, "UNKNOWN_SERVICE", "no service '%s'",
		    r->service);
		goto out;
	}
	cr_util_strlcpy(op->res->provider, svc.provider,
	    sizeof(op->res->provider));
	/* The request against the service's declaration: no authorization
	   makes an undeclared parameter acceptable. */
	if (cr_authz_params_check(svc.params, r->params, svc.id, err,
	    sizeof(err)) == -1) {
		consult_finish(op, 400, "BAD_REQUEST", "%s", err);
		goto out;
	}
	if (!params_fit) {
		consult_finish(op, 400, "BAD_REQUEST", "params take more than "
		    "%d bytes as JSON", CR_PARAMS_MAX - 1);
		goto out;
	}
	op->declared = json_incref(svc.fields);
	cr_date_today(today);
	switch (cr_authz_decide(st, r->consumer, svc.id, r->purpose,
	    op->res->subject, today, r->reference_date ? r->reference_date :
	    today, &op->authz)) {
	case CR_AUTHZ_GRANTED:
		break;
	case CR_AUTHZ_NOT_AUTHORIZED:
		consult_finish(op, 403, "NOT_AUTHORIZED", "%s has no active "
		    "authorization for service %s and purpose %s", r->consumer,
		    svc.id, r->purpose);
		goto out;
	case CR_AUTHZ_NOT_INTEGRATED:
		cr_util_strlcpy(op->entry.legal_basis, op->authz.legal_basis,
		    sizeof(op->entry.legal_basis));
		consult_finish(op, 403, "NOT_INTEGRATED", "%s has not "
		    "integrated this subject in the reference directory with "
		    "a capacity the authorization requires", r->consumer);
		goto out;
	default:
		goto internal;
	}
	cr_util_strlcpy(op->entry.legal_basis, op->authz.legal_basis,
	    sizeof(op->entry.legal_basis));
	if (consult_call_source(op, &svc, r) == -1) {
		consult_finish(op, 503, "UNAVAILABLE", "the hub is shutting "
		    "down");
		goto out;
	}
	goto out;
internal:
	consult_finish(op, 500, "INTERNAL", "storage error");
out:
	cr_service_clear(&svc);
}

void
cr_consult_result_free(struct cr_consult_result *res)
{
	if (res == NULL)
		return;
	json_decref(res->data);
	free(res->body);
	free(res);
}
