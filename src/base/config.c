#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ident.h"
#include "addr.h"
#include "util.h"

void
cr_config_defaults(struct cr_config *c)
{
	memset(c, 0, sizeof(*c));
	cr_util_strlcpy(c->listen, "127.0.0.1:8080", sizeof(c->listen));
	cr_util_strlcpy(c->db, "./data/crossroads.db", sizeof(c->db));
	cr_util_strlcpy(c->id_scheme, "be-insz", sizeof(c->id_scheme));
	c->threads = 0;
	c->connection_limit = 4096;
	c->per_ip_connection_limit = 256;
	c->header_timeout_ms = 20000;
	c->body_timeout_ms = 120000;
	c->idle_timeout = 120;
	c->unauth_rate.per_second = 10;
	c->unauth_rate.burst = 100;
	c->body_limit = 1024 * 1024;
	c->batch_body_limit = 64 * 1024 * 1024;
	c->access_log = 1;
	c->source_max_connections = 256;
	c->source_max_response = 4 * 1024 * 1024;
	c->log_max_batch = 4096;
	c->drain_timeout_ms = 10000;
	c->events_max_batch = 20000;
	c->feed_max_wait = 60;
	c->delivery_max_attempts = 8;
	c->delivery_base_backoff_ms = 500;
	c->delivery_max_backoff_ms = 300000;
	c->delivery_timeout_ms = 5000;
	c->delivery_max_in_flight = 64;
	c->batch_concurrency = 32;
	c->tls_client_auth = -1;
	c->log_head_interval_ms = 1000;
	c->log_head_entries = 10000;
	c->client_usage_flush_ms = 10000;
	c->client_rotate_overlap_s = 86400;
}

int
cr_config_tls_client_auth(const char *v, int *out)
{
	if (strcmp(v, "none") == 0)
		*out = CR_TLS_CLIENT_NONE;
	else if (strcmp(v, "optional") == 0)
		*out = CR_TLS_CLIENT_OPTIONAL;
	else if (strcmp(v, "require") == 0)
		*out = CR_TLS_CLIENT_REQUIRE;
	else
		return -1;
	return 0;
}

static int
set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int
cr_config_tls_rules(const char *cert, const char *key, const char *ca,
    int *auth, char *err, size_t errlen)
{
	if (set(cert) != set(key)) {
		snprintf(err, errlen, "tls_cert and tls_key go together");
		return -1;
	}
	if (*auth == -1)
		*auth = set(ca) ? CR_TLS_CLIENT_OPTIONAL : CR_TLS_CLIENT_NONE;
	if (set(ca) && !set(cert)) {
		snprintf(err, errlen, "tls_client_ca needs tls_cert and "
		    "tls_key: client certificates come with HTTPS");
		return -1;
	}
	if (*auth != CR_TLS_CLIENT_NONE && !set(ca)) {
		snprintf(err, errlen, "tls_client_auth optional or require "
		    "needs tls_client_ca");
		return -1;
	}
	return 0;
}

int
cr_config_check_tls(struct cr_config *c, char *err, size_t errlen)
{
	if (cr_config_tls_rules(c->tls_cert, c->tls_key, c->tls_client_ca,
	    &c->tls_client_auth, err, errlen) == -1)
		return -1;
	if (c->tls_require_token && c->tls_client_auth ==
	    CR_TLS_CLIENT_NONE) {
		snprintf(err, errlen, "tls_require_token needs client "
		    "certificates (tls_client_ca)");
		return -1;
	}
	if ((c->webhook_client_cert[0] == '\0') !=
	    (c->webhook_client_key[0] == '\0')) {
		snprintf(err, errlen, "webhook_client_cert and "
		    "webhook_client_key go together");
		return -1;
	}
	return 0;
}

static int
set_size(const char *v, unsigned long long min, unsigned long long max,
    unsigned long long *out, char *err, size_t errlen)
{
	if (cr_util_parse_ull(v, min, max, out) == 0)
		return 0;
	snprintf(err, errlen, "expected a whole number from %llu to %llu",
	    min, max);
	return -1;
}

static int
set_bool(const char *v, int *out, char *err, size_t errlen)
{
	int b;

	if ((b = cr_util_parse_bool(v)) != -1) {
		*out = b;
		return 0;
	}
	snprintf(err, errlen, "expected on or off");
	return -1;
}

static int
set_string(const char *v, char *dst, size_t dstsize, char *err, size_t errlen)
{
	if (*v == '\0' || strlen(v) >= dstsize) {
		snprintf(err, errlen, "expected a value of 1 to %zu characters",
		    dstsize - 1);
		return -1;
	}
	cr_util_strlcpy(dst, v, dstsize);
	return 0;
}

#define RATE_PREFIX		"client_rate_limit."

/* client_rate_limit.institution.ID or client_rate_limit.client.ID. */
static int
set_rate_override(struct cr_config *c, const char *key, const char *v,
    char *err, size_t errlen)
{
	struct cr_rate_override *o = NULL;
	const char *id;
	int client;
	size_t i;

	key += strlen(RATE_PREFIX);
	if (strncmp(key, "institution.", 12) == 0) {
		client = 0;
		id = key + 12;
	} else if (strncmp(key, "client.", 7) == 0) {
		client = 1;
		id = key + 7;
	} else {
		snprintf(err, errlen, "expected client_rate_limit.institution."
		    "ID or client_rate_limit.client.ID");
		return -1;
	}
	if (*id == '\0' || strlen(id) >= sizeof(o->id)) {
		snprintf(err, errlen, "expected an id of 1 to %zu characters",
		    sizeof(o->id) - 1);
		return -1;
	}
	/* A key given again (a flag after the file) replaces the first. */
	for (i = 0; i < c->nrate_overrides; i++)
		if (c->rate_overrides[i].client == client &&
		    strcmp(c->rate_overrides[i].id, id) == 0)
			o = &c->rate_overrides[i];
	if (o == NULL) {
		if (c->nrate_overrides == CR_CONFIG_MAX_RATE_OVERRIDES) {
			snprintf(err, errlen, "more than %d rate limits of "
			    "institutions and clients",
			    CR_CONFIG_MAX_RATE_OVERRIDES);
			return -1;
		}
		o = &c->rate_overrides[c->nrate_overrides];
	}
	if (cr_rate_parse(v, &o->rate, err, errlen) == -1)
		return -1;
	if (o == &c->rate_overrides[c->nrate_overrides]) {
		o->client = client;
		cr_util_strlcpy(o->id, id, sizeof(o->id));
		c->nrate_overrides++;
	}
	return 0;
}

const struct cr_rate *
cr_config_client_rate(const struct cr_config *c, const char *client_id,
    const char *institution)
{
	const struct cr_rate *inst = NULL;
	size_t i;

	for (i = 0; i < c->nrate_overrides; i++) {
		const struct cr_rate_override *o = &c->rate_overrides[i];

		if (o->client && client_id != NULL &&
		    strcmp(o->id, client_id) == 0)
			return &o->rate;
		if (!o->client && institution != NULL &&
		    strcmp(o->id, institution) == 0)
			inst = &o->rate;
	}
	return inst != NULL ? inst : &c->client_rate;
}

int
cr_config_set(struct cr_config *c, const char *key0, const char *v,
    char *err, size_t errlen)
{
	unsigned long long n;
	char key[128], *p;
	int rc = -1;

	/* A key may be spelled as its flag: tls-cert is tls_cert. Only the
	   name, not an id after a dot (client_rate_limit.client.ID). */
	if (cr_util_strlcpy(key, key0, sizeof(key)) >= sizeof(key)) {
		snprintf(err, errlen, "unknown key '%.64s'", key0);
		return -1;
	}
	for (p = key; *p != '\0' && *p != '.'; p++)
		if (*p == '-')
			*p = '_';
	if (strcmp(key, "listen") == 0) {
		struct sockaddr_storage ss;
		socklen_t sslen;

		/* Checked now: a bad address stops the start before any
		   file is touched. */
		if (cr_addr_parse(v, &ss, &sslen, err, errlen) == -1)
			return -1;
		rc = set_string(v, c->listen, sizeof(c->listen), err, errlen);
	}
	else if (strcmp(key, "db") == 0)
		rc = set_string(v, c->db, sizeof(c->db), err, errlen);
	else if (strcmp(key, "id_scheme") == 0) {
		const struct cr_ident_scheme *s = cr_ident_find(v);

		if (s == NULL || strcmp(s->kind, "person") != 0) {
			snprintf(err, errlen, "unknown person identifier "
			    "scheme '%s'", v);
			return -1;
		}
		rc = set_string(v, c->id_scheme, sizeof(c->id_scheme), err,
		    errlen);
	} else if (strcmp(key, "threads") == 0) {
		if ((rc = set_size(v, 0, 256, &n, err, errlen)) == 0)
			c->threads = (unsigned)n;
	} else if (strcmp(key, "connection_limit") == 0) {
		if ((rc = set_size(v, 16, 1000000, &n, err, errlen)) == 0)
			c->connection_limit = (unsigned)n;
	} else if (strcmp(key, "per_ip_connection_limit") == 0) {
		if ((rc = set_size(v, 0, 1000000, &n, err, errlen)) == 0)
			c->per_ip_connection_limit = (unsigned)n;
	} else if (strcmp(key, "header_timeout_ms") == 0) {
		if ((rc = set_size(v, 0, 3600000, &n, err, errlen)) == 0)
			c->header_timeout_ms = (unsigned)n;
	} else if (strcmp(key, "body_timeout_ms") == 0) {
		if ((rc = set_size(v, 0, 86400000, &n, err, errlen)) == 0)
			c->body_timeout_ms = (unsigned)n;
	} else if (strcmp(key, "idle_timeout") == 0) {
		if ((rc = set_size(v, 1, 86400, &n, err, errlen)) == 0)
			c->idle_timeout = (unsigned)n;
	} else if (strcmp(key, "unauth_rate_limit") == 0)
		rc = cr_rate_parse(v, &c->unauth_rate, err, errlen);
	else if (strcmp(key, "client_rate_limit") == 0)
		rc = cr_rate_parse(v, &c->client_rate, err, errlen);
	else if (strncmp(key, RATE_PREFIX, strlen(RATE_PREFIX)) == 0)
		rc = set_rate_override(c, key, v, err, errlen);
	else if (strcmp(key, "body_limit") == 0) {
		if ((rc = set_size(v, 1024, 1ULL << 30, &n, err, errlen)) == 0)
			c->body_limit = n;
	} else if (strcmp(key, "batch_body_limit") == 0) {
		if ((rc = set_size(v, 1024, 1ULL << 34, &n, err, errlen)) == 0)
			c->batch_body_limit = n;
	} else if (strcmp(key, "access_log") == 0)
		rc = set_bool(v, &c->access_log, err, errlen);
	else if (strcmp(key, "source_max_connections") == 0) {
		if ((rc = set_size(v, 1, 100000, &n, err, errlen)) == 0)
			c->source_max_connections = (long)n;
	} else if (strcmp(key, "source_max_response") == 0) {
		if ((rc = set_size(v, 1024, 1ULL << 30, &n, err, errlen)) == 0)
			c->source_max_response = n;
	} else if (strcmp(key, "log_max_batch") == 0) {
		if ((rc = set_size(v, 1, 1000000, &n, err, errlen)) == 0)
			c->log_max_batch = n;
	} else if (strcmp(key, "drain_timeout_ms") == 0) {
		if ((rc = set_size(v, 0, 3600000, &n, err, errlen)) == 0)
			c->drain_timeout_ms = (unsigned)n;
	} else if (strcmp(key, "events_max_batch") == 0) {
		if ((rc = set_size(v, 1, 1000000, &n, err, errlen)) == 0)
			c->events_max_batch = n;
	} else if (strcmp(key, "feed_max_wait") == 0) {
		if ((rc = set_size(v, 0, 3600, &n, err, errlen)) == 0)
			c->feed_max_wait = (unsigned)n;
	} else if (strcmp(key, "delivery_max_attempts") == 0) {
		if ((rc = set_size(v, 1, 1000, &n, err, errlen)) == 0)
			c->delivery_max_attempts = (int)n;
	} else if (strcmp(key, "delivery_base_backoff_ms") == 0) {
		if ((rc = set_size(v, 1, 86400000, &n, err, errlen)) == 0)
			c->delivery_base_backoff_ms = (long)n;
	} else if (strcmp(key, "delivery_max_backoff_ms") == 0) {
		if ((rc = set_size(v, 1, 86400000, &n, err, errlen)) == 0)
			c->delivery_max_backoff_ms = (long)n;
	} else if (strcmp(key, "delivery_timeout_ms") == 0) {
		if ((rc = set_size(v, 1, 600000, &n, err, errlen)) == 0)
			c->delivery_timeout_ms = (long)n;
	} else if (strcmp(key, "delivery_max_in_flight") == 0) {
		if ((rc = set_size(v, 1, 100000, &n, err, errlen)) == 0)
			c->delivery_max_in_flight = n;
	} else if (strcmp(key, "batch_concurrency") == 0) {
		if ((rc = set_size(v, 1, 4096, &n, err, errlen)) == 0)
			c->batch_concurrency = (unsigned)n;
	} else if (strcmp(key, "tls_cert") == 0)
		rc = set_string(v, c->tls_cert, sizeof(c->tls_cert), err,
		    errlen);
	else if (strcmp(key, "tls_key") == 0)
		rc = set_string(v, c->tls_key, sizeof(c->tls_key), err, errlen);
	else if (strcmp(key, "tls_client_ca") == 0)
		rc = set_string(v, c->tls_client_ca, sizeof(c->tls_client_ca),
		    err, errlen);
	else if (strcmp(key, "tls_client_auth") == 0) {
		if ((rc = cr_config_tls_client_auth(v, &c->tls_client_auth))
		    == -1)
			snprintf(err, errlen, "expected none, optional or "
			    "require");
	} else if (strcmp(key, "tls_require_token") == 0)
		rc = set_bool(v, &c->tls_require_token, err, errlen);
	else if (strcmp(key, "webhook_ca_file") == 0)
		rc = set_string(v, c->webhook_ca_file,
		    sizeof(c->webhook_ca_file), err, errlen);
	else if (strcmp(key, "webhook_client_cert") == 0)
		rc = set_string(v, c->webhook_client_cert,
		    sizeof(c->webhook_client_cert), err, errlen);
	else if (strcmp(key, "webhook_client_key") == 0)
		rc = set_string(v, c->webhook_client_key,
		    sizeof(c->webhook_client_key), err, errlen);
	else if (strcmp(key, "log_key") == 0)
		rc = set_string(v, c->log_key, sizeof(c->log_key), err, errlen);
	else if (strcmp(key, "log_head_file") == 0)
		rc = set_string(v, c->log_head_file, sizeof(c->log_head_file),
		    err, errlen);
	else if (strcmp(key, "log_head_interval_ms") == 0) {
		if ((rc = set_size(v, 10, 3600000, &n, err, errlen)) == 0)
			c->log_head_interval_ms = (unsigned)n;
	} else if (strcmp(key, "log_head_entries") == 0) {
		if ((rc = set_size(v, 1, 1ULL << 40, &n, err, errlen)) == 0)
			c->log_head_entries = n;
	} else if (strcmp(key, "client_usage_flush_ms") == 0) {
		if ((rc = set_size(v, 100, 3600000, &n, err, errlen)) == 0)
			c->client_usage_flush_ms = (unsigned)n;
	} else if (strcmp(key, "client_rotate_overlap_s") == 0) {
		if ((rc = set_size(v, 0, 90 * 86400, &n, err, errlen)) == 0)
			c->client_rotate_overlap_s = (unsigned)n;
	} else
		snprintf(err, errlen, "unknown key '%s'", key0);
	return rc;
}

/* The file's lines from f; path names it in messages. */
static int
config_read(struct cr_config *c, const char *path, FILE *f, char *err,
    size_t errlen)
{
	char line[2048], why[256];
	int lineno = 0;

	while (fgets(line, sizeof(line), f) != NULL) {
		char *key, *value, *eq, *s;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path,
			    lineno);
			return -1;
		}
		if ((s = strchr(line, '#')) != NULL)
			*s = '\0';
		s = cr_util_trim(line);
		if (*s == '\0')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'",
			    path, lineno);
			return -1;
		}
		*eq = '\0';
		key = cr_util_trim(s);
		value = cr_util_trim(eq + 1);
		if (cr_config_set(c, key, value, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s:%d: %s: %s", path, lineno,
			    key, why);
			return -1;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
cr_config_load(struct cr_config *c, const char *path, char *err,
    size_t errlen)
{
	FILE *f;
	int rc;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = config_read(c, path, f, err, errlen);
	fclose(f);
	return rc;
}

int
cr_config_parse(struct cr_config *c, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	FILE *f;
	int rc;

	/* Read-only: fmemopen does not write through a "r" stream. */
	if ((f = fmemopen((void *)(uintptr_t)text, len, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	rc = config_read(c, name, f, err, errlen);
	fclose(f);
	return rc;
}
