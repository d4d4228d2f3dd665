/*
 * Fuzz target for bundles (bundle.c, bundle_eval.c, docs/verification.md):
 * a definition, then what the household's members got from the sources,
 * then a reference date, separated by lines holding "--":
 *
 *   {"id":"x","services":[...],"rules":[...]}
 *   --
 *   [{"subject":"85073003328","results":{"svc":{"status":"ok","data":{}}}}]
 *   --
 *   2024-06-30
 *
 * The definition goes through cr_bundle_parse as POST /v1/bundles sends
 * it; the members are what a verification gathers (each given a string
 * subject, as the hub always does; the data is the sources', any JSON),
 * evaluated with and without a household problem. Checks:
 * - a refused definition says why;
 * - an accepted one has an id, 1 to 32 services and a deadline within
 *   bounds, and its definition (defaults filled in) is accepted again,
 *   unchanged;
 * - evaluation never fails (no allocation fails here), and every flag
 *   or undetermined rule is {"rule","subject","detail"|"reason"} with a
 *   rule of the bundle and a subject of the members, as valid JSON;
 * - household members found in the data are distinct strings, at most
 *   the maximum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bundle.h"
#include "date.h"
#include "util.h"
#include "fuzz.h"

static int
has_rule(const json_t *def, const char *id)
{
	const json_t *r;
	size_t i;

	json_array_foreach(json_object_get(def, "rules"), i, r)
		if (strcmp(json_string_value(json_object_get(r, "id")), id) ==
		    0)
			return 1;
	return 0;
}

static int
has_subject(const json_t *members, const char *subject)
{
	const json_t *m;
	size_t i;

	json_array_foreach(members, i, m)
		if (strcmp(json_string_value(json_object_get(m, "subject")),
		    subject) == 0)
			return 1;
	return 0;
}

static void
check_outcomes(const struct cr_bundle *b, const json_t *members,
    const json_t *list, const char *key)
{
	const json_t *o;
	const char *rule, *subject;
	size_t i;

	FUZZ_CHECK(json_is_array(list));
	json_array_foreach(list, i, o) {
		FUZZ_CHECK(json_is_object(o) && json_object_size(o) == 3);
		rule = json_string_value(json_object_get(o, "rule"));
		subject = json_string_value(json_object_get(o, "subject"));
		FUZZ_CHECK(rule != NULL && has_rule(b->def, rule));
		FUZZ_CHECK(subject != NULL && has_subject(members, subject));
		FUZZ_CHECK(json_is_string(json_object_get(o, key)));
	}
	fuzz_check_json(list);
}

/* The members as the hub builds them: an array of objects with a subject. */
static json_t *
members_of(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *in, *out, *m, *e;
	char subject[32];
	size_t i;

	if ((out = json_array()) == NULL)
		abort();
	in = json_loadb(text, len, 0, &jerr);
	json_array_foreach(in, i, e) {
		if (i == CR_BUNDLE_MAX_MEMBERS)
			break;
		m = json_is_object(e) ? json_deep_copy(e) : json_object();
		FUZZ_CHECK(m != NULL);
		if (!json_is_string(json_object_get(m, "subject"))) {
			snprintf(subject, sizeof(subject), "%011zu", i);
			json_object_set_new(m, "subject", json_string(subject));
		}
		json_array_append_new(out, m);
	}
	json_decref(in);
	return out;
}

static void
check_evaluate(const struct cr_bundle *b, const json_t *members,
    const char *problem, const char *date)
{
	json_t *flags = json_array(), *undetermined = json_array();

	FUZZ_CHECK(flags != NULL && undetermined != NULL);
	FUZZ_CHECK(cr_bundle_evaluate(b, members, problem, date, flags,
	    undetermined) == 0);
	check_outcomes(b, members, flags, "detail");
	check_outcomes(b, members, undetermined, "reason");
	json_decref(flags);
	json_decref(undetermined);
}

static void
check_members(const struct cr_bundle *b, const json_t *members)
{
	const char *subjects[CR_BUNDLE_MAX_MEMBERS];
	const json_t *r;
	size_t i, j, n;

	if (b->household_service == NULL)
		return;
	r = json_object_get(json_object_get(json_array_get(members, 0),
	    "results"), b->household_service);
	n = cr_bundle_members(b, json_object_get(r, "data"), subjects,
	    CR_BUNDLE_MAX_MEMBERS - 1);
	FUZZ_CHECK(n <= CR_BUNDLE_MAX_MEMBERS - 1);
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(subjects[i], subjects[j]) != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *part[3];
	size_t len[3], nparts;
	struct cr_bundle *b = NULL, *again = NULL;
	json_error_t jerr;
	json_t *def, *members;
	char err[512], date[CR_DATE_LEN + 1] = "2024-06-30";
	size_t i;

	nparts = fuzz_split((const char *)data, size, part, len, 3);
	if ((def = json_loadb(part[0], len[0], JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL)
		return 0;
	err[0] = '\0';
	if (cr_bundle_parse(def, &b, err, sizeof(err)) == -1) {
		FUZZ_CHECK(b == NULL);
		/* Not more: a message quoting a long key may be cut inside
		   a character; the HTTP layer makes it valid UTF-8. */
		FUZZ_CHECK(err[0] != '\0');
		json_decref(def);
		return 0;
	}
	FUZZ_CHECK(b->id[0] != '\0');
	FUZZ_CHECK(b->nservices >= 1 && b->nservices <= CR_BUNDLE_MAX_SERVICES);
	for (i = 0; i < b->nservices; i++)
		FUZZ_CHECK(cr_bundle_service_index(b, b->services[i]) ==
		    (int)i);
	FUZZ_CHECK(b->deadline_ms >= CR_BUNDLE_MIN_DEADLINE_MS &&
	    b->deadline_ms <= CR_BUNDLE_MAX_DEADLINE_MS);
	FUZZ_CHECK(cr_bundle_parse(b->def, &again, err, sizeof(err)) == 0);
	FUZZ_CHECK(json_equal(again->def, b->def));
	cr_bundle_free(again);

	members = members_of(nparts > 1 ? part[1] : "", nparts > 1 ? len[1] :
	    0);
	if (nparts > 2 && len[2] == CR_DATE_LEN) {
		memcpy(date, part[2], CR_DATE_LEN);
		date[CR_DATE_LEN] = '\0';
		if (cr_date_valid(date) == -1)
			cr_util_strlcpy(date, "2024-06-30", sizeof(date));
	}
	check_evaluate(b, members, NULL, date);
	check_evaluate(b, members, "household: timeout", date);
	check_members(b, members);
	json_decref(members);
	cr_bundle_free(b);
	json_decref(def);
	return 0;
}
