/*
 * The no-code source adapter (`crossroads source --config FILE`): serves
 * the hub's source protocol (POST {"subject","params",...} -> 200
 * {"data":{...}} or 404) from an institution's SQL database, following a
 * line-oriented config file of SELECT statements (docs/source-adapter.md).
 *
 * adapter_config.c parses the file and checks every query against the
 * database (errors name "FILE:LINE: what is wrong"); adapter.c runs the
 * queries of one request and serves HTTP.
 */
#ifndef CR_ADAPTER_H
#define CR_ADAPTER_H

#include <stddef.h>
#include <jansson.h>

#include "listener.h"
#include "srcdb.h"

#define CR_ADAPTER_NAME_MAX	128
#define CR_ADAPTER_PATH_MAX	256
#define CR_ADAPTER_SUBJECT_MAX	255	/* bytes of a subject */

enum cr_adapter_query_kind {
	CR_AQ_MAIN,		/* first row is "data"; no row: 404 */
	CR_AQ_LIST,		/* every row, as an array under name */
	CR_AQ_OBJECT,		/* first row or null, under name */
};

enum cr_adapter_arg_kind {
	CR_AA_SUBJECT,		/* :subject */
	CR_AA_PARAM,		/* :params.NAME, from the request's params */
	CR_AA_COLUMN,		/* :COLUMN of the main row (nested only) */
};

struct cr_adapter_arg {
	enum cr_adapter_arg_kind kind;
	char			*name;	/* NAME or COLUMN; NULL for subject */
};

struct cr_adapter_query {
	enum cr_adapter_query_kind kind;
	char			*name;		/* key in "data"; NULL: main */
	char			*sql;		/* as written */
	int			 line;
	int			 qid;		/* srcdb query id */
	struct cr_adapter_arg	*args;		/* in the srcdb's order */
	size_t			 nargs;
	struct cr_srcdb_shape	 shape;
};

/* "param NAME = TYPE": a :params.NAME declared for the hub's registration
   (the types of docs/api.md, "Params"). */
struct cr_adapter_param {
	char			*name;
	char			*type;
	int			 line;
};

struct cr_adapter_service {
	char			 name[CR_ADAPTER_NAME_MAX];
	char			 path[CR_ADAPTER_PATH_MAX];
	char			*provider;	/* "provider = ID", or NULL */
	int			 line;		/* of "[service NAME]" */
	int			 path_line;
	struct cr_adapter_query	*queries;	/* [0] is the main query */
	size_t			 nqueries;
	struct cr_adapter_param	*params;
	size_t			 nparams;
};

struct cr_adapter_config {
	char			*file;		/* as given */
	char			 listen[CR_LISTEN_MAX];
	int			 access_log;	/* on stderr */
	char			*database;	/* URI, path made absolute */
	char			*provider;	/* the hub's institution id for
						   every service, or NULL */
	unsigned		 threads;
	unsigned		 connection_limit;
	size_t			 body_limit;
	size_t			 max_rows;	/* per nested list */
	/* HTTPS (docs/source-adapter.md, "TLS"); NULL: not set. Relative
	   paths in the file are relative to its directory. */
	char			*tls_cert, *tls_key, *tls_client_ca;
	int			 tls_client_auth;	/* -1: not set */
	struct cr_adapter_service *services;
	size_t			 nservices;
	struct cr_srcdb		*db;		/* opened by load */
};

/*
 * Reads the config file, opens the database read-only and prepares every
 * query. 0, or -1 with "FILE:LINE: what is wrong" (or "FILE: ..." when no
 * line is to blame) in err. cr_adapter_config_free() in both cases.
 */
int	cr_adapter_config_load(struct cr_adapter_config *, const char *path,
	    char *err, size_t errlen);
/*
 * Only the reading of the file, from its text (len bytes; name for the
 * messages): settings, services and their queries as written, with no
 * database opened and no query checked (c->db stays NULL). Same return
 * and errors as cr_adapter_config_load for what it checks.
 */
int	cr_adapter_config_parse(struct cr_adapter_config *, const char *name,
	    const char *text, size_t len, char *err, size_t errlen);
void	cr_adapter_config_free(struct cr_adapter_config *);

/* Placeholder of the provider in a registration when the file names none. */
#define CR_ADAPTER_PROVIDER_UNSET	"PROVIDER"

/*
 * The body of the hub's POST /v1/services that registers svc of a loaded
 * config: id (the service's name), provider (the service's, the file's, or
 * CR_ADAPTER_PROVIDER_UNSET), endpoint (http or https, as the adapter
 * serves, with the listen address and the path), fields (the main query's
 * columns, then NAME.COLUMN for each nested query, recursively) and params
 * (each :params.NAME, typed by "param NAME = TYPE", else "string").
 * A new reference (the caller decrefs), or NULL when out of memory.
 */
json_t	*cr_adapter_registration(const struct cr_adapter_config *,
	    const struct cr_adapter_service *svc);

/* The service whose path is path, or NULL. */
const struct cr_adapter_service *
	cr_adapter_service_by_path(const struct cr_adapter_config *,
	    const char *path);

/*
 * Runs the queries of svc for subject and params (an object, or NULL).
 * Returns an HTTP status: 200 with *data (new reference), 404 when the
 * main query gave no row, 400 with a message in err (a parameter missing
 * or not a scalar), 500 with a message in err (database error; the
 * database's own diagnostic is logged, err is for the caller to log).
 */
int	cr_adapter_lookup(const struct cr_adapter_config *,
	    const struct cr_adapter_service *svc, const char *subject,
	    const json_t *params, json_t **data, char *err, size_t errlen);

/* The HTTP server (listener.h), one JSON access line a request on stderr
   unless access_log is off. */
struct cr_adapter;

/* Listens on cfg->listen and serves, HTTPS when cfg->tls_cert is set
   (its settings checked with cr_config_tls_rules). 0 or -1 (logged:
   "cannot listen on ADDRESS: why", or what is wrong with a TLS file). */
int	cr_adapter_start(const struct cr_adapter_config *,
	    struct cr_adapter **out);
/* The address bound, with the real port ("127.0.0.1:43210"). */
const char *cr_adapter_address(const struct cr_adapter *);
/* SIGHUP: the TLS certificate and key read again (listener.h). */
int	cr_adapter_reload(struct cr_adapter *);
/* Stops accepting, waits up to drain_ms for requests in flight, stops,
   frees. NULL is fine. */
void	cr_adapter_stop(struct cr_adapter *, unsigned drain_ms);

#endif
