#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"

/* Status codes the hub answers with; anything else counts as "other". */
static const int metrics_statuses[] = {
	200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 500, 502, 503,
	504, 0
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
static _Atomic uint64_t metrics_source_errors[CR_METRICS_SRC_NERRORS];
/* 401s: [0] no bearer token, [1] a token that matches nobody. */
static _Atomic uint64_t metrics_unauthenticated[2];
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
cr_metrics_consult(double ms)
{
	histogram_observe(&h_consult, ms / 1e3);
}

void
cr_metrics_source(double ms)
{
	histogram_observe(&h_source, ms / 1e3);
}

void
cr_metrics_source_error(enum cr_metrics_source_error e)
{
	if (e < CR_METRICS_SRC_NERRORS)
		atomic_fetch_add_explicit(&metrics_source_errors[e], 1,
		    memory_order_relaxed);
}

void
cr_metrics_xlog_batch(size_t n, double commit_ms)
{
	histogram_observe(&h_batch, (double)n);
	histogram_observe(&h_commit, commit_ms / 1e3);
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
	histogram_render(f, "crossroads_consult_duration_seconds",
	    "Consultations from request to reply.", &h_consult);
	histogram_render(f, "crossroads_source_duration_seconds",
	    "Calls to authentic sources.", &h_source);
	fputs("# HELP crossroads_source_errors_total Failed calls to "
	    "authentic sources by kind.\n"
	    "# TYPE crossroads_source_errors_total counter\n", f);
	for (s = 0; s < CR_METRICS_SRC_NERRORS; s++)
		fprintf(f, "crossroads_source_errors_total{kind=\"%s\"} %llu\n",
		    source_error_names[s],
		    (unsigned long long)atomic_load(&metrics_source_errors[s]));
	histogram_render(f, "crossroads_xlog_batch_size",
	    "Exchange-log entries per group commit.", &h_batch);
	histogram_render(f, "crossroads_xlog_commit_seconds",
	    "Exchange-log group commit duration (fsync included).", &h_commit);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
