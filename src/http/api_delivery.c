/*
 * Dead letters of a webhook subscription: the deliveries that exhausted
 * their retries (or found the subscriber no longer authorized), listed and
 * put back in the outbox on request.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api.h"
#include "delivery.h"
#include "jsonv.h"
#include "util.h"

#define DEAD_LIST_MAX	1000

/*
 * The subscription of the path when the caller may see it: its own
 * institution's client or the operator. Answers and returns -1 otherwise;
 * another institution's subscription is not even there.
 */
static int
own_subscription(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_subscription s;
	int rc;

	if (cr_http_require_any(req) == -1)
		return -1;
	memset(&s, 0, sizeof(s));
	rc = st->events->ops->subscription_get(st->events, req->params[0], &s);
	if (rc == CR_STORE_OK && req->principal != CR_PRINCIPAL_OPERATOR &&
	    strcmp(s.institution, req->client.institution) != 0)
		rc = CR_STORE_NOTFOUND;
	sodium_memzero(s.secret, sizeof(s.secret));
	cr_subscription_clear(&s);
	if (rc == CR_STORE_NOTFOUND) {
		cr_http_error(req, 404, "NOT_FOUND", "no subscription '%s'",
		    req->params[0]);
		return -1;
	}
	if (rc != CR_STORE_OK) {
		cr_http_storage_error(req);
		return -1;
	}
	return 0;
}

void
cr_api_dead_letters_list(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_delivery *dl = NULL;
	char id[24];
	json_t *list, *o;
	size_t i, n = DEAD_LIST_MAX;

	if (own_subscription(req) == -1)
		return;
	if ((dl = calloc(n, sizeof(*dl))) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	if (st->events->ops->dead_letters(st->events,
	    req->params[0], dl, &n) != CR_STORE_OK) {
		cr_http_storage_error(req);
		goto out;
	}
	list = json_array();
	for (i = 0; i < n; i++) {
		/* Event ids are strings in the API, as publishing returns. */
		snprintf(id, sizeof(id), "%" PRIu64, dl[i].event_id);
		o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:s}",
		    "seq", (json_int_t)dl[i].seq, "event_id", id,
		    "type", dl[i].event.type, "subject", dl[i].event.subject,
		    "occurred_at", dl[i].event.occurred_at,
		    "attempts", dl[i].attempts, "last_error", dl[i].last_error);
		json_array_append_new(list, o);
	}
	cr_http_reply_json(req, 200, json_pack("{s:o}", "dead_letters", list));
	cr_deliveries_clear(dl, n);
out:
	free(dl);
}

const struct cr_jsonv_field cr_api_redeliver_spec[] = {
	{ "seq", CR_JV_INT, 0, 0, 1, INT64_MAX },
	CR_JSONV_END
};

void
cr_api_dead_letters_redeliver(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	json_t *b = NULL, *seqj;
	uint64_t seq = 0;
	size_t count = 0;
	int rc;

	if (own_subscription(req) == -1)
		return;
	/* No body at all means every dead letter. */
	if (req->body_len > 0 &&
	    (b = cr_http_body_json(req, cr_api_redeliver_spec)) == NULL)
		return;
	if ((seqj = json_object_get(b, "seq")) != NULL)
		seq = (uint64_t)json_integer_value(seqj);
	rc = st->events->ops->redeliver(st->events,
	    req->params[0], seq, &count);
	if (rc == CR_STORE_NOTFOUND || (rc == CR_STORE_OK && seq != 0 &&
	    count == 0))
		cr_http_error(req, 404, "NOT_FOUND", "no dead letter %" PRIu64
		    " in subscription '%s'", seq, req->params[0]);
	else if (rc != CR_STORE_OK)
		cr_http_storage_error(req);
	else {
		cr_delivery_notify(req->hub->deliveries);
		cr_http_reply_json(req, 200, json_pack("{s:I}", "redelivered",
		    (json_int_t)count));
	}
	json_decref(b);
}
