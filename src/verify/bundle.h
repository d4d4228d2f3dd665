/*
 * Bundles: a named set of services consulted together by a verification
 * (POST /v1/verify/{bundle}), with the rules evaluated on what comes back
 * (docs/verification.md). Definitions are JSON, written by the operator;
 * this module validates them and evaluates their rules. Pure functions
 * over JSON: no hub, no I/O, so that the rule language is unit-tested on
 * its own.
 */
#ifndef CR_BUNDLE_H
#define CR_BUNDLE_H

#include <stddef.h>
#include <jansson.h>

#include "store.h"

#define CR_BUNDLE_MAX_SERVICES		32
#define CR_BUNDLE_MAX_RULES		64
#define CR_BUNDLE_MAX_MEMBERS		16	/* applicant included */
#define CR_BUNDLE_DEFAULT_DEADLINE_MS	3000
#define CR_BUNDLE_MIN_DEADLINE_MS	50
#define CR_BUNDLE_MAX_DEADLINE_MS	60000

struct cr_bundle {
	char		 id[CR_KEY_MAX];
	json_t		*def;		/* the definition, defaults filled in */
	const char	*services[CR_BUNDLE_MAX_SERVICES];	/* in def */
	size_t		 nservices;
	long		 deadline_ms;
	const char	*household_service;	/* in def; NULL: none */
	const char	*household_members;	/* path, in def */
};

/*
 * Validates a definition and builds the bundle (a deep copy of def is
 * kept, with deadline_ms filled in). 0, or -1 with a message for the
 * client naming the element at fault in err, e.g.
 * "rules[2] (vehicle-value): unknown op '=>'".
 */
int	cr_bundle_parse(const json_t *def, struct cr_bundle **out, char *err,
	    size_t errlen);
void	cr_bundle_free(struct cr_bundle *);

/*
 * Reads bundle id from the store and parses it: CR_STORE_OK with *out
 * set (and *def, the stored definition, a new reference, when def is not
 * NULL), CR_STORE_NOTFOUND, CR_STORE_ERR (storage, logged), or
 * CR_BUNDLE_INVALID when the stored definition no longer parses (err
 * says why). Every way of running a bundle starts here.
 */
#define CR_BUNDLE_INVALID	3
int	cr_bundle_load(struct cr_store *, const char *id, struct cr_bundle **out,
	    json_t **def, char *err, size_t errlen);

/*
 * 0 when path is a valid rule path ("a.b", "list[].field"), with *each
 * set when it contains []; -1 otherwise.
 */
int	cr_bundle_path_valid(const char *path, int *each);

/* Index of service in the bundle, or -1. */
int	cr_bundle_service_index(const struct cr_bundle *, const char *service);

/*
 * The household members named in data (the household service's granted
 * answer for the applicant), at most max, borrowed from data, duplicates
 * dropped. Returns how many were found.
 */
size_t	cr_bundle_members(const struct cr_bundle *, const json_t *data,
	    const char **subjects, size_t max);

/*
 * Evaluates the rules over members, an array of
 * {"subject","results":{"<service>":{"status":"ok","data":{...}} |
 * {"status":"no_data"|"denied"|"timeout"|"error",...}}}, the applicant
 * first. household_problem is NULL when members is the whole household,
 * else why it is not (household-scope rules are then undetermined). date
 * is the reference date (open periods run to it). Appends
 * {"rule","subject","detail"} to flags and {"rule","subject","reason"} to
 * undetermined. 0, or -1 on allocation failure.
 */
int	cr_bundle_evaluate(const struct cr_bundle *, const json_t *members,
	    const char *household_problem, const char *date, json_t *flags,
	    json_t *undetermined);

#endif
