/*
 * Events: event types, publishing, subscriptions and the pull feed
 * (docs/events.md). Publishing and the feed's exchange-log entries are
 * asynchronous: the connection is suspended until they are durable.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api.h"
#include "authz.h"
#include "directory.h"
#include "events.h"
#include "jsonv.h"
#include "registry_file.h"
#include "util.h"

#define SECRET_BYTES	32
#define FEED_LIMIT_MAX	1000

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static void
reply_empty(struct cr_req *req, int status)
{
	char *empty;

	if ((empty = strdup("")) != NULL)
		cr_http_reply(req, status, "application/json", empty, 0);
}

/* --- event types ----------------------------------------------------- */

const struct cr_jsonv_field cr_api_event_type_spec[] = {
	{ "id", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "provider", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "fields", CR_JV_STRING_ARRAY, 1, CR_NAME_MAX - 1, 0, 200 },
	{ "all_integrations", CR_JV_BOOL, 0, 0, 0, 0 },
	CR_JSONV_END
};

void
cr_api_event_type_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_event_type et;
	struct cr_service svc;
	json_t *b;
	int rc;

	if (cr_http_require_operator(req) == -1 ||
	    (b = cr_http_body_json(req, cr_api_event_type_spec)) == NULL)
		return;
	memset(&et, 0, sizeof(et));
	memset(&svc, 0, sizeof(svc));
	cr_util_strlcpy(et.id, jstr(b, "id"), sizeof(et.id));
	cr_util_strlcpy(et.provider, jstr(b, "provider"), sizeof(et.provider));
	et.fields = json_object_get(b, "fields");
	et.all_integrations = json_is_true(json_object_get(b,
	    "all_integrations"));
	if (!cr_registry_valid_id(et.id)) {
		cr_http_error(req, 400, "BAD_REQUEST", "event type id '%s' may "
		    "only contain letters, digits, '.', '_' and '-'", et.id);
		goto out;
	}
	/* Authorizations name services and event types alike. */
	rc = st->registry->ops->service_get(st->registry, et.id, &svc);
	if (rc == CR_STORE_OK) {
		cr_http_error(req, 409, "CONFLICT", "a service '%s' exists; "
		    "authorizations could not tell them apart", et.id);
		goto out;
	}
	if (rc == CR_STORE_NOTFOUND) {
		cr_api_audit_stage(req, "event_type.create", "event_type",
		    et.id, NULL, b);
		rc = st->events->ops->event_type_add(st->events, &et);
		cr_api_audit_done(req, rc == CR_STORE_OK);
	}
	if (rc == CR_STORE_EXISTS)
		cr_http_error(req, 409, "CONFLICT", "event type '%s' exists",
		    et.id);
	else if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no institution '%s' to "
		    "publish the event type", et.provider);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else {
		json_object_set_new(b, "all_integrations",
		    json_boolean(et.all_integrations));
		cr_http_reply_json(req, 201, json_incref(b));
	}
out:
	cr_service_clear(&svc);
	json_decref(b);
}

void
cr_api_event_type_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *list;

	if (cr_http_require_any(req) == -1)
		return;
	if (st->events->ops->event_type_list(st->events,
	    &list) != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	cr_http_reply_json(req, 200, json_pack("{s:o}", "event_types", list));
}

/* --- publishing ------------------------------------------------------ */

/* The shape only; cr_events_validate checks the rest. */
const struct cr_jsonv_field cr_api_event_spec[] = {
	{ "type", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "subject", CR_JV_STRING, 1, 64, 0, 0 },
	{ "occurred_at", CR_JV_STRING, 1, 64, 0, 0 },
	{ "data", CR_JV_OBJECT, 0, 0, 0, 0 },
	CR_JSONV_END
};

struct pub_ctx {
	struct cr_req	*req;
	struct cr_event	*events;
	size_t		 n, cap;
	size_t		*lines;		/* batch: line of each event */
	json_t		*rejected;	/* batch */
	int		 batch;
	int		 rc;
};

static void
pub_ctx_free(void *arg)
{
	struct pub_ctx *c = arg;
	size_t i;

	for (i = 0; i < c->n; i++)
		cr_event_clear(&c->events[i]);
	free(c->events);
	free(c->lines);
	json_decref(c->rejected);
	free(c);
}

/* On a worker thread after the resume. */
static void
pub_reply(struct cr_req *req)
{
	struct pub_ctx *c = req->ctx;
	json_t *ids;
	char id[24];
	size_t i;

	if (c->rc != 0) {
		cr_http_error(req, 500, "INTERNAL", "the events could not be "
		    "stored; none of them was accepted");
		return;
	}
	if (!c->batch) {
		snprintf(id, sizeof(id), "%" PRIu64, c->events[0].id);
		cr_http_reply_json(req, 201, json_pack("{s:s}", "id", id));
		return;
	}
	if ((ids = json_array()) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	for (i = 0; i < c->n; i++) {
		snprintf(id, sizeof(id), "%" PRIu64, c->events[i].id);
		json_array_append_new(ids, json_string(id));
	}
	cr_http_reply_json(req, 200, json_pack("{s:I,s:o,s:O}", "accepted",
	    (json_int_t)c->n, "ids", ids, "rejected", c->rejected));
}

/* On the publisher thread once durable. */
static void
pub_done(void *arg, int rc)
{
	struct pub_ctx *c = arg;
	struct cr_req *req = c->req;

	c->rc = rc;
	req->on_resume = pub_reply;
	cr_http_resume(req);
}

/* Suspends the request until the events of c are durable. */
static void
pub_start(struct cr_req *req, struct pub_ctx *c)
{
	cr_http_suspend(req);
	if (cr_events_publish(req->hub->events, c->events, c->n, NULL,
	    pub_done, c) == -1) {
		cr_http_error(req, 503, "UNAVAILABLE", "the hub is shutting "
		    "down");
		cr_http_resume(req);
	}
}

static struct pub_ctx *
pub_ctx_new(struct cr_req *req, size_t cap, int batch)
{
	struct pub_ctx *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->events = calloc(cap, sizeof(*c->events))) == NULL ||
	    (batch && (c->rejected = json_array()) == NULL)) {
		if (c != NULL)
			free(c->events);
		free(c);
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return NULL;
	}
	c->req = req;
	c->cap = cap;
	c->batch = batch;
	req->ctx = c;
	req->ctx_free = pub_ctx_free;
	return c;
}

void
cr_api_event_publish(struct cr_req *req)
{
	struct cr_events_type_cache tc;
	struct cr_events_error err;
	struct pub_ctx *c;
	json_t *b;

	if (cr_http_require_client(req) == -1 ||
	    (b = cr_http_body_json(req, cr_api_event_spec)) == NULL)
		return;
	memset(&tc, 0, sizeof(tc));
	if ((c = pub_ctx_new(req, 1, 0)) == NULL)
		goto out;
	if (cr_events_validate(req->hub, req->client.institution, b, &tc,
	    &c->events[0], &err) == -1) {
		cr_http_error(req, err.status, err.code, "%s", err.message);
		goto out;
	}
	c->n = 1;
	pub_start(req, c);
out:
	cr_events_type_cache_clear(&tc);
	json_decref(b);
}

struct batch_state {
	struct cr_req		*req;
	struct pub_ctx		*c;
	struct cr_events_type_cache tc;
	int			 oom;
};

static int
batch_line(const char *line, size_t len, size_t lineno, void *arg)
{
	struct batch_state *bs = arg;
	struct pub_ctx *c = bs->c;
	struct cr_events_error err;
	struct cr_event *e;
	size_t *l;
	json_t *o = NULL;
	char why[256];

	if (c->n == c->cap) {
		if ((e = reallocarray(c->events, c->cap * 2,
		    sizeof(*e))) == NULL)
			goto oom;
		c->events = e;
		if ((l = reallocarray(c->lines, c->cap * 2,
		    sizeof(*l))) == NULL)
			goto oom;
		c->lines = l;
		c->cap *= 2;
	}
	if (cr_jsonv_parse_object(line, len, &o, why, sizeof(why)) == -1)
		cr_events_fail(&err, 400, "BAD_REQUEST", "%s", why);
	else if (cr_events_validate(bs->req->hub,
	    bs->req->client.institution, o, &bs->tc, &c->events[c->n], &err)
	    == 0) {
		c->lines[c->n++] = lineno;
		json_decref(o);
		return 0;
	}
	json_decref(o);
	if (json_array_append_new(c->rejected, json_pack("{s:I,s:{s:s,s:s}}",
	    "line", (json_int_t)lineno, "error", "code", err.code,
	    "message", err.message)) == -1)
		goto oom;
	return 0;
oom:
	bs->oom = 1;
	return -1;
}

void
cr_api_event_publish_batch(struct cr_req *req)
{
	struct batch_state bs;

	if (cr_http_require_client(req) == -1)
		return;
	memset(&bs, 0, sizeof(bs));
	bs.req = req;
	if ((bs.c = pub_ctx_new(req, 256, 1)) == NULL)
		goto out;
	if ((bs.c->lines = calloc(bs.c->cap, sizeof(*bs.c->lines))) == NULL ||
	    cr_jsonv_ndjson_lines(req->body ? req->body : "", req->body_len,
	    batch_line, &bs) == -1 || bs.oom) {
		cr_http_error(req, 500, "INTERNAL", "out of memory; nothing "
		    "was accepted");
		goto out;
	}
	if (bs.c->n == 0)
		cr_http_reply_json(req, 200, json_pack("{s:i,s:[],s:O}",
		    "accepted", 0, "ids", "rejected", bs.c->rejected));
	else
		pub_start(req, bs.c);
out:
	cr_events_type_cache_clear(&bs.tc);
}

/* --- subscriptions --------------------------------------------------- */

const struct cr_jsonv_field cr_api_subscription_spec[] = {
	{ "event_type", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "capacities", CR_JV_STRING_ARRAY, 0, CR_NAME_MAX - 1, 0, 100 },
	{ "delivery", CR_JV_OBJECT, 1, 0, 0, 0 },
	{ "purpose", CR_JV_STRING, 0, CR_KEY_MAX - 1, 0, 0 },
	CR_JSONV_END
};

const struct cr_jsonv_field cr_api_delivery_spec[] = {
	{ "url", CR_JV_STRING, 0, CR_URL_MAX - 1, 0, 0 },
	{ "feed", CR_JV_BOOL, 0, 0, 0, 0 },
	CR_JSONV_END
};

static json_t *
subscription_json(const struct cr_subscription *s)
{
	return json_pack("{s:s,s:s,s:s,s:O,s:o,s:s}", "id", s->id,
	    "institution", s->institution, "event_type", s->event_type,
	    "capacities", s->capacities, "delivery", s->feed ?
	    json_pack("{s:b}", "feed", 1) : json_pack("{s:s}", "url", s->url),
	    "created_at", s->created_at);
}

/* Fills the delivery members of s from the body's "delivery" object. */
static int
subscription_delivery(const json_t *d, struct cr_subscription *s,
    struct cr_events_error *err)
{
	const char *url;
	char why[256];

	if (cr_jsonv_check(d, cr_api_delivery_spec, why, sizeof(why)) == -1)
		return cr_events_fail(err, 400, "BAD_REQUEST", "delivery: %s", why);
	url = json_string_value(json_object_get(d, "url"));
	s->feed = json_is_true(json_object_get(d, "feed"));
	if ((url != NULL) == s->feed)
		return cr_events_fail(err, 400, "BAD_REQUEST", "delivery must be "
		    "either {\"url\": \"http(s)://...\"} or {\"feed\": true}");
	if (url != NULL && strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)
		return cr_events_fail(err, 400, "BAD_REQUEST", "delivery url must be "
		    "an http:// or https:// URL");
	cr_util_strlcpy(s->url, url != NULL ? url : "", sizeof(s->url));
	return 0;
}

/*
 * The authorization the subscription needs: with a purpose, that one;
 * without, the one deliveries will use (cr_events_sub_authz). Its
 * capacities bound the subscription's: none given means all of them.
 */
static int
subscription_authorize(struct cr_req *req, struct cr_subscription *s,
    const char *purpose, struct cr_events_error *err)
{
	struct cr_store *st = req->hub->store;
	char today[CR_DATE_LEN + 1];
	struct cr_authz a;
	int rc;

	cr_date_today(today);
	if (purpose != NULL)
		rc = st->registry->ops->authz_find(st->registry,
		    s->institution, s->event_type,
		    purpose, today, &a);
	else
		rc = cr_events_sub_authz(req->hub, s, &a);
	if (rc == CR_STORE_NOTFOUND)
		return cr_events_fail(err, 403, "NOT_AUTHORIZED", "%s has no active "
		    "authorization for event type %s%s%s", s->institution,
		    s->event_type, purpose ? " and purpose " : "",
		    purpose ? purpose : "");
	if (rc != CR_STORE_OK)
		return cr_events_fail(err, 500, "INTERNAL", "storage error");
	rc = 0;
	if (json_array_size(a.capacities) > 0) {
		if (json_array_size(s->capacities) == 0) {
			json_decref(s->capacities);
			s->capacities = json_deep_copy(a.capacities);
		} else if (!cr_authz_fields_subset(s->capacities,
		    a.capacities))
			rc = cr_events_fail(err, 403, "NOT_AUTHORIZED", "the "
			    "authorization of %s for %s allows only the "
			    "capacities it lists", s->institution,
			    s->event_type);
	}
	cr_authz_clear(&a);
	return rc;
}

void
cr_api_subscription_create(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_subscription s;
	struct cr_event_type et;
	struct cr_events_error err;
	uint8_t raw[SECRET_BYTES];
	const char *purpose;
	json_t *b, *caps, *j;
	int rc;

	if (cr_http_require_client(req) == -1 ||
	    (b = cr_http_body_json(req, cr_api_subscription_spec)) == NULL)
		return;
	memset(&s, 0, sizeof(s));
	memset(&et, 0, sizeof(et));
	cr_util_uuid(s.id);
	cr_util_strlcpy(s.institution, req->client.institution,
	    sizeof(s.institution));
	cr_util_strlcpy(s.client, req->client.id, sizeof(s.client));
	cr_util_strlcpy(s.event_type, jstr(b, "event_type"),
	    sizeof(s.event_type));
	caps = json_object_get(b, "capacities");
	s.capacities = caps != NULL ? json_deep_copy(caps) : json_array();
	purpose = json_string_value(json_object_get(b, "purpose"));
	cr_util_now_rfc3339(s.created_at);
	if (subscription_delivery(json_object_get(b, "delivery"), &s, &err)
	    == -1)
		goto fail;
	rc = st->events->ops->event_type_get(st->events, s.event_type, &et);
	if (rc == CR_STORE_NOTFOUND) {
		cr_events_fail(&err, 404, "NOT_FOUND", "no event type '%s'",
		    s.event_type);
		goto fail;
	}
	if (rc != CR_STORE_OK || s.capacities == NULL) {
		cr_events_fail(&err, 500, "INTERNAL", "storage error");
		goto fail;
	}
	if (subscription_authorize(req, &s, purpose, &err) == -1)
		goto fail;
	/* The hub signs with the secret, so it keeps it; shown once. */
	randombytes_buf(raw, sizeof(raw));
	cr_util_hex(raw, sizeof(raw), s.secret);
	sodium_memzero(raw, sizeof(raw));
	/* The secret is no more in the trail than a token. */
	j = subscription_json(&s);
	cr_api_audit_stage(req, "subscription.create", "subscription", s.id,
	    NULL, j);
	rc = st->events->ops->subscription_add(st->events, &s);
	cr_api_audit_done(req, rc == CR_STORE_OK);
	if (rc != CR_STORE_OK) {
		json_decref(j);
		cr_events_fail(&err, 500, "INTERNAL", "storage error");
		goto fail;
	}
	if (j != NULL)
		json_object_set_new(j, "secret", json_string(s.secret));
	cr_http_reply_json(req, 201, j);
	goto out;
fail:
	cr_http_error(req, err.status, err.code, "%s", err.message);
out:
	sodium_memzero(s.secret, sizeof(s.secret));
	cr_subscription_clear(&s);
	cr_event_type_clear(&et);
	json_decref(b);
}

void
cr_api_subscription_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *list;

	if (cr_http_require_any(req) == -1)
		return;
	if (st->events->ops->subscription_list(st->events, req->principal ==
	    CR_PRINCIPAL_OPERATOR ? NULL : req->client.institution, &list)
	    != CR_STORE_OK) {
		cr_http_storage_error(req);
		return;
	}
	cr_http_reply_json(req, 200, json_pack("{s:o}", "subscriptions",
	    list));
}

void
cr_api_subscription_delete(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_subscription s;
	int rc;

	if (cr_http_require_any(req) == -1)
		return;
	memset(&s, 0, sizeof(s));
	rc = st->events->ops->subscription_get(st->events, req->params[0], &s);
	/* Another institution's subscription is not even there. */
	if (rc == CR_STORE_OK && req->principal != CR_PRINCIPAL_OPERATOR &&
	    strcmp(s.institution, req->client.institution) != 0)
		rc = CR_STORE_NOTFOUND;
	if (rc == CR_STORE_OK) {
		json_t *before = subscription_json(&s);

		cr_api_audit_stage(req, "subscription.delete", "subscription",
		    req->params[0], before, NULL);
		rc = st->events->ops->subscription_delete(st->events,
		    req->params[0]);
		cr_api_audit_done(req, rc == CR_STORE_OK);
		json_decref(before);
	}
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no subscription '%s'",
		    req->params[0]);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		reply_empty(req, 204);
	sodium_memzero(s.secret, sizeof(s.secret));
	cr_subscription_clear(&s);
}

/* --- feed ------------------------------------------------------------ */

struct feed_ctx {
	struct cr_req		*req;
	struct cr_hub		*hub;
	struct cr_feed_page	 page;
	atomic_size_t		 pending;	/* log entries not yet durable,
						   plus the submitter's one */
	atomic_int		 failed;
};

static void
feed_ctx_free(void *arg)
{
	struct feed_ctx *c = arg;

	cr_events_feed_clear(&c->page);
	free(c);
}

/* On the log writer's thread; the last one answers. */
static void
feed_logged(void *arg, int rc, uint64_t seq)
{
	struct feed_ctx *c = arg;
	struct cr_req *req = c->req;

	if (rc != 0)
		atomic_store(&c->failed, 1);
	if (atomic_fetch_sub(&c->pending, 1) != 1)
		return;
	/* Nothing leaves the hub that is not in the log. */
	if (atomic_load(&c->failed))
		cr_http_error(req, 503, "UNAVAILABLE", "the exchange log could "
		    "not be written; read again from the same cursor");
	else {
		cr_http_reply_json(req, 200, c->page.answer);
		c->page.answer = NULL;
	}
	cr_http_resume(req);
}

/* The request is suspended: answers once the page's log is durable. */
static void
feed_answer_async(struct feed_ctx *c)
{
	size_t i, k = c->page.nentries;

	atomic_store(&c->pending, k + 1);
	for (i = 0; i < k; i++)
		if (cr_xlog_submit(c->hub->xlog, &c->page.entries[i],
		    feed_logged, c) == -1) {
			atomic_store(&c->failed, 1);
			atomic_fetch_sub(&c->pending, k - i);
			break;
		}
	feed_logged(c, 0, 0);
}

/* Waiter thread: something was published. */
static int
feed_try(void *arg)
{
	struct feed_ctx *c = arg;
	int n = cr_events_feed_read(c->hub, &c->page);

	if (n == 0)
		return 0;
	if (n < 0) {
		cr_http_storage_error(c->req);
		cr_http_resume(c->req);
	} else
		feed_answer_async(c);
	return 1;
}

static void
feed_expire(void *arg)
{
	struct feed_ctx *c = arg;

	cr_http_reply_json(c->req, 200, cr_events_feed_empty(&c->page));
	cr_http_resume(c->req);
}

static int
query_num(struct cr_req *req, const char *key, unsigned long long min,
    unsigned long long max, unsigned long long dflt, unsigned long long *out)
{
	const char *v = cr_http_query(req, key);

	*out = dflt;
	if (v == NULL || cr_util_parse_ull(v, min, max, out) == 0)
		return 0;
	cr_http_error(req, 400, "BAD_REQUEST", "%s must be a whole number "
	    "from %llu to %llu", key, min, max);
	return -1;
}

/* The optional ?subscription= must be a feed subscription of the caller. */
static int
feed_subscription(struct cr_req *req, struct cr_feed_page *p)
{
	struct cr_store *st = req->hub->store;
	struct cr_subscription s;
	const char *id;
	int rc;

	if ((id = cr_http_query(req, "subscription")) == NULL)
		return 0;
	memset(&s, 0, sizeof(s));
	rc = st->events->ops->subscription_get(st->events, id, &s);
	if (rc == CR_STORE_OK && (!s.feed ||
	    strcmp(s.institution, p->institution) != 0))
		rc = CR_STORE_NOTFOUND;
	sodium_memzero(s.secret, sizeof(s.secret));
	cr_subscription_clear(&s);
	if (rc == CR_STORE_NOTFOUND)
		cr_http_error(req, 404, "NOT_FOUND", "no feed subscription "
		    "'%s' of %s", id, p->institution);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else
		cr_util_strlcpy(p->subscription, id, sizeof(p->subscription));
	return rc == CR_STORE_OK ? 0 : -1;
}

void
cr_api_feed(struct cr_req *req)
{
	struct cr_hub *hub = req->hub;
	struct feed_ctx *c;
	unsigned long long after, limit, wait;
	uint64_t gen;
	int n;

	if (cr_http_require_client(req) == -1 ||
	    query_num(req, "after", 0, UINT64_MAX, 0, &after) == -1 ||
	    query_num(req, "limit", 1, FEED_LIMIT_MAX, 100, &limit) == -1 ||
	    query_num(req, "wait", 0, 3600, 0, &wait) == -1)
		return;
	if (wait > hub->cfg.feed_max_wait)
		wait = hub->cfg.feed_max_wait;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	req->ctx = c;
	req->ctx_free = feed_ctx_free;
	c->req = req;
	c->hub = hub;
	c->page.after = after;
	c->page.limit = limit;
	cr_util_strlcpy(c->page.institution, req->client.institution,
	    sizeof(c->page.institution));
	cr_util_strlcpy(c->page.client, req->client.id,
	    sizeof(c->page.client));
	cr_util_strlcpy(c->page.request_id, req->request_id,
	    sizeof(c->page.request_id));
	if (feed_subscription(req, &c->page) == -1)
		return;
	/* Taken before reading: a publish after the read is not missed. */
	gen = cr_events_generation(hub->events);
	if ((n = cr_events_feed_read(hub, &c->page)) < 0) {
		cr_http_storage_error(req);
		return;
	}
	if (n > 0 && c->page.nentries == 0) {
		/* Only events the caller may no longer see: nothing to log. */
		cr_http_reply_json(req, 200, c->page.answer);
		c->page.answer = NULL;
		return;
	}
	if (n == 0 && wait == 0) {
		cr_http_reply_json(req, 200, cr_events_feed_empty(&c->page));
		return;
	}
	cr_http_suspend(req);
	if (n > 0)
		feed_answer_async(c);
	else if (cr_events_wait(hub->events, gen, cr_util_mono_ms() +
	    1000.0 * (double)wait, feed_try, feed_expire, c) == -1)
		feed_expire(c);
}
