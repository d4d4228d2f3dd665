/*
 * Authorization decisions: deny by default. A consumer may consult a
 * service for a purpose only under an authorization valid today, and, when
 * that authorization lists capacities, only on subjects it has integrated
 * in the reference directory in one of them on the reference date.
 */
#ifndef CR_AUTHZ_H
#define CR_AUTHZ_H

#include <stddef.h>
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
 * Field paths. A service declares the shape of its answers as paths of
 * dot-separated names ("address.street"; "household.name" names a member
 * of each element when household is a list); an authorization grants some
 * of them. A declared path with no declared path below it is a leaf and
 * passes whole, whatever its value; a path with declared paths below it
 * (address, when address.street is declared, whether or not address is
 * listed itself) passes only those, recursively, and a list there is
 * filtered element by element. Granting a path grants everything declared
 * below it and nothing undeclared. docs/api.md, "Fields".
 */
#define CR_FIELD_PATH_MAX	128	/* a path, with its NUL */
#define CR_FIELD_NAME_CHARS	"abcdefghijklmnopqrstuvwxyz" \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

/* 1 when path is non-empty names of CR_FIELD_NAME_CHARS joined by '.'. */
int	cr_authz_path_valid(const char *path);

/*
 * A service's fields: an array of well-formed paths. 0, or -1 with a
 * message naming the bad field in err.
 */
int	cr_authz_fields_check(const json_t *fields, char *err, size_t errlen);

/*
 * An authorization's fields against its service's: each one a
 * well-formed path that the service declares (one of its fields, or a
 * path above one). 0, or -1 with a message naming the field in err.
 */
int	cr_authz_grant_check(const json_t *granted, const json_t *declared,
	    const char *service, char *err, size_t errlen);

/* What minimization found in an answer besides the declared fields. */
struct cr_authz_drift {
	unsigned long	undeclared;	/* keys (and values of the wrong
					   shape) not declared, at any depth,
					   in every element of a list */
	char		first[CR_FIELD_PATH_MAX + 32];	/* the first one, as
					   "household[].medical" */
};

/*
 * Data minimization of a source's answer (an object): a new object with
 * only what `granted` grants of what `declared` declares, at every depth.
 * Undeclared keys are dropped whether granted or not, and counted into
 * *drift (which may be NULL) over the whole answer, so that the count does
 * not depend on the consumer. New reference, NULL on OOM.
 */
json_t	*cr_authz_minimize(const json_t *declared, const json_t *granted,
	    const json_t *data, struct cr_authz_drift *drift);

/*
 * Event payloads: a new object with only the top-level members of data
 * named in the authorization's fields (an event type's fields are names,
 * not paths). New reference, NULL on OOM.
 */
json_t	*cr_authz_filter(const struct cr_authz *, const json_t *data);

/*
 * Parameters of a consultation. A service declares them as
 * [{"name","type"}] with a type among string, integer, number (integer or
 * not), boolean and date (a "YYYY-MM-DD" string); a name is made of
 * CR_FIELD_NAME_CHARS. Each is optional in a consultation.
 */
#define CR_PARAMS_DECL_MAX	64	/* declared params per service */

/* The service's declaration (NULL: none). 0, or -1 with a message. */
int	cr_authz_params_decl_check(const json_t *decl, char *err,
	    size_t errlen);

/*
 * A consultation's params (an object, or NULL) against the service's
 * declaration: every member declared, of its type. 0, or -1 with a
 * message naming the parameter as "params.NAME".
 */
int	cr_authz_params_check(const json_t *decl, const json_t *params,
	    const char *service, char *err, size_t errlen);

/*
 * Fills *a (id left empty) from an authorization object as the API and the
 * registry file write it: consumer, service, purpose, legal_basis,
 * fields, capacities (absent: none), valid_from (absent: today), valid_to
 * (absent or null: open-ended). The object's shape is checked by the
 * caller; clear *a with cr_authz_clear.
 */
void	cr_authz_from_json(const json_t *o, struct cr_authz *a);

/* *a as the API shows it (valid_to null when open-ended); new reference. */
json_t	*cr_authz_json(const struct cr_authz *a);

/* 1 when every string of `fields` is in `allowed` (both arrays). */
int	cr_authz_fields_subset(const json_t *fields, const json_t *allowed);

/*
 * Narrowing a grant: the first string of `fields` that is neither one
 * of `granted`'s paths nor under one ("address.city" is under
 * "address"), or NULL when every one is (borrowed).
 */
const char *cr_authz_fields_uncovered(const json_t *fields,
	    const json_t *granted);

/* The first string of `fields` not in `allowed`, or NULL (borrowed). */
const char *cr_authz_fields_missing(const json_t *fields,
	    const json_t *allowed);

#endif
