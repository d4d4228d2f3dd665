/*
 * Fuzz target for source answers and field filtering: the fields a
 * service declares, the fields an authorization grants (both JSON arrays
 * of paths), then the body of a source's 200 answer, separated by lines
 * holding "--". The body goes through cr_consult_answer_data as consult.c
 * reads an answer, which minimizes it with cr_authz_minimize. Checks,
 * against an independent reading of docs/api.md ("Fields: paths, and what
 * passes"):
 * - an answer is used exactly when it is a JSON object with an object
 *   "data";
 * - what passes is exactly what the rules let through: declared keys at
 *   every depth, leaves whole, lists element by element, null as null,
 *   only what a grant covers; and the count of undeclared keys and
 *   values of the wrong shape is the rules' (whatever is granted).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz.h"
#include "consult.h"
#include "fuzz.h"

#define NAMES_MAX	72	/* a path of 127 bytes has at most 64 names */

/* A declared or granted field as names: a path, or one legacy name. */
struct field {
	char	*names[NAMES_MAX];
	size_t	 n;
};

struct fields {
	struct field	*f;
	size_t		 n;
};

static int
path_ok(const char *s)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
	size_t i, run = 0;

	if (strlen(s) >= CR_FIELD_PATH_MAX)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '.') {
			if (run == 0)
				return 0;
			run = 0;
		} else if (strchr(chars, s[i]) == NULL)
			return 0;
		else
			run++;
	}
	return run > 0;
}

static void
fields_of(const json_t *a, struct fields *out)
{
	const json_t *v;
	const char *s, *dot;
	size_t i;

	memset(out, 0, sizeof(*out));
	FUZZ_CHECK((out->f = calloc(json_array_size(a) + 1,
	    sizeof(*out->f))) != NULL);
	json_array_foreach(a, i, v) {
		struct field *f = &out->f[out->n];

		if ((s = json_string_value(v)) == NULL || *s == '\0')
			continue;
		if (!path_ok(s)) {
			f->names[f->n++] = fuzz_strndup(s, strlen(s));
		} else {
			for (;;) {
				dot = strchr(s, '.');
				FUZZ_CHECK(f->n < NAMES_MAX);
				f->names[f->n++] = fuzz_strndup(s, dot != NULL ?
				    (size_t)(dot - s) : strlen(s));
				if (dot == NULL)
					break;
				s = dot + 1;
			}
		}
		out->n++;
	}
}

static void
fields_free(struct fields *fs)
{
	size_t i, k;

	for (i = 0; i < fs->n; i++)
		for (k = 0; k < fs->f[i].n; k++)
			free(fs->f[i].names[k]);
	free(fs->f);
}

/* 1 when field f starts with the names p[0..n). */
static int
starts(const struct field *f, char *const *p, size_t n)
{
	size_t k;

	if (f->n < n)
		return 0;
	for (k = 0; k < n; k++)
		if (strcmp(f->names[k], p[k]) != 0)
			return 0;
	return 1;
}

struct rules {
	struct fields	 declared, granted;
	unsigned long	 undeclared;
};

/* Some declared field is p or below it: p is a declared node. */
static int
is_node(const struct rules *r, char *const *p, size_t n)
{
	size_t i;

	for (i = 0; i < r->declared.n; i++)
		if (starts(&r->declared.f[i], p, n))
			return 1;
	return 0;
}

static int
is_leaf(const struct rules *r, char *const *p, size_t n)
{
	size_t i;

	for (i = 0; i < r->declared.n; i++)
		if (r->declared.f[i].n > n && starts(&r->declared.f[i], p, n))
			return 0;
	return 1;
}

/* A grant names a declared node: it is p (granted) or below p. */
static int
granted(const struct rules *r, char *const *p, size_t n, int below)
{
	size_t i;

	for (i = 0; i < r->granted.n; i++) {
		const struct field *g = &r->granted.f[i];

		if (!is_node(r, g->names, g->n))
			continue;
		if (below ? g->n > n && starts(g, p, n) :
		    g->n == n && starts(g, p, n))
			return 1;
	}
	return 0;
}

static json_t *expect_object(struct rules *, const json_t *, char **, size_t,
    int, int);

/* A value at a node with children; NULL when it does not pass. */
static json_t *
expect_value(struct rules *r, const json_t *v, char **p, size_t n, int full,
    int emit)
{
	json_t *a, *e;
	size_t i;

	if (json_is_object(v))
		return expect_object(r, v, p, n, full, emit);
	if (json_is_null(v))
		return emit ? json_null() : NULL;
	if (!json_is_array(v)) {
		r->undeclared++;	/* not the declared shape */
		return NULL;
	}
	a = emit ? json_array() : NULL;
	for (i = 0; i < json_array_size(v); i++) {
		e = expect_value(r, json_array_get(v, i), p, n, full, emit);
		if (e != NULL)
			json_array_append_new(a, e);
	}
	return a;
}

static json_t *
expect_object(struct rules *r, const json_t *obj, char **p, size_t n,
    int full, int emit)
{
	const char *key;
	json_t *out = emit ? json_object() : NULL, *v, *e;
	int g, pass;

	FUZZ_CHECK(n + 1 < NAMES_MAX);
	json_object_foreach((json_t *)obj, key, v) {
		p[n] = (char *)key;
		if (!is_node(r, p, n + 1)) {
			r->undeclared++;
			continue;
		}
		g = full || granted(r, p, n + 1, 0);
		pass = emit && (g || granted(r, p, n + 1, 1));
		if (is_leaf(r, p, n + 1)) {
			if (pass)
				json_object_set(out, key, v);
			continue;
		}
		e = expect_value(r, v, p, n + 1, g, pass);
		if (e != NULL)
			json_object_set_new(out, key, e);
	}
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *part[3];
	size_t len[3];
	struct cr_authz_drift drift;
	struct rules r;
	json_error_t jerr;
	json_t *declared, *grants, *answer, *src, *out = NULL, *want;
	char *p[NAMES_MAX];
	int rc;

	if (fuzz_split((const char *)data, size, part, len, 3) < 3)
		return 0;
	declared = json_loadb(part[0], len[0], 0, &jerr);
	grants = json_loadb(part[1], len[1], 0, &jerr);
	if (!json_is_array(declared) || !json_is_array(grants))
		goto out;
	rc = cr_consult_answer_data(declared, grants, part[2], len[2], &out,
	    &drift);
	answer = json_loadb(part[2], len[2], 0, &jerr);
	src = json_object_get(answer, "data");
	FUZZ_CHECK((rc == 0) == json_is_object(src));
	if (rc == 0) {
		memset(&r, 0, sizeof(r));
		fields_of(declared, &r.declared);
		fields_of(grants, &r.granted);
		want = expect_object(&r, src, p, 0, 0, 1);
		FUZZ_CHECK(json_equal(out, want));
		FUZZ_CHECK(drift.undeclared == r.undeclared);
		fuzz_check_json(out);
		json_decref(want);
		fields_free(&r.declared);
		fields_free(&r.granted);
	} else
		FUZZ_CHECK(out == NULL);
	json_decref(out);
	json_decref(answer);
out:
	json_decref(declared);
	json_decref(grants);
	return 0;
}
