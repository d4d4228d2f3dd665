/*
 * Authorization decisions: deny by default. A consumer may consult a
 * service for a purpose only under an authorization valid today, and, when
 * that authorization lists capacities, only on subjects it has integrated
 * in the reference directory in one of them on the reference date.
 */
#ifndef CR_AUTHZ_H
#define CR_AUTHZ_H

#include <jansson.h>

#include "store.h"

enum cr_authz_verdict {
	CR_AUTHZ_GRANTED = 0,
	CR_AUTHZ_NOT_AUTHORIZED,	/* no authorization valid today */
	CR_AUTHZ_NOT_INTEGRATED,	/* subject not in the directory */
	CR_AUTHZ_ERROR,			/* store failure */
};

/*
 * Decides; on GRANTED (and on NOT_INTEGRATED) *out holds the authorization
 * (the caller clears it with cr_authz_clear).
 */
enum cr_authz_verdict cr_authz_decide(struct cr_store *, const char *consumer,
	    const char *service, const char *purpose, const char *subject,
	    const char *today, const char *reference_date,
	    struct cr_authz *out);

/*
 * Data minimization: a new object with only the top-level members of data
 * named in the authorization's fields. New reference, NULL on OOM.
 */
json_t	*cr_authz_filter(const struct cr_authz *, const json_t *data);

/*
 * Fills *a (id left empty) from an authorization object as the API and the
 * registry file write it: consumer, service, purpose, legal_basis,
 * fields, capacities (absent: none), valid_from (absent: today), valid_to
 * (absent or null: open-ended). The object's shape is checked by the
 * caller; clear *a with cr_authz_clear.
 */
void	cr_authz_from_json(const json_t *o, struct cr_authz *a);

/* 1 when every string of `fields` is in `allowed` (both arrays). */
int	cr_authz_fields_subset(const json_t *fields, const json_t *allowed);

#endif
