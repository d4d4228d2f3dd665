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
/* 401s: [0] no bearer token, [1] a token that matches nobody. */
static _Atomic uint64_t metrics_unauthenticated[2];
/*
 * Source errors by service: slots filled once, in order, under the mutex;
 * published by the release store of nservices, so that readers scan the
 * slots below it without a lock. The last slot is "other".
 */
struct source_errors {
	char			 service[128];
	_Atomic uint64_t	 n[CR_METRICS_SRC_NERRORS];
};
static struct source_errors metrics_source_errors[CR_METRICS_MAX_SERVICES + 1];
static _Atomic size_t metrics_nservices;
static pthread_mutex_t metrics_services_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct histogram h_consult = { .bounds = latency_bounds, .nbounds = NELEM(latency_bounds) };
static struct histogram h_source = { .bounds = latency_bounds, .nbounds = NELEM(latency_bounds) };
static struct histogram h_commit = { .bounds = latency_bounds, .nbounds = NELEM(latency_bounds) };
static struct histogram h_batch = { .bounds = batch_bounds, .nbounds = NELEM(batch_bounds) };

/*
 * Undeclared keys by service. Services come and go at run time, so the
 * counters are slots given out once, under a mutex, and then found
 * without it: a slot's name is written before `nslots` is released, and
 * never changes after. A source that drifts takes the mutex only on its
 * first answer.
 */
struct svc_counter {
	char			 service[128];	/* CR_KEY_MAX: a service id,
						   letters, digits, "._-" */
	_Atomic uint64_t	 n;
};
static struct svc_counter undeclared[CR_METRICS_MAX_SERVICES];
static _Atomic size_t undeclared_nslots;
static _Atomic uint64_t undeclared_other;	/* past the last slot */
static pthread_mutex_t undeclared_mtx = PTHREAD_MUTEX_INITIALIZER;

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

static struct source_errors *
source_slot_find(const char *service, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(metrics_source_errors[i].service, service) == 0)
			return &metrics_source_errors[i];
	return NULL;
}

static struct source_errors *
source_slot(const char *service)
{
	struct source_errors *se;
	size_t n;

	n = atomic_load_explicit(&metrics_nservices, memory_order_acquire);
	if ((se = source_slot_find(service, n)) != NULL)
		return se;
	pthread_mutex_lock(&metrics_services_mtx);
	n = atomic_load_explicit(&metrics_nservices, memory_order_relaxed);
	if ((se = source_slot_find(service, n)) == NULL) {
		if (n < CR_METRICS_MAX_SERVICES &&
		    strlen(service) < sizeof(se->service)) {
			se = &metrics_source_errors[n];
			snprintf(se->service, sizeof(se->service), "%s",
			    service);
			atomic_store_explicit(&metrics_nservices, n + 1,
			    memory_order_release);
		} else
			se = &metrics_source_errors[CR_METRICS_MAX_SERVICES];
	}
	pthread_mutex_unlock(&metrics_services_mtx);
	return se;
}

void
cr_metrics_source_error(const char *service, enum cr_metrics_source_error e)
{
	if (e < CR_METRICS_SRC_NERRORS)
		atomic_fetch_add_explicit(&source_slot(service)->n[e], 1,
		    memory_order_relaxed);
}

static void
source_errors_render(FILE *f, const char *service,
    struct source_errors *se)
{
	const char *p;
	size_t k;

	for (k = 0; k < CR_METRICS_SRC_NERRORS; k++) {
		/* Service ids are a safe alphabet; escaped all the same. */
		fputs("crossroads_source_errors_total{service=\"", f);
		for (p = service; *p != '\0'; p++) {
			if (*p == '\\' || *p == '"')
				fputc('\\', f);
			if (*p == '\n')
				fputs("\\n", f);
			else
				fputc(*p, f);
		}
		fprintf(f, "\",kind=\"%s\"} %llu\n", source_error_names[k],
		    (unsigned long long)atomic_load_explicit(&se->n[k],
		    memory_order_relaxed));
	}
}

void
cr_metrics_xlog_batch(size_t n, double commit_ms)
{
	histogram_observe(&h_batch, (double)n);
	histogram_observe(&h_commit, commit_ms / 1e3);
}

static struct svc_counter *
undeclared_find(const char *service, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		if (strcmp(undeclared[i].service, service) == 0)
			return &undeclared[i];
	return NULL;
}

int
cr_metrics_source_undeclared(const char *service, unsigned long n)
{
	struct svc_counter *c;
	size_t k, k2;
	int first = 0;

	k = atomic_load_explicit(&undeclared_nslots, memory_order_acquire);
	if ((c = undeclared_find(service, 0, k)) == NULL) {
		pthread_mutex_lock(&undeclared_mtx);
		k2 = atomic_load_explicit(&undeclared_nslots,
		    memory_order_relaxed);
		if ((c = undeclared_find(service, k, k2)) == NULL &&
		    k2 < CR_METRICS_MAX_SERVICES) {
			c = &undeclared[k2];
			cr_util_strlcpy(c->service, service,
			    sizeof(c->service));
			atomic_store_explicit(&undeclared_nslots, k2 + 1,
			    memory_order_release);
			first = 1;
		}
		pthread_mutex_unlock(&undeclared_mtx);
	}
	atomic_fetch_add_explicit(c != NULL ? &c->n : &undeclared_other, n,
	    memory_order_relaxed);
	return first;
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
	struct source_errors *other;
	FILE *f;
	size_t r, s, n;

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
	    "authentic sources by service and kind.\n"
	    "# TYPE crossroads_source_errors_total counter\n", f);
	n = atomic_load_explicit(&metrics_nservices, memory_order_acquire);
	for (s = 0; s < n; s++)
		source_errors_render(f, metrics_source_errors[s].service,
		    &metrics_source_errors[s]);
	other = &metrics_source_errors[CR_METRICS_MAX_SERVICES];
	for (s = 0; s < CR_METRICS_SRC_NERRORS; s++)
		if (atomic_load_explicit(&other->n[s], memory_order_relaxed)) {
			source_errors_render(f, "other", other);
			break;
		}
	fputs("# HELP crossroads_source_undeclared_fields_total Keys in "
	    "sources' answers that their service does not declare (never "
	    "passed on), by service.\n"
	    "# TYPE crossroads_source_undeclared_fields_total counter\n", f);
	r = atomic_load_explicit(&undeclared_nslots, memory_order_acquire);
	for (s = 0; s < r; s++)
		fprintf(f, "crossroads_source_undeclared_fields_total"
		    "{service=\"%s\"} %llu\n", undeclared[s].service,
		    (unsigned long long)atomic_load_explicit(&undeclared[s].n,
		    memory_order_relaxed));
	if (atomic_load(&undeclared_other) > 0)
		fprintf(f, "crossroads_source_undeclared_fields_total"
		    "{service=\"other\"} %llu\n",
		    (unsigned long long)atomic_load(&undeclared_other));
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
