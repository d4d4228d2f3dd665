/*
 * What a subscriber receives of an event: the authorization its
 * subscription is delivered under and the payload that authorization
 * lets through. Shared by the feed (events.c) and the webhook engine
 * (delivery.c), so that both deliver exactly the same bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "authz.h"
#include "events.h"
#include "hub.h"
#include "util.h"

int
cr_events_sub_authz(struct cr_hub *hub, const struct cr_subscription *sub,
    struct cr_authz *out)
{
	struct cr_store *st = hub->store;
	char today[CR_DATE_LEN + 1];
	json_t *list = NULL, *a;
	const char *purpose = NULL;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	cr_date_today(today);
	/*
	 * The subscription does not record the purpose it was made under:
	 * the first authorization valid today in the store's order (by
	 * purpose, then start) decides, so every delivery of a subscription
	 * uses the same one while the registry does not change.
	 */
	if ((rc = st->registry->ops->authz_list(st->registry,
	    sub->institution, &list)) !=
	    CR_STORE_OK)
		return CR_STORE_ERR;
	json_array_foreach(list, i, a) {
		const char *svc, *from, *to;

		svc = json_string_value(json_object_get(a, "service"));
		if (svc == NULL || strcmp(svc, sub->event_type) != 0)
			continue;
		from = json_string_value(json_object_get(a, "valid_from"));
		to = json_string_value(json_object_get(a, "valid_to"));
		if (cr_period_contains(from, to, today)) {
			purpose = json_string_value(json_object_get(a,
			    "purpose"));
			break;
		}
	}
	rc = purpose == NULL ? CR_STORE_NOTFOUND : st->registry->ops->authz_find(st->registry,
	    sub->institution, sub->event_type, purpose, today, out);
	json_decref(list);
	return rc;
}

json_t *
cr_events_payload_authz(const struct cr_authz *a, const struct cr_event *e)
{
	json_t *data, *empty = NULL;
	char id[24];

	if (e->data == NULL && (empty = json_object()) == NULL)
		return NULL;
	data = cr_authz_filter(a, e->data != NULL ? e->data : empty);
	json_decref(empty);
	if (data == NULL)
		return NULL;
	snprintf(id, sizeof(id), "%" PRIu64, e->id);
	return json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", id, "type", e->type,
	    "subject", e->subject, "occurred_at", e->occurred_at, "data",
	    data);
}

json_t *
cr_events_payload(struct cr_hub *hub, const struct cr_subscription *sub,
    const struct cr_event *e, char *legal_basis, size_t lblen)
{
	struct cr_authz a;
	json_t *o = NULL;

	if (cr_events_sub_authz(hub, sub, &a) != CR_STORE_OK)
		return NULL;
	if ((o = cr_events_payload_authz(&a, e)) != NULL &&
	    legal_basis != NULL && lblen > 0)
		cr_util_strlcpy(legal_basis, a.legal_basis, lblen);
	cr_authz_clear(&a);
	return o;
}
