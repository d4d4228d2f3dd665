#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

/* Status codes the hub answers with; anything else counts as "other". */
static const int metrics_statuses[] = {
	200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 502,
	503, 504, 0
};
#define NSTATUS (sizeof(metrics_statuses) / sizeof(metrics_statuses[0]))

struct histogram {
	const double		*bounds;	/* upper bounds, ascending */
	size_t			 nbounds;
	_Atomic uint64_t	 buckets[16];	/* nbounds + 1 (+Inf) */
	_Atomic uint64_t	 sum_micro;	/* sum of observations x 1e6 */
	_Atomic uint64_t	 count;
};

static const double latency_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 5, 10
};
static const double batch_bounds[] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const *metrics_routes;
static size_t metrics_nroutes;
static _Atomic uint64_t metrics_requests[CR_METRICS_MAX_ROUTES][NSTATUS];
/* 401s: [0] no bearer token, [1] a token that matches nobody. */
static _Atomic uint64_t metrics_unauthenticated[2];
/* Signed tree heads: published, failed, the newest's size and time. */
static _Atomic uint64_t metrics_heads[2];
static _Atomic uint64_t metrics_head_size;
static _Atomic int64_t	metrics_head_ms;
static _Atomic uint64_t metrics_abuse[CR_METRICS_ABUSE_N];
/*
 * Counters by service (source errors by kind, undeclared keys).
 * Services come and go at run time, so a service gets a slot the first
 * time it is counted, under the mutex, and is found without it from then
 * on: the slot's name is written before nslots is released, and never
 * changes after. Past CR_METRICS_MAX_SERVICES services, the last slot
 * ("other") counts the rest.
 */
struct svc_slot {
	char			 service[128];	/* CR_KEY_MAX */
	_Atomic uint64_t	 errors[CR_METRICS_SRC_NERRORS];
	_Atomic uint64_t	 undeclared;
	atomic_int		 undeclared_seen;
};
static struct svc_slot svc_slots[CR_METRICS_MAX_SERVICES + 1];
static _Atomic size_t svc_nslots;
static pthread_mutex_t svc_mtx = PTHREAD_MUTEX_INITIALIZER;
#define SVC_OTHER	(&svc_slots[CR_METRICS_MAX_SERVICES])
static struct histogram h_consult = { .bounds = latency_bounds, .nbounds = NELEM(latency_bounds) };
static struct histogram h_source = { .bounds = latency_bounds, .nbounds = NELEM(latency_bounds) };
static struct histogram h_commit = { .bounds = latency_bounds, .nbounds = NELEM(latency_bounds) };
static struct histogram h_batch = { .bounds = batch_bounds, .nbounds = NELEM(batch_bounds) };

static const char *const source_error_names[CR_METRICS_SRC_NERRORS] = {
	"timeout", "unavailable", "bad_response"
};

void
cr_metrics_init(const char *const *route_names, size_t nroutes)
{
	metrics_routes = route_names;
	metrics_nroutes = nroutes < CR_METRICS_MAX_ROUTES ? nroutes :
	    CR_METRICS_MAX_ROUTES;
}

static void
histogram_observe(struct histogram *h, double v)
{
	size_t i;

	for (i = 0; i < h->nbounds && v > h->bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_micro, (uint64_t)(v * 1e6),
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void
cr_metrics_request(size_t route, int status)
{
	size_t i;

	if (route >= metrics_nroutes)
		return;
	for (i = 0; i < NSTATUS - 1 && metrics_statuses[i] != status; i++)
		;
	atomic_fetch_add_explicit(&metrics_requests[route][i], 1,
	    memory_order_relaxed);
}

void
cr_metrics_unauthenticated(int unknown_token)
{
	atomic_fetch_add_explicit(&metrics_unauthenticated[unknown_token != 0],
	    1, memory_order_relaxed);
}

void
cr_metrics_abuse(enum cr_metrics_abuse kind)
{
	if ((unsigned)kind < CR_METRICS_ABUSE_N)
		atomic_fetch_add_explicit(&metrics_abuse[kind], 1,
		    memory_order_relaxed);
}

void
cr_metrics_consult(double ms)
{
	histogram_observe(&h_consult, ms / 1e3);
}

void
cr_metrics_source(double ms)
{
	histogram_observe(&h_source, ms / 1e3);
}

static struct svc_slot *
svc_find(const char *service, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		if (strcmp(svc_slots[i].service, service) == 0)
			return &svc_slots[i];
	return NULL;
}

/* The slot of service, given out on first use; never NULL. */
static struct svc_slot *
svc_slot(const char *service)
{
	struct svc_slot *v;
	size_t k, k2;

	k = atomic_load_explicit(&svc_nslots, memory_order_acquire);
	if ((v = svc_find(service, 0, k)) != NULL)
		return v;
	pthread_mutex_lock(&svc_mtx);
	k2 = atomic_load_explicit(&svc_nslots, memory_order_relaxed);
	if ((v = svc_find(service, k, k2)) == NULL) {
		if (k2 < CR_METRICS_MAX_SERVICES &&
		    strlen(service) < sizeof(v->service)) {
			v = &svc_slots[k2];
			cr_util_strlcpy(v->service, service,
			    sizeof(v->service));
			atomic_store_explicit(&svc_nslots, k2 + 1,
			    memory_order_release);
		} else
			v = SVC_OTHER;
	}
	pthread_mutex_unlock(&svc_mtx);
	return v;
}

void
cr_metrics_source_error(const char *service, enum cr_metrics_source_error e)
{
	if (e < CR_METRICS_SRC_NERRORS)
		atomic_fetch_add_explicit(&svc_slot(service)->errors[e], 1,
		    memory_order_relaxed);
}

/* name{service="SERVICE" then the caller's labels; service escaped (ids
   are a safe alphabet; escaped all the same). */
static void
svc_series(FILE *f, const char *name, const char *service)
{
	const char *p;

	fprintf(f, "%s{service=\"", name);
	for (p = service; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', f);
		if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* A service appears in a family once it has been counted there. */
static void
svc_render(FILE *f, const char *service, struct svc_slot *v, int undeclared)
{
	uint64_t n, any = 0;
	size_t k;

	if (undeclared) {
		if ((n = atomic_load_explicit(&v->undeclared,
		    memory_order_relaxed)) == 0)
			return;
		svc_series(f, "crossroads_source_undeclared_fields_total",
		    service);
		fprintf(f, "} %llu\n", (unsigned long long)n);
		return;
	}
	for (k = 0; k < CR_METRICS_SRC_NERRORS; k++)
		any += atomic_load_explicit(&v->errors[k],
		    memory_order_relaxed);
	if (any == 0)
		return;
	for (k = 0; k < CR_METRICS_SRC_NERRORS; k++) {
		svc_series(f, "crossroads_source_errors_total", service);
		fprintf(f, ",kind=\"%s\"} %llu\n", source_error_names[k],
		    (unsigned long long)atomic_load_explicit(&v->errors[k],
		    memory_order_relaxed));
	}
}

static void
svc_render_all(FILE *f, int undeclared)
{
	size_t i, n;

	n = atomic_load_explicit(&svc_nslots, memory_order_acquire);
	for (i = 0; i < n; i++)
		svc_render(f, svc_slots[i].service, &svc_slots[i], undeclared);
	svc_render(f, "other", SVC_OTHER, undeclared);
}

void
cr_metrics_xlog_batch(size_t n, double commit_ms)
{
	histogram_observe(&h_batch, (double)n);
	histogram_observe(&h_commit, commit_ms / 1e3);
}

void
cr_metrics_log_head(int ok, uint64_t tree_size, int64_t timestamp_ms)
{
	atomic_fetch_add_explicit(&metrics_heads[ok ? 0 : 1], 1,
	    memory_order_relaxed);
	if (!ok)
		return;
	atomic_store_explicit(&metrics_head_size, tree_size,
	    memory_order_relaxed);
	atomic_store_explicit(&metrics_head_ms, timestamp_ms,
	    memory_order_relaxed);
}

int
cr_metrics_source_undeclared(const char *service, unsigned long n)
{
	struct svc_slot *v = svc_slot(service);

	atomic_fetch_add_explicit(&v->undeclared, n, memory_order_relaxed);
	/* "other" stands for many services: never a first time. */
	return v != SVC_OTHER &&
	    atomic_exchange(&v->undeclared_seen, 1) == 0;
}

static void
histogram_render(FILE *f, const char *name, const char *help,
    struct histogram *h)
{
	uint64_t cum = 0;
	size_t i;

	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (i = 0; i <= h->nbounds; i++) {
		cum += atomic_load_explicit(&h->buckets[i],
		    memory_order_relaxed);
		if (i < h->nbounds)
			fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name,
			    h->bounds[i], (unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			    (unsigned long long)cum);
	}
	fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)atomic_load(&h->sum_micro) / 1e6, name,
	    (unsigned long long)atomic_load(&h->count));
}

int
cr_metrics_render(char **out, size_t *len)
{
	FILE *f;
	size_t r, s;

	*out = NULL;
	if ((f = open_memstream(out, len)) == NULL)
		return -1;
	fputs("# HELP crossroads_http_requests_total HTTP requests by route "
	    "and status.\n# TYPE crossroads_http_requests_total counter\n", f);
	for (r = 0; r < metrics_nroutes; r++) {
		for (s = 0; s < NSTATUS; s++) {
			uint64_t v = atomic_load_explicit(
			    &metrics_requests[r][s], memory_order_relaxed);
			char status[8];

			if (v == 0)
				continue;
			if (metrics_statuses[s] == 0)
				snprintf(status, sizeof(status), "other");
			else
				snprintf(status, sizeof(status), "%d",
				    metrics_statuses[s]);
			fprintf(f, "crossroads_http_requests_total{route=\"%s\","
			    "status=\"%s\"} %llu\n", metrics_routes[r], status,
			    (unsigned long long)v);
		}
	}
	fprintf(f, "# HELP crossroads_http_unauthenticated_total 401 answers "
	    "by reason.\n"
	    "# TYPE crossroads_http_unauthenticated_total counter\n"
	    "crossroads_http_unauthenticated_total{reason=\"missing_token\"} "
	    "%llu\n"
	    "crossroads_http_unauthenticated_total{reason=\"unknown_token\"} "
	    "%llu\n", (unsigned long long)atomic_load(
	    &metrics_unauthenticated[0]), (unsigned long long)atomic_load(
	    &metrics_unauthenticated[1]));
	fprintf(f, "# HELP crossroads_http_deadline_closed_total Connections "
	    "closed because their request's headers or body took too long.\n"
	    "# TYPE crossroads_http_deadline_closed_total counter\n"
	    "crossroads_http_deadline_closed_total{phase=\"headers\"} %llu\n"
	    "crossroads_http_deadline_closed_total{phase=\"body\"} %llu\n"
	    "# HELP crossroads_http_rate_limited_total 429 answers by "
	    "limit.\n"
	    "# TYPE crossroads_http_rate_limited_total counter\n"
	    "crossroads_http_rate_limited_total{limit=\"unauthenticated\"} "
	    "%llu\n"
	    "crossroads_http_rate_limited_total{limit=\"client\"} %llu\n",
	    (unsigned long long)atomic_load(
	    &metrics_abuse[CR_METRICS_DEADLINE_HEADERS]),
	    (unsigned long long)atomic_load(
	    &metrics_abuse[CR_METRICS_DEADLINE_BODY]),
	    (unsigned long long)atomic_load(
	    &metrics_abuse[CR_METRICS_LIMITED_UNAUTHENTICATED]),
	    (unsigned long long)atomic_load(
	    &metrics_abuse[CR_METRICS_LIMITED_CLIENT]));
	histogram_render(f, "crossroads_consult_duration_seconds",
	    "Consultations from request to reply.", &h_consult);
	histogram_render(f, "crossroads_source_duration_seconds",
	    "Calls to authentic sources.", &h_source);
	fputs("# HELP crossroads_source_errors_total Failed calls to "
	    "authentic sources by service and kind.\n"
	    "# TYPE crossroads_source_errors_total counter\n", f);
	svc_render_all(f, 0);
	fputs("# HELP crossroads_source_undeclared_fields_total Keys in "
	    "sources' answers that their service does not declare (never "
	    "passed on), by service.\n"
	    "# TYPE crossroads_source_undeclared_fields_total counter\n", f);
	svc_render_all(f, 1);
	histogram_render(f, "crossroads_xlog_batch_size",
	    "Exchange-log entries per group commit.", &h_batch);
	histogram_render(f, "crossroads_xlog_commit_seconds",
	    "Exchange-log group commit duration (fsync included).", &h_commit);
	/* An alert on the head's age catches a publisher that stopped. */
	fprintf(f, "# HELP crossroads_log_heads_total Signed tree heads by "
	    "outcome.\n"
	    "# TYPE crossroads_log_heads_total counter\n"
	    "crossroads_log_heads_total{outcome=\"published\"} %llu\n"
	    "crossroads_log_heads_total{outcome=\"failed\"} %llu\n"
	    "# HELP crossroads_log_head_tree_size Entries under the newest "
	    "signed tree head.\n"
	    "# TYPE crossroads_log_head_tree_size gauge\n"
	    "crossroads_log_head_tree_size %llu\n"
	    "# HELP crossroads_log_head_timestamp_seconds When the newest "
	    "head was signed (Unix time).\n"
	    "# TYPE crossroads_log_head_timestamp_seconds gauge\n"
	    "crossroads_log_head_timestamp_seconds %.3f\n",
	    (unsigned long long)atomic_load(&metrics_heads[0]),
	    (unsigned long long)atomic_load(&metrics_heads[1]),
	    (unsigned long long)atomic_load(&metrics_head_size),
	    (double)atomic_load(&metrics_head_ms) / 1e3);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
