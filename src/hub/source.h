/*
 * Calls from the hub to authentic sources. A transport is a table of
 * function pointers (like the storage interface) so that another transport
 * (mutual TLS, a message queue) can replace plain HTTP.
 *
 * The HTTP transport (source_http.c) runs one libcurl multi loop on its own
 * thread: requests from any thread are queued to it and complete through a
 * callback, so no request thread ever waits on a source. Connections are
 * kept alive and reused per host.
 */
#ifndef CR_SOURCE_H
#define CR_SOURCE_H

#include <stddef.h>

enum cr_source_error {
	CR_SOURCE_OK = 0,		/* an HTTP answer came (any status) */
	CR_SOURCE_TIMEOUT,		/* no full answer within timeout_ms */
	CR_SOURCE_UNAVAILABLE,		/* connect failed, reset, too large */
};

struct cr_source_result {
	enum cr_source_error	 error;
	long			 http_status;	/* when error == OK */
	const char		*body;		/* NUL-terminated; owned by the
						   transport, valid only during
						   the callback */
	size_t			 body_len;
	double			 elapsed_ms;
	char			 detail[160];	/* why, when error != OK */
};

/* Called on the transport's thread; must not block. */
typedef void (*cr_source_done_fn)(void *arg,
    const struct cr_source_result *res);

struct cr_source_request {
	const char	*url;
	const char	*body;		/* JSON, POSTed */
	size_t		 body_len;
	long		 timeout_ms;
	const char	*request_id;	/* sent as X-Request-Id */
	/*
	 * Extra header lines ("Name: value"), NULL-terminated; NULL for none.
	 * At most CR_SOURCE_MAX_HEADERS of at most CR_SOURCE_HEADER_MAX
	 * bytes each; a line with a control character (CR, LF: header
	 * injection) or without a token name and a colon is refused: done
	 * reports UNAVAILABLE and nothing is sent.
	 */
	const char *const *headers;
	/*
	 * https:// only: the CA file that the source's certificate must chain
	 * to (NULL: the system's CAs), and the certificate and key the hub
	 * presents (NULL: none). PEM files. The certificate is always
	 * verified, name included, with TLS 1.2 at least.
	 */
	const char	*ca_file;
	const char	*client_cert;
	const char	*client_key;
};

#define CR_SOURCE_MAX_HEADERS	6
#define CR_SOURCE_HEADER_MAX	512

struct cr_source_transport;

struct cr_source_transport_ops {
	const char *name;
	/* Copies the request; done is called exactly once, later, from the
	   transport thread (even when the call fails at once). 0, or -1 when
	   the transport is stopping (done is then not called). */
	int	(*submit)(struct cr_source_transport *,
		    const struct cr_source_request *, cr_source_done_fn done,
		    void *arg);
	/* Fails what is in flight with UNAVAILABLE, joins, frees. */
	void	(*stop)(struct cr_source_transport *);
};

struct cr_source_transport {
	const struct cr_source_transport_ops *ops;
};

struct cr_source_config {
	long	max_connections_per_host;	/* 0 = 256 */
	size_t	max_response_bytes;		/* 0 = 4 MiB */
};

int	cr_source_http_start(const struct cr_source_config *,
	    struct cr_source_transport **out);

/*
 * Request checks every transport applies (source_check.c). A request id
 * of at most CR_SOURCE_REQID_MAX bytes without control characters: 1 or
 * 0. Header lines ("Name: value", a token name, no CR, LF or other
 * control character but tab, at most CR_SOURCE_HEADER_MAX bytes, at most
 * CR_SOURCE_MAX_HEADERS of them): NULL with *count lines and *bytes
 * (their lengths plus one each), or the reason they are refused.
 */
#define CR_SOURCE_REQID_MAX	128
int		 cr_source_request_id_ok(const char *id);
const char	*cr_source_headers_check(const char *const *hdrs, size_t *count,
		    size_t *bytes);

#endif
