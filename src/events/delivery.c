/*
 * Webhook delivery engine. One thread owns every decision and every write
 * to the outbox (the deliveries table); its own HTTP transport does the
 * POSTs, so a slow subscriber holds sockets of this transport only, never
 * those of consultations.
 *
 * The store is the queue. deliveries_due only answers "the oldest due
 * rows", so whatever the engine cannot send now is pushed out of that set
 * by moving its next_attempt_ms, never skipped in place: otherwise a
 * backlog of a blocked subscriber, being the oldest, would fill every read
 * and starve the others.
 *  - A row taken into memory gets a lease (next_attempt_ms in LEASE_MS),
 *    so reads do not return it again; a crash makes it due after the lease.
 *  - Order per (subscription, subject): a pair with a row in memory
 *    (parked or in flight) starts its next row only after it. A pair whose
 *    earliest row waits for a retry has a hold (that row's seq and due
 *    time); later rows read before then are moved to the hold's time.
 *  - Per subscription: at most max_in_flight rows in memory; the overflow
 *    is spread over the coming seconds at the pace the subscriber answers,
 *    with a hold on its pair, so order is kept and the rows are rewritten
 *    about once, not once a poll.
 *  - Group commit: every row write of one loop iteration (leases,
 *    outcomes, moves) is queued and written at the end of the iteration in
 *    one transaction, one fsync, before the next read of the outbox. A
 *    POST may leave before its lease is durable: after a crash such a row
 *    is due at once instead of after the lease, and sent again, which
 *    at-least-once allows. An outcome lost in a crash leaves the lease:
 *    the row is sent again when the lease ends.
 *
 * Size: this file is over 800 lines because the engine's decisions (take,
 * park, start, complete, shut down) act on one thread's state and are
 * best read together; its memory (map, timer heap) is delivery_state.c.
 */
#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "delivery.h"
#include "delivery_state.h"
#include "events.h"
#include "hub.h"
#include "log.h"
#include "util.h"

#define DEF_MAX_ATTEMPTS	8
#define DEF_BASE_BACKOFF	500
#define DEF_MAX_BACKOFF		300000
#define DEF_TIMEOUT		5000
#define DEF_MAX_IN_FLIGHT	64
/* Rows in memory (parked or in flight) over all subscriptions. */
#define MEM_MIN			1024
#define POLL_MS			1000
#define LEASE_MIN_MS		60000
#define GC_MS			10000
#define WQ_MIN			256

struct job {
	TAILQ_ENTRY(job)	 entry;		/* parked or inflight */
	TAILQ_ENTRY(job)	 dentry;	/* done: still in inflight */
	struct cr_delivery_engine *eng;
	struct ent		*pair;
	struct ent		*sub;
	struct cr_delivery	 d;
	int64_t			 orig_next;	/* before the lease */
	double			 t0;
	char			 legal_basis[CR_TEXT_MAX];
	char			 institution[CR_NAME_MAX];
	/* Set by the transport callback. */
	enum cr_source_error	 err;
	long			 status;
	char			 detail[160];
	int			 cancelled;	/* the transport stopped */
};

TAILQ_HEAD(jobq, job);

/*
 * A subscription and the authorization its deliveries go out under, read
 * once per pass over the parked rows (not once per row): still checked at
 * sending time, a pass later at most.
 */
struct cr_delivery_engine {
	struct cr_hub			*hub;
	struct cr_store			*st;
	struct cr_delivery_config	 cfg;
	struct cr_source_transport	*tp;
	size_t				 mem_max;
	int64_t				 lease_ms;
	pthread_t			 thread;
	pthread_mutex_t			 mtx;
	pthread_cond_t			 cond;
	int				 notified;	/* under mtx */
	int				 stopping;	/* under mtx */
	struct jobq			 done;		/* under mtx */
	/* Engine thread only. */
	struct jobq			 parked;	/* seq order */
	struct jobq			 inflight;
	size_t				 nmem;
	struct cr_dlv_map		 map;
	struct cr_dlv_heap		 heap;		/* wake-up times */
	int64_t				 next_gc;
	struct cr_delivery		*batch;
	uint64_t			 pass;
	/* Row writes waiting for the end of the iteration, in order. */
	struct cr_delivery		*wq;
	size_t				 nwq;
	size_t				 wqcap;
};

/* Store writes ----------------------------------------------------------- */

/* Writes the queued row updates in one transaction. */
static void
wq_flush(struct cr_delivery_engine *e)
{
	if (e->nwq == 0)
		return;
	/*
	 * On failure the rows keep their old state: a lease not written
	 * lets the row be read again (known() skips it while in memory, a
	 * restart sends it again); an outcome not written leaves the lease.
	 */
	if (e->st->events->ops->deliveries_update(e->st->events,
	    e->wq, e->nwq) ==
	    CR_STORE_ERR)
		log_warnx("delivery: cannot record %zu deliveries", e->nwq);
	e->nwq = 0;
}

/* Queues the write of d's state, attempts, due time and last error. */
static void
wq_add(struct cr_delivery_engine *e, const struct cr_delivery *d)
{
	struct cr_delivery *u, *nq;
	size_t cap;

	if (e->nwq == e->wqcap) {
		cap = e->wqcap < WQ_MIN ? WQ_MIN : e->wqcap * 2;
		if ((nq = reallocarray(e->wq, cap, sizeof(*nq))) == NULL) {
			/* Keep the order: what is queued goes first. */
			log_warn("delivery: reallocarray");
			wq_flush(e);
			if (e->st->events->ops->delivery_update(e->st->events,
			    d) ==
			    CR_STORE_ERR)
				log_warnx("delivery: seq %" PRIu64 ": cannot "
				    "record it", d->seq);
			return;
		}
		e->wq = nq;
		e->wqcap = cap;
	}
	u = &e->wq[e->nwq++];
	memcpy(u, d, offsetof(struct cr_delivery, event));
	/* The update reads no event; the queue owns no JSON. */
	memset(&u->event, 0, sizeof(u->event));
}

/* Moves a pending row's due time (queued). */
static void
row_move(struct cr_delivery_engine *e, const struct cr_delivery *d,
    int64_t when)
{
	struct cr_delivery u;

	memcpy(&u, d, offsetof(struct cr_delivery, event));
	u.state = CR_DELIVERY_PENDING;
	u.next_attempt_ms = when;
	wq_add(e, &u);
}

/* Later rows of the pair wait for row seq, due at until. */
static void
pair_hold(struct cr_delivery_engine *e, struct ent *pair, uint64_t seq,
    int64_t until)
{
	if (pair->hold_seq == 0 || pair->hold_until <= cr_util_wall_ms() ||
	    seq < pair->hold_seq)
		pair->hold_seq = seq;
	if (until > pair->hold_until)
		pair->hold_until = until;
	cr_dlv_heap_push(&e->heap, until);
}

/* Jobs ------------------------------------------------------------------- */

static void
job_free(struct cr_delivery_engine *e, struct job *j)
{
	if (j->pair != NULL)
		j->pair->nmem--;
	if (j->sub != NULL)
		j->sub->nmem--;
	e->nmem--;
	cr_deliveries_clear(&j->d, 1);
	free(j);
}

static void
xlog_delivery(struct cr_delivery_engine *e, const struct job *j,
    const char *outcome, int status, const char *code)
{
	struct cr_xlog_entry x;

	memset(&x, 0, sizeof(x));
	cr_util_now_rfc3339(x.ts);
	snprintf(x.request_id, sizeof(x.request_id), "evt-%" PRIu64 "-%"
	    PRIu64, j->d.event_id, j->d.seq);
	cr_util_strlcpy(x.consumer, j->institution, sizeof(x.consumer));
	cr_util_strlcpy(x.client, j->d.subscription, sizeof(x.client));
	cr_util_strlcpy(x.service, j->d.event.type, sizeof(x.service));
	cr_util_strlcpy(x.provider, j->d.event.provider, sizeof(x.provider));
	cr_util_strlcpy(x.subject, j->d.event.subject, sizeof(x.subject));
	cr_util_strlcpy(x.purpose, CR_EVENTS_PURPOSE, sizeof(x.purpose));
	cr_util_strlcpy(x.legal_basis, j->legal_basis, sizeof(x.legal_basis));
	cr_util_strlcpy(x.outcome, outcome, sizeof(x.outcome));
	x.status = status;
	cr_util_strlcpy(x.error_code, code, sizeof(x.error_code));
	if (e->hub->xlog == NULL || cr_xlog_submit(e->hub->xlog, &x, NULL,
	    NULL) == -1)
		log_warnx("delivery: seq %" PRIu64 " not written to the "
		    "exchange log (stopping)", j->d.seq);
}

/*
 * prefix then detail, truncated (last_error has a fixed size) to whole
 * characters: dead letters show it in JSON.
 */
static void
why_set(char *dst, size_t len, const char *prefix, const char *detail)
{
	size_t n;

	n = cr_util_strlcpy(dst, prefix, len);
	if (n < len)
		cr_util_strlcpy(dst + n, detail, len - n);
	cr_util_utf8_trim(dst);
}

int
cr_delivery_answer(enum cr_source_error err, long status, const char *detail,
    char *why, size_t whylen)
{
	if (err == CR_SOURCE_OK && status >= 200 && status < 300) {
		cr_util_strlcpy(why, "", whylen);
		return 1;
	}
	if (err == CR_SOURCE_OK)
		snprintf(why, whylen, "HTTP %ld", status);
	else
		why_set(why, whylen, err == CR_SOURCE_TIMEOUT ? "timeout: " :
		    "unavailable: ", detail);
	return 0;
}

/*
 * The pair waits for a retry: its parked rows leave memory until then, so
 * a failing subscriber does not hold the room others need.
 */
static void
release_held(struct cr_delivery_engine *e, struct ent *pair)
{
	struct job *j, *next;

	for (j = TAILQ_FIRST(&e->parked); j != NULL && pair->nmem > 0;
	    j = next) {
		next = TAILQ_NEXT(j, entry);
		if (j->pair != pair || j->d.seq <= pair->hold_seq)
			continue;
		TAILQ_REMOVE(&e->parked, j, entry);
		row_move(e, &j->d, pair->hold_until);
		job_free(e, j);
	}
}

/* Final or retry state of a row after an attempt that did not succeed. */
static void
job_failed(struct cr_delivery_engine *e, struct job *j, const char *why,
    int dead_now, int64_t now)
{
	struct cr_delivery *d = &j->d;
	int64_t delay;
	int shift;

	d->attempts++;
	cr_util_strlcpy(d->last_error, why, sizeof(d->last_error));
	if (dead_now || d->attempts >= e->cfg.max_attempts) {
		d->state = CR_DELIVERY_DEAD;
		d->next_attempt_ms = now;
	} else {
		shift = d->attempts - 1 < 30 ? d->attempts - 1 : 30;
		delay = (int64_t)e->cfg.base_backoff_ms << shift;
		if (delay > e->cfg.max_backoff_ms || delay <= 0)
			delay = e->cfg.max_backoff_ms;
		/* +-50%: subscribers coming back are not hit in step. */
		delay = delay / 2 + (int64_t)randombytes_uniform(
		    (uint32_t)delay + 1);
		d->state = CR_DELIVERY_PENDING;
		d->next_attempt_ms = now + delay;
	}
	wq_add(e, d);
	if (d->state == CR_DELIVERY_PENDING) {
		pair_hold(e, j->pair, d->seq, d->next_attempt_ms);
		release_held(e, j->pair);
	} else if (j->pair->hold_seq == d->seq)
		j->pair->hold_seq = 0;
}

/* Runs on the transport thread: hand the outcome to the engine thread. */
static void
job_answered(void *arg, const struct cr_source_result *res)
{
	struct job *j = arg;
	struct cr_delivery_engine *e = j->eng;

	j->err = res->error;
	j->status = res->http_status;
	cr_util_strlcpy(j->detail, res->detail, sizeof(j->detail));
	pthread_mutex_lock(&e->mtx);
	if (e->stopping > 1)
		j->cancelled = 1;
	TAILQ_INSERT_TAIL(&e->done, j, dentry);
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->mtx);
}

/* Outcome of a POST, on the engine thread. */
static void
job_complete(struct cr_delivery_engine *e, struct job *j, int64_t now)
{
	struct cr_delivery *d = &j->d;
	char why[160];
	double took = cr_util_mono_ms() - j->t0, gap;

	TAILQ_REMOVE(&e->inflight, j, entry);
	j->pair->ninflight--;
	j->sub->ninflight--;
	j->sub->ema_ms = j->sub->ema_ms * 0.8 + took * 0.2;
	/* The pace it is served at (engine included); after an idle spell
	   the gap counts as one answer time at most. */
	gap = j->t0 + took - j->sub->last_done;
	if (gap > j->sub->ema_ms || gap < 0)
		gap = j->sub->ema_ms;
	j->sub->gap_ms = j->sub->gap_ms * 0.95 + gap * 0.05;
	j->sub->last_done = j->t0 + took;
	if (j->cancelled) {
		/* Not the subscriber's fault: due again at the next start. */
		row_move(e, d, j->orig_next);
		goto out;
	}
	if (cr_delivery_answer(j->err, j->status, j->detail, why,
	    sizeof(why))) {
		d->state = CR_DELIVERY_DELIVERED;
		d->attempts++;
		d->last_error[0] = '\0';
		d->next_attempt_ms = now;
		wq_add(e, d);
		if (j->pair->hold_seq == d->seq)
			j->pair->hold_seq = 0;
		xlog_delivery(e, j, CR_OUTCOME_GRANTED, (int)j->status, "");
		goto out;
	}
	job_failed(e, j, why, 0, now);
	if (d->state == CR_DELIVERY_DEAD)
		xlog_delivery(e, j, CR_OUTCOME_FAILED, j->err == CR_SOURCE_OK ?
		    (int)j->status : 502, "DEAD_LETTER");
out:
	job_free(e, j);
}

static void
sign(const char *secret, const char *body, size_t len, char *hex)
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];

	/* The key is the secret as shown to the subscriber: its 64 chars. */
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
	    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	cr_util_hex(mac, sizeof(mac), hex);
	sodium_memzero(&st, sizeof(st));
}

/* The subscription of j and its authorization, as of this pass. */
static struct subinfo *
sub_info(struct cr_delivery_engine *e, struct job *j)
{
	struct subinfo *si = j->sub->si;

	if (si == NULL) {
		if ((si = calloc(1, sizeof(*si))) == NULL) {
			log_warn("delivery: calloc");
			return NULL;
		}
		j->sub->si = si;
	} else if (si->pass == e->pass)
		return si;
	cr_subscription_clear(&si->sub);
	cr_authz_clear(&si->az);
	si->pass = e->pass;
	si->azrc = CR_STORE_ERR;
	if ((si->rc = e->st->events->ops->subscription_get(e->st->events,
	    j->d.subscription,
	    &si->sub)) == CR_STORE_OK)
		si->azrc = cr_events_sub_authz(e->hub, &si->sub, &si->az);
	return si;
}

/* Builds, signs and submits the POST of a parked job. */
static void
job_start(struct cr_delivery_engine *e, struct job *j, int64_t now)
{
	const struct cr_subscription *sub;
	const struct cr_authz *az;
	struct subinfo *si;
	struct cr_source_request req;
	char idh[64], sigh[96], subh[96], seqh[64], reqid[64], why[160];
	char mac[2 * crypto_auth_hmacsha256_BYTES + 1];
	const char *hdrs[5];
	json_t *payload = NULL;
	char *body = NULL;
	int rc;

	TAILQ_REMOVE(&e->parked, j, entry);
	if ((si = sub_info(e, j)) == NULL) {
		row_move(e, &j->d, now + e->cfg.base_backoff_ms);
		goto drop;
	}
	sub = &si->sub;
	az = &si->az;
	if ((rc = si->rc) != CR_STORE_OK) {
		if (rc == CR_STORE_NOTFOUND) {
			/* Deleted meanwhile: nobody to deliver to. */
			cr_util_strlcpy(j->d.last_error, "subscription "
			    "deleted", sizeof(j->d.last_error));
			j->d.state = CR_DELIVERY_DEAD;
			wq_add(e, &j->d);
		} else
			row_move(e, &j->d, now + e->cfg.base_backoff_ms);
		goto drop;
	}
	cr_util_strlcpy(j->institution, sub->institution,
	    sizeof(j->institution));
	rc = si->azrc;
	if (rc == CR_STORE_NOTFOUND) {
		/*
		 * A dead letter, not a retry: visible to the subscriber, and
		 * redeliverable once the authorization is back.
		 */
		why_set(why, sizeof(why), "not authorized: no active "
		    "authorization for ", sub->event_type);
		job_failed(e, j, why, 1, now);
		xlog_delivery(e, j, CR_OUTCOME_DENIED, 403, "NOT_AUTHORIZED");
		goto drop;
	}
	if (rc == CR_STORE_OK) {
		cr_util_strlcpy(j->legal_basis, az->legal_basis,
		    sizeof(j->legal_basis));
		payload = cr_events_payload_authz(az, &j->d.event);
	}
	if (payload == NULL ||
	    (body = json_dumps(payload, JSON_COMPACT)) == NULL) {
		row_move(e, &j->d, now + e->cfg.base_backoff_ms);
		goto drop;
	}
	sign(sub->secret, body, strlen(body), mac);
	snprintf(idh, sizeof(idh), "X-Crossroads-Event-Id: %" PRIu64,
	    j->d.event_id);
	snprintf(sigh, sizeof(sigh), "X-Crossroads-Signature: sha256=%s", mac);
	snprintf(subh, sizeof(subh), "X-Crossroads-Subscription: %s", sub->id);
	snprintf(seqh, sizeof(seqh), "X-Crossroads-Delivery: %" PRIu64,
	    j->d.seq);
	hdrs[0] = idh;
	hdrs[1] = sigh;
	hdrs[2] = subh;
	hdrs[3] = seqh;
	hdrs[4] = NULL;
	snprintf(reqid, sizeof(reqid), "evt-%" PRIu64 "-%" PRIu64,
	    j->d.event_id, j->d.seq);
	memset(&req, 0, sizeof(req));
	req.url = sub->url;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = e->cfg.timeout_ms;
	req.ca_file = e->cfg.ca_file;
	req.client_cert = e->cfg.client_cert;
	req.client_key = e->cfg.client_key;
	req.request_id = reqid;
	req.headers = hdrs;
	j->t0 = cr_util_mono_ms();
	TAILQ_INSERT_TAIL(&e->inflight, j, entry);
	j->pair->ninflight++;
	j->sub->ninflight++;
	if (e->tp->ops->submit(e->tp, &req, job_answered, j) == -1) {
		TAILQ_REMOVE(&e->inflight, j, entry);
		j->pair->ninflight--;
		j->sub->ninflight--;
		row_move(e, &j->d, j->orig_next);
		goto drop;
	}
	goto out;
drop:
	job_free(e, j);
out:
	free(body);
	json_decref(payload);
}

/* Starts the parked jobs that order and caps allow, oldest first. */
static void
start_parked(struct cr_delivery_engine *e, int64_t now)
{
	struct job *j, *next;

	e->pass++;
	for (j = TAILQ_FIRST(&e->parked); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (j->pair->ninflight > 0 ||
		    j->sub->ninflight >= e->cfg.max_in_flight)
			continue;
		if (j->pair->hold_seq != 0 && j->pair->hold_seq < j->d.seq &&
		    j->pair->hold_until > now)
			continue;
		job_start(e, j, now);
	}
}

/* Is this row already in memory (read again after its lease)? */
static int
known(struct cr_delivery_engine *e, const struct ent *pair, uint64_t seq)
{
	struct job *j;

	if (pair == NULL || pair->nmem == 0)
		return 0;
	TAILQ_FOREACH(j, &e->parked, entry)
		if (j->d.seq == seq)
			return 1;
	TAILQ_FOREACH(j, &e->inflight, entry)
		if (j->d.seq == seq)
			return 1;
	return 0;
}

static void
park(struct cr_delivery_engine *e, struct job *j)
{
	struct job *p;

	/* Reads come in seq order, but a row back from a hold may not. */
	TAILQ_FOREACH_REVERSE(p, &e->parked, jobq, entry)
		if (p->d.seq < j->d.seq)
			break;
	if (p == NULL)
		TAILQ_INSERT_HEAD(&e->parked, j, entry);
	else
		TAILQ_INSERT_AFTER(&e->parked, p, j, entry);
}

/*
 * Takes one due row: into memory, or moved later when its pair is held or
 * its subscription has max_in_flight rows in memory already. 1 when the
 * row was moved.
 */
static int
take(struct cr_delivery_engine *e, struct cr_delivery *d, int64_t now)
{
	struct ent *pair, *sub;
	struct job *j;
	int64_t when;
	double step;

	pair = cr_dlv_ent_get(&e->map, 'P', d->subscription, d->event.subject, 1);
	sub = cr_dlv_ent_get(&e->map, 'S', d->subscription, NULL, 1);
	if (pair == NULL || sub == NULL) {
		cr_deliveries_clear(d, 1);
		return 0;
	}
	if (known(e, pair, d->seq)) {
		cr_deliveries_clear(d, 1);
		return 0;
	}
	if (pair->hold_seq != 0 && pair->hold_seq < d->seq &&
	    pair->hold_until > now) {
		row_move(e, d, pair->hold_until);
		cr_deliveries_clear(d, 1);
		return 1;
	}
	if (sub->nmem >= e->cfg.max_in_flight) {
		/*
		 * Due again about when the subscriber has room for it: it
		 * answers max_in_flight rows in about ema_ms, and has been
		 * served one row every gap_ms: a little faster than that, so
		 * that the pace can rise to what the subscriber takes.
		 */
		step = sub->ema_ms / (double)e->cfg.max_in_flight;
		if (step < sub->gap_ms * 0.75)
			step = sub->gap_ms * 0.75;
		if (sub->cursor <= (double)now)
			sub->cursor = (double)now + sub->ema_ms;
		sub->cursor += step;
		when = (int64_t)sub->cursor + 1;
		row_move(e, d, when);
		pair_hold(e, pair, d->seq, when);
		cr_deliveries_clear(d, 1);
		return 1;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		cr_deliveries_clear(d, 1);
		return 0;
	}
	j->eng = e;
	j->d = *d;	/* takes the event's data */
	j->orig_next = d->next_attempt_ms;
	j->pair = pair;
	j->sub = sub;
	pair->nmem++;
	sub->nmem++;
	e->nmem++;
	/* A row deleted meanwhile is found out when it starts. */
	row_move(e, d, now + e->lease_ms);
	park(e, j);
	return 0;
}

/* Reads what is due, as much as fits in memory; 1 to read again now. */
static int
poll_due(struct cr_delivery_engine *e, int64_t now)
{
	size_t want, n, i, moved = 0;

	if (e->nmem >= e->mem_max)
		return 0;
	want = n = e->mem_max - e->nmem;
	if (e->st->events->ops->deliveries_due(e->st->events,
	    now, e->batch, &n) !=
	    CR_STORE_OK)
		return 0;
	for (i = 0; i < n; i++)
		moved += (size_t)take(e, &e->batch[i], now);
	start_parked(e, now);
	return n == want && moved > 0;
}

/*
 * After a restart the holds are gone: rebuild them from the pending rows
 * not yet due (at most mem_max of them, the oldest).
 */
static void
seed_holds(struct cr_delivery_engine *e)
{
	int64_t now = cr_util_wall_ms();
	struct ent *pair;
	size_t n = e->mem_max, i;

	if (e->st->events->ops->deliveries_due(e->st->events,
	    INT64_MAX, e->batch, &n) !=
	    CR_STORE_OK)
		return;
	for (i = 0; i < n; i++) {
		if (e->batch[i].next_attempt_ms > now && (pair = cr_dlv_ent_get(&e->map,
		    'P', e->batch[i].subscription, e->batch[i].event.subject,
		    1)) != NULL && pair->hold_seq == 0)
			pair_hold(e, pair, e->batch[i].seq,
			    e->batch[i].next_attempt_ms);
	}
	cr_deliveries_clear(e->batch, n);
}

/*
 * Waits until wake (wall clock, ms; 0: no wait) unless there is work, then
 * records what the transport finished. Returns e->stopping.
 */
static int
wait_and_complete(struct cr_delivery_engine *e, int64_t wake)
{
	struct jobq local;
	struct job *j;
	struct timespec ts;
	int stopping;

	TAILQ_INIT(&local);
	pthread_mutex_lock(&e->mtx);
	if (wake > cr_util_wall_ms() && !e->notified && !e->stopping &&
	    TAILQ_EMPTY(&e->done)) {
		cr_util_ms_timespec((double)wake, &ts);
		pthread_cond_timedwait(&e->cond, &e->mtx, &ts);
	}
	e->notified = 0;
	stopping = e->stopping;
	TAILQ_CONCAT(&local, &e->done, dentry);
	pthread_mutex_unlock(&e->mtx);
	while ((j = TAILQ_FIRST(&local)) != NULL) {
		TAILQ_REMOVE(&local, j, dentry);
		job_complete(e, j, cr_util_wall_ms());
	}
	return stopping;
}

/* Stopping: parked rows get their due time back; in-flight ones end. */
static void
shutdown_jobs(struct cr_delivery_engine *e)
{
	struct job *j;
	int64_t end = cr_util_wall_ms() + e->cfg.timeout_ms + 1000;

	while ((j = TAILQ_FIRST(&e->parked)) != NULL) {
		TAILQ_REMOVE(&e->parked, j, entry);
		row_move(e, &j->d, j->orig_next);
		job_free(e, j);
	}
	wq_flush(e);
	/* e->stopping is set: the wait ends at each completion. */
	while (!TAILQ_EMPTY(&e->inflight) && cr_util_wall_ms() < end) {
		pthread_mutex_lock(&e->mtx);
		if (TAILQ_EMPTY(&e->done)) {
			struct timespec ts;

			cr_util_ms_timespec((double)end, &ts);
			pthread_cond_timedwait(&e->cond, &e->mtx, &ts);
		}
		pthread_mutex_unlock(&e->mtx);
		wait_and_complete(e, 0);
		wq_flush(e);
	}
	/* What is still in flight is failed by the transport, not counted. */
	pthread_mutex_lock(&e->mtx);
	e->stopping = 2;
	pthread_mutex_unlock(&e->mtx);
	e->tp->ops->stop(e->tp);
	e->tp = NULL;
	wait_and_complete(e, 0);
	wq_flush(e);
}

static void *
engine_main(void *arg)
{
	struct cr_delivery_engine *e = arg;
	int64_t now, wake;
	int again = 0;

	seed_holds(e);
	for (;;) {
		wake = cr_util_wall_ms() + POLL_MS;
		if (e->heap.n > 0 && e->heap.t[0] < wake)
			wake = e->heap.t[0];
		if (wait_and_complete(e, again ? 0 : wake))
			break;
		now = cr_util_wall_ms();
		cr_dlv_heap_pop_until(&e->heap, now);
		start_parked(e, now);
		again = poll_due(e, now);
		wq_flush(e);
		if (now >= e->next_gc) {
			cr_dlv_ent_gc(&e->map, now, 0);
			e->next_gc = now + GC_MS;
		}
	}
	shutdown_jobs(e);
	return NULL;
}

static void
engine_free(struct cr_delivery_engine *e)
{
	if (e->tp != NULL)
		e->tp->ops->stop(e->tp);
	cr_dlv_ent_gc(&e->map, 0, 1);
	free(e->heap.t);
	free(e->batch);
	free(e->wq);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->mtx);
	free(e);
}

int
cr_delivery_start(struct cr_hub *hub, const struct cr_delivery_config *cfg,
    struct cr_delivery_engine **out)
{
	struct cr_delivery_engine *e;
	struct cr_source_config scfg;
	sigset_t all, old;
	int err;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_warn("delivery: calloc");
		return -1;
	}
	e->hub = hub;
	e->st = hub->store;
	if (cfg != NULL)
		e->cfg = *cfg;
	if (e->cfg.max_attempts <= 0)
		e->cfg.max_attempts = DEF_MAX_ATTEMPTS;
	if (e->cfg.base_backoff_ms <= 0)
		e->cfg.base_backoff_ms = DEF_BASE_BACKOFF;
	if (e->cfg.max_backoff_ms <= 0)
		e->cfg.max_backoff_ms = DEF_MAX_BACKOFF;
	if (e->cfg.max_backoff_ms < e->cfg.base_backoff_ms)
		e->cfg.max_backoff_ms = e->cfg.base_backoff_ms;
	if (e->cfg.timeout_ms <= 0)
		e->cfg.timeout_ms = DEF_TIMEOUT;
	if (e->cfg.max_in_flight == 0)
		e->cfg.max_in_flight = DEF_MAX_IN_FLIGHT;
	e->mem_max = e->cfg.max_in_flight * 4 > MEM_MIN ?
	    e->cfg.max_in_flight * 4 : MEM_MIN;
	e->lease_ms = 4 * (int64_t)e->cfg.timeout_ms > LEASE_MIN_MS ?
	    4 * (int64_t)e->cfg.timeout_ms : LEASE_MIN_MS;
	TAILQ_INIT(&e->done);
	TAILQ_INIT(&e->parked);
	TAILQ_INIT(&e->inflight);
	pthread_mutex_init(&e->mtx, NULL);
	/* Deadlines are wall-clock times (the default clock), as
	   next_attempt_ms is. */
	pthread_cond_init(&e->cond, NULL);
	e->heap.t = calloc(CR_DLV_HEAP_MAX, sizeof(*e->heap.t));
	e->batch = calloc(e->mem_max, sizeof(*e->batch));
	if (e->heap.t == NULL || e->batch == NULL) {
		log_warn("delivery: calloc");
		goto fail;
	}
	memset(&scfg, 0, sizeof(scfg));
	/* Answers are acknowledgements: nobody needs a large one. */
	scfg.max_response_bytes = 64 * 1024;
	if (cr_source_http_start(&scfg, &e->tp) == -1)
		goto fail;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&e->thread, NULL, engine_main, e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		errno = err;
		log_warn("delivery: pthread_create");
		goto fail;
	}
	pthread_setname_np(e->thread, "cr-delivery");
	*out = e;
	return 0;
fail:
	engine_free(e);
	return -1;
}

void
cr_delivery_notify(struct cr_delivery_engine *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mtx);
	e->notified = 1;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->mtx);
}

void
cr_delivery_stop(struct cr_delivery_engine *e)
{
	int err;

	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mtx);
	e->stopping = 1;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->mtx);
	if ((err = pthread_join(e->thread, NULL)) != 0) {
		errno = err;
		log_warn("delivery: pthread_join");
	}
	engine_free(e);
}
