/* Unauthenticated attempts by address: limits and aggregates (unauth.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "unauth.h"
#include "util.h"

#define SHARDS		64
#define PER_SHARD	(CR_UNAUTH_MAX_ADDRESSES / SHARDS)
#define CHAINS		256		/* hash chains a shard */
#define FLUSH_EVERY_MS	1000

struct addr_entry {
	struct addr_entry	*next;
	char			 addr[CR_UNAUTH_ADDR_MAX];
	struct cr_bucket	 bucket;
	int64_t			 minute;	/* of the counts below */
	unsigned long		 attempts;	/* that minute */
	unsigned long		 limited;	/* of them answered 429 */
};

struct shard {
	pthread_mutex_t		 mu;
	struct addr_entry	*chains[CHAINS];
	size_t			 n;
};

/* The counts of one address and minute, on their way to the log. */
struct aggregate {
	char			 addr[CR_UNAUTH_ADDR_MAX];
	int64_t			 minute;
	unsigned long		 attempts, limited;
};

struct cr_unauth {
	struct cr_xlog		*xlog;
	struct cr_rate		 rate;
	struct shard		 shards[SHARDS];
	/* Every address past the table's bound. */
	pthread_mutex_t		 other_mu;
	struct addr_entry	 other;
	pthread_t		 thread;
	int			 running;
	pthread_mutex_t		 mu;		/* stop and cv */
	pthread_cond_t		 cv;
	int			 stop;
	atomic_int		 flushed;
};

static uint32_t
addr_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static int64_t
minute_now(void)
{
	return cr_util_wall_ms() / 60000;
}

/* The entry of one aggregate, written with no callback: nobody waits. */
static void
emit(struct cr_unauth *u, const struct aggregate *a)
{
	struct cr_xlog_entry *e;
	struct tm tm;
	time_t t = (time_t)(a->minute * 60);
	char minute[32];
	json_t *p;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto oom;
	gmtime_r(&t, &tm);
	strftime(minute, sizeof(minute), "%Y-%m-%dT%H:%M:00Z", &tm);
	p = json_pack("{s:s,s:s,s:I,s:I}", "address", a->addr, "minute",
	    minute, "attempts", (json_int_t)a->attempts, "rate_limited",
	    (json_int_t)a->limited);
	if (p == NULL || cr_xlog_params(p, e->params, sizeof(e->params)) ==
	    -1) {
		json_decref(p);
		free(e);
		goto oom;
	}
	json_decref(p);
	cr_util_now_rfc3339(e->ts);
	cr_util_strlcpy(e->outcome, CR_OUTCOME_DENIED, sizeof(e->outcome));
	e->status = 401;
	cr_util_strlcpy(e->error_code, "UNAUTHENTICATED",
	    sizeof(e->error_code));
	if (cr_xlog_submit(u->xlog, e, NULL, NULL) == -1)
		log_warnx("unauthenticated attempts: %lu from %s lost, the "
		    "exchange log is stopping", a->attempts, a->addr);
	free(e);
	return;
oom:
	log_warnx("unauthenticated attempts: %lu from %s lost: out of memory",
	    a->attempts, a->addr);
}

/* Moves the counts of e into *a when they are of a minute before
   `before` (or any, with before INT64_MAX). 1 when moved. */
static int
take_counts(struct addr_entry *e, int64_t before, struct aggregate *a)
{
	if (e->attempts == 0 || e->minute >= before)
		return 0;
	cr_util_strlcpy(a->addr, e->addr, sizeof(a->addr));
	a->minute = e->minute;
	a->attempts = e->attempts;
	a->limited = e->limited;
	e->attempts = 0;
	e->limited = 0;
	return 1;
}

/*
 * Counts one attempt in e (its lock held) and takes a token; *pending
 * gets the previous minute's counts when that minute is over.
 */
static int
count(struct cr_unauth *u, struct addr_entry *e, int64_t minute,
    struct aggregate *pending, int *has_pending, unsigned *retry_after)
{
	int64_t retry_us;
	int rc;

	*has_pending = take_counts(e, minute, pending);
	e->minute = minute;
	e->attempts++;
	rc = cr_bucket_take(&e->bucket, &u->rate,
	    (int64_t)(cr_util_mono_ms() * 1000), &retry_us);
	if (rc == -1) {
		e->limited++;
		*retry_after = cr_rate_retry_after(retry_us);
	}
	return rc;
}

int
cr_unauth_attempt(struct cr_unauth *u, const char *addr,
    unsigned *retry_after)
{
	struct aggregate pending;
	struct addr_entry *e;
	struct shard *sh;
	uint32_t h;
	int64_t minute = minute_now();
	int has_pending = 0, rc;
	char key[CR_UNAUTH_ADDR_MAX];

	*retry_after = 0;
	cr_util_strlcpy(key, addr, sizeof(key));
	h = addr_hash(key);
	sh = &u->shards[h % SHARDS];
	pthread_mutex_lock(&sh->mu);
	for (e = sh->chains[(h / SHARDS) % CHAINS]; e != NULL; e = e->next)
		if (strcmp(e->addr, key) == 0)
			break;
	if (e == NULL && sh->n < PER_SHARD &&
	    (e = calloc(1, sizeof(*e))) != NULL) {
		cr_util_strlcpy(e->addr, key, sizeof(e->addr));
		cr_bucket_init(&e->bucket);
		e->next = sh->chains[(h / SHARDS) % CHAINS];
		sh->chains[(h / SHARDS) % CHAINS] = e;
		sh->n++;
	}
	if (e != NULL)
		rc = count(u, e, minute, &pending, &has_pending, retry_after);
	pthread_mutex_unlock(&sh->mu);
	if (e == NULL) {
		/* The table is full (or memory is short): "other". */
		pthread_mutex_lock(&u->other_mu);
		rc = count(u, &u->other, minute, &pending, &has_pending,
		    retry_after);
		pthread_mutex_unlock(&u->other_mu);
	}
	if (has_pending && !atomic_load(&u->flushed))
		emit(u, &pending);
	return rc;
}

/*
 * Writes the counts of the minutes before `before` (all of them with
 * INT64_MAX) and forgets the addresses that have no count and a full
 * bucket, so that the table holds only recent ones.
 */
static void
flush_before(struct cr_unauth *u, int64_t before)
{
	struct aggregate *out = NULL, *grown, one;
	struct addr_entry **pp, *e;
	size_t n, cap, i, j;
	int64_t now_us = (int64_t)(cr_util_mono_ms() * 1000);

	for (i = 0; i < SHARDS; i++) {
		struct shard *sh = &u->shards[i];

		n = 0;
		cap = 0;
		pthread_mutex_lock(&sh->mu);
		for (j = 0; j < CHAINS; j++) {
			for (pp = &sh->chains[j]; (e = *pp) != NULL; ) {
				if (take_counts(e, before, &one)) {
					if (n == cap) {
						cap = cap ? cap * 2 : 16;
						grown = realloc(out, cap *
						    sizeof(*out));
						if (grown == NULL) {
							/* Counted again
							   next time. */
							e->attempts =
							    one.attempts;
							e->limited =
							    one.limited;
							break;
						}
						out = grown;
					}
					out[n++] = one;
				}
				if (e->attempts == 0 &&
				    cr_bucket_full(&e->bucket, now_us)) {
					*pp = e->next;
					free(e);
					sh->n--;
					continue;
				}
				pp = &e->next;
			}
		}
		pthread_mutex_unlock(&sh->mu);
		for (j = 0; j < n; j++)
			emit(u, &out[j]);
	}
	free(out);
	pthread_mutex_lock(&u->other_mu);
	n = take_counts(&u->other, before, &one);
	pthread_mutex_unlock(&u->other_mu);
	if (n)
		emit(u, &one);
}

static void *
flusher(void *arg)
{
	struct cr_unauth *u = arg;
	struct timespec ts;

	pthread_mutex_lock(&u->mu);
	while (!u->stop) {
		cr_util_ms_timespec(cr_util_mono_ms() + FLUSH_EVERY_MS, &ts);
		pthread_cond_timedwait(&u->cv, &u->mu, &ts);
		if (u->stop)
			break;
		pthread_mutex_unlock(&u->mu);
		flush_before(u, minute_now());
		pthread_mutex_lock(&u->mu);
	}
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

int
cr_unauth_start(struct cr_xlog *xlog, const struct cr_rate *rate,
    struct cr_unauth **out)
{
	struct cr_unauth *u;
	size_t i;
	int rc;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return -1;
	u->xlog = xlog;
	u->rate = *rate;
	for (i = 0; i < SHARDS; i++)
		pthread_mutex_init(&u->shards[i].mu, NULL);
	pthread_mutex_init(&u->other_mu, NULL);
	cr_util_strlcpy(u->other.addr, "other", sizeof(u->other.addr));
	cr_bucket_init(&u->other.bucket);
	pthread_mutex_init(&u->mu, NULL);
	if ((rc = cr_util_cond_init_mono(&u->cv)) != 0 ||
	    (rc = pthread_create(&u->thread, NULL, flusher, u)) != 0) {
		log_warnx("unauthenticated attempts: cannot start: %s",
		    strerror(rc));
		cr_unauth_free(u);
		return -1;
	}
	u->running = 1;
	*out = u;
	return 0;
}

void
cr_unauth_flush(struct cr_unauth *u)
{
	if (u == NULL || atomic_load(&u->flushed))
		return;
	if (u->running) {
		pthread_mutex_lock(&u->mu);
		u->stop = 1;
		pthread_cond_signal(&u->cv);
		pthread_mutex_unlock(&u->mu);
		pthread_join(u->thread, NULL);
		u->running = 0;
	}
	flush_before(u, INT64_MAX);
	atomic_store(&u->flushed, 1);
}

void
cr_unauth_free(struct cr_unauth *u)
{
	struct addr_entry *e, *next;
	size_t i, j;

	if (u == NULL)
		return;
	cr_unauth_flush(u);
	for (i = 0; i < SHARDS; i++) {
		for (j = 0; j < CHAINS; j++)
			for (e = u->shards[i].chains[j]; e != NULL; e = next) {
				next = e->next;
				free(e);
			}
		pthread_mutex_destroy(&u->shards[i].mu);
	}
	pthread_mutex_destroy(&u->other_mu);
	pthread_mutex_destroy(&u->mu);
	free(u);
}
