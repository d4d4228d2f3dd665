/*
 * SQLite backend, events: event types, subscriptions, the events that
 * authentic sources publish and their deliveries to subscribers.
 * Connections and statements come from store_sqlite.c.
 *
 * An event is routed when it is appended, in the same transaction: one
 * INSERT ... SELECT writes a delivery for every subscription the
 * reference directory entitles to it. Deliveries are then the only work
 * queue: webhook ones are picked up by deliveries_due, feed ones read by
 * feed_read; a crash between the two loses nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite_int.h"
#include "util.h"

static const char empty_array[] = "[]";
static const char empty_object[] = "{}";

/* A JSON column; NULL (logged) when it does not parse. */
static json_t *
col_json(sqlite3_stmt *s, int i, const char *dflt)
{
	const char *v = (const char *)sqlite3_column_text(s, i);
	json_error_t jerr;
	json_t *j;

	if ((j = json_loads(v != NULL ? v : dflt, 0, &jerr)) == NULL)
		log_warnx("store: bad JSON in column %s: %s",
		    sqlite3_column_name(s, i), jerr.text);
	return j;
}

/* Compact JSON text of j (NULL: dflt), for binding; free() it. */
static char *
dump_json(const json_t *j, const char *dflt)
{
	char *txt;

	if (j == NULL)
		txt = strdup(dflt);
	else
		txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (txt == NULL)
		log_warnx("store: cannot encode JSON");
	return txt;
}

/*
 * Event types.
 */

static int
sq_event_type_add(struct cr_event_store *base, const struct cr_event_type *et)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	char *fields;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_ET_ADD)) == NULL)
		return CR_STORE_ERR;
	if ((fields = dump_json(et->fields, empty_array)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, et->id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, et->provider) != SQLITE_OK ||
	    BIND_TEXT(s, 3, fields) != SQLITE_OK ||
	    sqlite3_bind_int(s, 4, et->all_integrations != 0) != SQLITE_OK) {
		cr_sqlite_done(s);
		rc = cr_sqlite_err(c, "event_type_add");
	} else
		rc = cr_sqlite_step_write(c, s, "event_type_add");
	free(fields);
	return rc;
}

static int
event_type_fill(sqlite3_stmt *s, void *arg)
{
	struct cr_event_type *out = arg;

	cr_sqlite_col_str(s, 0, out->id, sizeof(out->id));
	cr_sqlite_col_str(s, 1, out->provider, sizeof(out->provider));
	out->all_integrations = sqlite3_column_int(s, 3) != 0;
	return (out->fields = col_json(s, 2, empty_array)) != NULL ?
	    CR_STORE_OK : CR_STORE_ERR;
}

static int
sq_event_type_get(struct cr_event_store *base, const char *id,
    struct cr_event_type *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	memset(out, 0, sizeof(*out));
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_ET_GET)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, BIND_TEXT(s, 1, id) == SQLITE_OK,
	    event_type_fill, out, "event_type_get");
}

static json_t *
event_type_row(sqlite3_stmt *s)
{
	json_t *fields;

	if ((fields = col_json(s, 2, empty_array)) == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:o, s:b}",
	    "id", (const char *)sqlite3_column_text(s, 0),
	    "provider", (const char *)sqlite3_column_text(s, 1),
	    "fields", fields,
	    "all_integrations", sqlite3_column_int(s, 3) != 0);
}

static int
sq_event_type_list(struct cr_event_store *base, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_ET_LIST)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_list_rows(c, s, event_type_row, "event_type_list", out);
}

/*
 * Subscriptions.
 */

static int
sq_subscription_add(struct cr_event_store *base,
    const struct cr_subscription *sub)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	char *caps;
	int rc;

	/* Exactly one way of delivery: the queries tell them apart so. */
	if ((sub->feed != 0) == (sub->url[0] != '\0')) {
		log_warnx("store: subscription_add: %s: needs either a url "
		    "or a feed", sub->id);
		return CR_STORE_ERR;
	}
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_SUB_ADD)) == NULL)
		return CR_STORE_ERR;
	if ((caps = dump_json(sub->capacities, empty_array)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, sub->id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, sub->institution) != SQLITE_OK ||
	    BIND_TEXT(s, 3, sub->client) != SQLITE_OK ||
	    BIND_TEXT(s, 4, sub->event_type) != SQLITE_OK ||
	    BIND_TEXT(s, 5, caps) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 6, sub->url) != SQLITE_OK ||
	    sqlite3_bind_int(s, 7, sub->feed != 0) != SQLITE_OK ||
	    BIND_TEXT(s, 8, sub->secret) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 9, sub->created_at) != SQLITE_OK) {
		cr_sqlite_done(s);
		rc = cr_sqlite_err(c, "subscription_add");
	} else
		rc = cr_sqlite_step_write(c, s, "subscription_add");
	free(caps);
	return rc;
}

static int
subscription_fill(sqlite3_stmt *s, void *arg)
{
	struct cr_subscription *out = arg;

	cr_sqlite_col_str(s, 0, out->id, sizeof(out->id));
	cr_sqlite_col_str(s, 1, out->institution, sizeof(out->institution));
	cr_sqlite_col_str(s, 2, out->client, sizeof(out->client));
	cr_sqlite_col_str(s, 3, out->event_type, sizeof(out->event_type));
	cr_sqlite_col_str(s, 5, out->url, sizeof(out->url));
	out->feed = sqlite3_column_int(s, 6) != 0;
	cr_sqlite_col_str(s, 7, out->secret, sizeof(out->secret));
	cr_sqlite_col_str(s, 8, out->created_at, sizeof(out->created_at));
	return (out->capacities = col_json(s, 4, empty_array)) != NULL ?
	    CR_STORE_OK : CR_STORE_ERR;
}

static int
sq_subscription_get(struct cr_event_store *base, const char *id,
    struct cr_subscription *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	memset(out, 0, sizeof(*out));
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_SUB_GET)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, BIND_TEXT(s, 1, id) == SQLITE_OK,
	    subscription_fill, out, "subscription_get");
}

/* A row of SUB_COLS as the listing shows it: no secret, no client. */
static json_t *
subscription_row(sqlite3_stmt *s)
{
	json_t *caps, *delivery;

	if ((caps = col_json(s, 4, empty_array)) == NULL)
		return NULL;
	if (sqlite3_column_int(s, 6) != 0)
		delivery = json_pack("{s:b}", "feed", 1);
	else
		delivery = json_pack("{s:s}", "url",
		    (const char *)sqlite3_column_text(s, 5));
	if (delivery == NULL) {
		json_decref(caps);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}",
	    "id", (const char *)sqlite3_column_text(s, 0),
	    "institution", (const char *)sqlite3_column_text(s, 1),
	    "event_type", (const char *)sqlite3_column_text(s, 3),
	    "capacities", caps,
	    "delivery", delivery,
	    "created_at", (const char *)sqlite3_column_text(s, 8));
}

static int
sq_subscription_list(struct cr_event_store *base, const char *institution,
    json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_SUB_LIST)) == NULL)
		return CR_STORE_ERR;
	if (cr_sqlite_bind_opt(s, 1, institution) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "subscription_list");
	}
	return cr_sqlite_list_rows(c, s, subscription_row, "subscription_list", out);
}

/* Runs a statement whose ?1 is id, inside the caller's transaction. */
static int
run_by_id(struct sq_conn *c, enum sq_stmt id, const char *v, int *changed)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = cr_sqlite_stmt(c, id)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, v) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "subscription_delete");
	}
	if ((rc = cr_sqlite_step_done(c, s, "subscription_delete")) ==
	    CR_STORE_OK)
		*changed = sqlite3_changes(c->db);
	return rc;
}

/* Its deliveries go with it: nothing would ever deliver or read them. */
static int
sq_subscription_delete(struct cr_event_store *base, const char *id)
{
	struct sq_conn *c;
	int changed = 0;

	if ((c = cr_sqlite_conn(base)) == NULL)
		return CR_STORE_ERR;
	if (cr_sqlite_begin(c) == -1)
		return CR_STORE_ERR;
	if (run_by_id(c, SQ_SUB_DELETE_DELIVERIES, id, &changed) !=
	    CR_STORE_OK || run_by_id(c, SQ_SUB_DELETE, id, &changed) !=
	    CR_STORE_OK) {
		cr_sqlite_rollback(c);
		return CR_STORE_ERR;
	}
	if (changed == 0) {
		cr_sqlite_rollback(c);
		return CR_STORE_NOTFOUND;
	}
	return cr_sqlite_commit(c) == -1 ? CR_STORE_ERR : CR_STORE_OK;
}

/*
 * Events and their routing.
 */

/* Inserts ev and routes it; inside the caller's transaction. */
static int
event_append_one(struct sq_conn *c, sqlite3_stmt *ins, sqlite3_stmt *route,
    struct cr_event *ev, int64_t now, size_t *routed)
{
	char date[CR_DATE_LEN + 1], *data;
	int rc;

	if ((data = dump_json(ev->data, empty_object)) == NULL)
		return CR_STORE_ERR;
	if (ev->published_at[0] == '\0')
		cr_util_now_rfc3339(ev->published_at);
	if (BIND_TEXT(ins, 1, ev->type) != SQLITE_OK ||
	    BIND_TEXT(ins, 2, ev->provider) != SQLITE_OK ||
	    BIND_TEXT(ins, 3, ev->subject) != SQLITE_OK ||
	    BIND_TEXT(ins, 4, ev->occurred_at) != SQLITE_OK ||
	    BIND_TEXT(ins, 5, ev->published_at) != SQLITE_OK ||
	    BIND_TEXT(ins, 6, data) != SQLITE_OK) {
		cr_sqlite_done(ins);
		rc = cr_sqlite_err(c, "events_append");
		goto out;
	}
	if ((rc = cr_sqlite_step_done(c, ins, "events_append")) !=
	    CR_STORE_OK)
		goto out;
	ev->id = (uint64_t)sqlite3_last_insert_rowid(c->db);

	/* Integration periods are dates: the day the event occurred. */
	cr_util_strlcpy(date, ev->occurred_at, sizeof(date));
	if (sqlite3_bind_int64(route, 1, (sqlite3_int64)ev->id) !=
	    SQLITE_OK ||
	    BIND_TEXT(route, 2, ev->type) != SQLITE_OK ||
	    BIND_TEXT(route, 3, ev->subject) != SQLITE_OK ||
	    BIND_TEXT(route, 4, date) != SQLITE_OK ||
	    sqlite3_bind_int64(route, 5, now) != SQLITE_OK) {
		cr_sqlite_done(route);
		rc = cr_sqlite_err(c, "events_append: route");
		goto out;
	}
	if ((rc = cr_sqlite_step_done(c, route, "events_append: route")) ==
	    CR_STORE_OK)
		*routed = (size_t)sqlite3_changes(c->db);
 out:
	free(data);
	return rc;
}

static int
sq_events_append(struct cr_event_store *base, struct cr_event *events,
    size_t n, size_t *routed)
{
	struct sq_conn *c;
	sqlite3_stmt *ins, *route;
	int64_t now;
	size_t i, count = 0;
	int rc;

	if (n == 0)
		return CR_STORE_OK;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (ins = cr_sqlite_stmt(c, SQ_EV_INSERT)) == NULL ||
	    (route = cr_sqlite_stmt(c, SQ_EV_ROUTE)) == NULL)
		return CR_STORE_ERR;
	now = cr_util_wall_ms();
	if (cr_sqlite_begin(c) == -1)
		return CR_STORE_ERR;
	for (i = 0; i < n; i++) {
		if ((rc = event_append_one(c, ins, route, &events[i], now,
		    &count)) != CR_STORE_OK) {
			cr_sqlite_rollback(c);
			goto fail;
		}
		if (routed != NULL)
			routed[i] = count;
	}
	if (cr_sqlite_commit(c) == 0)
		return CR_STORE_OK;
	rc = CR_STORE_ERR;
 fail:
	/* The ids of a batch rolled back are nobody's. */
	for (i = 0; i < n; i++)
		events[i].id = 0;
	return rc;
}

/*
 * Deliveries.
 */

/* Fills d from a row of DLV_COLS; CR_STORE_ERR when data is unreadable. */
static int
delivery_row(sqlite3_stmt *s, struct cr_delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->seq = (uint64_t)sqlite3_column_int64(s, 0);
	cr_sqlite_col_str(s, 1, d->subscription, sizeof(d->subscription));
	d->event_id = (uint64_t)sqlite3_column_int64(s, 2);
	d->state = sqlite3_column_int(s, 3);
	d->attempts = sqlite3_column_int(s, 4);
	d->next_attempt_ms = sqlite3_column_int64(s, 5);
	cr_sqlite_col_str(s, 6, d->last_error, sizeof(d->last_error));
	d->event.id = (uint64_t)sqlite3_column_int64(s, 7);
	cr_sqlite_col_str(s, 8, d->event.type, sizeof(d->event.type));
	cr_sqlite_col_str(s, 9, d->event.provider, sizeof(d->event.provider));
	cr_sqlite_col_str(s, 10, d->event.subject, sizeof(d->event.subject));
	cr_sqlite_col_str(s, 11, d->event.occurred_at,
	    sizeof(d->event.occurred_at));
	cr_sqlite_col_str(s, 12, d->event.published_at,
	    sizeof(d->event.published_at));
	if ((d->event.data = col_json(s, 13, empty_object)) == NULL)
		return CR_STORE_ERR;
	return CR_STORE_OK;
}

/*
 * Steps a bound delivery query into out[0..*n); on error nothing is
 * left allocated and *n is 0. Resets s.
 */
static int
read_deliveries(struct sq_conn *c, sqlite3_stmt *s, struct cr_delivery *out,
    size_t *n, const char *what)
{
	size_t k = 0, max = *n;
	int rc = SQLITE_DONE;

	*n = 0;
	while (k < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (delivery_row(s, &out[k++]) != CR_STORE_OK) {
			log_warnx("store: %s: delivery %llu unreadable", what,
			    (unsigned long long)out[k - 1].seq);
			goto fail;
		}
	}
	if (k < max && rc != SQLITE_DONE) {
		cr_sqlite_err(c, what);
		goto fail;
	}
	cr_sqlite_done(s);
	*n = k;
	return CR_STORE_OK;
 fail:
	cr_sqlite_done(s);
	cr_deliveries_clear(out, k);
	return CR_STORE_ERR;
}

/* LIMIT for *n: SQLite takes a signed 64-bit integer. */
static sqlite3_int64
limit_of(size_t n)
{
	return n > INT64_MAX ? INT64_MAX : (sqlite3_int64)n;
}

static int
sq_deliveries_due(struct cr_event_store *base, int64_t now,
    struct cr_delivery *out, size_t *n)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if (*n == 0)
		return CR_STORE_OK;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_DLV_DUE)) == NULL) {
		*n = 0;
		return CR_STORE_ERR;
	}
	if (sqlite3_bind_int64(s, 1, now) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, limit_of(*n)) != SQLITE_OK) {
		cr_sqlite_done(s);
		*n = 0;
		return cr_sqlite_err(c, "deliveries_due");
	}
	return read_deliveries(c, s, out, n, "deliveries_due");
}

static int
sq_delivery_update(struct cr_event_store *base, const struct cr_delivery *d)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if (d->seq == 0 || d->seq > INT64_MAX)
		return CR_STORE_NOTFOUND;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_DLV_UPDATE)) == NULL)
		return CR_STORE_ERR;
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)d->seq) != SQLITE_OK ||
	    sqlite3_bind_int(s, 2, d->state) != SQLITE_OK ||
	    sqlite3_bind_int(s, 3, d->attempts) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, d->next_attempt_ms) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 5, d->last_error) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "delivery_update");
	}
	/* changes() is this connection's: only this thread writes on it. */
	if ((rc = cr_sqlite_step_write(c, s, "delivery_update")) ==
	    CR_STORE_OK && sqlite3_changes(c->db) == 0)
		rc = CR_STORE_NOTFOUND;
	return rc;
}

/*
 * Many delivery_update in one transaction, in array order (a later entry
 * for the same seq wins): the webhook engine's group commit of the leases
 * and outcomes of one loop iteration, one fsync for all of them. A seq
 * that names no row (its subscription was deleted meanwhile) is skipped.
 */
static int
sq_deliveries_update(struct cr_event_store *base, const struct cr_delivery *d,
    size_t n)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	size_t i;

	if (n == 0)
		return CR_STORE_OK;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_DLV_UPDATE)) == NULL)
		return CR_STORE_ERR;
	if (cr_sqlite_begin(c) == -1)
		return CR_STORE_ERR;
	for (i = 0; i < n; i++) {
		if (d[i].seq == 0 || d[i].seq > INT64_MAX)
			continue;
		if (sqlite3_bind_int64(s, 1, (sqlite3_int64)d[i].seq) !=
		    SQLITE_OK ||
		    sqlite3_bind_int(s, 2, d[i].state) != SQLITE_OK ||
		    sqlite3_bind_int(s, 3, d[i].attempts) != SQLITE_OK ||
		    sqlite3_bind_int64(s, 4, d[i].next_attempt_ms) !=
		    SQLITE_OK ||
		    cr_sqlite_bind_opt(s, 5, d[i].last_error) != SQLITE_OK) {
			cr_sqlite_done(s);
			cr_sqlite_err(c, "deliveries_update");
			goto fail;
		}
		if (cr_sqlite_step_done(c, s, "deliveries_update") !=
		    CR_STORE_OK)
			goto fail;
	}
	return cr_sqlite_commit(c) == -1 ? CR_STORE_ERR : CR_STORE_OK;
 fail:
	cr_sqlite_rollback(c);
	return CR_STORE_ERR;
}

/*
 * Marks the pending ones of out[0..n) delivered, in one transaction. A
 * feed delivery never dies and is never retried, so marking outside the
 * read's transaction races with nothing; a re-read costs no write.
 */
static int
feed_mark(struct sq_conn *c, struct cr_delivery *out, size_t n)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	int begun = 0;

	for (i = 0; i < n; i++) {
		if (out[i].state != CR_DELIVERY_PENDING)
			continue;
		if (!begun) {
			if ((s = cr_sqlite_stmt(c, SQ_DLV_MARK)) == NULL ||
			    cr_sqlite_begin(c) == -1)
				return CR_STORE_ERR;
			begun = 1;
		}
		if (sqlite3_bind_int64(s, 1, (sqlite3_int64)out[i].seq) !=
		    SQLITE_OK) {
			cr_sqlite_done(s);
			cr_sqlite_err(c, "feed_read: mark");
			goto fail;
		}
		if (cr_sqlite_step_done(c, s, "feed_read: mark") !=
		    CR_STORE_OK)
			goto fail;
		out[i].state = CR_DELIVERY_DELIVERED;
	}
	if (begun && cr_sqlite_commit(c) == -1)
		return CR_STORE_ERR;
	return CR_STORE_OK;
 fail:
	cr_sqlite_rollback(c);
	return CR_STORE_ERR;
}

static int
sq_feed_read(struct cr_event_store *base, const char *institution,
    const char *subscription, uint64_t after, struct cr_delivery *out,
    size_t *n)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if (*n == 0)
		return CR_STORE_OK;
	if (after >= INT64_MAX) {
		*n = 0;
		return CR_STORE_OK;
	}
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_DLV_FEED)) == NULL) {
		*n = 0;
		return CR_STORE_ERR;
	}
	if (BIND_TEXT(s, 1, institution) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 2, subscription) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, (sqlite3_int64)after) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, limit_of(*n)) != SQLITE_OK) {
		cr_sqlite_done(s);
		*n = 0;
		return cr_sqlite_err(c, "feed_read");
	}
	if ((rc = read_deliveries(c, s, out, n, "feed_read")) != CR_STORE_OK)
		return rc;
	if (feed_mark(c, out, *n) != CR_STORE_OK) {
		cr_deliveries_clear(out, *n);
		*n = 0;
		return CR_STORE_ERR;
	}
	return CR_STORE_OK;
}

static int
sq_dead_letters(struct cr_event_store *base, const char *subscription,
    struct cr_delivery *out, size_t *n)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if (*n == 0)
		return CR_STORE_OK;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_DLV_DEAD)) == NULL) {
		*n = 0;
		return CR_STORE_ERR;
	}
	if (BIND_TEXT(s, 1, subscription) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, limit_of(*n)) != SQLITE_OK) {
		cr_sqlite_done(s);
		*n = 0;
		return cr_sqlite_err(c, "dead_letters");
	}
	return read_deliveries(c, s, out, n, "dead_letters");
}

static int
sq_redeliver(struct cr_event_store *base, const char *subscription,
    uint64_t seq, size_t *count)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	*count = 0;
	if (seq > INT64_MAX)
		return CR_STORE_OK;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_DLV_REDELIVER)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, subscription) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, cr_util_wall_ms()) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "redeliver");
	}
	if ((rc = cr_sqlite_step_write(c, s, "redeliver")) == CR_STORE_OK)
		*count = (size_t)sqlite3_changes(c->db);
	return rc;
}

const struct cr_event_ops cr_sqlite_event_ops = {
	.event_type_add = sq_event_type_add,
	.event_type_get = sq_event_type_get,
	.event_type_list = sq_event_type_list,
	.subscription_add = sq_subscription_add,
	.subscription_get = sq_subscription_get,
	.subscription_list = sq_subscription_list,
	.subscription_delete = sq_subscription_delete,
	.events_append = sq_events_append,
	.deliveries_due = sq_deliveries_due,
	.delivery_update = sq_delivery_update,
	.deliveries_update = sq_deliveries_update,
	.feed_read = sq_feed_read,
	.dead_letters = sq_dead_letters,
	.redeliver = sq_redeliver,
};
