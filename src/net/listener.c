/*
 * The HTTP listener of the hub and of the source adapter (listener.h).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "guard.h"
#include "listener.h"
#include "log.h"
#include "util.h"

#define LISTEN_BACKLOG		1024
/* "[" + IPv6 with a zone + "]:" + port */
#define ADDR_MAX		(NI_MAXHOST + NI_MAXSERV + 4)

struct cr_listener {
	int			 fd;		/* -1 once MHD owns it */
	int			 family;
	struct MHD_Daemon	*daemon;
	MHD_socket		 quiesced;	/* MHD_quiesce_daemon's */
	struct cr_guard		*guard;		/* deadlines (guard.h) */
	/* The application's callbacks, behind the listener's. */
	MHD_AccessHandlerCallback	access;
	MHD_RequestCompletedCallback	completed;
	void			*cls;
	unsigned		 port;
	char			 address[ADDR_MAX];
	atomic_long		 inflight;
	struct cr_tls		*tls;		/* NULL: plain HTTP */
};

/* "127.0.0.1:80" or "[::1]:80" into out[ADDR_MAX]. */
static void
format_address(const struct sockaddr *sa, socklen_t len, char *out)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, ADDR_MAX, "?");
		return;
	}
	snprintf(out, ADDR_MAX, sa->sa_family == AF_INET6 ? "[%s]:%s" :
	    "%s:%s", host, serv);
}

int
cr_listener_open(const char *spec, struct cr_listener **out)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct cr_listener *l;
	char err[CR_LISTEN_MAX + 160];
	int one = 1;

	*out = NULL;
	if (cr_addr_parse(spec, &ss, &sslen, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	l->family = ss.ss_family;
	l->quiesced = MHD_INVALID_SOCKET;
	format_address((struct sockaddr *)&ss, sslen, l->address);
	/* As libmicrohttpd would: reuse a port in TIME_WAIT, IPv6 only. */
	if ((l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    (ss.ss_family == AF_INET6 && setsockopt(l->fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(l->fd, (struct sockaddr *)&ss, sslen) == -1) {
		log_warnx("cannot listen on %s: %s", l->address,
		    strerror(errno));
		goto fail;
	}
	/* The real port when 0 was asked for. */
	sslen = sizeof(ss);
	if (getsockname(l->fd, (struct sockaddr *)&ss, &sslen) == -1) {
		log_warn("getsockname %s", l->address);
		goto fail;
	}
	format_address((struct sockaddr *)&ss, sslen, l->address);
	l->port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	*out = l;
	return 0;
fail:
	if (l->fd != -1)
		close(l->fd);
	free(l);
	return -1;
}

/*
 * The same message again within MHD_LOG_REPEAT_MS is counted, not
 * printed: libmicrohttpd says "reached connection limit" for every
 * connection it refuses, and a flood of them must not become a flood of
 * lines on stderr.
 */
#define MHD_LOG_REPEAT_MS	1000
static pthread_mutex_t mhd_log_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *mhd_log_fmt;
static double mhd_log_at;
static unsigned long mhd_log_repeats;

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	unsigned long repeats;
	double now = cr_util_mono_ms();

	(void)cls;
	pthread_mutex_lock(&mhd_log_mu);
	if (fmt == mhd_log_fmt && now - mhd_log_at < MHD_LOG_REPEAT_MS) {
		mhd_log_repeats++;
		pthread_mutex_unlock(&mhd_log_mu);
		return;
	}
	repeats = mhd_log_repeats;
	mhd_log_repeats = 0;
	mhd_log_fmt = fmt;
	mhd_log_at = now;
	pthread_mutex_unlock(&mhd_log_mu);
	if (repeats > 0)
		log_warnx("http: (the previous message %lu more times)",
		    repeats);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("http: %s", msg);
}

/*
 * MHD's unescaper for the path and query arguments of both programs: %HH
 * decoded, except
 * %00, which stays as it is. MHD hands the path and arguments on as C
 * strings: a decoded NUL would cut "/v1/consult/a%00b" to the service
 * "a" silently; kept, it is one more byte the handler refuses.
 */
static size_t
listener_unescape(void *cls, struct MHD_Connection *conn, char *s)
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

struct framing {
	int		 te;		/* Transfer-Encoding seen */
	int		 conflict;	/* Content-Length values disagree */
	const char	*cl;		/* the first Content-Length value */
	size_t		 ncl;
};

/* Compares the comma-separated values of one Content-Length with f->cl. */
static void
framing_cl(struct framing *f, const char *v)
{
	const char *p = v, *e;
	size_t len, flen;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ',' && *e != ' ' && *e != '\t';
		    e++)
			;
		len = (size_t)(e - p);
		if (f->cl == NULL)
			f->cl = p;
		else {
			flen = strcspn(f->cl, ", \t");
			if (flen != len || memcmp(f->cl, p, len) != 0)
				f->conflict = 1;
		}
		p = e;
	}
}

static enum MHD_Result
framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->te = 1;
	else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		f->ncl++;
		framing_cl(f, value != NULL ? value : "");
	}
	return MHD_YES;
}

const char *
cr_listener_framing_error(struct MHD_Connection *conn)
{
	struct framing f;

	memset(&f, 0, sizeof(f));
	MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_header, &f);
	if (f.te && f.ncl > 0)
		return "a request may not carry both Content-Length and "
		    "Transfer-Encoding";
	if (f.conflict)
		return "conflicting Content-Length headers";
	return NULL;
}

/* The application's access handler, the guard told of its progress. */
static enum MHD_Result
listener_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct cr_listener *l = cls;

	cr_guard_access(conn, *upload_data_size);
	return l->access(l->cls, conn, url, method, version, upload_data,
	    upload_data_size, con_cls);
}

static void
listener_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct cr_listener *l = cls;

	cr_guard_completed(conn);
	if (l->completed != NULL)
		l->completed(l->cls, conn, con_cls, toe);
}

int
cr_listener_tls(struct cr_listener *l, const struct cr_tls_config *c)
{
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS) ||
	    !MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK)) {
		log_warnx("this libmicrohttpd was built without TLS");
		return -1;
	}
	cr_tls_free(l->tls);
	l->tls = NULL;
	return cr_tls_open(c, &l->tls);
}

int
cr_listener_reload(struct cr_listener *l)
{
	return l->tls != NULL ? cr_tls_reload(l->tls) : -1;
}

static void
listener_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct cr_listener *l = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED && l->tls != NULL)
		cr_tls_connection_started(l->tls, conn);
	cr_guard_notify(l->guard, conn, socket_ctx, code);
}

int
cr_listener_start(struct cr_listener *l, const struct cr_listener_config *c)
{
	struct MHD_OptionItem tlsopts[CR_TLS_MHD_OPTIONS + 1];
	struct cr_guard_config gc;
	unsigned threads = c->threads, flags;

	/* Only now: until the daemon runs, connections are refused rather
	   than left waiting in the backlog. */
	if (listen(l->fd, LISTEN_BACKLOG) == -1) {
		log_warnx("cannot listen on %s: %s", l->address,
		    strerror(errno));
		return -1;
	}
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	/* The inter-thread channel lets MHD_quiesce_daemon() stop the
	   listener while connections go on. */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
	    MHD_USE_ERROR_LOG;
	if (c->suspend_resume)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	if (l->family == AF_INET6)
		flags |= MHD_USE_IPv6;
	tlsopts[0] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	if (l->tls != NULL) {
		flags |= MHD_USE_TLS;
		cr_tls_mhd_options(l->tls, tlsopts);
	}
	memset(&gc, 0, sizeof(gc));
	gc.header_timeout_ms = c->header_timeout_ms;
	gc.body_timeout_ms = c->body_timeout_ms;
	if (cr_guard_start(&gc, &l->guard) == -1)
		return -1;
	l->access = c->access;
	l->completed = c->completed;
	l->cls = c->cls;
	/*
	 * The logger first: MHD reports problems with later options to it.
	 * MHD counts the connections of each address over all the pool's
	 * threads and closes, as soon as it accepts it, one that would pass
	 * per_ip_limit: one address cannot take every slot of
	 * connection_limit. The idle timeout closes a connection that sends
	 * nothing (or reads nothing of its answer); the guard, one whose
	 * headers or body take too long however busy it looks.
	 */
	l->daemon = MHD_start_daemon(flags, 0, NULL, NULL, listener_access, l,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, listener_unescape, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->fd,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_LIMIT, c->connection_limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->per_ip_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, c->idle_timeout_s > 0 ?
	    c->idle_timeout_s : (unsigned)CR_LISTENER_IDLE_TIMEOUT_S,
	    MHD_OPTION_NOTIFY_COMPLETED, listener_completed, l,
	    MHD_OPTION_NOTIFY_CONNECTION, listener_notify, l,
	    MHD_OPTION_ARRAY, tlsopts,
	    MHD_OPTION_END);
	/*
	 * The daemon owns the socket now: it closes it when stopped without
	 * quiescing, and on most failure paths of MHD_start_daemon, so it is
	 * never closed here again (at worst a failed start leaks it).
	 */
	l->fd = -1;
	if (l->daemon == NULL) {
		log_warnx("cannot start the HTTP server on %s", l->address);
		return -1;
	}
	return 0;
}

const char *
cr_listener_address(const struct cr_listener *l)
{
	return l->address;
}

unsigned
cr_listener_port(const struct cr_listener *l)
{
	return l->port;
}

void
cr_listener_enter(struct cr_listener *l)
{
	atomic_fetch_add(&l->inflight, 1);
}

void
cr_listener_leave(struct cr_listener *l)
{
	atomic_fetch_sub(&l->inflight, 1);
}

void
cr_listener_drain(struct cr_listener *l, unsigned drain_ms)
{
	double deadline = cr_util_mono_ms() + drain_ms;

	if (l == NULL || l->daemon == NULL)
		return;
	if (l->quiesced == MHD_INVALID_SOCKET) {
		l->quiesced = MHD_quiesce_daemon(l->daemon);
		/*
		 * Kept open until MHD_stop_daemon(), but no longer listening:
		 * shutdown(2) makes the kernel refuse new connections at once
		 * (libmicrohttpd wakes its threads the same way when it stops)
		 * instead of leaving them in the backlog for the drain.
		 */
		if (l->quiesced != MHD_INVALID_SOCKET)
			shutdown(l->quiesced, SHUT_RDWR);
	}
	while (atomic_load(&l->inflight) > 0 &&
	    cr_util_mono_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

void
cr_listener_free(struct cr_listener *l)
{
	if (l == NULL)
		return;
	if (l->daemon != NULL)
		MHD_stop_daemon(l->daemon);
	/* Only now: every connection is closed, and told the guard. */
	cr_guard_stop(l->guard);
	/* Only now: the daemon's threads are gone. */
	if (l->quiesced != MHD_INVALID_SOCKET)
		close(l->quiesced);
	if (l->fd != -1)
		close(l->fd);
	cr_tls_free(l->tls);
	free(l);
}

/* The access log ------------------------------------------------------- */

/*
 * Length of the UTF-8 character at s (1 to 4), or 0 when s starts an
 * ill-formed sequence; *skip is then the length of its longest valid
 * prefix (at least 1), which stands for one U+FFFD, as Unicode recommends.
 * s is NUL-terminated, and NUL is never a continuation byte.
 */
static size_t
utf8_char(const unsigned char *s, size_t *skip)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;		/* above U+10FFFF */
	} else {
		*skip = 1;
		return 0;
	}
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi) {
			*skip = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

struct line {
	char	buf[2048];
	size_t	len;
};

/* Appends n bytes; the caller keeps within the buffer (see below). */
static void
line_put(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/*
 * Appends "key":"s" with s escaped, at most max bytes of escaped text:
 * the string is cut before the character that would not fit, so the line
 * stays valid JSON.
 */
static void
line_str(struct line *l, const char *key, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t used = 0, n, skip, elen;

	line_put(l, ",\"", 2);
	line_put(l, key, strlen(key));
	line_put(l, "\":\"", 3);
	while (*p != '\0') {
		const char *out = esc;

		if ((n = utf8_char(p, &skip)) == 0) {
			out = "\xef\xbf\xbd";	/* U+FFFD */
			elen = 3;
			n = skip;
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			elen = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			elen = 6;
		} else {
			out = (const char *)p;
			elen = n;
		}
		if (used + elen > max)
			break;
		line_put(l, out, elen);
		used += elen;
		p += n;
	}
	line_put(l, "\"", 1);
}

void
cr_listener_access_log(const struct cr_access_line *a)
{
	struct line l;
	char ts[CR_TS_LEN + 1], num[64];
	int n;

	/*
	 * Room: 7 keys of at most 16 bytes, 5 strings of at most 256 bytes
	 * and their quotes, the numbers: far less than the buffer, so that
	 * line_put never cuts.
	 */
	l.len = 0;
	cr_util_now_rfc3339(ts);
	line_put(&l, "{\"ts\":\"", 7);
	line_put(&l, ts, strlen(ts));
	line_put(&l, "\"", 1);
	line_str(&l, "request_id", a->request_id != NULL ? a->request_id : "",
	    256);
	line_str(&l, "method", a->method, 256);
	line_str(&l, "route", a->route, 256);
	n = snprintf(num, sizeof(num), ",\"status\":%d,\"ms\":%.3f",
	    a->status, a->ms);
	line_put(&l, num, (size_t)n);
	if (a->institution != NULL)
		line_str(&l, "institution", a->institution, 256);
	if (a->auth != NULL)
		line_str(&l, "auth", a->auth, 256);
	if (a->aborted)
		line_put(&l, ",\"aborted\":true", 15);
	line_put(&l, "}\n", 2);
	/* One write: lines of concurrent requests do not interleave. */
	fwrite(l.buf, 1, l.len, stderr);
}
