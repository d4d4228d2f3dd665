/*
 * Events: mutations published by authentic sources, routed to
 * subscriptions by the reference directory (docs/events.md).
 *
 * Publishing: request threads queue validated events to one publisher
 * thread, which appends everything queued in one store transaction (group
 * commit, as the exchange log does: store events_append routes and fsyncs)
 * and then calls each publisher back. Nothing is acknowledged before it is
 * durable. After each durable batch the webhook engine is notified and
 * parked feed requests are re-examined.
 *
 * Feed long-poll: a feed request that finds nothing parks here (its HTTP
 * connection suspended, no thread blocked); one waiter thread re-checks
 * it after publishes and answers it when its deadline passes.
 */
#ifndef CR_EVENTS_H
#define CR_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "log.h"
#include "store.h"

struct cr_hub;
struct cr_events;

struct cr_events_config {
	size_t	max_batch;	/* events per transaction (whole publishes);
				   0 = 20000 */
	/* Called on the publisher thread after a commit that routed
	   deliveries, so that the webhook engine (which this module does
	   not know) looks at them; NULL: nobody. Must not block. */
	void	(*routed)(void *arg);
	void	*routed_arg;
};

/* Starts the publisher and the feed waiter threads. 0 or -1. */
int	cr_events_start(struct cr_hub *, const struct cr_events_config *,
	    struct cr_events **out);

/*
 * Called on the publisher thread once events[0..n) are durable (rc 0: ids
 * written back into events[i].id, routed[i] set when routed is not NULL)
 * or could not be written (rc -1). Must not block.
 */
typedef void (*cr_events_done_fn)(void *arg, int rc);

/*
 * Queues n validated events (type, provider, subject, occurred_at,
 * published_at, data set). The caller keeps events (and routed) alive and
 * untouched until done is called. 0, or -1 when stopping (done is then
 * not called).
 */
int	cr_events_publish(struct cr_events *, struct cr_event *events,
	    size_t n, size_t *routed, cr_events_done_fn done, void *arg);

/*
 * The number of durable publishes so far. A feed reader takes it before
 * reading, and passes it to cr_events_wait: any publish made durable after
 * that read is then seen.
 */
uint64_t cr_events_generation(struct cr_events *);

/*
 * Parks a feed request. On the waiter thread: try(arg) after each durable
 * publish that followed generation `seen`; it returns 1 when it has taken
 * the request over (answered, or answering), 0 to keep waiting. expire(arg)
 * when deadline_ms (cr_util_mono_ms clock) passes or the hub stops: it must
 * answer. 0, or -1 when stopping (neither is then called).
 */
int	cr_events_wait(struct cr_events *, uint64_t seen, double deadline_ms,
	    int (*try)(void *), void (*expire)(void *), void *arg);

/* Answers every parked feed request now and refuses new waits: called on
   SIGTERM before the HTTP drain, so that long polls do not hold it up. */
void	cr_events_quiesce(struct cr_events *);

/* Writes what is queued, answers parked requests, joins, frees. */
void	cr_events_stop(struct cr_events *);

/*
 * Delivery payloads, shared by the feed and the webhook engine.
 *
 * cr_events_sub_authz: the authorization, valid today, under which the
 * subscription's institution receives events of its type (the `service`
 * of an authorization names the event type). CR_STORE_OK (*out filled,
 * cleared by the caller with cr_authz_clear), CR_STORE_NOTFOUND (no
 * active authorization any more: deliver nothing), CR_STORE_ERR.
 *
 * cr_events_payload_authz: the JSON body {"id","type","subject",
 * "occurred_at","data"} of ev, its data reduced to the fields that a
 * grants. New reference; NULL on OOM.
 *
 * cr_events_payload: both in one: NULL when the subscriber has no active
 * authorization any more (then the delivery must not happen) or on error;
 * else the body, with the authorization's legal basis copied into
 * legal_basis (may be NULL). Thread-safe.
 */
int	cr_events_sub_authz(struct cr_hub *, const struct cr_subscription *,
	    struct cr_authz *out);
json_t	*cr_events_payload_authz(const struct cr_authz *,
	    const struct cr_event *);
json_t	*cr_events_payload(struct cr_hub *, const struct cr_subscription *,
	    const struct cr_event *, char *legal_basis, size_t lblen);

/* Purpose written in the exchange log for event deliveries. */
#define CR_EVENTS_PURPOSE	"event-delivery"

/*
 * Validates an RFC 3339 date-time ("2024-05-01T12:00:00Z", offsets and
 * fractions allowed) and writes it normalized to UTC ("...Z", the
 * fraction kept, at most 9 digits) into out. 0 or -1.
 */
int	cr_events_parse_time(const char *in, char *out, size_t outlen);

/*
 * Validation of one published event (a POST /v1/events body or an NDJSON
 * line): the type is known (404 NOT_FOUND), the publisher is its provider
 * (403 NOT_AUTHORIZED), the subject valid (400 INVALID_SUBJECT),
 * occurred_at RFC 3339 and data's keys among the type's fields (400
 * BAD_REQUEST). Fills *out (out->data a new reference: cr_event_clear).
 * The cache keeps the last event type looked up: batches are mostly of
 * one type. 0, or -1 with *err set.
 */
struct cr_events_error {
	int	status;
	char	code[32];
	char	message[256];
};

struct cr_events_type_cache {
	struct cr_event_type	et;
	int			loaded;
	int			rc;		/* CR_STORE_* */
};

/* Sets *err; returns -1. */
int	cr_events_fail(struct cr_events_error *err, int status,
	    const char *code, const char *fmt, ...) CR_PRINTF(4, 5);
int	cr_events_validate(struct cr_hub *, const char *publisher,
	    const json_t *obj, struct cr_events_type_cache *,
	    struct cr_event *out, struct cr_events_error *err);
void	cr_events_type_cache_clear(struct cr_events_type_cache *);

/*
 * One page of a pull feed: the deliveries of the institution's feed
 * subscriptions after a cursor, the answer {"events":[...],"next"} with
 * each event's data reduced to what the subscriber's authorization grants
 * (deliveries of subscribers no longer authorized are skipped), and the
 * exchange-log entries of the events handed out, to be made durable
 * before the answer is sent. Fill the "in" members, then call
 * cr_events_feed_read (again, after a publish, to retry).
 */
struct cr_feed_sub;
struct cr_feed_page {
	/* in */
	char			 institution[CR_NAME_MAX];
	char			 client[40];
	char			 request_id[64];
	char			 subscription[40];	/* "" for all */
	uint64_t		 after;
	size_t			 limit;			/* 1..1000 */
	/* out */
	json_t			*answer;
	struct cr_xlog_entry	*entries;
	size_t			 nentries;
	/* private */
	struct cr_delivery	*buf;
	struct cr_feed_sub	*subs;
	size_t			 nsubs;
};

/* Number of deliveries read (0: nothing after the cursor), -1 on error. */
int	cr_events_feed_read(struct cr_hub *, struct cr_feed_page *);
/* {"events":[],"next":after} (new reference). */
json_t	*cr_events_feed_empty(const struct cr_feed_page *);
void	cr_events_feed_clear(struct cr_feed_page *);

#endif
