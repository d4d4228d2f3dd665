/*
 * Settings of `crossroads serve`: defaults, then the config file (one
 * "key = value" a line, '#' comments), then command-line flags. The keys
 * are documented in docs/configuration.md.
 */
#ifndef CR_CONFIG_H
#define CR_CONFIG_H

#include <stddef.h>

/* tls_client_auth: whether clients are asked for a certificate. */
#define CR_TLS_CLIENT_NONE	0	/* not asked */
#define CR_TLS_CLIENT_OPTIONAL	1	/* asked; one sent must verify */
#define CR_TLS_CLIENT_REQUIRE	2	/* no handshake without one */
#include "ratelimit.h"

#define CR_CONFIG_MAX_RATE_OVERRIDES	256

/* client_rate_limit.institution.ID / client_rate_limit.client.ID */
struct cr_rate_override {
	int		 client;	/* 1: id is a client's, 0: an
					   institution's */
	char		 id[64];
	struct cr_rate	 rate;
};

struct cr_config {
	char	 listen[128];		/* "127.0.0.1:8080" */
	char	 db[1024];		/* store path or URI */
	char	 id_scheme[32];		/* person identifier scheme */
	unsigned threads;		/* HTTP worker threads; 0 = cores */
	unsigned connection_limit;
	/* Abuse (docs/configuration.md): connections per client address,
	   deadlines for a request's headers and body, the idle timeout. */
	unsigned per_ip_connection_limit;	/* 0: none */
	unsigned header_timeout_ms;		/* 0: none */
	unsigned body_timeout_ms;		/* 0: none */
	unsigned idle_timeout;			/* seconds */
	/* Requests without a valid token, per client address; requests of
	   each client (its own, its institution's, or the default). */
	struct cr_rate unauth_rate;
	struct cr_rate client_rate;
	struct cr_rate_override rate_overrides[CR_CONFIG_MAX_RATE_OVERRIDES];
	size_t	 nrate_overrides;
	size_t	 body_limit;		/* JSON bodies */
	size_t	 batch_body_limit;	/* NDJSON batches */
	int	 access_log;		/* one JSON line a request on stderr */
	long	 source_max_connections;	/* per source host */
	size_t	 source_max_response;
	size_t	 log_max_batch;		/* exchange-log entries per commit */
	unsigned drain_timeout_ms;	/* SIGTERM: wait for in-flight requests */
	/* Events (docs/events.md). */
	size_t	 events_max_batch;	/* events per publish transaction */
	unsigned feed_max_wait;		/* seconds a feed long poll may wait */
	int	 delivery_max_attempts;	/* webhook: then dead-lettered */
	long	 delivery_base_backoff_ms;
	long	 delivery_max_backoff_ms;
	long	 delivery_timeout_ms;	/* per webhook POST */
	size_t	 delivery_max_in_flight;	/* per subscription */
	/* Batches (docs/batches.md). */
	unsigned batch_concurrency;	/* verifications in flight per batch */
	/* HTTPS (docs/configuration.md, "TLS"): "" when not set. */
	char	 tls_cert[1024];
	char	 tls_key[1024];
	char	 tls_client_ca[1024];
	int	 tls_client_auth;	/* CR_TLS_CLIENT_*; -1: not set */
	int	 tls_require_token;	/* a certificate is not enough */
	/* Webhooks to https:// endpoints: whom to trust, what to show. */
	char	 webhook_ca_file[1024];
	char	 webhook_client_cert[1024];
	char	 webhook_client_key[1024];
	/* Signed tree heads (docs/exchange-log.md); "" = next to the db. */
	char	 log_key[1024];		/* Ed25519 key file */
	char	 log_head_file[1024];	/* the last signed head */
	unsigned log_head_interval_ms;	/* a head at least this often */
	unsigned long long log_head_entries;	/* or after this many */
	/* Credentials (docs/api.md). */
	unsigned client_usage_flush_ms;	/* last_used_at written so often */
	unsigned client_rotate_overlap_s;	/* old token valid after rotate */
};

void	cr_config_defaults(struct cr_config *);
/* Sets one key; -1 with a message in err for an unknown key or bad value. */
int	cr_config_set(struct cr_config *, const char *key, const char *value,
	    char *err, size_t errlen);
/* "none", "optional", "require" into *out: 0, or -1. */
int	cr_config_tls_client_auth(const char *, int *out);
/*
 * What the settings together forbid (a key without its certificate, a
 * client CA nobody uses...): 0, or -1 with why in err. Also settles
 * tls_client_auth: optional when a client CA is given, else none.
 */
int	cr_config_check_tls(struct cr_config *, char *err, size_t errlen);
/* The same rules for any listener's four settings (NULL or "": not set;
   *client_auth -1 is settled). The source adapter uses it too. */
int	cr_config_tls_rules(const char *cert, const char *key,
	    const char *client_ca, int *client_auth, char *err,
	    size_t errlen);
/* The rate of a client of an institution: its own override, else its
   institution's, else client_rate. Borrowed from the config. */
const struct cr_rate *cr_config_client_rate(const struct cr_config *,
	    const char *client_id, const char *institution);
/* Reads a config file; -1 with "FILE:LINE: what is wrong" in err. */
int	cr_config_load(struct cr_config *, const char *path, char *err,
	    size_t errlen);
/* The same from the file's text (len bytes; name for the messages). */
int	cr_config_parse(struct cr_config *, const char *name, const char *text,
	    size_t len, char *err, size_t errlen);

#endif
