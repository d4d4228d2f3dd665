/*
 * HTTPS for the listener (listener.h): the server's certificate and key,
 * reloaded on demand (SIGHUP) without touching open connections, and the
 * verification of client certificates against a CA.
 *
 * The certificate is handed to GnuTLS per handshake by a callback that
 * reads the current generation through an atomic pointer: a reload loads
 * the files into a new generation and swaps the pointer, so handshakes
 * after it present the new certificate, and connections already made go
 * on. A replaced generation is kept until cr_tls_free(), because GnuTLS
 * keeps pointing at the certificate a session was given for as long as
 * that session lives; a reload costs a few kilobytes.
 *
 * Client certificates (client_auth optional or require) are verified
 * during the handshake, against client_ca, with their validity dates and
 * the TLS client purpose: a certificate that does not verify fails the
 * handshake, with or without `require`; `require` also fails a handshake
 * without one. The client CA is read once, at start.
 *
 * Versions: TLS 1.2 and 1.3 only. Session tickets are off, so that every
 * connection's client certificate was verified by its own handshake.
 *
 * At most one cr_tls per process is in use by a daemon at a time (GnuTLS's
 * certificate callback has no argument to tell two apart).
 */
#ifndef CR_TLS_H
#define CR_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "cert.h"

/* The GnuTLS priorities of every TLS listener. */
#define CR_TLS_PRIORITIES \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%NO_TICKETS"

struct cr_tls_config {
	const char	*cert;		/* PEM: the certificate, then its chain */
	const char	*key;		/* PEM private key */
	const char	*client_ca;	/* PEM CA(s); NULL or "": none */
	int		 client_auth;	/* CR_TLS_CLIENT_* (config.h) */
};

struct cr_tls;

/*
 * Reads the files (the paths are copied). 0, or -1 logged with the file
 * and what is wrong with it (unreadable, not PEM, a key that does not
 * match the certificate).
 */
int	cr_tls_open(const struct cr_tls_config *, struct cr_tls **out);
/*
 * Reads the certificate and key again. 0 when the new ones are in use
 * (logged), or -1 with the old ones kept and why logged.
 */
int	cr_tls_reload(struct cr_tls *);
/* After the daemon using it has stopped. NULL is fine. */
void	cr_tls_free(struct cr_tls *);

/*
 * The options of MHD_start_daemon() for HTTPS into opts (room for
 * CR_TLS_MHD_OPTIONS, then MHD_OPTION_END); makes this the process's TLS
 * listener. Their count.
 */
#define CR_TLS_MHD_OPTIONS	3
size_t	cr_tls_mhd_options(struct cr_tls *, struct MHD_OptionItem *opts);
/* A connection is accepted, its handshake not started: sets what the
   handshake asks of the client. */
void	cr_tls_connection_started(struct cr_tls *, struct MHD_Connection *);

/*
 * The fingerprint of the certificate the client presented (verified by
 * the handshake): 1, 0 when it presented none (or the connection is not
 * TLS), -1 on error.
 */
int	cr_tls_peer_sha256(struct MHD_Connection *,
	    uint8_t out[CR_CERT_SHA256_LEN]);

#endif
