/*
 * Fuzz target for the request headers the hub reads (X-Request-Id,
 * X-End-User, Authorization, Content-Type), through the real hub
 * (hub_harness.h). The input is header lines, "Name: value"; in values
 * "$ADMIN" and "$CLIENT" stand for the operator's and a client's tokens.
 * The lines that frame the request (Connection, Content-Length,
 * Transfer-Encoding, Expect, Upgrade) are the harness's, not the input's,
 * and so are continuation lines (starting with a blank).
 * They go with four requests that read them: GET /healthz, a consultation
 * (its source refuses connections), the creation of a batch (of a bundle
 * that does not exist) and an exchange-log query; without an
 * Authorization line each gets the token its route needs. Checks, besides
 * the contract (harness_check, which includes the X-Request-Id rule):
 * an X-End-User that is not UTF-8 text of at most 127 bytes is never
 * accepted.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "hub_harness.h"

#define REQ_MAX	(64 * 1024)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	harness_start();
	return 0;
}

struct buf {
	char	 b[REQ_MAX];
	size_t	 n;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	if (b->n + n < sizeof(b->b)) {
		memcpy(b->b + b->n, s, n);
		b->n += n;
	}
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* The value as libmicrohttpd hands it over: leading blanks dropped. */
static void
value_of(const char *line, size_t len, const char **v, size_t *vlen)
{
	const char *colon = memchr(line, ':', len), *end = line + len;

	*v = colon + 1;
	while (*v < end && (**v == ' ' || **v == '\t'))
		(*v)++;
	*vlen = (size_t)(end - *v);
}

static int
is_framing(const char *line, size_t namelen)
{
	static const char *const names[] = { "Connection", "Content-Length",
	    "Transfer-Encoding", "Expect", "Upgrade", NULL };
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == namelen &&
		    strncasecmp(line, names[i], namelen) == 0)
			return 1;
	return 0;
}

/* line (len bytes) with "$ADMIN" and "$CLIENT" made the tokens. */
static size_t
substitute(const char *line, size_t len, char *out, size_t outlen)
{
	const char *t = line, *tok;
	size_t n = 0, k;

	while (t < line + len) {
		tok = NULL;
		if ((size_t)(line + len - t) >= 6 && memcmp(t, "$ADMIN", 6) == 0) {
			tok = harness_admin_token();
			k = 6;
		} else if ((size_t)(line + len - t) >= 7 &&
		    memcmp(t, "$CLIENT", 7) == 0) {
			tok = harness_client_token();
			k = 7;
		}
		if (tok != NULL) {
			if (n + strlen(tok) < outlen) {
				memcpy(out + n, tok, strlen(tok));
				n += strlen(tok);
			}
			t += k;
		} else {
			if (n + 1 < outlen)
				out[n++] = *t;
			t++;
		}
	}
	return n;
}

/* Appends the input's header lines, tokens put in; notes what matters. */
static void
headers(struct buf *b, const char *in, size_t size, int *has_auth,
    char **rid, char **end_user)
{
	const char *p = in, *end = in + size, *nl, *colon, *v;
	char line[REQ_MAX];
	size_t len, namelen, vlen;

	*has_auth = 0;
	*rid = NULL;
	*end_user = NULL;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		len = substitute(p, len, line, sizeof(line));
		/* A line starting with a blank would continue the one
		   before (obsolete line folding): not a header of its own. */
		if ((colon = memchr(line, ':', len)) == NULL || colon == line ||
		    line[0] == ' ' || line[0] == '\t' ||
		    memchr(line, '\r', len) != NULL ||
		    memchr(line, '\0', len) != NULL)
			continue;
		namelen = (size_t)(colon - line);
		if (is_framing(line, namelen))
			continue;
		value_of(line, len, &v, &vlen);
		if (namelen == 13 && strncasecmp(line, "Authorization", 13) == 0)
			*has_auth = 1;
		if (namelen == 12 && strncasecmp(line, "X-Request-Id", 12) == 0 &&
		    *rid == NULL)
			*rid = fuzz_strndup(v, vlen);
		if (namelen == 10 && strncasecmp(line, "X-End-User", 10) == 0 &&
		    *end_user == NULL)
			*end_user = fuzz_strndup(v, vlen);
		put(b, line, len);
		puts_(b, "\r\n");
	}
}

/* UTF-8 without control characters (C0, DEL). */
static int
text(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return fuzz_utf8(s, i);
}

static void
request(const char *line, const char *token, const char *body,
    const uint8_t *data, size_t size)
{
	struct harness_answer a;
	struct buf *b;
	char *rid, *eu, num[32];
	int has_auth;

	FUZZ_CHECK((b = malloc(sizeof(*b))) != NULL);
	b->n = 0;
	puts_(b, line);
	puts_(b, " HTTP/1.1\r\nHost: fuzz\r\n");
	headers(b, (const char *)data, size, &has_auth, &rid, &eu);
	if (!has_auth && token != NULL) {
		puts_(b, "Authorization: Bearer ");
		puts_(b, token);
		puts_(b, "\r\n");
	}
	snprintf(num, sizeof(num), "%zu", strlen(body));
	puts_(b, "Connection: close\r\nContent-Length: ");
	puts_(b, num);
	puts_(b, "\r\n\r\n");
	puts_(b, body);
	harness_send(b->b, b->n, &a);
	harness_check(&a, rid, 0);
	/* docs/api.md: UTF-8 text of at most 127 bytes, else 400. */
	if (eu != NULL && (strlen(eu) > 127 || !text(eu)) &&
	    strcmp(line, "GET /healthz") != 0)
		FUZZ_CHECK(a.status == 0 || a.status >= 400);
	harness_answer_free(&a);
	free(rid);
	free(eu);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	request("GET /healthz", NULL, "", data, size);
	request("POST /v1/consult/population.person", harness_client_token(),
	    "{\"subject\":\"85073003328\",\"purpose\":\"p\"}", data, size);
	request("POST /v1/batches?bundle=none&purpose=p",
	    harness_client_token(), "subject\n85073003328\n", data, size);
	request("GET /v1/log?subject=85073003328&limit=1",
	    harness_admin_token(), "", data, size);
	return 0;
}
