/*
 * Event publishing (group commit) and the feed's parked requests.
 *
 * The publisher thread works like the exchange-log writer: request threads
 * append a job (their events, still owned by them) to a queue under a short
 * mutex; the thread takes the whole queue, appends the events of as many
 * jobs as fit in max_batch with one events_append (one transaction, one
 * fsync), then calls every job back. A batch of one job is appended in
 * place; several are first gathered into one array.
 *
 * Parked feed requests are kept by a second thread, so that a slow feed
 * read never delays a publisher's acknowledgement.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz.h"
#include "date.h"
#include "directory.h"
#include "events.h"
#include "hub.h"
#include "jsonv.h"
#include "log.h"
#include "util.h"

#define EVENTS_DEFAULT_BATCH	20000

struct pub_job {
	struct cr_event		*events;
	size_t			 n;
	size_t			*routed;
	cr_events_done_fn	 done;
	void			*arg;
	struct pub_job		*next;
};

struct waiter {
	uint64_t	 seen;
	double		 deadline;
	int		(*try)(void *);
	void		(*expire)(void *);
	void		*arg;
	struct waiter	*next;
};

struct cr_events {
	struct cr_hub	*hub;
	size_t		 max_batch;
	void		(*routed)(void *);	/* cr_events_config */
	void		*routed_arg;

	/* Publisher. */
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	int		 stopping;		/* under mtx */
	struct pub_job	*head, **tail;		/* under mtx */
	struct cr_event	*work;			/* publisher only */
	size_t		 work_cap;
	size_t		*work_routed;

	/* Waiters. */
	pthread_mutex_t	 wmtx;
	pthread_cond_t	 wcond;			/* CLOCK_MONOTONIC */
	pthread_t	 wthread;
	int		 wstopping;		/* under wmtx: stop the thread */
	int		 closing;		/* under wmtx: refuse waits */
	struct waiter	*waiters;		/* under wmtx */
	_Atomic uint64_t generation;
};

/* --- publisher ------------------------------------------------------- */

static int
work_reserve(struct cr_events *ev, size_t want)
{
	struct cr_event *w;
	size_t *r, cap;

	if (want <= ev->work_cap)
		return 0;
	cap = ev->work_cap ? ev->work_cap : 1024;
	while (cap < want)
		cap *= 2;
	if ((w = reallocarray(ev->work, cap, sizeof(*w))) == NULL)
		return -1;
	ev->work = w;
	if ((r = reallocarray(ev->work_routed, cap, sizeof(*r))) == NULL)
		return -1;
	ev->work_routed = r;
	ev->work_cap = cap;
	return 0;
}

/* Tells the feed waiters that something may have arrived. */
static void
events_wake(struct cr_events *ev)
{
	pthread_mutex_lock(&ev->wmtx);
	atomic_fetch_add(&ev->generation, 1);
	pthread_cond_signal(&ev->wcond);
	pthread_mutex_unlock(&ev->wmtx);
}

/* Appends the events of jobs [first, end) in one transaction, calls back. */
static void
events_commit(struct cr_events *ev, struct pub_job *first, struct pub_job *end)
{
	struct cr_store *st = ev->hub->store;
	struct pub_job *j, *next;
	struct cr_event *arr;
	size_t total = 0, off, i, routed = 0, *rt;
	int rc;

	for (j = first; j != end; j = j->next)
		total += j->n;
	if (first->next == end) {
		arr = first->events;
		rt = first->routed;
	} else if (work_reserve(ev, total) == -1) {
		log_warn("events: gathering %zu events", total);
		rc = CR_STORE_ERR;
		goto report;
	} else {
		off = 0;
		for (j = first; j != end; j = j->next) {
			memcpy(ev->work + off, j->events,
			    j->n * sizeof(*j->events));
			off += j->n;
		}
		arr = ev->work;
		rt = ev->work_routed;
	}
	if (rt == NULL) {
		if (work_reserve(ev, total) == -1) {
			log_warn("events: gathering %zu events", total);
			rc = CR_STORE_ERR;
			goto report;
		}
		rt = ev->work_routed;
	}
	rc = st->events->ops->events_append(st->events, arr, total, rt);
	if (rc == CR_STORE_OK) {
		for (i = 0; i < total; i++)
			routed += rt[i];
		/* Back into the publishers' own arrays (ids, counts). */
		if (arr == ev->work) {
			off = 0;
			for (j = first; j != end; j = j->next) {
				for (i = 0; i < j->n; i++) {
					j->events[i].id = arr[off + i].id;
					if (j->routed != NULL)
						j->routed[i] = rt[off + i];
				}
				off += j->n;
			}
		}
		if (routed > 0) {
			events_wake(ev);
			if (ev->routed != NULL)
				ev->routed(ev->routed_arg);
		}
	} else
		log_warnx("events: appending %zu events failed; their "
		    "publishers are refused", total);
report:
	for (j = first; j != end; j = next) {
		next = j->next;
		j->done(j->arg, rc == CR_STORE_OK ? 0 : -1);
		free(j);
	}
}

static void *
events_publisher(void *arg)
{
	struct cr_events *ev = arg;
	struct pub_job *jobs, *first, *end;
	size_t n;

	for (;;) {
		pthread_mutex_lock(&ev->mtx);
		while (ev->head == NULL && !ev->stopping)
			pthread_cond_wait(&ev->cond, &ev->mtx);
		jobs = ev->head;
		ev->head = NULL;
		ev->tail = &ev->head;
		pthread_mutex_unlock(&ev->mtx);
		if (jobs == NULL)
			break;		/* stopping and drained */
		/* Whole jobs per transaction: a job is acknowledged once. */
		for (first = jobs; first != NULL; first = end) {
			n = first->n;
			for (end = first->next; end != NULL &&
			    n + end->n <= ev->max_batch; end = end->next)
				n += end->n;
			events_commit(ev, first, end);
		}
	}
	return NULL;
}

int
cr_events_publish(struct cr_events *ev, struct cr_event *events, size_t n,
    size_t *routed, cr_events_done_fn done, void *arg)
{
	struct pub_job *j;
	int rc = -1;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		log_warn("events: job");
		return -1;
	}
	j->events = events;
	j->n = n;
	j->routed = routed;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&ev->mtx);
	if (!ev->stopping) {
		*ev->tail = j;
		ev->tail = &j->next;
		pthread_cond_signal(&ev->cond);
		j = NULL;
		rc = 0;
	}
	pthread_mutex_unlock(&ev->mtx);
	free(j);
	return rc;
}

uint64_t
cr_events_generation(struct cr_events *ev)
{
	return atomic_load(&ev->generation);
}

/* --- feed waiters ---------------------------------------------------- */

/*
 * Takes out, under wmtx, every waiter that is due (deadline passed, a
 * newer generation, or the hub closing), handles them without the lock,
 * and puts back those that keep waiting.
 */
static void *
events_waiter_thread(void *arg)
{
	struct cr_events *ev = arg;
	struct waiter *due, **pp, *w, *next, *keep;
	struct timespec ts;
	double now, earliest;
	uint64_t gen;
	int closing;

	pthread_mutex_lock(&ev->wmtx);
	for (;;) {
		gen = atomic_load(&ev->generation);
		now = cr_util_mono_ms();
		closing = ev->closing;
		due = NULL;
		earliest = 0;
		for (pp = &ev->waiters; (w = *pp) != NULL; ) {
			if (closing || w->seen < gen || w->deadline <= now) {
				*pp = w->next;
				w->next = due;
				due = w;
				continue;
			}
			if (earliest == 0 || w->deadline < earliest)
				earliest = w->deadline;
			pp = &w->next;
		}
		if (due == NULL) {
			if (ev->wstopping && ev->waiters == NULL)
				break;
			if (earliest == 0)
				pthread_cond_wait(&ev->wcond, &ev->wmtx);
			else {
				cr_util_ms_timespec(earliest, &ts);
				pthread_cond_timedwait(&ev->wcond, &ev->wmtx,
				    &ts);
			}
			continue;
		}
		pthread_mutex_unlock(&ev->wmtx);
		keep = NULL;
		for (w = due; w != NULL; w = next) {
			next = w->next;
			if (closing || w->deadline <= now) {
				w->expire(w->arg);
				free(w);
			} else if (w->try(w->arg))
				free(w);
			else {
				/* Saw everything durable up to gen. */
				w->seen = gen;
				w->next = keep;
				keep = w;
			}
		}
		pthread_mutex_lock(&ev->wmtx);
		for (w = keep; w != NULL; w = next) {
			next = w->next;
			w->next = ev->waiters;
			ev->waiters = w;
		}
	}
	pthread_mutex_unlock(&ev->wmtx);
	return NULL;
}

int
cr_events_wait(struct cr_events *ev, uint64_t seen, double deadline_ms,
    int (*try)(void *), void (*expire)(void *), void *arg)
{
	struct waiter *w;
	int rc = -1;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("events: waiter");
		return -1;
	}
	w->seen = seen;
	w->deadline = deadline_ms;
	w->try = try;
	w->expire = expire;
	w->arg = arg;
	pthread_mutex_lock(&ev->wmtx);
	if (!ev->closing) {
		w->next = ev->waiters;
		ev->waiters = w;
		pthread_cond_signal(&ev->wcond);
		w = NULL;
		rc = 0;
	}
	pthread_mutex_unlock(&ev->wmtx);
	free(w);
	return rc;
}

void
cr_events_quiesce(struct cr_events *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->wmtx);
	ev->closing = 1;
	pthread_cond_signal(&ev->wcond);
	pthread_mutex_unlock(&ev->wmtx);
}

/* --- life cycle ------------------------------------------------------ */

int
cr_events_start(struct cr_hub *hub, const struct cr_events_config *cfg,
    struct cr_events **out)
{
	struct cr_events *ev;
	int err;

	*out = NULL;
	if ((ev = calloc(1, sizeof(*ev))) == NULL) {
		log_warn("events: calloc");
		return -1;
	}
	ev->hub = hub;
	ev->max_batch = cfg != NULL && cfg->max_batch > 0 ? cfg->max_batch :
	    EVENTS_DEFAULT_BATCH;
	if (cfg != NULL) {
		ev->routed = cfg->routed;
		ev->routed_arg = cfg->routed_arg;
	}
	ev->tail = &ev->head;
	atomic_init(&ev->generation, 0);
	/* Waits end at deadlines on the clock of cr_util_mono_ms. */
	if ((err = pthread_mutex_init(&ev->mtx, NULL)) != 0 ||
	    (err = pthread_cond_init(&ev->cond, NULL)) != 0 ||
	    (err = pthread_mutex_init(&ev->wmtx, NULL)) != 0 ||
	    (err = cr_util_cond_init_mono(&ev->wcond)) != 0) {
		/* Linux's mutexes and conditions hold no resources. */
		errno = err;
		log_warn("events: pthread init");
		free(ev);
		return -1;
	}
	if ((err = pthread_create(&ev->thread, NULL, events_publisher, ev))
	    != 0) {
		errno = err;
		log_warn("events: pthread_create");
		free(ev);
		return -1;
	}
	pthread_setname_np(ev->thread, "cr-events");
	if ((err = pthread_create(&ev->wthread, NULL, events_waiter_thread,
	    ev)) != 0) {
		errno = err;
		log_warn("events: pthread_create");
		pthread_mutex_lock(&ev->mtx);
		ev->stopping = 1;
		pthread_cond_signal(&ev->cond);
		pthread_mutex_unlock(&ev->mtx);
		pthread_join(ev->thread, NULL);
		free(ev);
		return -1;
	}
	pthread_setname_np(ev->wthread, "cr-feed-wait");
	*out = ev;
	return 0;
}

void
cr_events_stop(struct cr_events *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mtx);
	ev->stopping = 1;
	pthread_cond_signal(&ev->cond);
	pthread_mutex_unlock(&ev->mtx);
	pthread_join(ev->thread, NULL);

	pthread_mutex_lock(&ev->wmtx);
	ev->closing = 1;
	ev->wstopping = 1;
	pthread_cond_signal(&ev->wcond);
	pthread_mutex_unlock(&ev->wmtx);
	pthread_join(ev->wthread, NULL);

	pthread_cond_destroy(&ev->wcond);
	pthread_mutex_destroy(&ev->wmtx);
	pthread_cond_destroy(&ev->cond);
	pthread_mutex_destroy(&ev->mtx);
	free(ev->work);
	free(ev->work_routed);
	free(ev);
}

/* --- timestamps ------------------------------------------------------ */

/* n digits at s into *v; 0 or -1. */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
cr_events_parse_time(const char *in, char *out, size_t outlen)
{
	char date[CR_DATE_LEN + 1], frac[11];
	int hh, mi, ss, oh = 0, om = 0, sign = 0;
	int32_t days;
	int64_t secs, d;
	size_t nf = 0;
	const char *p;

	if (in == NULL || strlen(in) < 20)
		return -1;
	memcpy(date, in, CR_DATE_LEN);
	date[CR_DATE_LEN] = '\0';
	if (cr_date_to_days(date, &days) == -1 ||
	    (in[10] != 'T' && in[10] != 't') ||
	    digits(in + 11, 2, &hh) == -1 || in[13] != ':' ||
	    digits(in + 14, 2, &mi) == -1 || in[16] != ':' ||
	    digits(in + 17, 2, &ss) == -1 || hh > 23 || mi > 59 || ss > 60)
		return -1;
	p = in + 19;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (nf < 9)
				frac[nf++] = *p;
			else
				return -1;
		if (nf == 0)
			return -1;
	}
	frac[nf] = '\0';
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (digits(p + 1, 2, &oh) == -1 || p[3] != ':' ||
		    digits(p + 4, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	/* To UTC: a leap second becomes the next minute's second 0. */
	secs = (int64_t)days * 86400 + hh * 3600 + mi * 60 + ss -
	    sign * (oh * 3600 + om * 60);
	d = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	secs -= d * 86400;
	cr_date_from_days((int32_t)d, date);
	/* Past 9999-12-31 cr_date_from_days saturates: not that instant. */
	if (cr_date_to_days(date, &days) == -1 || days != d)
		return -1;
	if ((size_t)snprintf(out, outlen, "%sT%02d:%02d:%02d%s%sZ", date,
	    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
	    nf > 0 ? "." : "", frac) >= outlen)
		return -1;
	return 0;
}

/* --- validation ------------------------------------------------------ */

int
cr_events_fail(struct cr_events_error *err, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	cr_util_strlcpy(err->code, code, sizeof(err->code));
	/* Quoted back in JSON: text, never half a character. */
	va_start(ap, fmt);
	cr_util_utf8_vformat(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static const struct cr_jsonv_field event_spec[] = {
	{ "type", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "subject", CR_JV_STRING, 1, 64, 0, 0 },
	{ "occurred_at", CR_JV_STRING, 1, 64, 0, 0 },
	{ "data", CR_JV_OBJECT, 0, 0, 0, 0 },
	CR_JSONV_END
};

void
cr_events_type_cache_clear(struct cr_events_type_cache *tc)
{
	cr_event_type_clear(&tc->et);
	memset(tc, 0, sizeof(*tc));
}

int
cr_events_validate(struct cr_hub *hub, const char *publisher,
    const json_t *o, struct cr_events_type_cache *tc, struct cr_event *e,
    struct cr_events_error *err)
{
	struct cr_store *st = hub->store;
	const char *type, *subject, *at, *key;
	json_t *data, *v;
	char why[256];

	memset(e, 0, sizeof(*e));
	if (cr_jsonv_check(o, event_spec, why, sizeof(why)) == -1)
		return cr_events_fail(err, 400, "BAD_REQUEST", "%s", why);
	type = json_string_value(json_object_get(o, "type"));
	subject = json_string_value(json_object_get(o, "subject"));
	at = json_string_value(json_object_get(o, "occurred_at"));
	if (!tc->loaded || strcmp(tc->et.id, type) != 0) {
		cr_events_type_cache_clear(tc);
		tc->rc = st->events->ops->event_type_get(st->events,
		    type, &tc->et);
		cr_util_strlcpy(tc->et.id, type, sizeof(tc->et.id));
		tc->loaded = 1;
	}
	if (tc->rc == CR_STORE_NOTFOUND)
		return cr_events_fail(err, 404, "NOT_FOUND", "no event type '%s'",
		    type);
	if (tc->rc != CR_STORE_OK)
		return cr_events_fail(err, 500, "INTERNAL", "storage error");
	/* Only the authentic source speaks for its register. */
	if (strcmp(tc->et.provider, publisher) != 0)
		return cr_events_fail(err, 403, "NOT_AUTHORIZED", "events of type "
		    "'%s' are published by %s only", type, tc->et.provider);
	if (cr_directory_subject(hub, subject, e->subject,
	    sizeof(e->subject)) == -1)
		return cr_events_fail(err, 400, "INVALID_SUBJECT", "'%s' is not a "
		    "valid identifier", subject);
	if (cr_events_parse_time(at, e->occurred_at,
	    sizeof(e->occurred_at)) == -1)
		return cr_events_fail(err, 400, "BAD_REQUEST", "occurred_at '%s' is "
		    "not an RFC 3339 date-time such as 2024-05-01T12:00:00Z",
		    at);
	data = json_object_get(o, "data");
	json_object_foreach(data, key, v) {
		const json_t *f;
		size_t i;
		int found = 0;

		json_array_foreach(tc->et.fields, i, f)
			if (strcmp(json_string_value(f), key) == 0) {
				found = 1;
				break;
			}
		if (!found)
			return cr_events_fail(err, 400, "BAD_REQUEST", "data field "
			    "'%s' is not a field of event type '%s'", key,
			    type);
	}
	cr_util_strlcpy(e->type, type, sizeof(e->type));
	cr_util_strlcpy(e->provider, tc->et.provider, sizeof(e->provider));
	cr_util_now_rfc3339(e->published_at);
	e->data = data != NULL ? json_incref(data) : json_object();
	return e->data != NULL ? 0 : cr_events_fail(err, 500, "INTERNAL",
	    "out of memory");
}

/* --- feed pages ------------------------------------------------------ */

/* A subscription met in a feed page, with the authorization it uses. */
struct cr_feed_sub {
	struct cr_subscription	s;
	struct cr_authz		a;
	int			rc;	/* CR_STORE_* of the lookups */
};

static struct cr_feed_sub *
feed_sub(struct cr_hub *hub, struct cr_feed_page *p, const char *id)
{
	struct cr_store *st = hub->store;
	struct cr_feed_sub *fs;
	size_t i;

	for (i = 0; i < p->nsubs; i++)
		if (strcmp(p->subs[i].s.id, id) == 0)
			return &p->subs[i];
	if ((fs = reallocarray(p->subs, p->nsubs + 1, sizeof(*fs))) == NULL)
		return NULL;
	p->subs = fs;
	fs = &p->subs[p->nsubs++];
	memset(fs, 0, sizeof(*fs));
	fs->rc = st->events->ops->subscription_get(st->events, id, &fs->s);
	if (fs->rc == CR_STORE_OK)
		fs->rc = cr_events_sub_authz(hub, &fs->s, &fs->a);
	return fs;
}

static void
feed_log_entry(struct cr_xlog_entry *le, const struct cr_feed_page *p,
    const struct cr_feed_sub *fs, const struct cr_event *e)
{
	memset(le, 0, sizeof(*le));
	cr_util_now_rfc3339(le->ts);
	cr_util_strlcpy(le->request_id, p->request_id, sizeof(le->request_id));
	cr_util_strlcpy(le->consumer, fs->s.institution, sizeof(le->consumer));
	cr_util_strlcpy(le->client, p->client, sizeof(le->client));
	cr_util_strlcpy(le->service, e->type, sizeof(le->service));
	cr_util_strlcpy(le->provider, e->provider, sizeof(le->provider));
	cr_util_strlcpy(le->subject, e->subject, sizeof(le->subject));
	cr_util_strlcpy(le->purpose, CR_EVENTS_PURPOSE, sizeof(le->purpose));
	cr_util_strlcpy(le->legal_basis, fs->a.legal_basis,
	    sizeof(le->legal_basis));
	cr_util_strlcpy(le->outcome, CR_OUTCOME_GRANTED, sizeof(le->outcome));
	le->status = 200;
}

int
cr_events_feed_read(struct cr_hub *hub, struct cr_feed_page *p)
{
	struct cr_store *st = hub->store;
	struct cr_feed_sub *fs;
	struct cr_delivery *d;
	json_t *events, *o;
	uint64_t next = p->after;
	char cur[24];
	size_t n = p->limit, i;

	if (p->buf == NULL) {
		if ((p->buf = calloc(p->limit, sizeof(*p->buf))) == NULL ||
		    (p->entries = calloc(p->limit, sizeof(*p->entries))) ==
		    NULL)
			return -1;
	} else {
		cr_deliveries_clear(p->buf, p->limit);
		memset(p->buf, 0, p->limit * sizeof(*p->buf));
	}
	if (st->events->ops->feed_read(st->events,
	    p->institution, p->subscription[0] ?
	    p->subscription : NULL, p->after, p->buf, &n) != CR_STORE_OK)
		return -1;
	if (n == 0)
		return 0;
	if ((events = json_array()) == NULL)
		return -1;
	p->nentries = 0;
	for (i = 0; i < n; i++) {
		d = &p->buf[i];
		next = d->seq;
		if ((fs = feed_sub(hub, p, d->subscription)) == NULL)
			goto fail;
		/* No longer authorized (or gone): handed to nobody. */
		if (fs->rc == CR_STORE_NOTFOUND)
			continue;
		if (fs->rc != CR_STORE_OK ||
		    (o = cr_events_payload_authz(&fs->a, &d->event)) == NULL)
			goto fail;
		snprintf(cur, sizeof(cur), "%" PRIu64, d->seq);
		json_object_set_new(o, "cursor", json_string(cur));
		json_object_set_new(o, "subscription", json_string(fs->s.id));
		if (json_array_append_new(events, o) == -1)
			goto fail;
		feed_log_entry(&p->entries[p->nentries++], p, fs, &d->event);
	}
	snprintf(cur, sizeof(cur), "%" PRIu64, next);
	json_decref(p->answer);
	p->answer = json_pack("{s:o,s:s}", "events", events, "next", cur);
	return p->answer != NULL ? (int)n : -1;
fail:
	json_decref(events);
	return -1;
}

json_t *
cr_events_feed_empty(const struct cr_feed_page *p)
{
	char cur[24];

	snprintf(cur, sizeof(cur), "%" PRIu64, p->after);
	return json_pack("{s:[],s:s}", "events", "next", cur);
}

void
cr_events_feed_clear(struct cr_feed_page *p)
{
	size_t i;

	if (p->buf != NULL)
		cr_deliveries_clear(p->buf, p->limit);
	for (i = 0; i < p->nsubs; i++) {
		memset(p->subs[i].s.secret, 0, sizeof(p->subs[i].s.secret));
		cr_subscription_clear(&p->subs[i].s);
		cr_authz_clear(&p->subs[i].a);
	}
	free(p->buf);
	free(p->subs);
	free(p->entries);
	json_decref(p->answer);
	p->buf = NULL;
	p->subs = NULL;
	p->entries = NULL;
	p->answer = NULL;
	p->nsubs = p->nentries = 0;
}
