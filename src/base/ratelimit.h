/*
 * Rate limits: a token bucket of per_second tokens a second holding at
 * most burst, as GCRA (the generic cell rate algorithm, RFC 2698's
 * cousin): the bucket is one 64-bit "theoretical arrival time", updated
 * with a compare-and-swap, so that taking a token is lock-free and two
 * threads never take the same one.
 *
 * The rate's text form, in config files: "PER_SECOND/BURST" ("50/100":
 * 50 a second, 100 at once), "PER_SECOND" (burst = per_second, at least
 * 1), or "off".
 */
#ifndef CR_RATELIMIT_H
#define CR_RATELIMIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CR_RATE_MAX_PER_SECOND	1000000.0
#define CR_RATE_MAX_BURST	1000000U

struct cr_rate {
	double		per_second;	/* 0: no limit */
	unsigned	burst;		/* >= 1 when per_second > 0 */
};

struct cr_bucket {
	_Atomic int64_t	tat_us;		/* when the bucket is full again */
};

/* "50/100", "50", "0.5/10" or "off" into *out. 0, or -1 with why in err. */
int	cr_rate_parse(const char *s, struct cr_rate *out, char *err,
	    size_t errlen);
/* The text form of *r into out (at least 32 bytes): "off" or "50/100". */
void	cr_rate_format(const struct cr_rate *r, char *out, size_t outlen);

/* An empty bucket state: full. */
void	cr_bucket_init(struct cr_bucket *);
/*
 * Takes one token at now_us (any monotonic clock in microseconds). 0 when
 * taken; -1 when the bucket is empty, with *retry_us the wait until a
 * token is there. A rate of per_second 0 always gives one.
 */
int	cr_bucket_take(struct cr_bucket *, const struct cr_rate *,
	    int64_t now_us, int64_t *retry_us);
/* 1 when the bucket is full at now_us (nothing taken lately). */
int	cr_bucket_full(struct cr_bucket *, int64_t now_us);
/* Whole seconds for Retry-After: retry_us rounded up, at least 1. */
unsigned cr_rate_retry_after(int64_t retry_us);

#endif
