/*
 * Requests without a valid token, by client address: rate-limited, and
 * recorded in the exchange log in aggregate, one entry per address and
 * minute with the count, instead of one durable entry each (anyone could
 * otherwise make the hub fsync as fast as it can answer 401s).
 *
 * Each address has a token bucket (cfg.unauth_rate); past it the answer is
 * 429 RATE_LIMITED with Retry-After. Its counts of the current minute are
 * written when the minute is over (a thread looks every second) or at
 * stop; docs/exchange-log.md gives the entry's shape. The table is
 * sharded, a mutex a shard, and bounded: past CR_UNAUTH_MAX_ADDRESSES
 * addresses at once, new ones share one entry, address "other" (one bucket
 * for all of them: a flood from many addresses is limited as one).
 */
#ifndef CR_UNAUTH_H
#define CR_UNAUTH_H

#include "ratelimit.h"
#include "xlog.h"

#define CR_UNAUTH_MAX_ADDRESSES	65536
#define CR_UNAUTH_ADDR_MAX	64	/* an address as text, NUL included */

struct cr_unauth;

/* Starts the thread that writes finished minutes to xlog. 0 or -1. */
int	cr_unauth_start(struct cr_xlog *, const struct cr_rate *,
	    struct cr_unauth **out);
/*
 * One attempt from addr (text, cut to CR_UNAUTH_ADDR_MAX - 1): 0 to
 * answer 401, or -1 to answer 429 with Retry-After *retry_after seconds.
 */
int	cr_unauth_attempt(struct cr_unauth *, const char *addr,
	    unsigned *retry_after);
/*
 * Stops the thread and writes every count left, the current minute's
 * included: before the exchange log stops. Attempts after it are still
 * limited but no longer logged (the hub is stopping).
 */
void	cr_unauth_flush(struct cr_unauth *);
/* After the HTTP front has stopped. NULL is fine. */
void	cr_unauth_free(struct cr_unauth *);

#endif
