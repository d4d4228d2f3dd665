/*
 * Bundle definitions (docs/verification.md): validation when the operator
 * creates one, so that evaluation (bundle_eval.c) never meets a malformed
 * rule. Every error names the element at fault.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "log.h"
#include "util.h"

#define RULE_ID_MAX	64

static const char *const ops[] = { ">", ">=", "<", "<=", "==", "!=", NULL };

/*
 * Validation.
 */

static int
fail(char *err, size_t errlen, const char *fmt, ...) CR_PRINTF(3, 4);

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
valid_id(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= max)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

static int
op_known(const char *op)
{
	size_t i;

	for (i = 0; op != NULL && ops[i] != NULL; i++)
		if (strcmp(op, ops[i]) == 0)
			return 1;
	return 0;
}

/* Fails unless every key of obj is in allowed (NULL-terminated). */
static int
check_keys(const json_t *obj, const char *const *allowed, const char *what,
    char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return fail(err, errlen, "%s: unknown field '%s'", what,
			    key);
	}
	return 0;
}

static const char *
str_field(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static int
check_path(const json_t *obj, const char *key, int required, int no_each,
    const char *what, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	int each;

	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v) ||
	    cr_bundle_path_valid(json_string_value(v), &each) == -1)
		return fail(err, errlen, "%s: '%s' must be a path such as "
		    "\"field\" or \"list[].field\"", what, key);
	if (no_each && each)
		return fail(err, errlen, "%s: '%s' cannot contain []", what,
		    key);
	return 0;
}

static int
check_service(const struct cr_bundle *b, const json_t *obj, const char *what,
    char *err, size_t errlen)
{
	const char *s = str_field(obj, "service");

	if (s == NULL)
		return fail(err, errlen, "%s: 'service' is required", what);
	if (cr_bundle_service_index(b, s) == -1)
		return fail(err, errlen, "%s: service '%s' is not in the "
		    "bundle's services", what, s);
	return 0;
}

/* "op" and "value"; ordering ops need a number or a string. */
static int
check_op_value(const json_t *obj, int number_only, const char *what,
    char *err, size_t errlen)
{
	const char *op = str_field(obj, "op");
	const json_t *v = json_object_get(obj, "value");

	if (!op_known(op))
		return fail(err, errlen, "%s: unknown op '%s' (one of >, >=, "
		    "<, <=, ==, !=)", what, op != NULL ? op : "");
	if (v == NULL)
		return fail(err, errlen, "%s: 'value' is required", what);
	if (number_only && !json_is_number(v))
		return fail(err, errlen, "%s: 'value' must be a number", what);
	if (op[0] != '=' && op[0] != '!' && !json_is_number(v) &&
	    !json_is_string(v))
		return fail(err, errlen, "%s: 'value' must be a number or a "
		    "string for op '%s'", what, op);
	if (!json_is_number(v) && !json_is_string(v) && !json_is_boolean(v))
		return fail(err, errlen, "%s: 'value' must be a number, a "
		    "string or a boolean", what);
	return 0;
}

static int
check_where(const json_t *obj, const char *what, char *err, size_t errlen)
{
	static const char *const keys[] = { "field", "op", "value", NULL };
	const json_t *w = json_object_get(obj, "where"), *c;
	char cwhat[160];
	size_t i;

	if (w == NULL)
		return 0;
	if (!json_is_array(w) || json_array_size(w) > 8)
		return fail(err, errlen, "%s: 'where' must be an array of at "
		    "most 8 conditions", what);
	json_array_foreach(w, i, c) {
		snprintf(cwhat, sizeof(cwhat), "%s: where[%zu]", what, i);
		if (!json_is_object(c))
			return fail(err, errlen, "%s: expected an object",
			    cwhat);
		if (check_keys(c, keys, cwhat, err, errlen) == -1 ||
		    check_path(c, "field", 1, 1, cwhat, err, errlen) == -1 ||
		    check_op_value(c, 0, cwhat, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* A source of values: service, path, optional where. */
static int
check_source(const struct cr_bundle *b, const json_t *obj, int need_field,
    const char *what, char *err, size_t errlen)
{
	if (check_service(b, obj, what, err, errlen) == -1 ||
	    check_path(obj, "field", need_field, 0, what, err, errlen) == -1 ||
	    check_where(obj, what, err, errlen) == -1)
		return -1;
	return 0;
}

static int
check_rule(const struct cr_bundle *b, const json_t *r, const char *what,
    char *err, size_t errlen)
{
	static const char *const k_present[] = { "id", "type", "description",
	    "scope", "service", "field", "where", NULL };
	static const char *const k_compare[] = { "id", "type", "description",
	    "scope", "service", "field", "where", "op", "value", "match",
	    NULL };
	static const char *const k_sum[] = { "id", "type", "description",
	    "scope", "service", "field", "where", "terms", "per", "op",
	    "value", NULL };
	static const char *const k_term[] = { "service", "field", "where",
	    NULL };
	static const char *const k_incomp[] = { "id", "type", "description",
	    "scope", "records", NULL };
	static const char *const k_side[] = { "service", "field", "where",
	    "month", "from", "to", NULL };
	static const char *const k_span[] = { "id", "type", "description",
	    "scope", "service", "field", "where", "date", "kind", "start",
	    "end", "measure", "op", "value", NULL };
	const char *type = str_field(r, "type"), *scope, *s;
	const json_t *terms, *recs, *t;
	char twhat[200];
	size_t i;
	int timed = 0;

	scope = str_field(r, "scope");
	if (json_object_get(r, "scope") != NULL && (scope == NULL ||
	    (strcmp(scope, "applicant") != 0 && strcmp(scope, "member") != 0 &&
	    strcmp(scope, "household") != 0)))
		return fail(err, errlen, "%s: 'scope' must be applicant, "
		    "member or household", what);
	if (json_object_get(r, "description") != NULL &&
	    !json_is_string(json_object_get(r, "description")))
		return fail(err, errlen, "%s: 'description' must be a string",
		    what);
	if (type == NULL)
		return fail(err, errlen, "%s: 'type' is required", what);
	if (scope != NULL && strcmp(scope, "household") == 0 &&
	    strcmp(type, "sum") != 0)
		return fail(err, errlen, "%s: scope household is for rules "
		    "of type sum", what);
	if (strcmp(type, "present") == 0 || strcmp(type, "absent") == 0) {
		if (check_keys(r, k_present, what, err, errlen) == -1 ||
		    check_source(b, r, 0, what, err, errlen) == -1)
			return -1;
	} else if (strcmp(type, "compare") == 0) {
		s = str_field(r, "match");
		if (check_keys(r, k_compare, what, err, errlen) == -1 ||
		    check_source(b, r, 1, what, err, errlen) == -1 ||
		    check_op_value(r, 0, what, err, errlen) == -1)
			return -1;
		if (json_object_get(r, "match") != NULL && (s == NULL ||
		    (strcmp(s, "any") != 0 && strcmp(s, "all") != 0)))
			return fail(err, errlen, "%s: 'match' must be any or "
			    "all", what);
	} else if (strcmp(type, "sum") == 0) {
		if (check_keys(r, k_sum, what, err, errlen) == -1 ||
		    check_op_value(r, 1, what, err, errlen) == -1)
			return -1;
		if (json_object_get(r, "per") != NULL && check_path(r, "per",
		    1, 1, what, err, errlen) == -1)
			return -1;
		terms = json_object_get(r, "terms");
		if (terms != NULL && json_object_get(r, "service") != NULL)
			return fail(err, errlen, "%s: give either 'terms' or "
			    "'service' and 'field'", what);
		if (terms == NULL)
			return check_source(b, r, 1, what, err, errlen);
		if (!json_is_array(terms) || json_array_size(terms) == 0 ||
		    json_array_size(terms) > 8)
			return fail(err, errlen, "%s: 'terms' must be an array "
			    "of 1 to 8 terms", what);
		json_array_foreach(terms, i, t) {
			snprintf(twhat, sizeof(twhat), "%s: terms[%zu]", what,
			    i);
			if (!json_is_object(t))
				return fail(err, errlen, "%s: expected an "
				    "object", twhat);
			if (check_keys(t, k_term, twhat, err, errlen) == -1 ||
			    check_source(b, t, 1, twhat, err, errlen) == -1)
				return -1;
		}
	} else if (strcmp(type, "incompatible") == 0) {
		if (check_keys(r, k_incomp, what, err, errlen) == -1)
			return -1;
		recs = json_object_get(r, "records");
		if (!json_is_array(recs) || json_array_size(recs) != 2)
			return fail(err, errlen, "%s: 'records' must be an "
			    "array of two record sets", what);
		json_array_foreach(recs, i, t) {
			snprintf(twhat, sizeof(twhat), "%s: records[%zu]",
			    what, i);
			if (!json_is_object(t))
				return fail(err, errlen, "%s: expected an "
				    "object", twhat);
			if (check_keys(t, k_side, twhat, err, errlen) == -1 ||
			    check_source(b, t, 0, twhat, err, errlen) == -1 ||
			    check_path(t, "month", 0, 1, twhat, err, errlen)
			    == -1 || check_path(t, "from", 0, 1, twhat, err,
			    errlen) == -1 || check_path(t, "to", 0, 1, twhat,
			    err, errlen) == -1)
				return -1;
			if (json_object_get(t, "month") != NULL &&
			    json_object_get(t, "from") != NULL)
				return fail(err, errlen, "%s: give 'month' or "
				    "'from'/'to', not both", twhat);
			if (json_object_get(t, "to") != NULL &&
			    json_object_get(t, "from") == NULL)
				return fail(err, errlen, "%s: 'to' needs "
				    "'from'", twhat);
			timed += json_object_get(t, "month") != NULL ||
			    json_object_get(t, "from") != NULL;
		}
		if (timed == 1)
			return fail(err, errlen, "%s: either both record sets "
			    "have a time ('month' or 'from'/'to') or neither",
			    what);
	} else if (strcmp(type, "span") == 0) {
		s = str_field(r, "measure");
		if (check_keys(r, k_span, what, err, errlen) == -1 ||
		    check_source(b, r, 1, what, err, errlen) == -1 ||
		    check_path(r, "date", 1, 1, what, err, errlen) == -1 ||
		    check_path(r, "kind", 1, 1, what, err, errlen) == -1 ||
		    check_op_value(r, 1, what, err, errlen) == -1)
			return -1;
		if (str_field(r, "start") == NULL ||
		    str_field(r, "end") == NULL)
			return fail(err, errlen, "%s: 'start' and 'end' (the "
			    "kinds opening and closing a period) are required",
			    what);
		if (json_object_get(r, "measure") != NULL && (s == NULL ||
		    (strcmp(s, "longest") != 0 && strcmp(s, "total") != 0)))
			return fail(err, errlen, "%s: 'measure' must be "
			    "longest or total", what);
	} else
		return fail(err, errlen, "%s: unknown type '%s' (one of "
		    "present, absent, compare, sum, incompatible, span)", what,
		    type);
	return 0;
}

int
cr_bundle_parse(const json_t *in, struct cr_bundle **out, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "id", "description", "services",
	    "deadline_ms", "household", "rules", NULL };
	static const char *const hkeys[] = { "service", "members", NULL };
	struct cr_bundle *b = NULL;
	const json_t *v, *hh, *rules, *r;
	const char *id;
	char what[160];
	size_t i, j;
	int rc = -1;

	*out = NULL;
	if (!json_is_object(in)) {
		fail(err, errlen, "a bundle must be a JSON object");
		goto out;
	}
	if (check_keys(in, keys, "bundle", err, errlen) == -1)
		goto out;
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->def = json_deep_copy(in)) == NULL) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	id = str_field(b->def, "id");
	if (id == NULL || !valid_id(id, CR_KEY_MAX)) {
		fail(err, errlen, "'id' must be 1 to %d letters, digits, '.', "
		    "'_' or '-'", CR_KEY_MAX - 1);
		goto out;
	}
	cr_util_strlcpy(b->id, id, sizeof(b->id));
	v = json_object_get(b->def, "description");
	if (v != NULL && !json_is_string(v)) {
		fail(err, errlen, "'description' must be a string");
		goto out;
	}
	v = json_object_get(b->def, "services");
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > CR_BUNDLE_MAX_SERVICES) {
		fail(err, errlen, "'services' must be an array of 1 to %d "
		    "service ids", CR_BUNDLE_MAX_SERVICES);
		goto out;
	}
	for (i = 0; i < json_array_size(v); i++) {
		id = json_string_value(json_array_get(v, i));
		if (id == NULL || !valid_id(id, CR_KEY_MAX)) {
			fail(err, errlen, "services[%zu]: expected a service "
			    "id", i);
			goto out;
		}
		for (j = 0; j < i; j++)
			if (strcmp(b->services[j], id) == 0) {
				fail(err, errlen, "services[%zu]: '%s' is "
				    "listed twice", i, id);
				goto out;
			}
		b->services[b->nservices++] = id;
	}
	v = json_object_get(b->def, "deadline_ms");
	if (v == NULL) {
		b->deadline_ms = CR_BUNDLE_DEFAULT_DEADLINE_MS;
		if (json_object_set_new(b->def, "deadline_ms",
		    json_integer(b->deadline_ms)) == -1) {
			fail(err, errlen, "out of memory");
			goto out;
		}
	} else if (!json_is_integer(v) || json_integer_value(v) <
	    CR_BUNDLE_MIN_DEADLINE_MS || json_integer_value(v) >
	    CR_BUNDLE_MAX_DEADLINE_MS) {
		fail(err, errlen, "'deadline_ms' must be an integer from %d to "
		    "%d", CR_BUNDLE_MIN_DEADLINE_MS, CR_BUNDLE_MAX_DEADLINE_MS);
		goto out;
	} else
		b->deadline_ms = (long)json_integer_value(v);
	if ((hh = json_object_get(b->def, "household")) != NULL) {
		if (!json_is_object(hh)) {
			fail(err, errlen, "'household' must be an object "
			    "{\"service\",\"members\"}");
			goto out;
		}
		if (check_keys(hh, hkeys, "household", err, errlen) == -1 ||
		    check_service(b, hh, "household", err, errlen) == -1 ||
		    check_path(hh, "members", 1, 0, "household", err, errlen)
		    == -1)
			goto out;
		b->household_service = str_field(hh, "service");
		b->household_members = str_field(hh, "members");
	}
	rules = json_object_get(b->def, "rules");
	if (rules != NULL && (!json_is_array(rules) ||
	    json_array_size(rules) > CR_BUNDLE_MAX_RULES)) {
		fail(err, errlen, "'rules' must be an array of at most %d "
		    "rules", CR_BUNDLE_MAX_RULES);
		goto out;
	}
	json_array_foreach(rules, i, r) {
		id = str_field(r, "id");
		if (!json_is_object(r) || id == NULL ||
		    !valid_id(id, RULE_ID_MAX)) {
			fail(err, errlen, "rules[%zu]: expected an object with "
			    "an 'id' of 1 to %d letters, digits, '.', '_' or "
			    "'-'", i, RULE_ID_MAX - 1);
			goto out;
		}
		for (j = 0; j < i; j++)
			if (strcmp(str_field(json_array_get(rules, j), "id"),
			    id) == 0) {
				fail(err, errlen, "rules[%zu]: id '%s' is used "
				    "twice", i, id);
				goto out;
			}
		snprintf(what, sizeof(what), "rules[%zu] (%s)", i, id);
		if (check_rule(b, r, what, err, errlen) == -1)
			goto out;
	}
	*out = b;
	b = NULL;
	rc = 0;
out:
	cr_bundle_free(b);
	return rc;
}

void
cr_bundle_free(struct cr_bundle *b)
{
	if (b == NULL)
		return;
	json_decref(b->def);
	free(b);
}

int
cr_bundle_service_index(const struct cr_bundle *b, const char *service)
{
	size_t i;

	for (i = 0; service != NULL && i < b->nservices; i++)
		if (strcmp(b->services[i], service) == 0)
			return (int)i;
	return -1;
}

int
cr_bundle_load(struct cr_store *st, const char *id, struct cr_bundle **out,
    json_t **def, char *err, size_t errlen)
{
	json_t *d = NULL;
	int rc;

	*out = NULL;
	if (def != NULL)
		*def = NULL;
	if ((rc = st->batches->ops->bundle_get(st->batches, id, &d)) !=
	    CR_STORE_OK)
		return rc;
	if (cr_bundle_parse(d, out, err, errlen) == -1) {
		log_warnx("bundle %s: the stored definition is invalid: %s",
		    id, err);
		json_decref(d);
		return CR_BUNDLE_INVALID;
	}
	if (def != NULL)
		*def = d;
	else
		json_decref(d);
	return CR_STORE_OK;
}
