/*
 * Process-wide counters and histograms, rendered as Prometheus text at
 * GET /metrics. Every update is a relaxed atomic add: no lock on the hot
 * path (a lock only when a service fails for the first time).
 */
#ifndef CR_METRICS_H
#define CR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define CR_METRICS_MAX_ROUTES	128

enum cr_metrics_source_error {
	CR_METRICS_SRC_TIMEOUT,
	CR_METRICS_SRC_UNAVAILABLE,
	CR_METRICS_SRC_BAD_RESPONSE,
	CR_METRICS_SRC_NERRORS
};

/* Route labels, indexed as in cr_metrics_request; names are borrowed. */
void	cr_metrics_init(const char *const *route_names, size_t nroutes);

void	cr_metrics_request(size_t route, int status);
/* A 401: no bearer token (0), or a token that matches nobody (1). */
void	cr_metrics_unauthenticated(int unknown_token);
/* Abuse: connections closed by a deadline, requests answered 429. */
enum cr_metrics_abuse {
	CR_METRICS_DEADLINE_HEADERS = 0,
	CR_METRICS_DEADLINE_BODY,
	CR_METRICS_LIMITED_UNAUTHENTICATED,	/* per address */
	CR_METRICS_LIMITED_CLIENT,		/* per client */
	CR_METRICS_ABUSE_N
};
void	cr_metrics_abuse(enum cr_metrics_abuse);
void	cr_metrics_consult(double ms);
void	cr_metrics_source(double ms);
/*
 * A failed call to the source of service (copied), counted by service and
 * kind. The first CR_METRICS_MAX_SERVICES services counted (for errors or
 * undeclared keys: one table) get their own series, any later one is
 * counted as service "other".
 */
#define CR_METRICS_MAX_SERVICES	256
void	cr_metrics_source_error(const char *service,
	    enum cr_metrics_source_error);
void	cr_metrics_xlog_batch(size_t n, double commit_ms);
/* A signed tree head published (docs/exchange-log.md), or one that could
   not be stored (ok 0). */
void	cr_metrics_log_head(int ok, uint64_t tree_size, int64_t timestamp_ms);

/*
 * n keys that the source of service answered but the service does not
 * declare (crossroads_source_undeclared_fields_total{service}). Returns 1
 * the first time service is counted so in this process, so that the
 * caller can say which key once, 0 after (and always 0 for "other").
 */
int	cr_metrics_source_undeclared(const char *service, unsigned long n);

/* Prometheus text exposition; the caller frees *out. 0 or -1. */
int	cr_metrics_render(char **out, size_t *len);

#endif
