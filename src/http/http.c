#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "http.h"
#include "jsonv.h"
#include "metrics.h"
#include "util.h"

struct cr_http {
	struct MHD_Daemon	*daemon;
	struct cr_hub		*hub;
	const struct cr_route	*routes;
	size_t			 nroutes;
	unsigned		 port;
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

static void
req_route(struct cr_http *h, struct cr_req *req)
{
	size_t off[CR_HTTP_MAX_PARAMS], len[CR_HTTP_MAX_PARAMS];
	int path_matched = 0;
	size_t i, np;

	for (i = 0; i < h->nroutes; i++) {
		if (!route_match(h->routes[i].pattern, req->path, off, len,
		    &np))
			continue;
		path_matched = 1;
		if (req->allow[0] != '\0')
			strncat(req->allow, ", ", sizeof(req->allow) -
			    strlen(req->allow) - 1);
		strncat(req->allow, h->routes[i].method, sizeof(req->allow) -
		    strlen(req->allow) - 1);
		if (strcmp(h->routes[i].method, req->method) == 0) {
			req->route = &h->routes[i];
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
 * MHD's unescaper for the path and query arguments: %HH decoded, except
 * %00, which stays as it is. MHD hands the path and arguments on as C
 * strings: a decoded NUL would cut "/v1/consult/a%00b" to the service
 * "a" silently; kept, it is one more byte the handler refuses.
 */
static size_t
http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *r = s, *w = s, hex[3];
	uint8_t b;

	(void)cls;
	(void)conn;
	while (*r != '\0') {
		if (r[0] == '%' && r[1] != '\0') {
			hex[0] = r[1];
			hex[1] = r[2];
			hex[2] = '\0';
			if (cr_util_unhex(hex, &b, 1) == 0 && b != 0) {
				*w++ = (char)b;
				r += 3;
				continue;
			}
		}
		*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
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
	atomic_fetch_add(&h->hub->inflight, 1);
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
		const char *cl;
		unsigned long long n;

		if ((req = req_new(h, conn, url, method)) == NULL)
			return MHD_NO;
		*con_cls = req;
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
	double ms;

	if (req == NULL)
		return;
	*con_cls = NULL;
	ms = cr_util_mono_ms() - req->start_ms;
	cr_metrics_request(req->route_index, req->status);
	if (h->hub->cfg.access_log) {
		char ts[CR_TS_LEN + 1];

		cr_util_now_rfc3339(ts);
		fprintf(stderr, "{\"ts\":\"%s\",\"request_id\":\"%s\","
		    "\"method\":\"%s\",\"route\":\"%s\",\"status\":%d,"
		    "\"ms\":%.3f,\"institution\":\"%s\"%s}\n", ts,
		    req->request_id, req->method,
		    req->route != NULL ? req->route->name : "-", req->status,
		    ms, req->principal == CR_PRINCIPAL_CLIENT ?
		    req->client.institution : (req->principal ==
		    CR_PRINCIPAL_OPERATOR ? "operator" : ""),
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
		    ",\"aborted\":true");
	}
	req_free(req);
	atomic_fetch_sub(&h->hub->inflight, 1);
}

static int
parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon, *port;
	struct addrinfo hints, *res = NULL;
	size_t hl;

	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - listen - 1);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, listen + 1, hl);
		port = rb + 2;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			return -1;
		hl = (size_t)(colon - listen);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, listen, hl);
		port = colon + 1;
	}
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 ||
	    res == NULL)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("http: %s", msg);
}

int
cr_http_start(struct cr_hub *hub, const struct cr_route *routes,
    size_t nroutes, struct cr_http **out)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct cr_http *h;
	const union MHD_DaemonInfo *info;
	unsigned threads = hub->cfg.threads;
	unsigned flags;

	if (parse_listen(hub->cfg.listen, &ss, &sslen) == -1) {
		log_warnx("listen address '%s': expected HOST:PORT with a "
		    "numeric host", hub->cfg.listen);
		return -1;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->hub = hub;
	h->routes = routes;
	h->nroutes = nroutes;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The logger first: MHD reports problems with later options to it. */
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, http_access, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_LIMIT, hub->cfg.connection_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, h,
	    MHD_OPTION_END);
	if (h->daemon == NULL) {
		log_warnx("cannot listen on %s", hub->cfg.listen);
		free(h);
		return -1;
	}
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info != NULL ? info->port : 0;
	*out = h;
	return 0;
}

unsigned
cr_http_port(const struct cr_http *h)
{
	return h->port;
}

void
cr_http_drain(struct cr_http *h, unsigned drain_ms)
{
	double deadline = cr_util_mono_ms() + drain_ms;
	MHD_socket fd;

	fd = MHD_quiesce_daemon(h->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	while (atomic_load(&h->hub->inflight) > 0 &&
	    cr_util_mono_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

void
cr_http_stop(struct cr_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
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

enum cr_principal_kind
cr_http_principal(struct cr_req *req)
{
	struct cr_hub *hub = req->hub;
	uint8_t hash[CR_HASH_LEN];
	const char *token;
	size_t len;

	if (req->principal_resolved)
		return req->principal;
	req->principal_resolved = 1;
	req->principal = CR_PRINCIPAL_NONE;
	if (req->auth == NULL || strncmp(req->auth, "Bearer ", 7) != 0)
		return req->principal;
	token = req->auth + 7;
	len = strlen(token);
	if (len == 0 || len >= CR_TOKEN_MAX)
		return req->principal;
	if (hub->admin_token_len == len &&
	    sodium_memcmp(token, hub->admin_token, len) == 0) {
		req->principal = CR_PRINCIPAL_OPERATOR;
		cr_util_strlcpy(req->client.id, "operator",
		    sizeof(req->client.id));
		return req->principal;
	}
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)token,
	    len, NULL, 0);
	if (hub->store->registry->ops->client_by_token(hub->store->registry, hash,
	    &req->client) == CR_STORE_OK)
		req->principal = CR_PRINCIPAL_CLIENT;
	return req->principal;
}

int
cr_http_require_any(struct cr_req *req)
{
	if (cr_http_principal(req) != CR_PRINCIPAL_NONE)
		return 0;
	cr_http_error(req, 401, "UNAUTHENTICATED",
	    "a valid 'Authorization: Bearer <token>' header is required");
	return -1;
}

int
cr_http_require_operator(struct cr_req *req)
{
	if (cr_http_require_any(req) == -1)
		return -1;
	if (req->principal == CR_PRINCIPAL_OPERATOR)
		return 0;
	cr_http_error(req, 403, "NOT_AUTHORIZED",
	    "this operation needs the operator token");
	return -1;
}

int
cr_http_require_client(struct cr_req *req)
{
	if (cr_http_require_any(req) == -1)
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
