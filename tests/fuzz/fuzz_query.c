/*
 * Fuzz target for query strings and request targets, through the real
 * hub (hub_harness.h): the input's first line is a request target, a path
 * and a query string as a client sends them ("/v1/log?subject=...&limit=5",
 * percent-escapes and all). It is sent as GET with the operator's token
 * and with a client's, and, for /v1/batches?..., as the POST that creates
 * a batch (no bundle exists, so nothing is stored). libmicrohttpd splits
 * and unescapes the query; http.c routes; the handlers read their
 * arguments (limit, before, after, wait, subject, consumer, bundle,
 * purpose, household, reference_date...). Every answer is checked
 * against the contract (harness_check).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hub_harness.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	harness_start();
	return 0;
}

static void
request(const char *method, const char *target, size_t tlen,
    const char *token, const char *type, const char *body)
{
	struct harness_answer a;
	char *req;
	size_t cap = tlen + 512 + strlen(body);
	int n;

	FUZZ_CHECK((req = malloc(cap)) != NULL);
	n = snprintf(req, cap, "%s %.*s HTTP/1.1\r\nHost: fuzz\r\n"
	    "Authorization: Bearer %s\r\nConnection: close\r\n%s%s%s"
	    "Content-Length: %zu\r\n\r\n%s", method, (int)tlen, target, token,
	    type != NULL ? "Content-Type: " : "", type != NULL ? type : "",
	    type != NULL ? "\r\n" : "", strlen(body), body);
	FUZZ_CHECK(n > 0 && (size_t)n < cap);
	harness_send(req, (size_t)n, &a);
	harness_check(&a, NULL, strcmp(method, "HEAD") == 0);
	harness_answer_free(&a);
	free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *target;
	size_t n = 0;

	/* One line: the request line cannot hold CR or LF. */
	while (n < size && in[n] != '\r' && in[n] != '\n')
		n++;
	target = malloc(n + 2);
	FUZZ_CHECK(target != NULL);
	target[0] = '/';
	memcpy(target + 1, in, n);
	/* A target is absolute: "/..." (the one added when missing). */
	if (n > 0 && in[0] == '/')
		memmove(target, target + 1, n--);
	n++;
	request("GET", target, n, harness_admin_token(), NULL, "");
	request("GET", target, n, harness_client_token(), NULL, "");
	if (n >= 12 && memcmp(target, "/v1/batches?", 12) == 0)
		request("POST", target, n, harness_client_token(),
		    "application/x-ndjson", "{\"subject\":\"85073003328\"}\n");
	free(target);
	return 0;
}
