/*
 * Releasing what the store's operations fill out (store.h): shared by the
 * backends and their callers, so it depends on no backend.
 */
#include <stdlib.h>

#include "store.h"

/*
 * json_decref() for the registry's values, which threads share: the cache
 * (store_cache.c) hands the same fields and capacities arrays to every
 * lookup with json_incref(), and their holders drop them in other threads
 * (the log writer drops a consultation's, a worker drops an old snapshot's).
 * jansson's inline decrement is release-only, so the thread that drops the
 * last reference and frees the value was not ordered after the others'
 * reads of it: a data race, which make check-tsan reported as a free in
 * json_delete() against the source thread reading a field name
 * (test_store_cache: values_outlive_snapshot_in_other_thread). Decrementing
 * with acquire-release orders the free after every earlier holder's use.
 * The field is jansson's plain volatile size_t, hence the __atomic builtins
 * (what jansson itself uses) rather than <stdatomic.h>; (size_t)-1 marks
 * jansson's immortal constants, as in its json_decref().
 */
static void
shared_decref(json_t *j)
{
	if (j == NULL ||
	    __atomic_load_n(&j->refcount, __ATOMIC_RELAXED) == (size_t)-1)
		return;
	if (__atomic_sub_fetch(&j->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		json_delete(j);
}

void
cr_service_clear(struct cr_service *svc)
{
	if (svc == NULL)
		return;
	shared_decref(svc->fields);
	shared_decref(svc->params);
	svc->fields = NULL;
	svc->params = NULL;
}

void
cr_authz_clear(struct cr_authz *az)
{
	if (az == NULL)
		return;
	shared_decref(az->fields);
	az->fields = NULL;
	shared_decref(az->capacities);
	az->capacities = NULL;
}

void
cr_capacity_clear(struct cr_capacity *cap)
{
	if (cap == NULL)
		return;
	shared_decref(cap->institutions);
	cap->institutions = NULL;
	shared_decref(cap->sectors);
	cap->sectors = NULL;
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
