#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>
#include <sodium.h>

#include "client_rate.h"
#include "http.h"
#include "jsonv.h"
#include "listener.h"
#include "tls.h"
#include "metrics.h"
#include "unauth.h"
#include "usage.h"
#include "util.h"

struct cr_http {
	struct cr_listener	*listener;
	struct cr_hub		*hub;
	const struct cr_route	*routes;
	size_t			 nroutes;
};

/* Index for requests that match no route, in the metrics. */
#define ROUTE_UNMATCHED(h)	((h)->nroutes)

static int
valid_request_id(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		if (n >= 63)
			return 0;
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		    *s == '.' || *s == ':'))
			return 0;
	}
	return n > 0;
}

/*
 * Matches path against pattern segment by segment; "{}" takes any one
 * non-empty segment, whole, whatever its bytes and length (the handler
 * judges it): its offset and length go to off[] and len[]. 1 on a match.
 */
static int
route_match(const char *pattern, const char *path, size_t off[],
    size_t len[], size_t *nparams)
{
	const char *start = path;
	size_t np = 0;

	while (*pattern != '\0' && *path != '\0') {
		if (strncmp(pattern, "{}", 2) == 0) {
			size_t n = strcspn(path, "/");

			if (n == 0 || np >= CR_HTTP_MAX_PARAMS)
				return 0;
			off[np] = (size_t)(path - start);
			len[np] = n;
			np++;
			pattern += 2;
			path += n;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	*nparams = np;
	return *pattern == '\0' && *path == '\0';
}

/* The matched segments as strings in a copy of the path. 0 or -1. */
static int
req_params(struct cr_req *req, const size_t off[], const size_t len[],
    size_t np)
{
	size_t i;

	if (np == 0)
		return 0;
	if ((req->param_buf = strdup(req->path)) == NULL)
		return -1;
	for (i = 0; i < np; i++) {
		req->param_buf[off[i] + len[i]] = '\0';
		req->params[i] = req->param_buf + off[i];
	}
	return 0;
}

/* Adds a method to the Allow list of a 405. */
static void
allow_add(struct cr_req *req, const char *method)
{
	size_t len = strlen(req->allow);

	snprintf(req->allow + len, sizeof(req->allow) - len, "%s%s",
	    len > 0 ? ", " : "", method);
}

static void
req_route(struct cr_http *h, struct cr_req *req)
{
	const struct cr_route *r;
	size_t off[CR_HTTP_MAX_PARAMS], len[CR_HTTP_MAX_PARAMS];
	int path_matched = 0, head = strcmp(req->method, "HEAD") == 0;
	size_t i, np;

	for (i = 0; i < h->nroutes; i++) {
		r = &h->routes[i];
		if (!route_match(r->pattern, req->path, off, len, &np))
			continue;
		path_matched = 1;
		allow_add(req, r->method);
		/* HEAD is GET without the body (MHD leaves it out). */
		if (strcmp(r->method, "GET") == 0 &&
		    !(r->flags & CR_ROUTE_NO_HEAD))
			allow_add(req, "HEAD");
		if (strcmp(r->method, req->method) == 0 || (head &&
		    strcmp(r->method, "GET") == 0 &&
		    !(r->flags & CR_ROUTE_NO_HEAD))) {
			req->route = r;
			req->route_index = i;
			if (req_params(req, off, len, np) == -1)
				cr_http_error(req, 500, "INTERNAL",
				    "out of memory");
			return;
		}
	}
	req->route = NULL;
	req->route_index = ROUTE_UNMATCHED(h);
	if (path_matched)
		cr_http_error(req, 405, "METHOD_NOT_ALLOWED",
		    "method %s is not allowed on %s", req->method, req->path);
	else
		cr_http_error(req, 404, "NOT_FOUND", "no such resource: %s",
		    req->path);
}

/*
 * A request header, or NULL; *cut set when its value holds a NUL byte
 * (what follows it would be lost in a C string).
 */
static const char *
req_header(struct MHD_Connection *conn, const char *name, int *cut)
{
	const char *v = NULL;
	size_t len = 0;

	*cut = 0;
	if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, name,
	    strlen(name), &v, &len) != MHD_YES || v == NULL)
		return NULL;
	*cut = strlen(v) != len;
	return v;
}

static struct cr_req *
req_new(struct cr_http *h, struct MHD_Connection *conn, const char *url,
    const char *method)
{
	struct cr_req *req;
	const char *v;
	int cut;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		return NULL;
	if ((req->path = strdup(url)) == NULL) {
		free(req);
		return NULL;
	}
	req->conn = conn;
	req->hub = h->hub;
	req->start_ms = cr_util_mono_ms();
	cr_util_strlcpy(req->method, method, sizeof(req->method));
	v = req_header(conn, "X-Request-Id", &cut);
	if (v != NULL && !cut && valid_request_id(v))
		cr_util_strlcpy(req->request_id, v, sizeof(req->request_id));
	else
		cr_util_uuid(req->request_id);
	v = req_header(conn, "X-End-User", &cut);
	/* Kept even when refused (escaped, cut), for the log entry. */
	if (v != NULL && (cr_util_utf8_copy(req->end_user,
	    sizeof(req->end_user), v) == -1 || cut)) {
		if (cut || !cr_util_utf8_text(v))
			snprintf(req->end_user_error,
			    sizeof(req->end_user_error),
			    "X-End-User is not UTF-8 text");
		else
			snprintf(req->end_user_error,
			    sizeof(req->end_user_error),
			    "X-End-User is longer than %zu bytes",
			    sizeof(req->end_user) - 1);
	}
	req->auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	req->content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	/*
	 * Counted first, then checked: either the drain (which clears ready,
	 * then waits for inflight to reach 0) sees this request, or this
	 * request sees the drain. Without it a request on a kept-alive
	 * connection could start work on parts already stopped.
	 */
	cr_listener_enter(h->listener);
	if (!atomic_load(&h->hub->ready)) {
		req->route_index = ROUTE_UNMATCHED(h);
		cr_http_error(req, 503, "UNAVAILABLE", "the hub is starting or "
		    "shutting down");
	} else
		req_route(h, req);
	req->body_limit = (req->route != NULL &&
	    (req->route->flags & CR_ROUTE_BIG_BODY)) ?
	    h->hub->cfg.batch_body_limit : h->hub->cfg.body_limit;
	return req;
}

static void
req_free(struct cr_req *req)
{
	if (req->ctx_free != NULL && req->ctx != NULL)
		req->ctx_free(req->ctx);
	if (req->stream_free != NULL && req->stream_ctx != NULL)
		req->stream_free(req->stream_ctx);
	free(req->body);
	free(req->resp);
	free(req->param_buf);
	free(req->path);
	free(req);
}

static void
req_body_append(struct cr_req *req, const char *data, size_t len)
{
	if (!req->body_too_large && cr_util_buf_append(&req->body,
	    &req->body_len, &req->body_cap, req->body_limit, data, len) == -1)
		req->body_too_large = 1;
}

/* Streamed answers: MHD's content reader around the handler's. */
struct stream {
	long	(*read)(void *, char *, size_t);
	void	*ctx;
	void	(*free_fn)(void *);
};

static ssize_t
stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	long n;

	(void)pos;
	if ((n = s->read(s->ctx, buf, max)) > 0)
		return (ssize_t)n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM :
	    MHD_CONTENT_READER_END_WITH_ERROR;
}

static void
stream_free(void *cls)
{
	struct stream *s = cls;

	if (s->free_fn != NULL)
		s->free_fn(s->ctx);
	free(s);
}

static struct MHD_Response *
stream_response(struct cr_req *req)
{
	struct MHD_Response *resp;
	struct stream *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->read = req->stream_read;
	s->ctx = req->stream_ctx;
	s->free_fn = req->stream_free;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
	    stream_reader, s, stream_free);
	if (resp == NULL) {
		free(s);
		return NULL;
	}
	/* The response owns the context now. */
	req->stream_read = NULL;
	req->stream_ctx = NULL;
	req->stream_free = NULL;
	return resp;
}

static enum MHD_Result
req_queue_answer(struct cr_req *req)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t i;

	if (req->stream_read != NULL) {
		resp = stream_response(req);
		if (resp == NULL)
			return MHD_NO;
	} else {
		resp = MHD_create_response_from_buffer(req->resp_len,
		    req->resp, MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			return MHD_NO;
		req->resp = NULL;	/* the response owns it now */
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    req->resp_type != NULL ? req->resp_type : "application/json");
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	if (req->status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    req->allow);
	if (req->status == 429 && req->limited != CR_LIMITED_NO) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%u", req->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
		/* Like a 401: counted once, when its answer is queued. */
		cr_metrics_abuse(req->limited == CR_LIMITED_CLIENT ?
		    CR_METRICS_LIMITED_CLIENT :
		    CR_METRICS_LIMITED_UNAUTHENTICATED);
	}
	if (req->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	for (i = 0; i < req->nhdr; i++)
		MHD_add_response_header(resp, req->hdr[i].name,
		    req->hdr[i].value);
	/* Counted before the answer leaves, so that a client that has its
	   401 sees it in /metrics (completion runs after the send). */
	if (req->status == 401 && (req->auth_failure == CR_AUTH_NO_TOKEN ||
	    req->auth_failure == CR_AUTH_UNKNOWN_TOKEN))
		cr_metrics_unauthenticated(req->auth_failure ==
		    CR_AUTH_UNKNOWN_TOKEN);
	ret = MHD_queue_response(req->conn, (unsigned)req->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct cr_http *h = cls;
	struct cr_req *req = *con_cls;

	if (req == NULL) {
		const char *cl, *why;
		unsigned long long n;

		if ((req = req_new(h, conn, url, method)) == NULL)
			return MHD_NO;
		*con_cls = req;
		/* Before routing, logging or reading the body: a request
		   whose length is ambiguous is no request at all (it is not
		   in the exchange log; the access log has it). */
		if ((why = cr_listener_framing_error(conn)) != NULL) {
			/* Over what routing answered (404, 405): framing
			   comes first. */
			free(req->resp);
			req->resp = NULL;
			req->answered = 0;
			req->close = 1;
			cr_http_error(req, 400, "BAD_REQUEST", "%s", why);
			return req_queue_answer(req);
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		/* Refuse an announced oversized body before reading it. */
		if (!req->answered && cl != NULL &&
		    !(req->route->flags & CR_ROUTE_SELF_CHECKS) &&
		    cr_util_parse_ull(cl, 0, ~0ULL, &n) == 0 &&
		    n > req->body_limit) {
			/* Answered before the upload: MHD then closes the
			   connection instead of reading the body. */
			cr_http_error(req, 413, "PAYLOAD_TOO_LARGE",
			    "body of %llu bytes exceeds the limit of %zu",
			    n, req->body_limit);
			return req_queue_answer(req);
		}
		return MHD_YES;
	}
	if (req->async) {
		/* Resumed: the answer is set (see cr_http_resume). */
		if (req->on_resume != NULL) {
			void (*fn)(struct cr_req *) = req->on_resume;

			req->on_resume = NULL;
			fn(req);
		}
		if (!req->answered)
			cr_http_error(req, 500, "INTERNAL",
			    "request resumed without an answer");
		return req_queue_answer(req);
	}
	if (*upload_data_size != 0) {
		if (!req->answered)
			req_body_append(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!req->answered && (req->route->flags & CR_ROUTE_SELF_CHECKS))
		req->route->handler(req);
	else if (!req->answered) {
		if (req->body_too_large)
			cr_http_error(req, 413, "PAYLOAD_TOO_LARGE",
			    "body exceeds the limit of %zu bytes",
			    req->body_limit);
		else if (req->end_user_error[0] != '\0')
			cr_http_error(req, 400, "BAD_REQUEST", "%s",
			    req->end_user_error);
		else
			req->route->handler(req);
	}
	if (req->async)
		return MHD_YES;
	if (!req->answered)
		cr_http_error(req, 500, "INTERNAL", "handler gave no answer");
	return req_queue_answer(req);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct cr_http *h = cls;
	struct cr_req *req = *con_cls;
	const char *auth = NULL;

	if (req == NULL)
		return;
	*con_cls = NULL;
	cr_metrics_request(req->route_index, req->status);
	/* Why a 401, for the operator: no token, or one that matches none. */
	if (req->status == 401 && (req->auth_failure == CR_AUTH_NO_TOKEN ||
	    req->auth_failure == CR_AUTH_UNKNOWN_TOKEN)) {
		auth = req->auth_failure == CR_AUTH_UNKNOWN_TOKEN ?
		    "unknown_token" : "missing_token";
	} else if (req->auth_failure == CR_AUTH_STORE_ERROR)
		auth = "store_error";
	else if (req->status == 401 && req->auth_failure != CR_AUTH_OK) {
		static const char *const cert_auth[] = {
			[CR_AUTH_UNKNOWN_CERT] = "unknown_certificate",
			[CR_AUTH_CERT_REQUIRED] = "certificate_required",
			[CR_AUTH_TOKEN_REQUIRED] = "token_required",
			[CR_AUTH_CERT_MISMATCH] = "certificate_mismatch",
		};

		if ((size_t)req->auth_failure < sizeof(cert_auth) /
		    sizeof(cert_auth[0]))
			auth = cert_auth[req->auth_failure];
	}
	if (h->hub->cfg.access_log) {
		struct cr_access_line a = {
			.request_id = req->request_id,
			.method = req->method,
			.route = req->route != NULL ? req->route->name : "-",
			.status = req->status,
			.ms = cr_util_mono_ms() - req->start_ms,
			.institution = req->principal == CR_PRINCIPAL_CLIENT ?
			    req->client.institution : (req->principal ==
			    CR_PRINCIPAL_OPERATOR ? "operator" : ""),
			.auth = auth,
			.aborted = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK,
		};

		cr_listener_access_log(&a);
	}
	req_free(req);
	cr_listener_leave(h->listener);
}

int
cr_http_start(struct cr_hub *hub, struct cr_listener *listener,
    const struct cr_route *routes, size_t nroutes, struct cr_http **out)
{
	struct cr_listener_config lc;
	struct cr_http *h;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		cr_listener_free(listener);
		return -1;
	}
	h->listener = listener;
	h->hub = hub;
	h->routes = routes;
	h->nroutes = nroutes;
	memset(&lc, 0, sizeof(lc));
	lc.threads = hub->cfg.threads;
	lc.connection_limit = hub->cfg.connection_limit;
	lc.per_ip_limit = hub->cfg.per_ip_connection_limit;
	lc.idle_timeout_s = hub->cfg.idle_timeout;
	lc.header_timeout_ms = hub->cfg.header_timeout_ms;
	lc.body_timeout_ms = hub->cfg.body_timeout_ms;
	lc.suspend_resume = 1;
	lc.access = http_access;
	lc.completed = http_completed;
	lc.cls = h;
	if (cr_listener_start(listener, &lc) == -1) {
		cr_listener_free(listener);
		free(h);
		return -1;
	}
	*out = h;
	return 0;
}

const char *
cr_http_address(const struct cr_http *h)
{
	return cr_listener_address(h->listener);
}

void
cr_http_drain(struct cr_http *h, unsigned drain_ms)
{
	if (h != NULL)
		cr_listener_drain(h->listener, drain_ms);
}

void
cr_http_stop(struct cr_http *h)
{
	if (h == NULL)
		return;
	cr_listener_free(h->listener);
	free(h);
}

void
cr_http_header(struct cr_req *req, const char *name, const char *value)
{
	if (req->nhdr >= sizeof(req->hdr) / sizeof(req->hdr[0]) ||
	    strlen(name) >= sizeof(req->hdr[0].name) ||
	    strlen(value) >= sizeof(req->hdr[0].value))
		return;
	cr_util_strlcpy(req->hdr[req->nhdr].name, name,
	    sizeof(req->hdr[0].name));
	cr_util_strlcpy(req->hdr[req->nhdr].value, value,
	    sizeof(req->hdr[0].value));
	req->nhdr++;
}

void
cr_http_reply(struct cr_req *req, int status, const char *type, char *body,
    size_t len)
{
	if (req->answered) {
		free(body);
		return;
	}
	req->answered = 1;
	req->status = status;
	req->resp = body;
	req->resp_len = len;
	req->resp_type = type;
}

void
cr_http_reply_stream(struct cr_req *req, int status, const char *type,
    long (*read)(void *, char *, size_t), void *ctx, void (*free_fn)(void *))
{
	if (req->answered) {
		if (free_fn != NULL)
			free_fn(ctx);
		return;
	}
	req->answered = 1;
	req->status = status;
	req->resp_type = type;
	req->stream_read = read;
	req->stream_ctx = ctx;
	req->stream_free = free_fn;
}

/* Out of memory: a fixed answer that still names the request. */
static void
reply_oom(struct cr_req *req)
{
	char buf[160], *s;

	snprintf(buf, sizeof(buf), "{\"error\":{\"code\":\"INTERNAL\","
	    "\"message\":\"out of memory\",\"request_id\":\"%s\"}}",
	    req->request_id);
	s = strdup(buf);
	cr_http_reply(req, 500, "application/json", s, s != NULL ? strlen(s) :
	    0);
}

void
cr_http_reply_json(struct cr_req *req, int status, json_t *j)
{
	char *s;

	s = j != NULL ? json_dumps(j, CR_HTTP_JSON_FLAGS) : NULL;
	json_decref(j);
	if (s == NULL) {
		reply_oom(req);
		return;
	}
	cr_http_reply(req, status, "application/json", s, strlen(s));
}

void
cr_http_error(struct cr_req *req, int status, const char *code,
    const char *fmt, ...)
{
	char msg[512], *s;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	cr_util_utf8_vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((s = cr_answer_error_text(req->request_id, code, msg, &len)) == NULL)
		reply_oom(req);
	else
		cr_http_reply(req, status, "application/json", s, len);
}

void
cr_http_storage_error(struct cr_req *req)
{
	log_warnx("http: %s %s (request %s): storage error", req->method,
	    req->route != NULL ? req->route->name : "?", req->request_id);
	cr_http_error(req, 500, "INTERNAL", "storage error");
}

void
cr_http_suspend(struct cr_req *req)
{
	req->async = 1;
	MHD_suspend_connection(req->conn);
}

void
cr_http_resume(struct cr_req *req)
{
	MHD_resume_connection(req->conn);
}

const char *
cr_http_query(struct cr_req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	    key);
}

/*
 * The token of "Authorization: Bearer TOKEN", or NULL. The scheme is
 * case-insensitive (RFC 9110, 11.1); one or more spaces follow it.
 */
static const char *
bearer_token(const char *auth)
{
	if (auth == NULL || strncasecmp(auth, "Bearer", 6) != 0 ||
	    auth[6] != ' ')
		return NULL;
	for (auth += 6; *auth == ' '; auth++)
		;
	return *auth != '\0' ? auth : NULL;
}

/*
 * The client certificate's part of authentication, once the token (if
 * any) has been looked up: *tc is the token's client when tok_found. Sets
 * req->principal and req->auth_failure. Client certificates were verified
 * by the TLS handshake (tls.h); here they are matched with registrations.
 */
static void
principal_certificate(struct cr_req *req, int tok_found,
    const struct cr_client *tc)
{
	struct cr_hub *hub = req->hub;
	struct cr_registry_store *reg = hub->store->registry;
	uint8_t fp[CR_CERT_SHA256_LEN];
	char hex[2 * CR_CERT_SHA256_LEN + 1] = "";
	struct cr_client cc;
	int rc, cert_found = 0;

	if (hub->cfg.tls_client_auth != CR_TLS_CLIENT_NONE &&
	    cr_tls_peer_sha256(req->conn, fp) == 1) {
		cr_util_hex(fp, sizeof(fp), hex);
		rc = reg->ops->client_by_cert(reg, hex, &cc);
		if (rc != CR_STORE_OK && rc != CR_STORE_NOTFOUND) {
			log_warnx("request %s: cannot look up its certificate",
			    req->request_id);
			req->auth_failure = CR_AUTH_STORE_ERROR;
			return;
		}
		cert_found = rc == CR_STORE_OK;
	}
	if (!tok_found) {
		if (req->auth_failure != CR_AUTH_NO_TOKEN)
			return;		/* a token that matches nobody */
		if (!cert_found) {
			if (hex[0] != '\0')
				req->auth_failure = CR_AUTH_UNKNOWN_CERT;
			return;
		}
		if (hub->cfg.tls_require_token) {
			req->auth_failure = CR_AUTH_TOKEN_REQUIRED;
			return;
		}
		req->client = cc;
	} else if (cert_found && strcmp(cc.id, tc->id) != 0) {
		req->auth_failure = CR_AUTH_CERT_MISMATCH;
		return;
	} else if ((tc->cert_sha256[0] != '\0' || hub->cfg.tls_require_token)
	    && (hex[0] == '\0' || strcmp(tc->cert_sha256, hex) != 0)) {
		/* A client registered with a certificate is bound to it: its
		   token alone, if it leaked, is not enough. */
		req->auth_failure = CR_AUTH_CERT_REQUIRED;
		return;
	} else if (hex[0] != '\0' && !cert_found &&
	    strcmp(tc->cert_sha256, hex) == 0) {
		/* The uncached lookup is the fresher: the registration is
		   gone, the registry snapshot does not know yet. */
		req->auth_failure = CR_AUTH_UNKNOWN_TOKEN;
		return;
	} else
		req->client = *tc;
	req->principal = CR_PRINCIPAL_CLIENT;
	req->auth_failure = CR_AUTH_OK;
	cr_util_strlcpy(req->actor, req->client.id, sizeof(req->actor));
	/* In memory: written every client_usage_flush_ms. */
	cr_usage_note(req->hub->usage, req->client.id);
}

/* The client's address as text ("127.0.0.1", "::1"), or "?". */
static void
client_address(struct cr_req *req, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	cr_util_strlcpy(out, "?", outlen);
	ci = MHD_get_connection_info(req->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		    (socklen_t)outlen);
}

/* The limits of the principal just resolved (cr_http_principal). */
static void
principal_limits(struct cr_req *req)
{
	struct cr_hub *hub = req->hub;
	char addr[CR_UNAUTH_ADDR_MAX];

	if (req->principal == CR_PRINCIPAL_CLIENT) {
		if (cr_client_rate_take(hub->client_rate, req->client.id,
		    req->client.institution, &req->retry_after) == -1)
			req->limited = CR_LIMITED_CLIENT;
		return;
	}
	/* A store error is the hub's failure, not an attempt. */
	if (req->principal != CR_PRINCIPAL_NONE || hub->unauth == NULL ||
	    req->auth_failure == CR_AUTH_STORE_ERROR)
		return;
	client_address(req, addr, sizeof(addr));
	if (cr_unauth_attempt(hub->unauth, addr, &req->retry_after) == -1)
		req->limited = CR_LIMITED_UNAUTHENTICATED;
}

static enum cr_principal_kind
principal_resolve(struct cr_req *req);

enum cr_principal_kind
cr_http_principal(struct cr_req *req)
{
	if (req->principal_resolved)
		return req->principal;
	principal_resolve(req);
	principal_limits(req);
	return req->principal;
}

static enum cr_principal_kind
principal_resolve(struct cr_req *req)
{
	struct cr_hub *hub = req->hub;
	uint8_t hash[CR_HASH_LEN];
	const char *token;
	size_t len;
	int rc;

	if (req->principal_resolved)
		return req->principal;
	req->principal_resolved = 1;
	req->principal = CR_PRINCIPAL_NONE;
	req->auth_failure = CR_AUTH_NO_TOKEN;
	if ((token = bearer_token(req->auth)) == NULL) {
		principal_certificate(req, 0, NULL);
		return req->principal;
	}
	req->auth_failure = CR_AUTH_UNKNOWN_TOKEN;
	if ((len = strlen(token)) >= CR_TOKEN_MAX)
		return req->principal;
	if (hub->admin_token_len == len &&
	    sodium_memcmp(token, hub->admin_token, len) == 0) {
		req->principal = CR_PRINCIPAL_OPERATOR;
		req->auth_failure = CR_AUTH_OK;
		req->role = CR_ROLE_ADMIN;
		cr_util_strlcpy(req->actor, "admin", sizeof(req->actor));
		cr_util_strlcpy(req->client.id, "operator",
		    sizeof(req->client.id));
		return req->principal;
	}
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)token,
	    len, NULL, 0);
	/* One lookup a request: the prefix says which kind to look for. */
	if (strncmp(token, CR_OPERATOR_TOKEN_PREFIX, 4) == 0) {
		struct cr_operator op;

		rc = hub->store->registry->ops->operator_by_token(
		    hub->store->registry, hash, &op);
		if (rc == CR_STORE_OK && (req->role =
		    cr_http_role_bit(op.role)) != 0) {
			req->principal = CR_PRINCIPAL_OPERATOR;
			req->auth_failure = CR_AUTH_OK;
			cr_util_strlcpy(req->actor, op.name,
			    sizeof(req->actor));
			cr_util_strlcpy(req->client.id, "operator",
			    sizeof(req->client.id));
		} else if (rc != CR_STORE_OK && rc != CR_STORE_NOTFOUND) {
			log_warnx("request %s: cannot look up its token",
			    req->request_id);
			req->auth_failure = CR_AUTH_STORE_ERROR;
		}
		return req->principal;
	}
	rc = hub->store->registry->ops->client_by_token(
	    hub->store->registry, hash, cr_util_wall_ms(), &req->client);
	if (rc == CR_STORE_OK) {
		struct cr_client tc = req->client;

		principal_certificate(req, 1, &tc);
	} else if (rc != CR_STORE_NOTFOUND) {
		log_warnx("request %s: cannot look up its token",
		    req->request_id);
		req->auth_failure = CR_AUTH_STORE_ERROR;
	}
	return req->principal;
}

const char *
cr_http_auth_message(const struct cr_req *req)
{
	switch (req->auth_failure) {
	case CR_AUTH_UNKNOWN_TOKEN:
		return "unknown or revoked token";
	case CR_AUTH_STORE_ERROR:
		return "the token could not be checked";
	case CR_AUTH_UNKNOWN_CERT:
		return "no client is registered with this certificate";
	case CR_AUTH_CERT_REQUIRED:
		return "this client must present its registered certificate";
	case CR_AUTH_TOKEN_REQUIRED:
		return "this hub requires the client's token with its "
		    "certificate";
	case CR_AUTH_CERT_MISMATCH:
		return "the certificate and the token are of different "
		    "clients";
	default:
		return "missing bearer token";
	}
}

unsigned
cr_http_role_bit(const char *name)
{
	if (strcmp(name, "admin") == 0)
		return CR_ROLE_ADMIN;
	if (strcmp(name, "auditor") == 0)
		return CR_ROLE_AUDITOR;
	if (strcmp(name, "security") == 0)
		return CR_ROLE_SECURITY;
	return 0;
}

/* 401 (500 when the lookup failed) unless authenticated. */
static int
require_principal(struct cr_req *req)
{
	enum cr_principal_kind who = cr_http_principal(req);

	if (req->limited != CR_LIMITED_NO) {
		cr_http_error(req, 429, "RATE_LIMITED", "%s; retry in %u s",
		    req->limited == CR_LIMITED_CLIENT ? "this client's rate "
		    "limit is reached" : "too many requests without a valid "
		    "token from this address", req->retry_after);
		return -1;
	}
	if (who != CR_PRINCIPAL_NONE)
		return 0;
	/* The hub failed, not the caller. */
	if (req->auth_failure == CR_AUTH_STORE_ERROR)
		cr_http_error(req, 500, "INTERNAL", "%s",
		    cr_http_auth_message(req));
	else
		cr_http_error(req, 401, "UNAUTHENTICATED", "%s",
		    cr_http_auth_message(req));
	return -1;
}

/* Whether the request only reads. */
static int
req_reads(const struct cr_req *req)
{
	return strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0;
}

/* An operator other than an admin changing something: 403. */
static int
refuse_non_admin_write(struct cr_req *req)
{
	if (req->principal != CR_PRINCIPAL_OPERATOR ||
	    req->role == CR_ROLE_ADMIN || req_reads(req))
		return 0;
	cr_http_error(req, 403, "NOT_AUTHORIZED", "operator '%s' (%s) may not "
	    "change this", req->actor, req->role == CR_ROLE_AUDITOR ?
	    "auditor" : "security");
	return -1;
}

int
cr_http_require_any(struct cr_req *req)
{
	if (require_principal(req) == -1 || refuse_non_admin_write(req) == -1)
		return -1;
	return 0;
}

int
cr_http_require_operator(struct cr_req *req)
{
	if (require_principal(req) == -1)
		return -1;
	if (req->principal != CR_PRINCIPAL_OPERATOR) {
		cr_http_error(req, 403, "NOT_AUTHORIZED",
		    "this operation needs the operator token");
		return -1;
	}
	return refuse_non_admin_write(req);
}

int
cr_http_require_role(struct cr_req *req, unsigned roles)
{
	if (require_principal(req) == -1)
		return -1;
	if (req->principal != CR_PRINCIPAL_OPERATOR) {
		cr_http_error(req, 403, "NOT_AUTHORIZED",
		    "this operation needs the operator token");
		return -1;
	}
	if (req->role & (roles | CR_ROLE_ADMIN))
		return 0;
	cr_http_error(req, 403, "NOT_AUTHORIZED", "operator '%s' does not "
	    "have the role this operation needs", req->actor);
	return -1;
}

int
cr_http_require_client(struct cr_req *req)
{
	if (require_principal(req) == -1)
		return -1;
	if (req->principal == CR_PRINCIPAL_CLIENT)
		return 0;
	cr_http_error(req, 403, "NOT_AUTHORIZED",
	    "this operation needs an institution's client token");
	return -1;
}

json_t *
cr_http_body_json(struct cr_req *req, const struct cr_jsonv_field *spec)
{
	char err[256];
	json_t *j = NULL;

	if (cr_jsonv_parse_object(req->body != NULL ? req->body : "",
	    req->body_len, &j, err, sizeof(err)) == -1 ||
	    cr_jsonv_check(j, spec, err, sizeof(err)) == -1) {
		json_decref(j);
		cr_http_error(req, 400, "BAD_REQUEST", "%s", err);
		return NULL;
	}
	return j;
}
