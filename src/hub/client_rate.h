/*
 * Per-client rate limits: a token bucket per client application (its id),
 * at the rate the configuration gives it (cr_config_client_rate: the
 * client's own, else its institution's, else client_rate_limit). Past it
 * a request is answered 429 RATE_LIMITED with Retry-After.
 *
 * No global lock on the path of a request: the table is sharded, a
 * read-write lock a shard, taken for reading to find a client's bucket
 * (for writing only the first time a client is seen), and the bucket is
 * taken with a compare-and-swap (ratelimit.h).
 */
#ifndef CR_CLIENT_RATE_H
#define CR_CLIENT_RATE_H

#include "config.h"

struct cr_client_rate;

/* NULL in *out, and 0, when no client has a limit. 0 or -1. */
int	cr_client_rate_new(const struct cr_config *, struct cr_client_rate **);
/*
 * One request of client_id (of institution): 0 when allowed, -1 when
 * limited, with Retry-After *retry_after seconds. NULL: always 0.
 */
int	cr_client_rate_take(struct cr_client_rate *, const char *client_id,
	    const char *institution, unsigned *retry_after);
void	cr_client_rate_free(struct cr_client_rate *);

#endif
