/* Bundle definitions and the rule language (bundle.c, bundle_eval.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bundle.h"

#define A	"85073003328"
#define B	"17073003384"

static const char services[] =
    "\"services\":[\"population.person\",\"employment.wages\","
    "\"unemployment.benefits\",\"vehicles.owned\",\"border.crossings\"]";

static json_t *
js(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

/* Parses a bundle whose body (after "id" and services) is extra. */
static int
parse(const char *extra, struct cr_bundle **b, char *err, size_t errlen)
{
	char text[8192];
	json_t *def;
	int rc;

	snprintf(text, sizeof(text), "{\"id\":\"t\",%s%s%s}", services,
	    *extra ? "," : "", extra);
	def = js(text);
	rc = cr_bundle_parse(def, b, err, errlen);
	json_decref(def);
	return rc;
}

static struct cr_bundle *
bundle_with_rule(const char *rule)
{
	struct cr_bundle *b = NULL;
	char extra[4096], err[512];

	snprintf(extra, sizeof(extra), "\"household\":{\"service\":"
	    "\"population.person\",\"members\":\"household[].subject\"},"
	    "\"rules\":[%s]", rule);
	if (parse(extra, &b, err, sizeof(err)) == -1)
		fail_msg("rule refused: %s", err);
	return b;
}

struct outcome {
	json_t	*flags, *und;
};

/* Evaluates rule over members (JSON text); frees the bundle. */
static void
eval(const char *rule, const char *members, const char *problem,
    struct outcome *o)
{
	struct cr_bundle *b = bundle_with_rule(rule);
	json_t *m = js(members);

	o->flags = json_array();
	o->und = json_array();
	assert_int_equal(cr_bundle_evaluate(b, m, problem, "2026-09-30",
	    o->flags, o->und), 0);
	json_decref(m);
	cr_bundle_free(b);
}

static void
outcome_free(struct outcome *o)
{
	json_decref(o->flags);
	json_decref(o->und);
}

static const char *
flag_field(struct outcome *o, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(o->flags, i),
	    key));
}

static void
expect(const char *rule, const char *members, const char *problem,
    size_t nflags, size_t nund)
{
	struct outcome o;

	eval(rule, members, problem, &o);
	if (json_array_size(o.flags) != nflags ||
	    json_array_size(o.und) != nund) {
		char *f = json_dumps(o.flags, 0), *u = json_dumps(o.und, 0);

		print_error("rule %s\nflags %s\nundetermined %s\n", rule, f, u);
		free(f);
		free(u);
		outcome_free(&o);
		fail();
	}
	outcome_free(&o);
}

/* One member A with the given results object text. */
static char *
one(const char *results)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf), "[{\"subject\":\"" A "\",\"results\":%s}]",
	    results);
	return buf;
}

#define OK(svc, data)	"\"" svc "\":{\"status\":\"ok\",\"data\":" data "}"
#define NODATA(svc)	"\"" svc "\":{\"status\":\"no_data\",\"error\":" \
	"{\"code\":\"NO_DATA\",\"message\":\"x\"}}"
#define DENIED(svc)	"\"" svc "\":{\"status\":\"denied\",\"error\":" \
	"{\"code\":\"NOT_INTEGRATED\",\"message\":\"x\"}}"

static void
test_definition_errors(void **state)
{
	static const struct {
		const char	*extra;
		const char	*want;
	} cases[] = {
		{ "\"deadline_ms\":10", "deadline_ms" },
		{ "\"deadline_ms\":\"3000\"", "deadline_ms" },
		{ "\"colour\":1", "unknown field 'colour'" },
		{ "\"household\":{\"service\":\"pensions\",\"members\":\"h\"}",
		    "not in the bundle's services" },
		{ "\"household\":{\"service\":\"population.person\","
		    "\"members\":\"a..b\"}", "'members' must be a path" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"magic\"}]",
		    "rules[0] (r1): unknown type 'magic'" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"compare\",\"service\":"
		    "\"vehicles.owned\",\"field\":\"vehicles[].value\","
		    "\"op\":\"=>\",\"value\":1}]", "rules[0] (r1): unknown op "
		    "'=>'" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"present\",\"service\":"
		    "\"pensions.pension\"}]", "service 'pensions.pension' is "
		    "not in the bundle's services" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"present\",\"service\":"
		    "\"vehicles.owned\",\"feild\":\"x\"}]",
		    "rules[0] (r1): unknown field 'feild'" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"present\",\"service\":"
		    "\"vehicles.owned\",\"scope\":\"household\"}]",
		    "scope household is for rules of type sum" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"present\",\"service\":"
		    "\"vehicles.owned\"},{\"id\":\"r1\",\"type\":\"absent\","
		    "\"service\":\"vehicles.owned\"}]", "id 'r1' is used twice" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"incompatible\","
		    "\"records\":[{\"service\":\"vehicles.owned\"}]}]",
		    "two record sets" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"incompatible\","
		    "\"records\":[{\"service\":\"vehicles.owned\",\"month\":"
		    "\"m\"},{\"service\":\"employment.wages\"}]}]",
		    "both record sets" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"span\",\"service\":"
		    "\"border.crossings\",\"field\":\"crossings[]\",\"date\":"
		    "\"date\",\"kind\":\"direction\",\"op\":\">\",\"value\":30}]",
		    "'start' and 'end'" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"sum\",\"service\":"
		    "\"employment.wages\",\"field\":\"pay[].gross\",\"op\":"
		    "\">\",\"value\":\"much\"}]", "'value' must be a number" },
		{ "\"rules\":[{\"id\":\"r1\",\"type\":\"compare\",\"service\":"
		    "\"vehicles.owned\",\"field\":\"vehicles[].value\",\"op\":"
		    "\">\",\"value\":1,\"where\":[{\"field\":\"a[].b\",\"op\":"
		    "\"==\",\"value\":1}]}]", "cannot contain []" },
		{ "\"rules\":[{\"type\":\"present\",\"service\":"
		    "\"vehicles.owned\"}]", "rules[0]: expected an object with "
		    "an 'id'" },
	};
	struct cr_bundle *b;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = NULL;
		err[0] = '\0';
		if (parse(cases[i].extra, &b, err, sizeof(err)) != -1 ||
		    strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: %s: got \"%s\"", i, cases[i].extra,
			    err);
		assert_null(b);
	}
	/* Top-level shape. */
	b = NULL;
	json_t *j = js("{\"id\":\"x y\",\"services\":[\"a\"]}");
	assert_int_equal(cr_bundle_parse(j, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'id'"));
	json_decref(j);
	j = js("{\"id\":\"x\",\"services\":[\"a\",\"a\"]}");
	assert_int_equal(cr_bundle_parse(j, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "listed twice"));
	json_decref(j);
	j = js("{\"id\":\"x\",\"services\":[]}");
	assert_int_equal(cr_bundle_parse(j, &b, err, sizeof(err)), -1);
	json_decref(j);
}

static void
test_definition_ok(void **state)
{
	struct cr_bundle *b = NULL;
	char err[512];

	assert_int_equal(parse("", &b, err, sizeof(err)), 0);
	assert_string_equal(b->id, "t");
	assert_int_equal(b->nservices, 5);
	assert_int_equal(b->deadline_ms, CR_BUNDLE_DEFAULT_DEADLINE_MS);
	/* The default is written into the stored definition. */
	assert_int_equal(json_integer_value(json_object_get(b->def,
	    "deadline_ms")), CR_BUNDLE_DEFAULT_DEADLINE_MS);
	assert_null(b->household_service);
	assert_int_equal(cr_bundle_service_index(b, "vehicles.owned"), 3);
	assert_int_equal(cr_bundle_service_index(b, "nope"), -1);
	cr_bundle_free(b);
}

static void
test_paths(void **state)
{
	int each;

	assert_int_equal(cr_bundle_path_valid("death_date", &each), 0);
	assert_int_equal(each, 0);
	assert_int_equal(cr_bundle_path_valid("contracts[].monthly_pay",
	    &each), 0);
	assert_int_equal(each, 1);
	assert_int_equal(cr_bundle_path_valid("a.b[].c[]", &each), 0);
	assert_int_equal(cr_bundle_path_valid("", &each), -1);
	assert_int_equal(cr_bundle_path_valid("a..b", &each), -1);
	assert_int_equal(cr_bundle_path_valid("[]", &each), -1);
	assert_int_equal(cr_bundle_path_valid("a[", &each), -1);
	assert_int_equal(cr_bundle_path_valid("a b", &each), -1);
	assert_int_equal(cr_bundle_path_valid("a.b.c.d.e.f.g.h.i", &each), -1);
}

static void
test_members(void **state)
{
	struct cr_bundle *b = bundle_with_rule("{\"id\":\"x\",\"type\":"
	    "\"present\",\"service\":\"vehicles.owned\"}");
	json_t *d = js("{\"household\":[{\"subject\":\"" A "\"},{\"subject\":"
	    "\"" B "\"},{\"subject\":\"" A "\"},{\"role\":\"x\"}]}");
	const char *s[4];

	assert_int_equal(cr_bundle_members(b, d, s, 4), 2);
	assert_string_equal(s[0], A);
	assert_string_equal(s[1], B);
	assert_int_equal(cr_bundle_members(b, d, s, 1), 1);
	json_decref(d);
	d = js("{\"name\":\"x\"}");
	assert_int_equal(cr_bundle_members(b, d, s, 4), 0);
	json_decref(d);
	cr_bundle_free(b);
}

#define DECEASED "{\"id\":\"deceased\",\"type\":\"present\",\"scope\":" \
	"\"applicant\",\"service\":\"population.person\",\"field\":" \
	"\"death_date\"}"

static void
test_present(void **state)
{
	struct outcome o;

	eval(DECEASED, one("{" OK("population.person",
	    "{\"death_date\":\"2024-03-02\"}") "}"), NULL, &o);
	assert_int_equal(json_array_size(o.flags), 1);
	assert_string_equal(flag_field(&o, 0, "rule"), "deceased");
	assert_string_equal(flag_field(&o, 0, "subject"), A);
	assert_non_null(strstr(flag_field(&o, 0, "detail"), "2024-03-02"));
	outcome_free(&o);
	/* null is absent; no record is not a death. */
	expect(DECEASED, one("{" OK("population.person",
	    "{\"death_date\":null}") "}"), NULL, 0, 0);
	expect(DECEASED, one("{" NODATA("population.person") "}"), NULL, 0, 0);
	expect(DECEASED, one("{" DENIED("population.person") "}"), NULL, 0, 1);
	/* Without a field: any record; with where: matching records. */
	expect("{\"id\":\"v\",\"type\":\"present\",\"service\":"
	    "\"vehicles.owned\"}", one("{" OK("vehicles.owned", "{}") "}"),
	    NULL, 1, 0);
	expect("{\"id\":\"v\",\"type\":\"present\",\"service\":"
	    "\"vehicles.owned\",\"field\":\"vehicles[]\",\"where\":[{\"field\":"
	    "\"fuel\",\"op\":\"==\",\"value\":\"diesel\"}]}",
	    one("{" OK("vehicles.owned", "{\"vehicles\":[{\"fuel\":\"petrol\"}"
	    "]}") "}"), NULL, 0, 0);
	expect("{\"id\":\"v\",\"type\":\"present\",\"service\":"
	    "\"vehicles.owned\",\"field\":\"vehicles[]\",\"where\":[{\"field\":"
	    "\"fuel\",\"op\":\"==\",\"value\":\"diesel\"}]}",
	    one("{" OK("vehicles.owned", "{\"vehicles\":[{\"fuel\":\"petrol\"},"
	    "{\"fuel\":\"diesel\"}]}") "}"), NULL, 1, 0);
}

static void
test_absent(void **state)
{
	const char *rule = "{\"id\":\"unknown\",\"type\":\"absent\","
	    "\"service\":\"population.person\"}";

	expect(rule, one("{" NODATA("population.person") "}"), NULL, 1, 0);
	expect(rule, one("{" OK("population.person", "{\"a\":1}") "}"), NULL,
	    0, 0);
	expect(rule, one("{" DENIED("population.person") "}"), NULL, 0, 1);
	expect("{\"id\":\"noaddr\",\"type\":\"absent\",\"service\":"
	    "\"population.person\",\"field\":\"address\"}",
	    one("{" OK("population.person", "{\"address\":null}") "}"), NULL,
	    1, 0);
}

#define VEHICLE "{\"id\":\"vehicle-value\",\"type\":\"compare\",\"service\":" \
	"\"vehicles.owned\",\"field\":\"vehicles[].value\",\"op\":\">\"," \
	"\"value\":25000}"

static void
test_compare(void **state)
{
	struct outcome o;

	eval(VEHICLE, one("{" OK("vehicles.owned", "{\"vehicles\":["
	    "{\"value\":8000},{\"value\":31250.5}]}") "}"), NULL, &o);
	assert_int_equal(json_array_size(o.flags), 1);
	assert_non_null(strstr(flag_field(&o, 0, "detail"), "31250.50 > "
	    "25000"));
	outcome_free(&o);
	expect(VEHICLE, one("{" OK("vehicles.owned", "{\"vehicles\":["
	    "{\"value\":8000},{\"value\":25000}]}") "}"), NULL, 0, 0);
	expect(VEHICLE, one("{" NODATA("vehicles.owned") "}"), NULL, 0, 0);
	expect(VEHICLE, one("{\"vehicles.owned\":{\"status\":\"timeout\","
	    "\"error\":{\"code\":\"SOURCE_TIMEOUT\",\"message\":\"x\"}}}"),
	    NULL, 0, 1);
	/* match all; strings (dates) compare as text; types must agree. */
	expect("{\"id\":\"c\",\"type\":\"compare\",\"service\":"
	    "\"vehicles.owned\",\"field\":\"vehicles[].value\",\"op\":\">\","
	    "\"value\":5000,\"match\":\"all\"}", one("{" OK("vehicles.owned",
	    "{\"vehicles\":[{\"value\":8000},{\"value\":4000}]}") "}"), NULL,
	    0, 0);
	expect("{\"id\":\"c\",\"type\":\"compare\",\"service\":"
	    "\"vehicles.owned\",\"field\":\"vehicles[].first_registration\","
	    "\"op\":\">=\",\"value\":\"2025-01-01\"}", one("{"
	    OK("vehicles.owned", "{\"vehicles\":[{\"first_registration\":"
	    "\"2025-06-01\"}]}") "}"), NULL, 1, 0);
	expect("{\"id\":\"c\",\"type\":\"compare\",\"service\":"
	    "\"vehicles.owned\",\"field\":\"vehicles[].value\",\"op\":\">\","
	    "\"value\":5000}", one("{" OK("vehicles.owned", "{\"vehicles\":["
	    "{\"value\":\"9000\"}]}") "}"), NULL, 0, 0);
}

#define INCOME "{\"id\":\"household-income\",\"type\":\"sum\",\"scope\":" \
	"\"household\",\"terms\":[{\"service\":\"employment.wages\"," \
	"\"field\":\"pay[].gross\"},{\"service\":\"unemployment.benefits\"," \
	"\"field\":\"payments[].amount\"}],\"per\":\"month\",\"op\":\">\"," \
	"\"value\":4000}"

static const char household[] =
    "[{\"subject\":\"" A "\",\"results\":{"
    OK("employment.wages", "{\"pay\":[{\"month\":\"2026-08\",\"gross\":2500},"
    "{\"month\":\"2026-09\",\"gross\":2500}]}") ","
    NODATA("unemployment.benefits") "}},"
    "{\"subject\":\"" B "\",\"results\":{"
    NODATA("employment.wages") ","
    OK("unemployment.benefits", "{\"payments\":[{\"month\":\"2026-08\","
    "\"amount\":1600}]}") "}}]";

static void
test_sum(void **state)
{
	struct outcome o;
	char members[4096];

	/* 2026-08: 2500 + 1600 = 4100 > 4000; 2026-09: 2500. */
	eval(INCOME, household, NULL, &o);
	assert_int_equal(json_array_size(o.flags), 1);
	assert_string_equal(flag_field(&o, 0, "subject"), A);
	assert_non_null(strstr(flag_field(&o, 0, "detail"), "2026-08"));
	assert_non_null(strstr(flag_field(&o, 0, "detail"), "4100.00"));
	outcome_free(&o);
	/* Threshold not reached. */
	expect("{\"id\":\"hi\",\"type\":\"sum\",\"scope\":\"household\","
	    "\"terms\":[{\"service\":\"employment.wages\",\"field\":"
	    "\"pay[].gross\"},{\"service\":\"unemployment.benefits\","
	    "\"field\":\"payments[].amount\"}],\"per\":\"month\",\"op\":\">\","
	    "\"value\":4100}", household, NULL, 0, 0);
	/* Household unknown, or a member's source denied: undetermined. */
	expect(INCOME, household, "population.person: denied", 0, 1);
	memcpy(members, household, sizeof(household));
	{
		char *p = strstr(members, "\"status\":\"no_data\"");

		/* A's benefits: no_data -> denied (same length). */
		assert_non_null(p);
		memcpy(p, "\"status\":\"denied\" ", 18);
	}
	expect(INCOME, members, NULL, 0, 1);
	/* Member scope, no per: each member's own total. */
	expect("{\"id\":\"wages\",\"type\":\"sum\",\"service\":"
	    "\"employment.wages\",\"field\":\"pay[].gross\",\"op\":\">=\","
	    "\"value\":5000}", household, NULL, 1, 0);
	/* No value at all sums to 0. */
	expect("{\"id\":\"none\",\"type\":\"sum\",\"service\":"
	    "\"employment.wages\",\"field\":\"pay[].gross\",\"op\":\"==\","
	    "\"value\":0}", household, NULL, 1, 0);
}

#define INCOMPATIBLE "{\"id\":\"benefit-and-wages\",\"type\":" \
	"\"incompatible\",\"records\":[{\"service\":\"unemployment.benefits\"," \
	"\"field\":\"payments[]\",\"month\":\"month\"},{\"service\":" \
	"\"employment.wages\",\"field\":\"pay[]\",\"month\":\"month\"," \
	"\"where\":[{\"field\":\"gross\",\"op\":\">=\",\"value\":2000}]}]}"

static void
test_incompatible(void **state)
{
	struct outcome o;

	eval(INCOMPATIBLE, one("{" OK("unemployment.benefits", "{\"payments\":"
	    "[{\"month\":\"2026-07\",\"amount\":1400}]}") ","
	    OK("employment.wages", "{\"pay\":[{\"month\":\"2026-07\","
	    "\"gross\":3100}]}") "}"), NULL, &o);
	assert_int_equal(json_array_size(o.flags), 1);
	assert_non_null(strstr(flag_field(&o, 0, "detail"), "2026-07"));
	outcome_free(&o);
	/* Different months. */
	expect(INCOMPATIBLE, one("{" OK("unemployment.benefits", "{\"payments\""
	    ":[{\"month\":\"2026-06\",\"amount\":1400}]}") ","
	    OK("employment.wages", "{\"pay\":[{\"month\":\"2026-07\","
	    "\"gross\":3100}]}") "}"), NULL, 0, 0);
	/* Same month, but part-time pay (where). */
	expect(INCOMPATIBLE, one("{" OK("unemployment.benefits", "{\"payments\""
	    ":[{\"month\":\"2026-07\",\"amount\":1400}]}") ","
	    OK("employment.wages", "{\"pay\":[{\"month\":\"2026-07\","
	    "\"gross\":1200}]}") "}"), NULL, 0, 0);
	expect(INCOMPATIBLE, one("{" NODATA("unemployment.benefits") ","
	    OK("employment.wages", "{\"pay\":[{\"month\":\"2026-07\","
	    "\"gross\":3100}]}") "}"), NULL, 0, 0);
	expect(INCOMPATIBLE, one("{" OK("unemployment.benefits", "{}") ","
	    DENIED("employment.wages") "}"), NULL, 0, 1);
	/* Periods: a claim open since May overlaps a full-time contract. */
	expect("{\"id\":\"p\",\"type\":\"incompatible\",\"records\":["
	    "{\"service\":\"unemployment.benefits\",\"field\":\"claims[]\","
	    "\"from\":\"start_date\",\"to\":\"end_date\"},{\"service\":"
	    "\"employment.wages\",\"field\":\"contracts[]\",\"from\":"
	    "\"start_date\",\"to\":\"end_date\",\"where\":[{\"field\":"
	    "\"work_fraction\",\"op\":\">=\",\"value\":1}]}]}",
	    one("{" OK("unemployment.benefits", "{\"claims\":[{\"start_date\":"
	    "\"2026-05-01\",\"end_date\":null}]}") "," OK("employment.wages",
	    "{\"contracts\":[{\"start_date\":\"2020-01-01\",\"end_date\":"
	    "\"2026-04-30\",\"work_fraction\":1},{\"start_date\":\"2026-09-01\","
	    "\"end_date\":null,\"work_fraction\":1.0}]}") "}"), NULL, 1, 0);
	/* Without times: records in both at all. */
	expect("{\"id\":\"both\",\"type\":\"incompatible\",\"records\":["
	    "{\"service\":\"unemployment.benefits\",\"field\":\"claims[]\"},"
	    "{\"service\":\"vehicles.owned\",\"field\":\"vehicles[]\"}]}",
	    one("{" OK("unemployment.benefits", "{\"claims\":[{}]}") ","
	    OK("vehicles.owned", "{\"vehicles\":[{\"value\":1}]}") "}"), NULL,
	    1, 0);
}

#define ABROAD "{\"id\":\"abroad\",\"type\":\"span\",\"service\":" \
	"\"border.crossings\",\"field\":\"crossings[]\",\"date\":\"date\"," \
	"\"kind\":\"direction\",\"start\":\"exit\",\"end\":\"entry\"," \
	"\"op\":\">\",\"value\":30}"

static void
test_span(void **state)
{
	struct outcome o;

	/* Unordered, overlapping trips: 2025-10-19 .. 2026-03-17. */
	eval(ABROAD, one("{" OK("border.crossings", "{\"crossings\":["
	    "{\"date\":\"2026-03-09\",\"direction\":\"exit\"},"
	    "{\"date\":\"2026-03-27\",\"direction\":\"entry\"},"
	    "{\"date\":\"2025-10-19\",\"direction\":\"exit\"},"
	    "{\"date\":\"2026-03-17\",\"direction\":\"entry\"}]}") "}"), NULL,
	    &o);
	assert_int_equal(json_array_size(o.flags), 1);
	assert_non_null(strstr(flag_field(&o, 0, "detail"), "149 days"));
	assert_non_null(strstr(flag_field(&o, 0, "detail"), "2025-10-19"));
	outcome_free(&o);
	/* Short trips only. */
	expect(ABROAD, one("{" OK("border.crossings", "{\"crossings\":["
	    "{\"date\":\"2026-05-07\",\"direction\":\"exit\"},"
	    "{\"date\":\"2026-05-24\",\"direction\":\"entry\"},"
	    "{\"date\":\"2026-08-12\",\"direction\":\"exit\"},"
	    "{\"date\":\"2026-09-01\",\"direction\":\"entry\"}]}") "}"), NULL,
	    0, 0);
	/* ... but 37 days in all. */
	expect("{\"id\":\"t\",\"type\":\"span\",\"service\":"
	    "\"border.crossings\",\"field\":\"crossings[]\",\"date\":\"date\","
	    "\"kind\":\"direction\",\"start\":\"exit\",\"end\":\"entry\","
	    "\"measure\":\"total\",\"op\":\">\",\"value\":30}",
	    one("{" OK("border.crossings", "{\"crossings\":["
	    "{\"date\":\"2026-05-07\",\"direction\":\"exit\"},"
	    "{\"date\":\"2026-05-24\",\"direction\":\"entry\"},"
	    "{\"date\":\"2026-08-12\",\"direction\":\"exit\"},"
	    "{\"date\":\"2026-09-01\",\"direction\":\"entry\"}]}") "}"), NULL,
	    1, 0);
	/* Still abroad: the period runs to the reference date (09-30). */
	expect(ABROAD, one("{" OK("border.crossings", "{\"crossings\":["
	    "{\"date\":\"2026-08-15\",\"direction\":\"exit\"}]}") "}"), NULL,
	    1, 0);
	expect(ABROAD, one("{" OK("border.crossings", "{\"crossings\":["
	    "{\"date\":\"2026-09-15\",\"direction\":\"exit\"}]}") "}"), NULL,
	    0, 0);
	expect(ABROAD, one("{" NODATA("border.crossings") "}"), NULL, 0, 0);
	expect(ABROAD, one("{" DENIED("border.crossings") "}"), NULL, 0, 1);
}

static void
test_undetermined_reason(void **state)
{
	struct outcome o;
	const char *reason;

	eval(VEHICLE, "[{\"subject\":\"" A "\",\"results\":{" OK(
	    "vehicles.owned", "{\"vehicles\":[]}") "}},{\"subject\":\"" B
	    "\",\"results\":{" DENIED("vehicles.owned") "}}]", NULL, &o);
	assert_int_equal(json_array_size(o.flags), 0);
	assert_int_equal(json_array_size(o.und), 1);
	reason = json_string_value(json_object_get(json_array_get(o.und, 0),
	    "reason"));
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(o.und, 0), "subject")), B);
	assert_non_null(strstr(reason, "vehicles.owned"));
	assert_non_null(strstr(reason, "NOT_INTEGRATED"));
	outcome_free(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_definition_errors),
		cmocka_unit_test(test_definition_ok),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_present),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_sum),
		cmocka_unit_test(test_incompatible),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_undetermined_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
