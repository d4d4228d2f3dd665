/*
 * The HTTP front: libmicrohttpd with a thread pool (one epoll loop per
 * thread) and suspend/resume, so that a request waiting for a source or
 * for the exchange log holds no thread.
 *
 * A handler either answers at once (cr_http_reply*, cr_http_error) or
 * calls cr_http_suspend(), starts asynchronous work, and later, from any
 * thread, sets the answer with cr_http_reply* / cr_http_error and calls
 * cr_http_resume(). Handlers needing to build the answer on a worker thread
 * set req->on_resume, which runs there before the answer is queued.
 */
#ifndef CR_HTTP_H
#define CR_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <jansson.h>

#include "answer.h"
#include "hub.h"
#include "log.h"
#include "store.h"

struct MHD_Connection;
struct MHD_Daemon;
struct cr_req;

#define CR_ROUTE_BIG_BODY	0x1	/* body limit: batch_body_limit */
/* The handler itself refuses oversized bodies and bad headers (it checks
   body_too_large and end_user_error), so that the refusal is logged. */
#define CR_ROUTE_SELF_CHECKS	0x2
/* A GET route that HEAD must not reach: its GET has effects beyond the
   answer (the feed logs each event it hands out). */
#define CR_ROUTE_NO_HEAD	0x4
#define CR_HTTP_MAX_PARAMS	3
/* json_dumps flags of every answer. 15 significant digits: 17 would show
   binary noise such as 2660.2600000000002 in amounts read from a source. */
#define CR_HTTP_JSON_FLAGS	CR_ANSWER_JSON_FLAGS

struct cr_route {
	const char	*method;
	const char	*pattern;	/* "/v1/consult/{}": {} is a segment */
	void		(*handler)(struct cr_req *);
	unsigned	 flags;
	const char	*name;		/* metrics label */
};

/*
 * Operators' roles, a bit each (docs/api.md, "Operators and roles"): the
 * bootstrap token (CROSSROADS_ADMIN_TOKEN) is an admin. An admin does
 * everything; an auditor reads (GET, HEAD) what operators read and
 * changes nothing; security reads as well and manages what the routes
 * that call cr_http_require_role(req, CR_ROLE_SECURITY) manage
 * (credentials, capacities).
 */
#define CR_ROLE_ADMIN		0x1
#define CR_ROLE_AUDITOR		0x2
#define CR_ROLE_SECURITY	0x4
/* Operator tokens are "cro_" + 64 hex digits, client tokens "crt_". */
#define CR_OPERATOR_TOKEN_PREFIX	"cro_"

/* Why the principal is CR_PRINCIPAL_NONE. */
enum cr_auth_failure {
	CR_AUTH_OK = 0,
	CR_AUTH_NO_TOKEN,		/* no "Authorization: Bearer ..." */
	CR_AUTH_UNKNOWN_TOKEN,		/* a token that matches nobody */
	CR_AUTH_STORE_ERROR,		/* the lookup failed */
	/* Client certificates (docs/api.md, "Client certificates"). */
	CR_AUTH_UNKNOWN_CERT,		/* no token; a certificate nobody
					   is registered with */
	CR_AUTH_CERT_REQUIRED,		/* the token's client must also
					   present its certificate */
	CR_AUTH_TOKEN_REQUIRED,		/* tls_require_token: a certificate
					   alone is not enough */
	CR_AUTH_CERT_MISMATCH,		/* certificate and token of two
					   clients */
};

/* Why a request is answered 429 RATE_LIMITED (cr_http_principal). */
enum cr_rate_limited {
	CR_LIMITED_NO = 0,
	CR_LIMITED_UNAUTHENTICATED,	/* its address: too many 401s */
	CR_LIMITED_CLIENT,		/* its client's rate limit */
};

struct cr_req {
	struct MHD_Connection	*conn;
	struct cr_hub		*hub;
	const struct cr_route	*route;
	size_t			 route_index;
	char			 method[16];
	char			*path;		/* owned */
	/* The path's {} segments, whole, as MHD decoded them: any bytes, any
	   length; the handler checks them. Point into param_buf (owned). */
	const char		*params[CR_HTTP_MAX_PARAMS];
	char			*param_buf;
	char			 request_id[64];
	/* X-End-User as text (cr_util_utf8_copy); when refused, what of it
	   fits, escaped, for the log. */
	char			 end_user[128];
	/* Why X-End-User is refused (too long, not UTF-8 text); "" if not. */
	char			 end_user_error[64];
	char			 allow[64];	/* methods of the path */
	const char		*content_type;	/* borrowed from MHD */
	const char		*auth;		/* borrowed from MHD */

	/* Who is calling, resolved lazily by cr_http_principal(). */
	int			 principal_resolved;
	enum cr_principal_kind	 principal;
	enum cr_auth_failure	 auth_failure;
	struct cr_client	 client;
	/* Past a rate limit: answered 429 with Retry-After retry_after. */
	enum cr_rate_limited	 limited;
	unsigned		 retry_after;
	unsigned		 role;		/* CR_ROLE_* of an operator */
	/* Who acts, for the audit trail: "admin" (the bootstrap token), a
	   named operator's name, or a client's id; "" when none. */
	char			 actor[CR_NAME_MAX];

	/* Request body. */
	char			*body;
	size_t			 body_len, body_cap, body_limit;
	int			 body_too_large;

	/* Answer. */
	int			 status;
	char			*resp;		/* owned */
	size_t			 resp_len;
	const char		*resp_type;
	int			 answered;
	int			 close;		/* "Connection: close" on the
						   answer */
	/* More answer headers (cr_http_header). */
	struct {
		char	name[32];
		char	value[80];
	}			 hdr[4];
	size_t			 nhdr;
	int			 async;		/* handler suspended */
	void			(*on_resume)(struct cr_req *);
	void			*ctx;		/* handler state */
	void			(*ctx_free)(void *);
	double			 start_ms;
	/* A streamed answer (cr_http_reply_stream). */
	long			(*stream_read)(void *, char *, size_t);
	void			*stream_ctx;
	void			(*stream_free)(void *);
};

struct cr_http;

struct cr_listener;

/*
 * Serves routes on listener (opened by cr_listener_open(), so that a bad
 * or busy address fails before anything else starts), with cfg.threads
 * and cfg.connection_limit. Takes the listener, even on failure. 0 or -1
 * (logged).
 */
int	cr_http_start(struct cr_hub *, struct cr_listener *listener,
	    const struct cr_route *routes, size_t nroutes,
	    struct cr_http **out);
/* Stops accepting (new connections are refused); waits up to drain_ms
   for in-flight requests. */
void	cr_http_drain(struct cr_http *, unsigned drain_ms);
/* Stops the daemon, then closes the listener; frees. NULL is fine. */
void	cr_http_stop(struct cr_http *);
/* The address bound, with the real port (useful with port 0). */
const char *cr_http_address(const struct cr_http *);

/* Answers: each sets the answer once; the first one wins. */
void	cr_http_reply(struct cr_req *, int status, const char *type,
	    char *body, size_t len);		/* takes body (malloc'd) */
void	cr_http_reply_json(struct cr_req *, int status, json_t *);	/* steals */
/*
 * A streamed answer of unknown length (chunked), for bodies too large to
 * build in memory: read(ctx, buf, max) is called on an HTTP thread for the
 * next bytes and returns how many it wrote (> 0), 0 at the end, or -1 to
 * cut the connection. free_fn(ctx) runs when the answer is over (or not
 * sent). Set like any answer: the first one wins.
 */
void	cr_http_reply_stream(struct cr_req *, int status, const char *type,
	    long (*read)(void *ctx, char *buf, size_t max), void *ctx,
	    void (*free_fn)(void *));
/* The message may quote a client's bytes: it is made valid UTF-8 text. */
void	cr_http_error(struct cr_req *, int status, const char *code,
	    const char *fmt, ...) CR_PRINTF(4, 5);
/* 500 INTERNAL "storage error": the answer to a store operation that
   failed (CR_STORE_ERR, logged by the store), logged with the route so
   that the operator finds the request that met it. */
void	cr_http_storage_error(struct cr_req *);
/* Adds a header to the answer (copied; ignored past 4 or when too long:
   the names and values are the hub's own). */
void	cr_http_header(struct cr_req *, const char *name,
	    const char *value);
void	cr_http_suspend(struct cr_req *);
void	cr_http_resume(struct cr_req *);

/* A query-string argument, or NULL. */
const char *cr_http_query(struct cr_req *, const char *key);

/*
 * Resolves the bearer token once ("Bearer" in any case); returns the
 * principal kind, and sets req->auth_failure. Then the limits: a request
 * without a valid token is counted against its address (unauth.h), a
 * client's against its rate (client_rate.h); past either, req->limited
 * is set and cr_http_require_* answer 429 RATE_LIMITED.
 */
enum cr_principal_kind cr_http_principal(struct cr_req *);
/* After cr_http_principal() gave CR_PRINCIPAL_NONE: the 401's message,
   "missing bearer token" or "unknown or revoked token". Static. */
const char *cr_http_auth_message(const struct cr_req *);
/* Answer 401/403 and return -1 unless the caller is an operator that may
   do this: any role to read (GET, HEAD), an admin to change. */
int	cr_http_require_operator(struct cr_req *);
/* Answer 401/403 and return -1 unless the caller is an operator with
   one of roles (CR_ROLE_* ored); an admin always may. */
int	cr_http_require_role(struct cr_req *, unsigned roles);
/* The CR_ROLE_* of a role's name, or 0. */
unsigned cr_http_role_bit(const char *name);
/* Answer 401/403 and return -1 unless the caller is a client. */
int	cr_http_require_client(struct cr_req *);
/* Answer 401 (or 429) and return -1 unless the caller is authenticated
   and within its limits; 403 for an operator other than an admin on a
   route that changes something. */
int	cr_http_require_any(struct cr_req *);

/*
 * Parses the body as one JSON object and checks it against spec; answers
 * 400 BAD_REQUEST (or 413) and returns NULL on failure. New reference.
 */
struct cr_jsonv_field;
json_t	*cr_http_body_json(struct cr_req *, const struct cr_jsonv_field *);

#endif
