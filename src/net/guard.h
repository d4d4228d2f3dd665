/*
 * Deadlines for the parts of a request the client controls the pace of:
 * its headers and its body (listener.c wires it into the daemon).
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client that
 * sends one byte every few seconds is never idle, and can hold its
 * connection, and one of the daemon's slots, for as long as it likes
 * (slowloris). The guard knows, for every connection, the phase it is in
 * and since when, and a sweeper thread shuts down (shutdown(2)) the socket
 * of a connection whose phase has lasted too long; the daemon then sees
 * the end of the stream and closes it as usual.
 *
 *   headers: from the connection's opening, or the end of the previous
 *            answer on a kept-alive connection, until the request's
 *            headers are complete (header_timeout_ms);
 *   body:    from then until the body is complete (body_timeout_ms);
 *   handled: the application has the request (no deadline here: the
 *            handler's own timeouts apply, a suspended connection waits
 *            for its source or its log entry).
 *
 * The table of connections is sharded by socket; a shard's lock is taken
 * when a connection opens or closes and by the sweeper, never on the path
 * of a request's bytes (phases are atomics). Closed connections are
 * counted in crossroads_http_deadline_closed_total{phase}.
 */
#ifndef CR_GUARD_H
#define CR_GUARD_H

#include <microhttpd.h>

struct cr_guard;

struct cr_guard_config {
	unsigned	header_timeout_ms;	/* 0: no deadline */
	unsigned	body_timeout_ms;	/* 0: no deadline */
};

/* Starts the sweeper (none when both deadlines are 0). 0 or -1 (logged). */
int	cr_guard_start(const struct cr_guard_config *, struct cr_guard **out);
/* Stops the sweeper and frees; after the daemon has stopped (every
   connection closed). NULL is fine. */
void	cr_guard_stop(struct cr_guard *);

/* MHD_OPTION_NOTIFY_CONNECTION's callback; cls is the guard. */
void	cr_guard_notify(void *cls, struct MHD_Connection *,
	    void **socket_context, enum MHD_ConnectionNotificationCode);

/* The access handler's call (first of a request, with body data, or the
   last one: upload_size 0 after the first) moves the phase on. */
void	cr_guard_access(struct MHD_Connection *, size_t upload_size);
/* The request is over: the connection waits for the next one's headers. */
void	cr_guard_completed(struct MHD_Connection *);

#endif
