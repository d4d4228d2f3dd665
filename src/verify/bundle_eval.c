/*
 * Evaluation of a bundle's rules (docs/verification.md) over the data a
 * verification gathered, and the paths rules read it through: names
 * separated by dots, a name ending in "[]" standing for each element of
 * an array. The element last iterated is the "record" that `where`
 * filters, `per` keys and time fields are read from, so that
 * "pay[].gross" per "month" sums each month's pay. JSON null counts as
 * absent everywhere.
 *
 * Rules were validated when the bundle was created, so evaluation never
 * meets a malformed rule; it only meets missing data, and then says so
 * ("undetermined") instead of guessing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "date.h"
#include "util.h"

#define PATH_MAX_SEGS	8
#define PATH_MAX_LEN	128

struct path {
	size_t	n;
	struct {
		char	name[PATH_MAX_LEN];
		int	each;		/* "name[]" */
	} seg[PATH_MAX_SEGS];
};

/* A value reached by a path and the record (array element) holding it. */
struct hit {
	const json_t	*val;
	const json_t	*rec;
};

struct hits {
	struct hit	*v;
	size_t		 n, cap;
	int		 oom;
};

static int
seg_valid(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int
path_parse(const char *s, struct path *p)
{
	const char *seg, *dot;
	size_t len;

	memset(p, 0, sizeof(*p));
	if (s == NULL || *s == '\0' || strlen(s) >= PATH_MAX_LEN)
		return -1;
	for (seg = s;; seg = dot + 1) {
		if (p->n == PATH_MAX_SEGS)
			return -1;
		dot = strchr(seg, '.');
		len = dot != NULL ? (size_t)(dot - seg) : strlen(seg);
		if (len > 2 && seg[len - 2] == '[' && seg[len - 1] == ']') {
			p->seg[p->n].each = 1;
			len -= 2;
		}
		if (len == 0)
			return -1;
		memcpy(p->seg[p->n].name, seg, len);
		p->seg[p->n].name[len] = '\0';
		if (!seg_valid(p->seg[p->n].name))
			return -1;
		p->n++;
		if (dot == NULL)
			return 0;
	}
}

int
cr_bundle_path_valid(const char *s, int *each)
{
	struct path p;
	size_t i;

	*each = 0;
	if (path_parse(s, &p) == -1)
		return -1;
	for (i = 0; i < p.n; i++)
		*each |= p.seg[i].each;
	return 0;
}

static const char *
str_field(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void
hits_add(struct hits *h, const json_t *val, const json_t *rec)
{
	struct hit *nv;
	size_t ncap;

	if (h->n == h->cap) {
		ncap = h->cap ? h->cap * 2 : 16;
		if ((nv = reallocarray(h->v, ncap, sizeof(*nv))) == NULL) {
			h->oom = 1;
			return;
		}
		h->v = nv;
		h->cap = ncap;
	}
	h->v[h->n].val = val;
	h->v[h->n].rec = rec;
	h->n++;
}

static void
path_walk(const json_t *node, const struct path *p, size_t i,
    const json_t *rec, struct hits *h)
{
	const json_t *v, *e;
	size_t k;

	if (i == p->n) {
		if (node != NULL && !json_is_null(node))
			hits_add(h, node, rec);
		return;
	}
	v = json_object_get(node, p->seg[i].name);
	if (!p->seg[i].each) {
		path_walk(v, p, i + 1, rec, h);
		return;
	}
	json_array_foreach(v, k, e)
		path_walk(e, p, i + 1, e, h);
}

/* The single value at a path without [] inside obj, or NULL. */
static const json_t *
path_get(const json_t *obj, const char *path)
{
	struct path p;
	size_t i;

	if (path_parse(path, &p) == -1)
		return NULL;
	for (i = 0; i < p.n && obj != NULL; i++)
		obj = json_object_get(obj, p.seg[i].name);
	return obj != NULL && !json_is_null(obj) ? obj : NULL;
}

/* 1 when a op b holds; values of different types compare unequal. */
static int
cmp_values(const json_t *a, const char *op, const json_t *b)
{
	double x, y;
	int c;

	if (json_is_number(a) && json_is_number(b)) {
		x = json_number_value(a);
		y = json_number_value(b);
		c = x < y ? -1 : x > y;
	} else if (json_is_string(a) && json_is_string(b))
		c = strcmp(json_string_value(a), json_string_value(b));
	else if (json_is_boolean(a) && json_is_boolean(b))
		c = json_is_true(a) != json_is_true(b);
	else
		return strcmp(op, "!=") == 0;
	if (strcmp(op, ">") == 0)
		return c > 0;
	if (strcmp(op, ">=") == 0)
		return c >= 0;
	if (strcmp(op, "<") == 0)
		return c < 0;
	if (strcmp(op, "<=") == 0)
		return c <= 0;
	if (strcmp(op, "==") == 0)
		return c == 0;
	return c != 0;
}

static int
where_ok(const json_t *where, const json_t *rec)
{
	const json_t *c, *v;
	size_t i;

	json_array_foreach(where, i, c) {
		v = path_get(rec, str_field(c, "field"));
		if (v == NULL || !cmp_values(v, str_field(c, "op"),
		    json_object_get(c, "value")))
			return 0;
	}
	return 1;
}

/* The values of src's path (the data itself without one) in data. */
static void
collect(const json_t *src, const json_t *data, struct hits *h)
{
	const json_t *where = json_object_get(src, "where");
	struct path p;
	size_t i, k;

	h->n = 0;
	if (data == NULL)
		return;
	if (json_object_get(src, "field") == NULL)
		p.n = 0;
	else if (path_parse(str_field(src, "field"), &p) == -1)
		return;
	path_walk(data, &p, 0, data, h);
	for (i = k = 0; i < h->n; i++)
		if (where == NULL || where_ok(where, h->v[i].rec))
			h->v[k++] = h->v[i];
	h->n = k;
}

/* Short text of a value for details: strings unquoted. */
static void
value_text(const json_t *v, char *out, size_t len)
{
	char *s;

	if (json_is_string(v)) {
		/* Whole characters: details go into JSON. */
		cr_util_strlcpy(out, json_string_value(v), len);
		cr_util_utf8_trim(out);
		return;
	}
	if (json_is_real(v)) {
		snprintf(out, len, "%.2f", json_real_value(v));
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	cr_util_strlcpy(out, s != NULL ? s : "?", len);
	free(s);
}

/*
 * Evaluation.
 */

struct eval {
	const struct cr_bundle	*b;
	const json_t		*rule;
	const char		*date;
	char			 detail[512];
	char			 reason[256];
	struct hits		 h, h2;
};

/* 1 with *data (NULL: the source holds nothing), 0 with a reason. */
static int
member_data(struct eval *e, const json_t *member, const char *svc,
    const json_t **data)
{
	const json_t *r = json_object_get(json_object_get(member, "results"),
	    svc);
	const char *st = str_field(r, "status"), *code;

	*data = NULL;
	if (st != NULL && strcmp(st, "ok") == 0) {
		*data = json_object_get(r, "data");
		return 1;
	}
	if (st != NULL && strcmp(st, "no_data") == 0)
		return 1;
	code = str_field(json_object_get(r, "error"), "code");
	snprintf(e->reason, sizeof(e->reason), "%s: %s%s%s%s", svc,
	    st != NULL ? st : "not consulted", code ? " (" : "",
	    code ? code : "", code ? ")" : "");
	return 0;
}

/* present / absent. 1 flag, 0 not, -1 undetermined. */
static int
eval_presence(struct eval *e, const json_t *member, int want_present)
{
	const char *svc = str_field(e->rule, "service");
	const char *field = str_field(e->rule, "field");
	const json_t *data;
	char v[128];

	if (!member_data(e, member, svc, &data))
		return -1;
	collect(e->rule, data, &e->h);
	if (want_present && e->h.n > 0) {
		value_text(e->h.v[0].val, v, sizeof(v));
		if (field != NULL)
			snprintf(e->detail, sizeof(e->detail), "%s %s = %s%s",
			    svc, field, v, e->h.n > 1 ? " (and more)" : "");
		else
			snprintf(e->detail, sizeof(e->detail), "%s holds a "
			    "record", svc);
		return 1;
	}
	if (!want_present && e->h.n == 0) {
		if (data == NULL)
			snprintf(e->detail, sizeof(e->detail), "%s holds "
			    "nothing on the subject", svc);
		else
			snprintf(e->detail, sizeof(e->detail), "%s: no %s",
			    svc, field != NULL ? field : "matching record");
		return 1;
	}
	return 0;
}

static int
eval_compare(struct eval *e, const json_t *member)
{
	const char *svc = str_field(e->rule, "service");
	const char *op = str_field(e->rule, "op");
	const char *match = str_field(e->rule, "match");
	const json_t *data, *val = json_object_get(e->rule, "value");
	size_t i, n = 0, first = 0;
	char a[128], b[128];

	if (!member_data(e, member, svc, &data))
		return -1;
	collect(e->rule, data, &e->h);
	for (i = 0; i < e->h.n; i++)
		if (cmp_values(e->h.v[i].val, op, val) && n++ == 0)
			first = i;
	if (n == 0 || (match != NULL && strcmp(match, "all") == 0 &&
	    n != e->h.n))
		return 0;
	value_text(e->h.v[first].val, a, sizeof(a));
	value_text(val, b, sizeof(b));
	snprintf(e->detail, sizeof(e->detail), "%s %s = %s %s %s%s", svc,
	    str_field(e->rule, "field"), a, op, b, n > 1 ?
	    " (and more)" : "");
	return 1;
}

/* Adds each term's values of one member into sums (key -> real). */
static int
sum_member(struct eval *e, const json_t *member, json_t *sums)
{
	const json_t *terms = json_object_get(e->rule, "terms"), *t, *data;
	const char *per = str_field(e->rule, "per"), *key;
	const json_t *k;
	json_t *cur;
	size_t i, j, n;

	n = terms != NULL ? json_array_size(terms) : 1;
	for (i = 0; i < n; i++) {
		t = terms != NULL ? json_array_get(terms, i) : e->rule;
		if (!member_data(e, member, str_field(t, "service"), &data))
			return -1;
		collect(t, data, &e->h);
		for (j = 0; j < e->h.n; j++) {
			if (!json_is_number(e->h.v[j].val))
				continue;
			key = "";
			if (per != NULL) {
				k = path_get(e->h.v[j].rec, per);
				if (!json_is_string(k))
					continue;
				key = json_string_value(k);
			}
			cur = json_object_get(sums, key);
			if (cur == NULL) {
				if (json_object_set_new(sums, key,
				    json_real(0)) == -1)
					return -2;
				cur = json_object_get(sums, key);
			}
			json_real_set(cur, json_real_value(cur) +
			    json_number_value(e->h.v[j].val));
		}
	}
	return 0;
}

static int
eval_sum(struct eval *e, const json_t *members, size_t from, size_t to)
{
	const char *op = str_field(e->rule, "op"), *key, *per;
	const json_t *val = json_object_get(e->rule, "value");
	json_t *sums, *s;
	char b[64];
	size_t i;
	int rc = 0;

	if ((sums = json_object()) == NULL)
		return -2;
	for (i = from; i < to; i++)
		if ((rc = sum_member(e, json_array_get(members, i), sums)) < 0)
			goto out;
	/* No value at all sums to 0: "income <= X" holds for no income. */
	if (json_object_size(sums) == 0 && str_field(e->rule, "per") == NULL &&
	    json_object_set_new(sums, "", json_real(0)) == -1) {
		rc = -2;
		goto out;
	}
	per = str_field(e->rule, "per");
	json_object_foreach(sums, key, s) {
		if (!cmp_values(s, op, val))
			continue;
		value_text(val, b, sizeof(b));
		snprintf(e->detail, sizeof(e->detail), "sum%s%s%s%s over %zu "
		    "member%s = %.2f %s %s", per != NULL ? " for " : "",
		    per != NULL ? per : "", per != NULL ? " " : "",
		    per != NULL ? key : "", to - from, to - from > 1 ? "s" : "",
		    json_real_value(s), op, b);
		rc = 1;
		break;
	}
out:
	json_decref(sums);
	return rc;
}

/* The period of a record for incompatible: [from, to], by text. */
static int
record_period(const json_t *side, const json_t *rec, char from[11],
    char to[11])
{
	const json_t *m = NULL, *f, *t;

	if (json_object_get(side, "month") != NULL) {
		m = path_get(rec, str_field(side, "month"));
		if (!json_is_string(m) || strlen(json_string_value(m)) < 7)
			return -1;
		snprintf(from, 11, "%.7s-01", json_string_value(m));
		snprintf(to, 11, "%.7s-31", json_string_value(m));
		return 0;
	}
	f = path_get(rec, str_field(side, "from"));
	t = json_object_get(side, "to") != NULL ?
	    path_get(rec, str_field(side, "to")) : NULL;
	if (!json_is_string(f))
		return -1;
	cr_util_strlcpy(from, json_string_value(f), 11);
	cr_util_strlcpy(to, json_is_string(t) ? json_string_value(t) :
	    "9999-12-31", 11);
	return 0;
}

static int
eval_incompatible(struct eval *e, const json_t *member)
{
	const json_t *recs = json_object_get(e->rule, "records");
	const json_t *a = json_array_get(recs, 0), *b = json_array_get(recs, 1);
	const json_t *da, *db;
	char af[11], at[11], bf[11], bt[11];
	const char *sa = str_field(a, "service"), *sb = str_field(b, "service");
	size_t i, j;

	if (!member_data(e, member, sa, &da) ||
	    !member_data(e, member, sb, &db))
		return -1;
	collect(a, da, &e->h);
	collect(b, db, &e->h2);
	if (e->h.n == 0 || e->h2.n == 0)
		return 0;
	if (json_object_get(a, "month") == NULL &&
	    json_object_get(a, "from") == NULL) {
		snprintf(e->detail, sizeof(e->detail), "records in both %s and "
		    "%s", sa, sb);
		return 1;
	}
	for (i = 0; i < e->h.n; i++) {
		if (record_period(a, e->h.v[i].rec, af, at) == -1)
			continue;
		for (j = 0; j < e->h2.n; j++) {
			if (record_period(b, e->h2.v[j].rec, bf, bt) == -1)
				continue;
			if (strcmp(af, bt) <= 0 && strcmp(bf, at) <= 0) {
				snprintf(e->detail, sizeof(e->detail), "%s "
				    "record of %s..%s overlaps %s record of "
				    "%s..%s", sa, af, at, sb, bf, bt);
				return 1;
			}
		}
	}
	return 0;
}

struct mark {
	int32_t	day;
	int	start;
};

static int
mark_cmp(const void *x, const void *y)
{
	const struct mark *a = x, *b = y;

	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	/* Out and back on the same day: a period of 0 days. */
	return b->start - a->start;
}

static int
eval_span(struct eval *e, const json_t *member)
{
	const char *svc = str_field(e->rule, "service");
	const char *measure = str_field(e->rule, "measure");
	const char *kstart = str_field(e->rule, "start");
	const char *kend = str_field(e->rule, "end");
	const json_t *data, *d, *k, *val = json_object_get(e->rule, "value");
	struct mark *m = NULL;
	int32_t since = 0, today, len, best = 0, total = 0, best_from = 0;
	size_t i, n = 0;
	int open = 0, total_mode, rc = 0;
	char a[11], b[64];
	json_t *res;

	if (!member_data(e, member, svc, &data))
		return -1;
	collect(e->rule, data, &e->h);
	if (e->h.n == 0 || cr_date_to_days(e->date, &today) == -1)
		return 0;
	if ((m = calloc(e->h.n, sizeof(*m))) == NULL)
		return -2;
	for (i = 0; i < e->h.n; i++) {
		d = path_get(e->h.v[i].rec, str_field(e->rule, "date"));
		k = path_get(e->h.v[i].rec, str_field(e->rule, "kind"));
		if (!json_is_string(d) || !json_is_string(k) ||
		    cr_date_to_days(json_string_value(d), &m[n].day) == -1)
			continue;
		if (strcmp(json_string_value(k), kstart) == 0)
			m[n].start = 1;
		else if (strcmp(json_string_value(k), kend) != 0)
			continue;
		n++;
	}
	qsort(m, n, sizeof(*m), mark_cmp);
	/* A start while open, or an end while closed, is ignored. */
	for (i = 0; i <= n; i++) {
		if (i < n && m[i].start && !open) {
			open = 1;
			since = m[i].day;
			continue;
		}
		if (!open || (i < n && m[i].start))
			continue;
		if (i == n && since > today)
			break;
		len = (i < n ? m[i].day : today) - since;
		open = 0;
		total += len;
		if (len > best) {
			best = len;
			best_from = since;
		}
	}
	total_mode = measure != NULL && strcmp(measure, "total") == 0;
	if ((res = json_integer(total_mode ? total : best)) == NULL) {
		rc = -2;
		goto out;
	}
	if (cmp_values(res, str_field(e->rule, "op"), val)) {
		cr_date_from_days(best_from, a);
		value_text(val, b, sizeof(b));
		if (total_mode)
			snprintf(e->detail, sizeof(e->detail), "%s: %d days "
			    "in all between %s and %s %s %s", svc, total,
			    kstart, kend, str_field(e->rule, "op"), b);
		else
			snprintf(e->detail, sizeof(e->detail), "%s: %d days "
			    "between %s and %s from %s %s %s", svc, best,
			    kstart, kend, a, str_field(e->rule, "op"), b);
		rc = 1;
	}
	json_decref(res);
out:
	free(m);
	return rc;
}

static int
append(json_t *list, const char *rule, const char *subject, const char *key,
    char *text)
{
	cr_util_utf8_trim(text);	/* snprintf may have cut the detail */
	return json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "rule",
	    rule, "subject", subject, key, text));
}

int
cr_bundle_evaluate(const struct cr_bundle *b, const json_t *members,
    const char *household_problem, const char *date, json_t *flags,
    json_t *undetermined)
{
	const json_t *rules = json_object_get(b->def, "rules"), *member;
	const char *type, *scope, *id, *subject;
	struct eval e;
	size_t i, m, nm;
	int r, rc = -1;

	memset(&e, 0, sizeof(e));
	e.b = b;
	e.date = date;
	nm = json_array_size(members);
	if (nm == 0)
		return 0;
	json_array_foreach(rules, i, e.rule) {
		type = str_field(e.rule, "type");
		scope = str_field(e.rule, "scope");
		id = str_field(e.rule, "id");
		if (scope == NULL)
			scope = "member";
		if (strcmp(scope, "household") == 0) {
			subject = str_field(json_array_get(members, 0),
			    "subject");
			e.reason[0] = '\0';
			if (household_problem != NULL) {
				r = -1;
				cr_util_strlcpy(e.reason, household_problem,
				    sizeof(e.reason));
			} else
				r = eval_sum(&e, members, 0, nm);
			if (r == -2 || (r == 1 && append(flags, id, subject,
			    "detail", e.detail) == -1) || (r == -1 &&
			    append(undetermined, id, subject, "reason",
			    e.reason) == -1))
				goto out;
			continue;
		}
		for (m = 0; m < (strcmp(scope, "applicant") == 0 ? 1 : nm);
		    m++) {
			member = json_array_get(members, m);
			subject = str_field(member, "subject");
			if (strcmp(type, "present") == 0)
				r = eval_presence(&e, member, 1);
			else if (strcmp(type, "absent") == 0)
				r = eval_presence(&e, member, 0);
			else if (strcmp(type, "compare") == 0)
				r = eval_compare(&e, member);
			else if (strcmp(type, "sum") == 0)
				r = eval_sum(&e, members, m, m + 1);
			else if (strcmp(type, "incompatible") == 0)
				r = eval_incompatible(&e, member);
			else
				r = eval_span(&e, member);
			if (r == -2 || e.h.oom || e.h2.oom)
				goto out;
			if (r == 1 && append(flags, id, subject, "detail",
			    e.detail) == -1)
				goto out;
			if (r == -1 && append(undetermined, id, subject,
			    "reason", e.reason) == -1)
				goto out;
		}
	}
	rc = 0;
out:
	free(e.h.v);
	free(e.h2.v);
	return rc;
}

size_t
cr_bundle_members(const struct cr_bundle *b, const json_t *data,
    const char **subjects, size_t max)
{
	struct hits h;
	struct path p;
	size_t i, j, n = 0;
	const char *s;

	memset(&h, 0, sizeof(h));
	if (b->household_members == NULL ||
	    path_parse(b->household_members, &p) == -1)
		return 0;
	path_walk(data, &p, 0, data, &h);
	for (i = 0; i < h.n && n < max; i++) {
		if ((s = json_string_value(h.v[i].val)) == NULL)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(subjects[j], s) == 0)
				break;
		if (j == n)
			subjects[n++] = s;
	}
	free(h.v);
	return n;
}
