/*
 * Settings of `crossroads serve`: defaults, then the config file (one
 * "key = value" a line, '#' comments), then command-line flags. The keys
 * are documented in docs/configuration.md.
 */
#ifndef CR_CONFIG_H
#define CR_CONFIG_H

#include <stddef.h>

struct cr_config {
	char	 listen[128];		/* "127.0.0.1:8080" */
	char	 db[1024];		/* store path or URI */
	char	 id_scheme[32];		/* person identifier scheme */
	unsigned threads;		/* HTTP worker threads; 0 = cores */
	unsigned connection_limit;
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
	/* Credentials (docs/api.md). */
	unsigned client_usage_flush_ms;	/* last_used_at written so often */
	unsigned client_rotate_overlap_s;	/* old token valid after rotate */
};

void	cr_config_defaults(struct cr_config *);
/* Sets one key; -1 with a message in err for an unknown key or bad value. */
int	cr_config_set(struct cr_config *, const char *key, const char *value,
	    char *err, size_t errlen);
/* Reads a config file; -1 with "FILE:LINE: what is wrong" in err. */
int	cr_config_load(struct cr_config *, const char *path, char *err,
	    size_t errlen);
/* The same from the file's text (len bytes; name for the messages). */
int	cr_config_parse(struct cr_config *, const char *name, const char *text,
	    size_t len, char *err, size_t errlen);

#endif
