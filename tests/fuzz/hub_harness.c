/* The real hub for the HTTP fuzz targets (hub_harness.h). */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cmd.h"
#include "fuzz.h"
#include "hub_harness.h"
#include "util.h"

#define ADMIN_TOKEN	"fuzz-operator-token-0123456789"
#define ANSWER_MAX	(4 * 1024 * 1024)

static pthread_t	 serve_thread;
static atomic_int	 serve_rc = -1;	/* the thread's, until it ends */
static unsigned		 port;
static char		 dir[128], conf[160], db[160];
static char		 client_token[160];
static char		*serve_argv[] = { "serve", "--config", conf, "--db", db,
    NULL };

static void *
serve_main(void *arg)
{
	serve_rc = cr_cmd_serve(5, serve_argv);
	return NULL;
}

/* A port nobody listens on right now (the hub binds it just after). */
static unsigned
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	FUZZ_CHECK((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	FUZZ_CHECK(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	FUZZ_CHECK(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* At exit: SIGTERM to the server's thread, as `kill` would, then wait. */
static void
harness_stop(void)
{
	if (serve_rc != -1 || port == 0)
		return;
	pthread_kill(serve_thread, SIGTERM);
	pthread_join(serve_thread, NULL);
}

/* A request with a JSON body from the set-up; its answer's body. */
static json_t *
setup_call(const char *method, const char *path, const char *token,
    const char *body, int want)
{
	struct harness_answer a;
	json_error_t jerr;
	char req[2048];
	json_t *j;
	int n;

	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: fuzz\r\n"
	    "Authorization: Bearer %s\r\nConnection: close\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    method, path, token, strlen(body), body);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(req));
	harness_send(req, (size_t)n, &a);
	if (a.status != want) {
		fprintf(stderr, "harness: %s %s: %d %s\n", method, path,
		    a.status, a.body != NULL ? a.body : "");
		FUZZ_CHECK(a.status == want);
	}
	j = json_loadb(a.body, a.body_len, 0, &jerr);
	harness_answer_free(&a);
	FUZZ_CHECK(j != NULL);
	return j;
}

void
harness_start(void)
{
	struct harness_answer a;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	sigset_t timer, mask;
	FILE *f;
	json_t *j;
	int i;

	if (port != 0)
		return;
	fuzz_tmpdir("hub", dir, sizeof(dir));
	snprintf(conf, sizeof(conf), "%s/serve.conf", dir);
	snprintf(db, sizeof(db), "%s/hub.db", dir);
	port = free_port();
	FUZZ_CHECK((f = fopen(conf, "w")) != NULL);
	/* Quiet, no waiting: a long poll answers at once. Inputs without
	   a valid token are never rate-limited: each reaches its handler. */
	fprintf(f, "listen = 127.0.0.1:%u\nthreads = 2\naccess_log = off\n"
	    "drain_timeout_ms = 1000\nfeed_max_wait = 0\n"
	    "delivery_timeout_ms = 200\nbody_limit = 65536\n"
	    "batch_body_limit = 65536\nunauth_rate_limit = off\n", port);
	fclose(f);
	setenv("CROSSROADS_ADMIN_TOKEN", ADMIN_TOKEN, 1);
	/*
	 * libcurl's first init sets up OpenSSL's error state in the thread
	 * that calls it. `serve` runs as a process's main thread, which
	 * never ends; here its thread ends, which would leak that state.
	 * Initialized first here, libcurl only counts serve's init.
	 */
	FUZZ_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
	/* libFuzzer's timer signal is for the fuzzer's thread: the hub's
	   threads (they inherit this mask) never see one in production. */
	sigemptyset(&timer);
	sigaddset(&timer, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &timer, &mask);
	FUZZ_CHECK(pthread_create(&serve_thread, NULL, serve_main, NULL) == 0);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	atexit(harness_stop);
	for (i = 0;; i++) {
		static const char hz[] = "GET /healthz HTTP/1.1\r\nHost: fuzz"
		    "\r\nConnection: close\r\n\r\n";

		FUZZ_CHECK(i < 500 && serve_rc == -1);
		nanosleep(&ts, NULL);
		harness_send(hz, sizeof(hz) - 1, &a);
		harness_answer_free(&a);
		if (a.status == 200)
			break;
	}
	json_decref(setup_call("POST", "/v1/institutions", ADMIN_TOKEN,
	    "{\"id\":\"RN\",\"name\":\"Register\",\"sector\":\"population\"}",
	    201));
	json_decref(setup_call("POST", "/v1/institutions", ADMIN_TOKEN,
	    "{\"id\":\"ONEM\",\"name\":\"Employment\",\"sector\":"
	    "\"unemployment\"}", 201));
	json_decref(setup_call("POST", "/v1/services", ADMIN_TOKEN,
	    "{\"id\":\"population.person\",\"provider\":\"RN\",\"endpoint\":"
	    "\"http://127.0.0.1:1/person\",\"fields\":[\"name\",\"address\"],"
	    "\"timeout_ms\":200}", 201));
	json_decref(setup_call("POST", "/v1/authorizations", ADMIN_TOKEN,
	    "{\"consumer\":\"ONEM\",\"service\":\"population.person\","
	    "\"purpose\":\"p\",\"legal_basis\":\"fuzzing\",\"fields\":"
	    "[\"name\"],\"valid_from\":\"2000-01-01\",\"valid_to\":null}", 201));
	j = setup_call("POST", "/v1/institutions/ONEM/clients", ADMIN_TOKEN,
	    "{\"name\":\"fuzzer\"}", 201);
	FUZZ_CHECK(json_string_value(json_object_get(j, "token")) != NULL);
	cr_util_strlcpy(client_token, json_string_value(json_object_get(j,
	    "token")), sizeof(client_token));
	json_decref(j);
}

const char *
harness_admin_token(void)
{
	return ADMIN_TOKEN;
}

const char *
harness_client_token(void)
{
	return client_token;
}

/* Decodes a chunked body in place; -1 when it is not chunked properly. */
static int
dechunk(char *b, size_t *len)
{
	size_t r = 0, w = 0, n;
	char *end;

	for (;;) {
		n = strtoul(b + r, &end, 16);
		if (end == b + r)
			return -1;
		if ((end = strstr(end, "\r\n")) == NULL)
			return -1;
		r = (size_t)(end - b) + 2;
		if (n == 0)
			break;
		if (r + n + 2 > *len)
			return -1;
		memmove(b + w, b + r, n);
		w += n;
		r += n + 2;
	}
	*len = w;
	b[w] = '\0';
	return 0;
}

/* The value of header name in the head (lines ending in CRLF), or NULL. */
static void
header(const char *head, const char *name, char *out, size_t outlen,
    int *count)
{
	const char *p = head, *eol;
	size_t n = strlen(name), vlen;

	*count = 0;
	out[0] = '\0';
	for (; (eol = strstr(p, "\r\n")) != NULL && eol != p; p = eol + 2) {
		if (strncasecmp(p, name, n) != 0 || p[n] != ':')
			continue;
		if ((*count)++ > 0)
			continue;
		p += n + 1;
		p += strspn(p, " \t");
		vlen = (size_t)(eol - p);
		if (vlen >= outlen)
			vlen = outlen - 1;
		memcpy(out, p, vlen);
		out[vlen] = '\0';
	}
}

/*
 * connect(2), resumed when a signal interrupts it (libFuzzer's timer
 * fires every second): 0 or -1 with errno.
 */
static int
do_connect(int fd, const struct sockaddr_in *sin)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int err = 0, rc;

	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == 0)
		return 0;
	if (errno != EINTR)
		return -1;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while ((rc = poll(&pfd, 1, 10000)) == -1 && errno == EINTR)
		;
	if (rc != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) ==
	    -1)
		return -1;
	errno = err;
	return err == 0 ? 0 : -1;
}

void
harness_send(const char *req, size_t len, struct harness_answer *a)
{
	struct sockaddr_in sin;
	struct timeval tv = { 10, 0 };
	char *buf, *sep, te[64];
	size_t n = 0, off;
	ssize_t k;
	int fd, chunked;

	memset(a, 0, sizeof(*a));
	FUZZ_CHECK((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (do_connect(fd, &sin) == -1) {
		/* Only while the hub starts. */
		if (client_token[0] != '\0')
			fprintf(stderr, "harness: connect: %s\n",
			    strerror(errno));
		FUZZ_CHECK(client_token[0] == '\0');
		close(fd);
		return;
	}
	for (off = 0; off < len; off += (size_t)k) {
		if ((k = send(fd, req + off, len - off, MSG_NOSIGNAL)) < 0 &&
		    errno == EINTR) {
			k = 0;
			continue;
		}
		if (k <= 0)
			break;	/* the hub may answer and close early */
	}
	/* Not shutdown(SHUT_WR): libmicrohttpd takes it as an abort. The
	   requests say "Connection: close": the hub closes after answering. */
	FUZZ_CHECK((buf = malloc(ANSWER_MAX + 1)) != NULL);
	k = 0;
	while (n < ANSWER_MAX) {
		if ((k = recv(fd, buf + n, ANSWER_MAX - n, 0)) < 0 &&
		    errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	/* A timeout is a hang: the hub must answer and close. A reset
	   after an early answer (a refused body left unread) is fine. */
	if (k < 0 && errno == ECONNRESET)
		k = 0;
	FUZZ_CHECK(k >= 0 || client_token[0] == '\0');
	close(fd);
	buf[n] = '\0';
	if (n == 0 || (sep = strstr(buf, "\r\n\r\n")) == NULL) {
		free(buf);
		return;
	}
	FUZZ_CHECK(sscanf(buf, "HTTP/1.%*d %d", &a->status) == 1);
	sep[2] = '\0';		/* the head, its last CRLF kept */
	header(buf, "X-Request-Id", a->request_id, sizeof(a->request_id),
	    &a->request_ids);
	header(buf, "Content-Type", a->content_type, sizeof(a->content_type),
	    &chunked);
	header(buf, "Transfer-Encoding", te, sizeof(te), &chunked);
	a->body_len = n - (size_t)(sep + 4 - buf);
	memmove(buf, sep + 4, a->body_len + 1);
	a->body = buf;
	if (strcasecmp(te, "chunked") == 0)
		FUZZ_CHECK(dechunk(a->body, &a->body_len) == 0);
}

void
harness_answer_free(struct harness_answer *a)
{
	free(a->body);
	a->body = NULL;
}

int
harness_request_id_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 63)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr("-_.:", s[i]) != NULL) || s[i] == '\0')
			return 0;
	return 1;
}

/* The contract's codes (api-v1.md, docs/api.md) and their statuses. */
static const struct {
	const char	*code;
	int		 status;
} codes[] = {
	{ "BAD_REQUEST", 400 }, { "INVALID_SUBJECT", 400 },
	{ "UNAUTHENTICATED", 401 }, { "NOT_AUTHORIZED", 403 },
	{ "NOT_INTEGRATED", 403 }, { "CAPACITY_NOT_ALLOWED", 403 },
	{ "UNKNOWN_SERVICE", 404 },
	{ "NOT_FOUND", 404 }, { "NO_DATA", 404 },
	{ "METHOD_NOT_ALLOWED", 405 }, { "CONFLICT", 409 },
	{ "PAYLOAD_TOO_LARGE", 413 }, { "UNSUPPORTED_MEDIA_TYPE", 415 },
	{ "RATE_LIMITED", 429 },
	{ "INTERNAL", 500 }, { "SOURCE_UNAVAILABLE", 502 },
	{ "UNAVAILABLE", 503 }, { "SOURCE_TIMEOUT", 504 },
};

static int
uuid_like(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

void
harness_check(const struct harness_answer *a, const char *request_id,
    int head)
{
	json_error_t jerr;
	json_t *j, *e;
	const char *code, *rid;
	size_t i;

	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "harness: %d %s %.*s\n", a->status,
		    a->request_id, (int)(a->body_len < 200 ? a->body_len : 200),
		    a->body != NULL ? a->body : "");
	if (a->status == 0)
		return;		/* closed: libmicrohttpd refused the bytes */
	if (a->request_ids == 0) {
		/* libmicrohttpd's own refusal of what it cannot read. */
		FUZZ_CHECK(a->status == 400 || a->status == 413 ||
		    a->status == 414 || a->status == 431 || a->status == 501 ||
		    a->status == 505);
		return;
	}
	FUZZ_CHECK(a->request_ids == 1);
	if (request_id != NULL && harness_request_id_valid(request_id,
	    strlen(request_id)))
		FUZZ_CHECK(strcmp(a->request_id, request_id) == 0);
	else
		FUZZ_CHECK(uuid_like(a->request_id));
	if (head || strncmp(a->content_type, "application/json", 16) != 0)
		return;
	j = json_loadb(a->body, a->body_len, 0, &jerr);
	FUZZ_CHECK(j != NULL);
	if (a->status >= 400) {
		e = json_object_get(j, "error");
		code = json_string_value(json_object_get(e, "code"));
		rid = json_string_value(json_object_get(e, "request_id"));
		FUZZ_CHECK(code != NULL);
		FUZZ_CHECK(json_is_string(json_object_get(e, "message")));
		for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			if (strcmp(codes[i].code, code) == 0)
				break;
		FUZZ_CHECK(i < sizeof(codes) / sizeof(codes[0]));
		FUZZ_CHECK(codes[i].status == a->status);
		FUZZ_CHECK(rid != NULL && strcmp(rid, a->request_id) == 0);
		/* Any bytes get a 4xx: the store never fails here, and a
		   message quoting bytes is made text (issue 9, defect 5). */
		FUZZ_CHECK(a->status != 500);
	} else
		FUZZ_CHECK(a->status >= 200 && a->status < 300);
	json_decref(j);
}
