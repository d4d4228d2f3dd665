/*
 * Last use of client applications, coalesced in memory (usage.h).
 *
 * Uses are kept in a small hash table striped over STRIPES mutexes, so
 * that threads serving different clients do not meet. Each thread also
 * remembers the last (client, second) it noted: a busy client costs its
 * threads one lock a second, not one a request.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "usage.h"
#include "util.h"

#define STRIPES		64

struct use {
	char		 id[40];
	int64_t		 used_ms;	/* to the second */
	int64_t		 flushed_ms;	/* what the store has from us */
	struct use	*next;
};

struct stripe {
	pthread_mutex_t	 mtx;
	struct use	*uses;
};

struct cr_usage {
	struct cr_store	*st;
	unsigned	 flush_ms;
	struct stripe	 stripes[STRIPES];
	pthread_t	 thread;
	pthread_mutex_t	 mtx;		/* stop */
	pthread_cond_t	 cond;
	int		 stop;
};

/* This thread's last note, per usage (unit tests run several). */
static _Thread_local struct {
	const struct cr_usage	*u;
	char			 id[40];
	int64_t			 sec;
} memo;

static struct stripe *
stripe_of(struct cr_usage *u, const char *id)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return &u->stripes[h % STRIPES];
}

void
cr_usage_note(struct cr_usage *u, const char *id)
{
	int64_t sec = cr_util_wall_ms() / 1000;
	struct stripe *s;
	struct use *e;

	if (u == NULL || (memo.u == u && memo.sec == sec &&
	    strcmp(memo.id, id) == 0))
		return;
	s = stripe_of(u, id);
	pthread_mutex_lock(&s->mtx);
	for (e = s->uses; e != NULL; e = e->next)
		if (strcmp(e->id, id) == 0)
			break;
	if (e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		cr_util_strlcpy(e->id, id, sizeof(e->id));
		e->next = s->uses;
		s->uses = e;
	}
	if (e != NULL && e->used_ms < sec * 1000)
		e->used_ms = sec * 1000;
	pthread_mutex_unlock(&s->mtx);
	memo.u = u;
	memo.sec = sec;
	cr_util_strlcpy(memo.id, id, sizeof(memo.id));
}

int64_t
cr_usage_last(struct cr_usage *u, const char *id)
{
	struct stripe *s;
	struct use *e;
	int64_t ms = 0;

	if (u == NULL)
		return 0;
	s = stripe_of(u, id);
	pthread_mutex_lock(&s->mtx);
	for (e = s->uses; e != NULL; e = e->next)
		if (strcmp(e->id, id) == 0) {
			ms = e->used_ms;
			break;
		}
	pthread_mutex_unlock(&s->mtx);
	return ms;
}

/* Writes the uses newer than what was flushed; kept for the next try on
   failure. */
static void
usage_flush(struct cr_usage *u)
{
	struct cr_client_use *batch = NULL, *nb;
	size_t n = 0, cap = 0, i;
	struct use *e;
	int ok;

	for (i = 0; i < STRIPES; i++) {
		pthread_mutex_lock(&u->stripes[i].mtx);
		for (e = u->stripes[i].uses; e != NULL; e = e->next) {
			if (e->used_ms <= e->flushed_ms)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				if ((nb = realloc(batch, cap *
				    sizeof(*batch))) == NULL)
					break;
				batch = nb;
			}
			if (n < cap) {
				cr_util_strlcpy(batch[n].id, e->id,
				    sizeof(batch[n].id));
				batch[n++].used_ms = e->used_ms;
			}
		}
		pthread_mutex_unlock(&u->stripes[i].mtx);
	}
	if (n == 0)
		goto out;
	ok = u->st->registry->ops->clients_touch(u->st->registry, batch, n) ==
	    CR_STORE_OK;
	if (!ok) {
		log_warnx("usage: cannot record the last use of %zu clients; "
		    "retried later", n);
		goto out;
	}
	/* Marked after the commit: a use noted meanwhile is newer. */
	for (i = 0; i < n; i++) {
		struct stripe *s = stripe_of(u, batch[i].id);

		pthread_mutex_lock(&s->mtx);
		for (e = s->uses; e != NULL; e = e->next)
			if (strcmp(e->id, batch[i].id) == 0) {
				if (e->flushed_ms < batch[i].used_ms)
					e->flushed_ms = batch[i].used_ms;
				break;
			}
		pthread_mutex_unlock(&s->mtx);
	}
out:
	free(batch);
}

static void *
usage_main(void *arg)
{
	struct cr_usage *u = arg;
	struct timespec ts;
	int stop;

	pthread_mutex_lock(&u->mtx);
	while (!u->stop) {
		cr_util_ms_timespec(cr_util_mono_ms() + u->flush_ms, &ts);
		while (!u->stop && pthread_cond_timedwait(&u->cond, &u->mtx,
		    &ts) == 0)
			;
		stop = u->stop;
		pthread_mutex_unlock(&u->mtx);
		if (!stop)
			usage_flush(u);
		pthread_mutex_lock(&u->mtx);
	}
	pthread_mutex_unlock(&u->mtx);
	return NULL;
}

int
cr_usage_start(struct cr_store *st, unsigned flush_ms, struct cr_usage **out)
{
	struct cr_usage *u;
	size_t i;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return -1;
	u->st = st;
	u->flush_ms = flush_ms > 0 ? flush_ms : 1000;
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_init(&u->stripes[i].mtx, NULL);
	pthread_mutex_init(&u->mtx, NULL);
	if (cr_util_cond_init_mono(&u->cond) != 0 ||
	    pthread_create(&u->thread, NULL, usage_main, u) != 0) {
		log_warnx("usage: cannot start its thread");
		pthread_mutex_destroy(&u->mtx);
		for (i = 0; i < STRIPES; i++)
			pthread_mutex_destroy(&u->stripes[i].mtx);
		free(u);
		return -1;
	}
	*out = u;
	return 0;
}

void
cr_usage_stop(struct cr_usage *u)
{
	struct use *e, *next;
	size_t i;

	if (u == NULL)
		return;
	pthread_mutex_lock(&u->mtx);
	u->stop = 1;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->mtx);
	pthread_join(u->thread, NULL);
	usage_flush(u);
	for (i = 0; i < STRIPES; i++) {
		for (e = u->stripes[i].uses; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
		pthread_mutex_destroy(&u->stripes[i].mtx);
	}
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->mtx);
	free(u);
}
