/*
 * The hub's registry file (registry.json, as `crossroads gen` writes it):
 * institutions, client applications with their tokens, services and
 * authorizations, loaded into the store by `crossroads registry import`
 * with the same rules as the registry API (src/api_registry.c).
 *
 *   {"institutions":[{"id","name","sector"}],
 *    "clients":[{"institution","name","token"}],
 *    "services":[{"id","provider","endpoint","subject_kind","fields",
 *                 "params","timeout_ms"}],
 *    "authorizations":[{"consumer","service","purpose","legal_basis",
 *                 "fields","capacities","valid_from","valid_to"}],
 *    "capacities":[{"id","name","institutions","sectors"}]}
 */
#ifndef CR_REGISTRY_FILE_H
#define CR_REGISTRY_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "jsonv.h"
#include "store.h"

#define CR_REGISTRY_TOKEN_PREFIX	"crt_"
#define CR_REGISTRY_TOKEN_LEN		(4 + 64)	/* "crt_" + 64 hex */

/* What a load did: added, or skipped because it was already there. */
struct cr_registry_counts {
	unsigned long	institutions_added, institutions_skipped;
	unsigned long	clients_added, clients_skipped;
	unsigned long	services_added, services_skipped;
	unsigned long	authorizations_added, authorizations_skipped;
	unsigned long	capacities_added, capacities_skipped;
};

/*
 * What the store keeps of a client token: BLAKE2b-256
 * (crypto_generichash, 32 bytes, no key) of the token's text.
 */
void	cr_registry_token_hash(const char *token, uint8_t out[CR_HASH_LEN]);

/* 1 when s is a non-empty id of letters, digits, '.', '_' and '-'. */
int	cr_registry_valid_id(const char *s);

/*
 * Checks the whole document, then loads it. Elements already in the store
 * (same institution id, service id or token; an authorization with the
 * same consumer, service, purpose, fields, capacities and period) are
 * skipped, so loading twice is harmless. 0, or -1 with a message naming
 * the element, as in "services[2] (vehicles.owned): provider 'X' is not
 * an institution"; nothing is loaded when the check fails. Storage errors
 * after the check may leave a partial load, which a second run completes.
 */
int	cr_registry_load(struct cr_store *, const json_t *doc,
	    struct cr_registry_counts *, char *err, size_t errlen);

/* The same from a file; the message names the file. */
int	cr_registry_load_file(struct cr_store *, const char *path,
	    struct cr_registry_counts *, char *err, size_t errlen);
/* The same from the file's text (len bytes; name for the messages). */
int	cr_registry_load_text(struct cr_store *, const char *name,
	    const char *text, size_t len, struct cr_registry_counts *,
	    char *err, size_t errlen);

/* The shape of an institution, a service and an authorization (jsonv.h),
   for the registry API's bodies and registry files alike. */
extern const struct cr_jsonv_field cr_registry_institution_spec[];
extern const struct cr_jsonv_field cr_registry_service_spec[];
/*
 * A service definition's ca_file, client_cert and client_key (checked by
 * the spec as strings) into svc, whose endpoint is set: absolute paths,
 * only with an https:// endpoint, the certificate and its key together.
 * 0, or -1 with why in err.
 */
struct cr_service;
int	cr_registry_service_tls(const json_t *def, struct cr_service *svc,
	    char *err, size_t errlen);
extern const struct cr_jsonv_field cr_registry_authz_spec[];
extern const struct cr_jsonv_field cr_registry_capacity_spec[];

/*
 * A capacity object already checked against cr_registry_capacity_spec:
 * its id in the registry alphabet and every listed institution known (in
 * doc's "institutions", when doc is not NULL, or in the store). 0; -1
 * with a message in err; -2 on storage error.
 */
int	cr_registry_capacity_check(struct cr_store *, const json_t *doc,
	    const json_t *cap, char *err, size_t errlen);
/* Fills *cap from a checked object (absent lists: empty); release it
   with cr_capacity_clear(). */
void	cr_registry_capacity_from_json(const json_t *, struct cr_capacity *);
/* {"id","name","institutions","sectors"} (new reference). */
json_t	*cr_registry_capacity_json(const struct cr_capacity *);

#endif
