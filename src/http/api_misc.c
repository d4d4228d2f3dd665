/* Health, metrics, the OpenAPI document, and the route table. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "metrics.h"
#include "util.h"

extern const char cr_openapi_json[];
extern const size_t cr_openapi_json_len;

const struct cr_route cr_api_routes[] = {
	{ "GET", "/healthz", cr_api_healthz, 0, "healthz" },
	{ "GET", "/readyz", cr_api_readyz, 0, "readyz" },
	{ "GET", "/metrics", cr_api_metrics, 0, "metrics" },
	{ "GET", "/openapi.json", cr_api_openapi, 0, "openapi" },
	{ "POST", "/v1/institutions", cr_api_institution_create, 0,
	    "institutions.create" },
	{ "GET", "/v1/institutions", cr_api_institution_list, 0,
	    "institutions.list" },
	{ "GET", "/v1/institutions/{}/clients", cr_api_client_list, 0,
	    "clients.list" },
	{ "DELETE", "/v1/institutions/{}/clients/{}", cr_api_client_revoke, 0,
	    "clients.revoke" },
	{ "POST", "/v1/institutions/{}/clients/{}/rotate", cr_api_client_rotate,
	    0, "clients.rotate" },
	{ "POST", "/v1/institutions/{}/clients", cr_api_client_create, 0,
	    "clients.create" },
	{ "POST", "/v1/operators", cr_api_operator_create, 0,
	    "operators.create" },
	{ "GET", "/v1/operators", cr_api_operator_list, 0, "operators.list" },
	{ "DELETE", "/v1/operators/{}", cr_api_operator_revoke, 0,
	    "operators.revoke" },
	{ "POST", "/v1/operators/{}/rotate", cr_api_operator_rotate, 0,
	    "operators.rotate" },
	{ "POST", "/v1/services", cr_api_service_create, 0, "services.create" },
	{ "GET", "/v1/services", cr_api_service_list, 0, "services.list" },
	{ "POST", "/v1/authorizations", cr_api_authz_create, 0,
	    "authorizations.create" },
	{ "GET", "/v1/authorizations", cr_api_authz_list, 0,
	    "authorizations.list" },
	{ "GET", "/v1/authorizations/{}/history", cr_api_authz_history, 0,
	    "authorizations.history" },
	{ "GET", "/v1/audit", cr_api_audit_list, 0, "audit" },
	{ "PATCH", "/v1/authorizations/{}", cr_api_authz_update, 0,
	    "authorizations.update" },
	{ "DELETE", "/v1/authorizations/{}", cr_api_authz_delete, 0,
	    "authorizations.delete" },
	{ "POST", "/v1/capacities", cr_api_capacity_create, 0,
	    "capacities.create" },
	{ "GET", "/v1/capacities", cr_api_capacity_list, 0, "capacities.list" },
	{ "PUT", "/v1/capacities/{}", cr_api_capacity_update, 0,
	    "capacities.update" },
	{ "POST", "/v1/directory", cr_api_directory_put, 0, "directory.put" },
	{ "POST", "/v1/directory/remove", cr_api_directory_remove, 0,
	    "directory.remove" },
	{ "POST", "/v1/directory/batch", cr_api_directory_batch,
	    CR_ROUTE_BIG_BODY, "directory.batch" },
	{ "GET", "/v1/directory/{}", cr_api_directory_get, 0, "directory.get" },
	{ "POST", "/v1/consult/{}", cr_api_consult, CR_ROUTE_SELF_CHECKS,
	    "consult" },
	{ "GET", "/v1/log", cr_api_log_query, 0, "log" },
	{ "GET", "/v1/log/key", cr_api_log_key, 0, "log.key" },
	{ "GET", "/v1/log/head", cr_api_log_head, 0, "log.head" },
	{ "GET", "/v1/log/proof/inclusion", cr_api_log_inclusion, 0,
	    "log.inclusion" },
	{ "GET", "/v1/log/proof/consistency", cr_api_log_consistency, 0,
	    "log.consistency" },
	{ "POST", "/v1/event-types", cr_api_event_type_create, 0,
	    "event_types.create" },
	{ "GET", "/v1/event-types", cr_api_event_type_list, 0,
	    "event_types.list" },
	{ "POST", "/v1/events", cr_api_event_publish, 0, "events.publish" },
	{ "POST", "/v1/events/batch", cr_api_event_publish_batch,
	    CR_ROUTE_BIG_BODY, "events.batch" },
	{ "POST", "/v1/subscriptions", cr_api_subscription_create, 0,
	    "subscriptions.create" },
	{ "GET", "/v1/subscriptions", cr_api_subscription_list, 0,
	    "subscriptions.list" },
	{ "DELETE", "/v1/subscriptions/{}", cr_api_subscription_delete, 0,
	    "subscriptions.delete" },
	{ "GET", "/v1/subscriptions/{}/dead-letters", cr_api_dead_letters_list,
	    0, "subscriptions.dead_letters" },
	{ "POST", "/v1/subscriptions/{}/dead-letters/redeliver",
	    cr_api_dead_letters_redeliver, 0, "subscriptions.redeliver" },
	{ "GET", "/v1/feed", cr_api_feed, CR_ROUTE_NO_HEAD, "feed" },
	{ "POST", "/v1/bundles", cr_api_bundle_create, 0, "bundles.create" },
	{ "GET", "/v1/bundles", cr_api_bundle_list, 0, "bundles.list" },
	{ "GET", "/v1/bundles/{}", cr_api_bundle_get, 0, "bundles.get" },
	{ "POST", "/v1/verify/{}", cr_api_verify, 0, "verify" },
	{ "POST", "/v1/batches", cr_api_batch_create, CR_ROUTE_BIG_BODY,
	    "batches.create" },
	{ "GET", "/v1/batches/{}", cr_api_batch_get, 0, "batches.get" },
	{ "GET", "/v1/batches/{}/results", cr_api_batch_results, 0,
	    "batches.results" },
};
const size_t cr_api_nroutes = sizeof(cr_api_routes) / sizeof(cr_api_routes[0]);

void
cr_api_healthz(struct cr_req *req)
{
	if (atomic_load(&req->hub->ready))
		cr_http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
	else
		cr_http_error(req, 503, "UNAVAILABLE", "not ready: starting "
		    "or shutting down");
}

/*
 * How long a storage probe's result stands: a load balancer polling every
 * 100 ms costs one committed write a second, not ten.
 */
#define READY_PROBE_MS	1000

/*
 * Whether the storage took a durable write within the last
 * READY_PROBE_MS. One /readyz request at a time runs the probe, the
 * others read the last result; nothing here is on the path of any other
 * request, and no lock is taken.
 */
static int
storage_writable(struct cr_hub *hub)
{
	long at = atomic_load(&hub->storage_at_ms);
	int idle = 0, ok;

	if ((at == 0 || (long)cr_util_mono_ms() - at >= READY_PROBE_MS) &&
	    atomic_compare_exchange_strong(&hub->storage_probing, &idle, 1)) {
		ok = hub->store->health(hub->store) == CR_STORE_OK;
		atomic_store(&hub->storage_ok, ok);
		/* Never 0, which means "not probed yet". */
		at = (long)cr_util_mono_ms();
		atomic_store(&hub->storage_at_ms, at > 0 ? at : 1);
		atomic_store(&hub->storage_probing, 0);
	}
	return atomic_load(&hub->storage_ok);
}

/* Readiness: liveness (/healthz) and a store that takes writes. */
void
cr_api_readyz(struct cr_req *req)
{
	if (!atomic_load(&req->hub->ready))
		cr_http_error(req, 503, "UNAVAILABLE",
		    atomic_load(&req->hub->draining) ? "not ready: shutting "
		    "down" : "not ready: starting");
	else if (!storage_writable(req->hub))
		cr_http_error(req, 503, "UNAVAILABLE", "not ready: storage "
		    "not writable (disk full or read-only; see the hub's log)");
	else
		cr_http_reply_json(req, 200, json_pack("{s:s}", "status",
		    "ready"));
}

void
cr_api_metrics(struct cr_req *req)
{
	char *text;
	size_t len;

	if (cr_metrics_render(&text, &len) == -1) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	cr_http_reply(req, 200, "text/plain; version=0.0.4", text, len);
}

void
cr_api_openapi(struct cr_req *req)
{
	char *copy;

	if ((copy = malloc(cr_openapi_json_len)) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	memcpy(copy, cr_openapi_json, cr_openapi_json_len);
	cr_http_reply(req, 200, "application/json", copy, cr_openapi_json_len);
}
