/*
 * The HTTP listener shared by the hub (http.c) and the source adapter
 * (adapter.c): the `--listen` syntax, the listening socket, the
 * libmicrohttpd daemon with the options both run with (a thread pool, one
 * epoll loop per thread, the inter-thread channel that quiescing needs,
 * connection limits per daemon and per client address, an idle timeout,
 * deadlines for a request's headers and body (guard.h), diagnostics
 * through log.c), the count of requests in
 * flight, the shutdown in the order libmicrohttpd requires, and the JSON
 * access line.
 *
 * The socket is bound by cr_listener_open(), before the daemon starts, so
 * that a command can fail on a busy address before it touches any file,
 * and say which address and why; it listens from cr_listener_start() on.
 *
 * Shutdown: cr_listener_drain() stops accepting and waits for requests in
 * flight; cr_listener_free() stops the daemon and only then closes the
 * socket (the manual forbids closing the socket MHD_quiesce_daemon()
 * returns while the daemon's threads may still use it).
 */
#ifndef CR_LISTENER_H
#define CR_LISTENER_H

#include <sys/socket.h>

#include <stddef.h>
#include <microhttpd.h>

#include "addr.h"
#include "tls.h"

#define CR_LISTEN_MAX	128	/* a --listen value, NUL included */

struct cr_listener;

/*
 * Parses spec and binds the socket (the port is known from then on). 0, or
 * -1 logged as "cannot listen on ADDRESS: why" (or the parse error).
 */
int	cr_listener_open(const char *spec, struct cr_listener **out);

/*
 * Serve HTTPS only: reads the certificate, key and client CA now, so that
 * a bad file stops the start before anything else (tls.h). Between open
 * and start. 0, or -1 logged.
 */
int	cr_listener_tls(struct cr_listener *, const struct cr_tls_config *);
/* SIGHUP: the certificate and key read again (tls.h); 0, -1 when the
   listener has no TLS or the files are bad (the old ones stay). */
int	cr_listener_reload(struct cr_listener *);
#define CR_LISTENER_IDLE_TIMEOUT_S	120	/* idle_timeout_s 0 */

struct cr_listener_config {
	unsigned	 threads;		/* 0: one per core */
	unsigned	 connection_limit;
	unsigned	 per_ip_limit;		/* connections per client
						   address; 0: no limit */
	unsigned	 idle_timeout_s;	/* nothing sent or read */
	unsigned	 header_timeout_ms;	/* 0: none (guard.h) */
	unsigned	 body_timeout_ms;	/* 0: none */
	int		 suspend_resume;	/* MHD_ALLOW_SUSPEND_... */
	MHD_AccessHandlerCallback	access;
	MHD_RequestCompletedCallback	completed;
	void		*cls;			/* for both */
};

/* Listens and starts the daemon on the socket. 0 or -1 (logged). */
int	cr_listener_start(struct cr_listener *,
	    const struct cr_listener_config *);

/* The address bound, with the real port ("127.0.0.1:43210", "[::1]:80");
   owned by the listener. */
const char *cr_listener_address(const struct cr_listener *);
unsigned cr_listener_port(const struct cr_listener *);

/* A request begins (counted before anything else looks at it) / ends. */
void	cr_listener_enter(struct cr_listener *);
void	cr_listener_leave(struct cr_listener *);

/*
 * Stops accepting (new connections are refused at once, not left in the
 * backlog) and waits up to drain_ms for the requests in flight.
 */
void	cr_listener_drain(struct cr_listener *, unsigned drain_ms);

/* Stops the daemon (closing what is still open), then the socket; frees.
   NULL is fine. */
void	cr_listener_free(struct cr_listener *);

/*
 * NULL when the request's framing is unambiguous, or why not: both
 * Content-Length and Transfer-Encoding, or Content-Length headers (or a
 * list in one) that disagree. Two parsers (a proxy in front, this server)
 * could then see different requests on one connection (request
 * smuggling), so such a request is refused with 400 and its connection
 * closed, its body never read.
 */
const char *cr_listener_framing_error(struct MHD_Connection *);

/* One line of the access log. Strings are borrowed; NULL ones (but
   method and route) are left out of the line. */
struct cr_access_line {
	const char	*request_id;
	const char	*method;
	const char	*route;
	int		 status;
	double		 ms;
	const char	*institution;
	const char	*auth;		/* a 401's reason */
	int		 aborted;
};

/*
 * Writes the line on stderr as one JSON object in valid UTF-8, whatever
 * the strings hold: quotes, backslashes and control characters escaped,
 * ill-formed UTF-8 replaced by U+FFFD, over-long strings cut.
 */
void	cr_listener_access_log(const struct cr_access_line *);

#endif
