/*
 * Releasing what the store's operations fill out (store.h): shared by the
 * backends and their callers, so it depends on no backend.
 */
#include <stdlib.h>

#include "store.h"

void
cr_service_clear(struct cr_service *svc)
{
	if (svc == NULL)
		return;
	json_decref(svc->fields);
	json_decref(svc->params);
	svc->fields = NULL;
	svc->params = NULL;
}

void
cr_authz_clear(struct cr_authz *az)
{
	if (az == NULL)
		return;
	json_decref(az->fields);
	az->fields = NULL;
	json_decref(az->capacities);
	az->capacities = NULL;
}

void
cr_event_type_clear(struct cr_event_type *et)
{
	if (et == NULL)
		return;
	json_decref(et->fields);
	et->fields = NULL;
}

void
cr_event_clear(struct cr_event *ev)
{
	if (ev == NULL)
		return;
	json_decref(ev->data);
	ev->data = NULL;
}

void
cr_subscription_clear(struct cr_subscription *sub)
{
	if (sub == NULL)
		return;
	json_decref(sub->capacities);
	sub->capacities = NULL;
}

void
cr_deliveries_clear(struct cr_delivery *d, size_t n)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < n; i++)
		cr_event_clear(&d[i].event);
}

void
cr_batch_items_clear(struct cr_batch_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(items[i].result);
		items[i].result = NULL;
	}
}
