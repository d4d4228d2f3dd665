/*
 * The source adapter's request path: run a service's queries for one
 * subject (cr_adapter_lookup), and the small libmicrohttpd server around it
 * (thread pool, one epoll loop per thread). Queries run synchronously on the
 * worker thread, on that thread's own read-only connection.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "adapter.h"
#include "jsonv.h"
#include "listener.h"
#include "log.h"
#include "util.h"

#define AD_MAX_ARGS	128

/* Lookup ------------------------------------------------------------------ */

static int
check_params(const struct cr_adapter_service *svc, const json_t *params,
    char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < svc->nqueries; i++) {
		const struct cr_adapter_query *q = &svc->queries[i];

		for (j = 0; j < q->nargs; j++) {
			const json_t *v;

			if (q->args[j].kind != CR_AA_PARAM)
				continue;
			v = params != NULL ? json_object_get(params,
			    q->args[j].name) : NULL;
			if (v == NULL) {
				snprintf(err, errlen, "missing params.%s",
				    q->args[j].name);
				return -1;
			}
			if (json_is_object(v) || json_is_array(v)) {
				snprintf(err, errlen, "params.%s: expected a "
				    "string, number, boolean or null",
				    q->args[j].name);
				return -1;
			}
		}
	}
	return 0;
}

/* Runs q; *rows as cr_srcdb_ops.exec. */
static int
run_query(const struct cr_adapter_config *cfg,
    const struct cr_adapter_query *q, json_t *subject, const json_t *params,
    const json_t *main_row, size_t maxrows, json_t **rows)
{
	json_t *args[AD_MAX_ARGS];
	size_t i;

	if (q->nargs > AD_MAX_ARGS)
		return CR_SRCDB_ERR;
	for (i = 0; i < q->nargs; i++) {
		const struct cr_adapter_arg *a = &q->args[i];

		switch (a->kind) {
		case CR_AA_SUBJECT:
			args[i] = subject;
			break;
		case CR_AA_PARAM:
			args[i] = json_object_get(params, a->name);
			break;
		case CR_AA_COLUMN:
			args[i] = json_object_get(main_row, a->name);
			break;
		}
		if (args[i] == NULL)
			return CR_SRCDB_ERR;
	}
	return cfg->db->ops->exec(cfg->db, q->qid, args, q->nargs, maxrows,
	    rows);
}

int
cr_adapter_lookup(const struct cr_adapter_config *cfg,
    const struct cr_adapter_service *svc, const char *subject,
    const json_t *params, json_t **data, char *err, size_t errlen)
{
	json_t *subj = NULL, *rows = NULL, *row = NULL;
	size_t i;
	int rc, status = 500;

	*data = NULL;
	if (check_params(svc, params, err, errlen) == -1)
		return 400;
	if ((subj = json_string(subject)) == NULL) {
		snprintf(err, errlen, "subject: expected UTF-8 text");
		return 400;
	}
	rc = run_query(cfg, &svc->queries[0], subj, params, NULL, 1, &rows);
	if (rc == CR_SRCDB_ERR) {
		snprintf(err, errlen, "database error in the main query (line "
		    "%d)", svc->queries[0].line);
		goto out;
	}
	if (json_array_size(rows) == 0) {
		status = 404;
		goto out;
	}
	row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	rows = NULL;
	for (i = 1; i < svc->nqueries; i++) {
		const struct cr_adapter_query *q = &svc->queries[i];
		json_t *v;

		rc = run_query(cfg, q, subj, params, row, q->kind ==
		    CR_AQ_LIST ? cfg->max_rows : 1, &rows);
		if (rc == CR_SRCDB_ERR) {
			snprintf(err, errlen, "database error in '%s' (line "
			    "%d)", q->name, q->line);
			goto out;
		}
		if (rc == CR_SRCDB_TOO_MANY && q->kind == CR_AQ_LIST) {
			/* Cutting the list would hand out wrong data. */
			snprintf(err, errlen, "'%s' (line %d) has more than "
			    "max_rows = %zu rows", q->name, q->line,
			    cfg->max_rows);
			goto out;
		}
		if (q->kind == CR_AQ_LIST)
			v = json_incref(rows);
		else if ((v = json_array_get(rows, 0)) != NULL)
			json_incref(v);
		else
			v = json_null();
		json_decref(rows);
		rows = NULL;
		if (json_object_set_new(row, q->name, v) == -1) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	*data = row;
	row = NULL;
	status = 200;
out:
	json_decref(rows);
	json_decref(row);
	json_decref(subj);
	return status;
}

/* Metrics ----------------------------------------------------------------- */

static const int ad_statuses[] = { 200, 400, 404, 405, 413, 500, 0 };
#define AD_NSTATUS	(sizeof(ad_statuses) / sizeof(ad_statuses[0]))

static const double ad_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5
};
#define AD_NBOUNDS	(sizeof(ad_bounds) / sizeof(ad_bounds[0]))

struct ad_counters {
	_Atomic uint64_t	 status[AD_NSTATUS];
	_Atomic uint64_t	 buckets[AD_NBOUNDS + 1];
	_Atomic uint64_t	 sum_micro;
	_Atomic uint64_t	 count;
};

/* Server ------------------------------------------------------------------ */

struct cr_adapter {
	struct cr_listener		*listener;
	const struct cr_adapter_config	*cfg;
	struct ad_counters		*counters;	/* nservices + 1
							   (unmatched) */
};

/* One request, from its headers to its access line. */
struct ad_req {
	const struct cr_adapter_service	*svc;
	size_t				 index;		/* in counters, or
							   SIZE_MAX: none */
	const char			*route;		/* logged */
	char				 method[16];
	char				 request_id[64];
	double				 start_ms;
	int				 status;	/* answered */
	int				 close;		/* the connection
							   after it */
	char				*body;
	size_t				 len;
	size_t				 cap;
	int				 too_large;
};

static void
count(struct cr_adapter *ad, size_t index, int status)
{
	size_t i;

	for (i = 0; i < AD_NSTATUS - 1 && ad_statuses[i] != status; i++)
		;
	atomic_fetch_add_explicit(&ad->counters[index].status[i], 1,
	    memory_order_relaxed);
}

static void
observe(struct cr_adapter *ad, size_t index, double seconds)
{
	struct ad_counters *c = &ad->counters[index];
	size_t i;

	for (i = 0; i < AD_NBOUNDS && seconds > ad_bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&c->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->sum_micro, (uint64_t)(seconds * 1e6),
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
}

static char *
render_metrics(struct cr_adapter *ad, size_t *len)
{
	const struct cr_adapter_config *cfg = ad->cfg;
	char *out = NULL;
	FILE *f;
	size_t i, s;

	if ((f = open_memstream(&out, len)) == NULL)
		return NULL;
	fputs("# HELP crossroads_source_requests_total Source-protocol "
	    "requests by service and status.\n"
	    "# TYPE crossroads_source_requests_total counter\n", f);
	for (i = 0; i <= cfg->nservices; i++) {
		const char *name = i < cfg->nservices ?
		    cfg->services[i].name : "unmatched";

		for (s = 0; s < AD_NSTATUS; s++) {
			uint64_t v = atomic_load_explicit(
			    &ad->counters[i].status[s], memory_order_relaxed);

			if (v == 0)
				continue;
			if (ad_statuses[s] != 0)
				fprintf(f, "crossroads_source_requests_total"
				    "{service=\"%s\",status=\"%d\"} %llu\n",
				    name, ad_statuses[s],
				    (unsigned long long)v);
			else
				fprintf(f, "crossroads_source_requests_total"
				    "{service=\"%s\",status=\"other\"} %llu\n",
				    name, (unsigned long long)v);
		}
	}
	fputs("# HELP crossroads_source_query_duration_seconds Time to run a "
	    "request's queries, by service.\n"
	    "# TYPE crossroads_source_query_duration_seconds histogram\n", f);
	for (i = 0; i < cfg->nservices; i++) {
		struct ad_counters *c = &ad->counters[i];
		const char *name = cfg->services[i].name;
		uint64_t cum = 0;

		for (s = 0; s <= AD_NBOUNDS; s++) {
			cum += atomic_load_explicit(&c->buckets[s],
			    memory_order_relaxed);
			if (s < AD_NBOUNDS)
				fprintf(f, "crossroads_source_query_duration_"
				    "seconds_bucket{service=\"%s\",le=\"%g\"} "
				    "%llu\n", name, ad_bounds[s],
				    (unsigned long long)cum);
			else
				fprintf(f, "crossroads_source_query_duration_"
				    "seconds_bucket{service=\"%s\",le=\"+Inf\"}"
				    " %llu\n", name, (unsigned long long)cum);
		}
		fprintf(f, "crossroads_source_query_duration_seconds_sum"
		    "{service=\"%s\"} %.6f\n"
		    "crossroads_source_query_duration_seconds_count"
		    "{service=\"%s\"} %llu\n", name,
		    (double)atomic_load(&c->sum_micro) / 1e6, name,
		    (unsigned long long)atomic_load(&c->count));
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, struct ad_req *r, int status,
    const char *type, char *body, size_t len, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	r->status = status;
	resp = MHD_create_response_from_buffer(len, body,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Answers with json (stolen); counts the answer under the request's
   service unless it is a built-in path. */
static enum MHD_Result
reply_json(struct cr_adapter *ad, struct MHD_Connection *conn,
    struct ad_req *r, int status, json_t *j, const char *allow)
{
	char *s;

	/* 15 significant digits: 17 would show binary noise (see http.c). */
	s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) :
	    NULL;
	json_decref(j);
	if (s == NULL) {
		status = 500;
		if ((s = strdup("{\"error\":\"out of memory\"}")) == NULL)
			return MHD_NO;
	}
	if (r->index != SIZE_MAX)
		count(ad, r->index, status);
	return reply(conn, r, status, "application/json", s, strlen(s), allow);
}

static enum MHD_Result
reply_error(struct cr_adapter *ad, struct MHD_Connection *conn,
    struct ad_req *r, int status, const char *msg, const char *allow)
{
	return reply_json(ad, conn, r, status,
	    json_pack("{s:s}", "error", msg), allow);
}

/* GET (or HEAD) /healthz and /metrics. */
static enum MHD_Result
serve_builtin(struct cr_adapter *ad, struct MHD_Connection *conn,
    struct ad_req *r, const char *method)
{
	char *body;
	size_t len;

	/* MHD leaves the body out of the answer to a HEAD. */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_error(ad, conn, r, 405, "method not allowed",
		    "GET, HEAD");
	if (strcmp(r->route, "healthz") == 0)
		return reply_json(ad, conn, r, 200,
		    json_pack("{s:s}", "status", "ok"), NULL);
	if ((body = render_metrics(ad, &len)) == NULL)
		return reply_error(ad, conn, r, 500, "out of memory", NULL);
	return reply(conn, r, 200, "text/plain; version=0.0.4", body, len,
	    NULL);
}

static void
body_append(struct ad_req *r, size_t limit, const char *data, size_t len)
{
	if (!r->too_large && cr_util_buf_append(&r->body, &r->len, &r->cap,
	    limit, data, len) == -1)
		r->too_large = 1;
}

/* The whole body is in: validate it, run the queries, answer. */
static enum MHD_Result
serve_lookup(struct cr_adapter *ad, struct MHD_Connection *conn,
    struct ad_req *r)
{
	char err[512];
	json_t *body = NULL, *data = NULL, *subject, *params;
	double t0;
	int status;
	enum MHD_Result ret;

	if (r->too_large)
		return reply_error(ad, conn, r, 413, "request body too large",
		    NULL);
	if (cr_jsonv_parse_object(r->body != NULL ? r->body : "", r->len,
	    &body, err, sizeof(err)) == -1)
		return reply_error(ad, conn, r, 400, err, NULL);
	subject = json_object_get(body, "subject");
	params = json_object_get(body, "params");
	if (!json_is_string(subject) || json_string_length(subject) == 0 ||
	    json_string_length(subject) > CR_ADAPTER_SUBJECT_MAX ||
	    strlen(json_string_value(subject)) != json_string_length(subject)) {
		ret = reply_error(ad, conn, r, 400, "field 'subject': "
		    "expected a non-empty string", NULL);
		goto out;
	}
	if (json_is_null(params))
		params = NULL;
	if (params != NULL && !json_is_object(params)) {
		ret = reply_error(ad, conn, r, 400, "field 'params': "
		    "expected an object", NULL);
		goto out;
	}
	t0 = cr_util_mono_ms();
	status = cr_adapter_lookup(ad->cfg, r->svc, json_string_value(subject),
	    params, &data, err, sizeof(err));
	observe(ad, r->index, (cr_util_mono_ms() - t0) / 1e3);
	if (status == 200)
		ret = reply_json(ad, conn, r, 200,
		    json_pack("{s:o}", "data", data), NULL);
	else if (status == 404)
		ret = reply_error(ad, conn, r, 404, "no data", NULL);
	else if (status == 400)
		ret = reply_error(ad, conn, r, 400, err, NULL);
	else {
		/* The request id, not the subject: no personal data here. */
		log_warnx("service %s, request %s: %s", r->svc->name,
		    r->request_id[0] != '\0' ? r->request_id : "-", err);
		ret = reply_error(ad, conn, r, 500, "database error", NULL);
	}
out:
	json_decref(body);
	return ret;
}

/* First call, headers only: anything but a lookup is answered now. */
static enum MHD_Result
ad_begin(struct cr_adapter *ad, struct MHD_Connection *conn,
    struct ad_req *r, const char *url, const char *method)
{
	const char *v;
	unsigned long long n;

	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
		r->index = SIZE_MAX;
		r->route = url + 1;
		return serve_builtin(ad, conn, r, method);
	}
	if ((r->svc = cr_adapter_service_by_path(ad->cfg, url)) == NULL)
		return reply_error(ad, conn, r, 404, "no such path", NULL);
	r->index = (size_t)(r->svc - ad->cfg->services);
	r->route = r->svc->name;
	if (strcmp(method, "POST") != 0)
		return reply_error(ad, conn, r, 405, "method not allowed",
		    "POST");
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v != NULL && cr_util_parse_ull(v, 0, ~0ULL, &n) == 0 &&
	    n > ad->cfg->body_limit)
		return reply_error(ad, conn, r, 413, "request body too large",
		    NULL);
	return MHD_YES;
}

static enum MHD_Result
ad_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct cr_adapter *ad = cls;
	struct ad_req *r = *con_cls;
	const char *v;

	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		*con_cls = r;
		cr_listener_enter(ad->listener);
		r->start_ms = cr_util_mono_ms();
		r->index = ad->cfg->nservices;		/* unmatched */
		r->route = "-";
		cr_util_strlcpy(r->method, method, sizeof(r->method));
		v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    "X-Request-Id");
		/* Only a plain id reaches the logs. */
		if (v != NULL && strlen(v) < sizeof(r->request_id) &&
		    strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == strlen(v))
			cr_util_strlcpy(r->request_id, v,
			    sizeof(r->request_id));
		if ((v = cr_listener_framing_error(conn)) != NULL) {
			r->close = 1;
			return reply_error(ad, conn, r, 400, v, NULL);
		}
		return ad_begin(ad, conn, r, url, method);
	}
	if (r->status != 0) {
		/* Answered at the first call: the body is not needed. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		body_append(r, ad->cfg->body_limit, upload_data,
		    *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return serve_lookup(ad, conn, r);
}

static void
ad_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct cr_adapter *ad = cls;
	struct ad_req *r = *con_cls;

	if (r == NULL)
		return;
	*con_cls = NULL;
	if (ad->cfg->access_log) {
		struct cr_access_line a = {
			.request_id = r->request_id,
			.method = r->method,
			.route = r->route,
			.status = r->status,
			.ms = cr_util_mono_ms() - r->start_ms,
			.aborted = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK,
		};

		cr_listener_access_log(&a);
	}
	free(r->body);
	free(r);
	cr_listener_leave(ad->listener);
}

int
cr_adapter_start(const struct cr_adapter_config *cfg,
    struct cr_adapter **out)
{
	struct cr_listener_config lc;
	struct cr_adapter *ad;

	*out = NULL;
	if ((ad = calloc(1, sizeof(*ad))) == NULL ||
	    (ad->counters = calloc(cfg->nservices + 1,
	    sizeof(*ad->counters))) == NULL) {
		free(ad);
		log_warnx("out of memory");
		return -1;
	}
	ad->cfg = cfg;
	if (cr_listener_open(cfg->listen, &ad->listener) == -1)
		goto fail;
	if (cfg->tls_cert != NULL) {
		struct cr_tls_config tc = {
			.cert = cfg->tls_cert,
			.key = cfg->tls_key,
			.client_ca = cfg->tls_client_ca,
			.client_auth = cfg->tls_client_auth,
		};

		if (cr_listener_tls(ad->listener, &tc) == -1)
			goto fail;
	}
	memset(&lc, 0, sizeof(lc));
	lc.threads = cfg->threads;
	lc.connection_limit = cfg->connection_limit;
	lc.access = ad_access;
	lc.completed = ad_completed;
	lc.cls = ad;
	if (cr_listener_start(ad->listener, &lc) == -1)
		goto fail;
	*out = ad;
	return 0;
fail:
	cr_listener_free(ad->listener);
	free(ad->counters);
	free(ad);
	return -1;
}

const char *
cr_adapter_address(const struct cr_adapter *ad)
{
	return cr_listener_address(ad->listener);
}

int
cr_adapter_reload(struct cr_adapter *ad)
{
	return cr_listener_reload(ad->listener);
}

void
cr_adapter_stop(struct cr_adapter *ad, unsigned drain_ms)
{
	if (ad == NULL)
		return;
	cr_listener_drain(ad->listener, drain_ms);
	cr_listener_free(ad->listener);
	free(ad->counters);
	free(ad);
}
