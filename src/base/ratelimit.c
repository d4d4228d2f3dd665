/* Token buckets as GCRA (ratelimit.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "util.h"

int
cr_rate_parse(const char *s, struct cr_rate *out, char *err, size_t errlen)
{
	char buf[64], *slash, *end;
	unsigned long long burst;
	double ps;

	if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) {
		out->per_second = 0;
		out->burst = 0;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		goto bad;
	cr_util_strlcpy(buf, s, sizeof(buf));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	/* A plain decimal: no sign, exponent, hex, inf or nan. */
	if (buf[0] < '0' || buf[0] > '9' ||
	    strspn(buf, "0123456789.") != strlen(buf))
		goto bad;
	ps = strtod(buf, &end);
	if (*end != '\0' || !(ps > 0) || ps > CR_RATE_MAX_PER_SECOND)
		goto bad;
	if (slash != NULL) {
		if (cr_util_parse_ull(slash + 1, 1, CR_RATE_MAX_BURST,
		    &burst) == -1)
			goto bad;
	} else
		burst = ps < 1 ? 1 : (unsigned long long)ps;
	out->per_second = ps;
	out->burst = (unsigned)burst;
	return 0;
bad:
	snprintf(err, errlen, "expected PER_SECOND/BURST (a rate from 0 to "
	    "%.0f a second, a burst from 1 to %u, as in 50/100), "
	    "PER_SECOND, or off", CR_RATE_MAX_PER_SECOND, CR_RATE_MAX_BURST);
	return -1;
}

void
cr_rate_format(const struct cr_rate *r, char *out, size_t outlen)
{
	if (r->per_second <= 0)
		snprintf(out, outlen, "off");
	else
		snprintf(out, outlen, "%g/%u", r->per_second, r->burst);
}

void
cr_bucket_init(struct cr_bucket *b)
{
	atomic_init(&b->tat_us, 0);
}

int
cr_bucket_take(struct cr_bucket *b, const struct cr_rate *r, int64_t now_us,
    int64_t *retry_us)
{
	int64_t tat, next, interval, tolerance;

	*retry_us = 0;
	if (r->per_second <= 0)
		return 0;
	/* One token every interval; burst of them may be taken ahead. */
	interval = (int64_t)(1e6 / r->per_second + 0.5);
	if (interval < 1)
		interval = 1;
	tolerance = interval * (int64_t)(r->burst > 0 ? r->burst : 1);
	tat = atomic_load(&b->tat_us);
	for (;;) {
		next = (tat > now_us ? tat : now_us) + interval;
		if (next - now_us > tolerance) {
			*retry_us = next - now_us - tolerance;
			return -1;
		}
		/* On failure tat is reloaded: another thread took one. */
		if (atomic_compare_exchange_weak(&b->tat_us, &tat, next))
			return 0;
	}
}

int
cr_bucket_full(struct cr_bucket *b, int64_t now_us)
{
	return atomic_load(&b->tat_us) <= now_us;
}

unsigned
cr_rate_retry_after(int64_t retry_us)
{
	int64_t s = (retry_us + 999999) / 1000000;

	return s < 1 ? 1 : (s > 86400 ? 86400 : (unsigned)s);
}
