/*
 * HTTP handlers of the contract (docs/api.md), one file per area, and
 * the route table that maps them (api_misc.c).
 */
#ifndef CR_API_H
#define CR_API_H

#include <stddef.h>

#include "http.h"
#include "jsonv.h"

extern const struct cr_route cr_api_routes[];
extern const size_t cr_api_nroutes;

/*
 * The body specs the handlers check requests against (jsonv.h), public so
 * that the fuzzer checks the real ones (tests/fuzz/fuzz_body.c).
 */
extern const struct cr_jsonv_field cr_api_consult_spec[];	/* api_consult.c */
extern const struct cr_jsonv_field cr_api_redeliver_spec[];	/* api_delivery.c */
extern const struct cr_jsonv_field cr_api_directory_remove_spec[];
extern const struct cr_jsonv_field cr_api_event_type_spec[];	/* api_events.c */
extern const struct cr_jsonv_field cr_api_event_spec[];
extern const struct cr_jsonv_field cr_api_subscription_spec[];
extern const struct cr_jsonv_field cr_api_delivery_spec[];	/* its "delivery" */
extern const struct cr_jsonv_field cr_api_client_spec[];	/* api_registry.c;
				   institutions, services and authorizations:
				   registry_file.h */
extern const struct cr_jsonv_field cr_api_verify_spec[];	/* api_verify.c */

/* api_misc.c */
void	cr_api_healthz(struct cr_req *);
void	cr_api_readyz(struct cr_req *);
void	cr_api_metrics(struct cr_req *);
void	cr_api_openapi(struct cr_req *);

/* api_clients.c */
void	cr_api_client_list(struct cr_req *);
void	cr_api_client_revoke(struct cr_req *);
void	cr_api_client_rotate(struct cr_req *);
extern const struct cr_jsonv_field cr_api_rotate_spec[];
/* A new token (prefix, 4 characters: "crt_" clients, "cro_" operators,
   then 64 hex; shown once) and its hash. */
void	cr_api_token_new(const char *prefix, char token[69],
	    uint8_t hash[CR_HASH_LEN]);

/* api_audit.c */
/*
 * The audit trail of a change a handler makes (audit.h): stage before
 * the store write, with the object "kind:id" and the caller as actor,
 * then done with whether it changed something. before and after are
 * borrowed and never hold a token or a token's hash.
 */
void	cr_api_audit_stage(struct cr_req *, const char *action,
	    const char *kind, const char *id, const json_t *before,
	    const json_t *after);
void	cr_api_audit_done(struct cr_req *, int changed);
void	cr_api_audit_list(struct cr_req *);
void	cr_api_authz_history(struct cr_req *);

/* api_operators.c */
void	cr_api_operator_create(struct cr_req *);
void	cr_api_operator_list(struct cr_req *);
void	cr_api_operator_revoke(struct cr_req *);
void	cr_api_operator_rotate(struct cr_req *);
extern const struct cr_jsonv_field cr_api_operator_spec[];
/* An RFC 3339 time (any offset) as Unix ms; 0 or -1. */
int	cr_api_time_ms(const char *rfc3339, int64_t *ms);

/* api_registry.c */
void	cr_api_institution_create(struct cr_req *);
void	cr_api_institution_list(struct cr_req *);
void	cr_api_client_create(struct cr_req *);
void	cr_api_service_create(struct cr_req *);
void	cr_api_service_list(struct cr_req *);
void	cr_api_authz_create(struct cr_req *);
void	cr_api_authz_list(struct cr_req *);
void	cr_api_authz_delete(struct cr_req *);
void	cr_api_authz_update(struct cr_req *);
extern const struct cr_jsonv_field cr_api_authz_patch_spec[];

/* api_capacity.c */
void	cr_api_capacity_create(struct cr_req *);
void	cr_api_capacity_update(struct cr_req *);
void	cr_api_capacity_list(struct cr_req *);

/* api_directory.c */
void	cr_api_directory_put(struct cr_req *);
void	cr_api_directory_remove(struct cr_req *);
void	cr_api_directory_batch(struct cr_req *);
void	cr_api_directory_get(struct cr_req *);

/* api_consult.c */
void	cr_api_consult(struct cr_req *);

/* api_log.c */
void	cr_api_log_query(struct cr_req *);
void	cr_api_log_key(struct cr_req *);
void	cr_api_log_head(struct cr_req *);
void	cr_api_log_inclusion(struct cr_req *);
void	cr_api_log_consistency(struct cr_req *);

/* api_events.c */
void	cr_api_event_type_create(struct cr_req *);
void	cr_api_event_type_list(struct cr_req *);
void	cr_api_event_publish(struct cr_req *);
void	cr_api_event_publish_batch(struct cr_req *);
void	cr_api_subscription_create(struct cr_req *);
void	cr_api_subscription_list(struct cr_req *);
void	cr_api_subscription_delete(struct cr_req *);
void	cr_api_feed(struct cr_req *);

/* api_delivery.c */
void	cr_api_dead_letters_list(struct cr_req *);
void	cr_api_dead_letters_redeliver(struct cr_req *);

/* api_verify.c */
void	cr_api_bundle_create(struct cr_req *);
void	cr_api_bundle_list(struct cr_req *);
void	cr_api_bundle_get(struct cr_req *);
/* cr_bundle_load for a request: 0 with *out set (the caller frees it), or
   -1 with the error answered (404 NOT_FOUND, 500). */
struct cr_bundle;
int	cr_api_bundle_load(struct cr_req *, const char *id,
	    struct cr_bundle **out);
void	cr_api_verify(struct cr_req *);

/* api_batch.c */
void	cr_api_batch_create(struct cr_req *);
void	cr_api_batch_get(struct cr_req *);
void	cr_api_batch_results(struct cr_req *);

#endif
