/*
 * Header and body deadlines of the listener's connections (guard.h).
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define GUARD_SHARDS	64
/* How often the sweeper looks: a deadline is met within this much. */
#define GUARD_SWEEP_MS	200

enum phase {
	PHASE_HEADERS = 0,
	PHASE_BODY,
	PHASE_HANDLED,
	PHASE_CLOSING,		/* shut down by the sweeper */
};

struct slot {
	struct slot	*prev, *next;	/* in its shard, under its lock */
	struct cr_guard	*guard;
	MHD_socket	 fd;
	unsigned	 shard;
	atomic_int	 phase;
	atomic_llong	 since_ms;	/* cr_util_mono_ms when it began */
};

struct shard {
	pthread_mutex_t	 mu;
	struct slot	*head;
};

struct cr_guard {
	struct cr_guard_config	 cfg;
	struct shard		 shards[GUARD_SHARDS];
	pthread_t		 thread;
	int			 running;
	pthread_mutex_t		 mu;		/* stop and cv */
	pthread_cond_t		 cv;
	int			 stop;
};

static long long
now_ms(void)
{
	return (long long)cr_util_mono_ms();
}

/*
 * From phase from to phase to, unless the sweeper has shut the connection
 * down meanwhile (then it stays closing). The time first: the sweeper
 * reads the phase, then the time, and may see the new phase's start with
 * the old phase (a later deadline), never the reverse.
 */
static void
phase_move(struct slot *s, int from, int to)
{
	atomic_store(&s->since_ms, now_ms());
	atomic_compare_exchange_strong(&s->phase, &from, to);
}

/* The deadline of the slot's phase in ms, or 0 for none. */
static unsigned
phase_limit(const struct cr_guard *g, int phase)
{
	if (phase == PHASE_HEADERS)
		return g->cfg.header_timeout_ms;
	if (phase == PHASE_BODY)
		return g->cfg.body_timeout_ms;
	return 0;
}

static void
sweep(struct cr_guard *g)
{
	long long now = now_ms();
	struct slot *s;
	unsigned i, limit;
	int phase;

	for (i = 0; i < GUARD_SHARDS; i++) {
		pthread_mutex_lock(&g->shards[i].mu);
		for (s = g->shards[i].head; s != NULL; s = s->next) {
			phase = atomic_load(&s->phase);
			if ((limit = phase_limit(g, phase)) == 0 ||
			    now - atomic_load(&s->since_ms) < (long long)limit)
				continue;
			/* Only if still in that phase: the request may have
			   moved on since. */
			if (!atomic_compare_exchange_strong(&s->phase, &phase,
			    PHASE_CLOSING))
				continue;
			/* Counted first: whoever sees the connection end
			   sees it counted. */
			cr_metrics_abuse(phase == PHASE_HEADERS ?
			    CR_METRICS_DEADLINE_HEADERS :
			    CR_METRICS_DEADLINE_BODY);
			/*
			 * The socket stays open (the daemon closes it, after
			 * its CLOSED notification has taken the slot out under
			 * this lock), so this fd is still this connection's.
			 * Its thread sees the end of the stream and closes.
			 */
			shutdown(s->fd, SHUT_RDWR);
		}
		pthread_mutex_unlock(&g->shards[i].mu);
	}
}

static void *
sweeper(void *arg)
{
	struct cr_guard *g = arg;
	struct timespec ts;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		cr_util_ms_timespec(cr_util_mono_ms() + GUARD_SWEEP_MS, &ts);
		pthread_cond_timedwait(&g->cv, &g->mu, &ts);
		if (g->stop)
			break;
		pthread_mutex_unlock(&g->mu);
		sweep(g);
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

int
cr_guard_start(const struct cr_guard_config *c, struct cr_guard **out)
{
	struct cr_guard *g;
	unsigned i;
	int rc;

	*out = NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	g->cfg = *c;
	for (i = 0; i < GUARD_SHARDS; i++)
		pthread_mutex_init(&g->shards[i].mu, NULL);
	pthread_mutex_init(&g->mu, NULL);
	if ((rc = cr_util_cond_init_mono(&g->cv)) != 0) {
		log_warnx("guard: condition variable: %s", strerror(rc));
		goto fail;
	}
	if (c->header_timeout_ms > 0 || c->body_timeout_ms > 0) {
		if ((rc = pthread_create(&g->thread, NULL, sweeper, g)) != 0) {
			log_warnx("guard: cannot start its thread: %s",
			    strerror(rc));
			pthread_cond_destroy(&g->cv);
			goto fail;
		}
		g->running = 1;
	}
	*out = g;
	return 0;
fail:
	for (i = 0; i < GUARD_SHARDS; i++)
		pthread_mutex_destroy(&g->shards[i].mu);
	pthread_mutex_destroy(&g->mu);
	free(g);
	return -1;
}

void
cr_guard_stop(struct cr_guard *g)
{
	struct slot *s, *next;
	unsigned i;

	if (g == NULL)
		return;
	if (g->running) {
		pthread_mutex_lock(&g->mu);
		g->stop = 1;
		pthread_cond_signal(&g->cv);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->thread, NULL);
	}
	for (i = 0; i < GUARD_SHARDS; i++) {
		/* None should be left once the daemon has stopped. */
		for (s = g->shards[i].head; s != NULL; s = next) {
			next = s->next;
			free(s);
		}
		pthread_mutex_destroy(&g->shards[i].mu);
	}
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void
cr_guard_notify(void *cls, struct MHD_Connection *conn,
    void **socket_context, enum MHD_ConnectionNotificationCode code)
{
	struct cr_guard *g = cls;
	const union MHD_ConnectionInfo *ci;
	struct shard *sh;
	struct slot *s;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = NULL;
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		/* Without its slot a connection has no deadline, only the
		   daemon's idle timeout. */
		if (ci == NULL || (s = calloc(1, sizeof(*s))) == NULL)
			return;
		s->guard = g;
		s->fd = ci->connect_fd;
		s->shard = (unsigned)s->fd % GUARD_SHARDS;
		atomic_init(&s->since_ms, now_ms());
		atomic_init(&s->phase, PHASE_HEADERS);
		sh = &g->shards[s->shard];
		pthread_mutex_lock(&sh->mu);
		s->next = sh->head;
		if (sh->head != NULL)
			sh->head->prev = s;
		sh->head = s;
		pthread_mutex_unlock(&sh->mu);
		*socket_context = s;
		return;
	}
	if (code != MHD_CONNECTION_NOTIFY_CLOSED ||
	    (s = *socket_context) == NULL)
		return;
	*socket_context = NULL;
	sh = &g->shards[s->shard];
	pthread_mutex_lock(&sh->mu);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sh->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&sh->mu);
	free(s);
}

static struct slot *
slot_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

void
cr_guard_access(struct MHD_Connection *conn, size_t upload_size)
{
	struct slot *s;
	int phase;

	if ((s = slot_of(conn)) == NULL)
		return;
	phase = atomic_load(&s->phase);
	if (phase == PHASE_HEADERS)
		phase_move(s, PHASE_HEADERS, PHASE_BODY);
	else if (phase == PHASE_BODY && upload_size == 0)
		phase_move(s, PHASE_BODY, PHASE_HANDLED);
}

void
cr_guard_completed(struct MHD_Connection *conn)
{
	struct slot *s;
	int phase;

	if ((s = slot_of(conn)) == NULL)
		return;
	phase = atomic_load(&s->phase);
	if (phase != PHASE_CLOSING)
		phase_move(s, phase, PHASE_HEADERS);
}
