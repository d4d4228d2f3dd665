/*
 * The real hub for the HTTP fuzz targets (fuzz_query.c, fuzz_headers.c):
 * `crossroads serve` itself (cr_cmd_serve) runs on a thread of the fuzzer,
 * on 127.0.0.1 and a free port, with its store in a temporary directory,
 * so that everything a request reaches is instrumented and checked by the
 * sanitizers: libmicrohttpd's reading of the request line, the query
 * string and the headers, then http.c, the handlers and the store. Each
 * input becomes requests sent over a loopback connection; the answers are
 * checked against the contract (/work/shared/api-v1.md, "Conventions").
 *
 * Set up once: an operator token, a provider RN with a service
 * "population.person" (its endpoint refuses connections), a consumer ONEM
 * with a client token and an authorization for it. The server is stopped
 * (SIGTERM to its thread, as a signal would) when the fuzzer exits.
 */
#ifndef CR_HUB_HARNESS_H
#define CR_HUB_HARNESS_H

#include <stddef.h>

struct harness_answer {
	int	 status;		/* 0: closed without an answer */
	char	 request_id[128];	/* X-Request-Id, "" when none */
	int	 request_ids;		/* how many X-Request-Id headers */
	char	 content_type[128];
	char	*body;			/* de-chunked, NUL-terminated */
	size_t	 body_len;
};

void	harness_start(void);
const char *harness_admin_token(void);
const char *harness_client_token(void);

/*
 * Sends len bytes (a whole HTTP request) on a new connection and reads
 * the answer until the hub closes it. Aborts when no answer comes within
 * 10 s. The caller frees a->body with harness_answer_free().
 */
void	harness_send(const char *req, size_t len, struct harness_answer *a);
void	harness_answer_free(struct harness_answer *a);

/*
 * Checks an answer of the hub against the contract: a status it uses, an
 * X-Request-Id (request_id as sent when valid, else a new UUID; NULL when
 * none was sent), and for JSON, a body that parses, errors as
 * {"error":{"code","message","request_id"}} with a contract code that
 * goes with the status, never a 500. head: the request was HEAD (no
 * body).
 * libmicrohttpd's own refusals of what is not HTTP (no X-Request-Id) are
 * allowed as such.
 */
void	harness_check(const struct harness_answer *a, const char *request_id,
	    int head);

/* 1 when s is an X-Request-Id the hub keeps (api-v1.md: 1 to 63 of
   letters, digits, '-', '_', '.', ':'). */
int	harness_request_id_valid(const char *s, size_t len);

#endif
