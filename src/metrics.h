/*
 * Process-wide counters and histograms, rendered as Prometheus text at
 * GET /metrics. Every update is a relaxed atomic add: no lock on the hot
 * path.
 */
#ifndef CR_METRICS_H
#define CR_METRICS_H

#include <stddef.h>

#define CR_METRICS_MAX_ROUTES	64

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
void	cr_metrics_consult(double ms);
void	cr_metrics_source(double ms);
void	cr_metrics_source_error(enum cr_metrics_source_error);
void	cr_metrics_xlog_batch(size_t n, double commit_ms);

/* Prometheus text exposition; the caller frees *out. 0 or -1. */
int	cr_metrics_render(char **out, size_t *len);

#endif
