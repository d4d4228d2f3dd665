/*
 * Fuzz target for the config file of `crossroads serve` (config.c,
 * docs/configuration.md): the text goes through cr_config_parse as
 * cr_config_load reads a file. Checks:
 * - a failure names the file and says why ("NAME:LINE: ..." or
 *   "NAME: ..."), and a success leaves every setting within the bounds
 *   the documentation gives;
 * - reading the same text again over the result changes nothing (every
 *   key sets, none accumulates);
 * - the settings a file accepts are accepted again one by one by
 *   cr_config_set, as the command-line flags set them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "ident.h"

#define NAME	"fuzz.conf"

static void
check_string(const char *s, size_t size)
{
	FUZZ_CHECK(memchr(s, '\0', size) != NULL);
	FUZZ_CHECK(s[0] != '\0');
}

/* A rate is off, or a positive rate with a burst of at least 1. */
static void
check_rate(const struct cr_rate *r)
{
	FUZZ_CHECK(r->per_second >= 0 &&
	    r->per_second <= CR_RATE_MAX_PER_SECOND);
	FUZZ_CHECK(r->per_second == 0 || (r->burst >= 1 &&
	    r->burst <= CR_RATE_MAX_BURST));
}

static void
check_bounds(const struct cr_config *c)
{
	const struct cr_ident_scheme *s;
	size_t i, j;

	check_string(c->listen, sizeof(c->listen));
	check_string(c->db, sizeof(c->db));
	check_string(c->id_scheme, sizeof(c->id_scheme));
	FUZZ_CHECK((s = cr_ident_find(c->id_scheme)) != NULL);
	FUZZ_CHECK(strcmp(s->kind, "person") == 0);
	FUZZ_CHECK(c->threads <= 256);
	FUZZ_CHECK(c->connection_limit >= 16 && c->connection_limit <= 1000000);
	FUZZ_CHECK(c->body_limit >= 1024 && c->body_limit <= (1ULL << 30));
	FUZZ_CHECK(c->batch_body_limit >= 1024 &&
	    c->batch_body_limit <= (1ULL << 34));
	FUZZ_CHECK(c->access_log == 0 || c->access_log == 1);
	FUZZ_CHECK(c->source_max_connections >= 1 &&
	    c->source_max_connections <= 100000);
	FUZZ_CHECK(c->source_max_response >= 1024 &&
	    c->source_max_response <= (1ULL << 30));
	FUZZ_CHECK(c->log_max_batch >= 1 && c->log_max_batch <= 1000000);
	FUZZ_CHECK(c->drain_timeout_ms <= 3600000);
	FUZZ_CHECK(c->events_max_batch >= 1 && c->events_max_batch <= 1000000);
	FUZZ_CHECK(c->feed_max_wait <= 3600);
	FUZZ_CHECK(c->delivery_max_attempts >= 1 &&
	    c->delivery_max_attempts <= 1000);
	FUZZ_CHECK(c->delivery_base_backoff_ms >= 1 &&
	    c->delivery_base_backoff_ms <= 86400000);
	FUZZ_CHECK(c->delivery_max_backoff_ms >= 1 &&
	    c->delivery_max_backoff_ms <= 86400000);
	FUZZ_CHECK(c->delivery_timeout_ms >= 1 &&
	    c->delivery_timeout_ms <= 600000);
	FUZZ_CHECK(c->delivery_max_in_flight >= 1 &&
	    c->delivery_max_in_flight <= 100000);
	FUZZ_CHECK(c->batch_concurrency >= 1 && c->batch_concurrency <= 4096);
	FUZZ_CHECK(c->per_ip_connection_limit <= 1000000);
	FUZZ_CHECK(c->header_timeout_ms <= 3600000);
	FUZZ_CHECK(c->body_timeout_ms <= 86400000);
	FUZZ_CHECK(c->idle_timeout >= 1 && c->idle_timeout <= 86400);
	check_rate(&c->unauth_rate);
	check_rate(&c->client_rate);
	FUZZ_CHECK(c->nrate_overrides <= CR_CONFIG_MAX_RATE_OVERRIDES);
	for (i = 0; i < c->nrate_overrides; i++) {
		const struct cr_rate_override *o = &c->rate_overrides[i];

		check_rate(&o->rate);
		check_string(o->id, sizeof(o->id));
		/* One entry per key: a key given again replaced it. */
		for (j = 0; j < i; j++)
			FUZZ_CHECK(c->rate_overrides[j].client != o->client ||
			    strcmp(c->rate_overrides[j].id, o->id) != 0);
		/* And it is what a client of that id or institution gets. */
		if (o->client)
			FUZZ_CHECK(cr_config_client_rate(c, o->id, NULL) ==
			    &o->rate);
	}
}

static void
check_error(const char *err)
{
	FUZZ_CHECK(strncmp(err, NAME ":", strlen(NAME ":")) == 0);
	FUZZ_CHECK(err[strlen(NAME ":")] != '\0');
}

/* The string settings back through cr_config_set, as flags would be. */
static void
check_flags(const struct cr_config *c)
{
	struct cr_config d;
	char err[512];

	cr_config_defaults(&d);
	FUZZ_CHECK(cr_config_set(&d, "listen", c->listen, err,
	    sizeof(err)) == 0);
	FUZZ_CHECK(cr_config_set(&d, "db", c->db, err, sizeof(err)) == 0);
	FUZZ_CHECK(cr_config_set(&d, "id_scheme", c->id_scheme, err,
	    sizeof(err)) == 0);
	FUZZ_CHECK(strcmp(d.listen, c->listen) == 0);
	FUZZ_CHECK(strcmp(d.db, c->db) == 0);
	FUZZ_CHECK(strcmp(d.id_scheme, c->id_scheme) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_config c, again;
	char err[1024];

	cr_config_defaults(&c);
	err[0] = '\0';
	if (cr_config_parse(&c, NAME, (const char *)data, size, err,
	    sizeof(err)) == -1) {
		check_error(err);
		return 0;
	}
	check_bounds(&c);
	check_flags(&c);
	memcpy(&again, &c, sizeof(again));
	FUZZ_CHECK(cr_config_parse(&again, NAME, (const char *)data, size,
	    err, sizeof(err)) == 0);
	FUZZ_CHECK(memcmp(&again, &c, sizeof(c)) == 0);
	return 0;
}
