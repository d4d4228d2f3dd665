/*
 * Authorization decisions, field paths and data minimization, params.
 *
 * Minimization builds, per answer, a small tree of the service's declared
 * paths (one node a name) marked with what the authorization grants, then
 * walks the answer against it. The tree is rebuilt for every answer: a
 * service declares at most 200 paths, which costs less than parsing the
 * answer did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "authz.h"

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

/* 1 when s is one of the strings of list. */
static int
field_listed(const json_t *list, const char *s)
{
	const json_t *f;
	size_t i;

	json_array_foreach(list, i, f)
		if (json_is_string(f) && strcmp(json_string_value(f), s) == 0)
			return 1;
	return 0;
}

enum cr_authz_verdict
cr_authz_decide(struct cr_store *st, const char *consumer, const char *service,
    const char *purpose, const char *subject, const char *today,
    const char *reference_date, struct cr_authz *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = st->registry->ops->authz_find(st->registry,
	    consumer, service, purpose, today, out);
	if (rc == CR_STORE_NOTFOUND)
		return CR_AUTHZ_NOT_AUTHORIZED;
	if (rc != CR_STORE_OK)
		return CR_AUTHZ_ERROR;
	if (json_array_size(out->capacities) == 0)
		return CR_AUTHZ_GRANTED;
	rc = st->directory->ops->dir_active(st->directory,
	    consumer, subject, out->capacities,
	    reference_date);
	if (rc == 1)
		return CR_AUTHZ_GRANTED;
	if (rc == 0)
		return CR_AUTHZ_NOT_INTEGRATED;
	cr_authz_clear(out);
	return CR_AUTHZ_ERROR;
}

int
cr_authz_path_valid(const char *path)
{
	const char *p = path;
	size_t n;

	if (strlen(path) >= CR_FIELD_PATH_MAX)
		return 0;
	for (;;) {
		if ((n = strspn(p, CR_FIELD_NAME_CHARS)) == 0)
			return 0;
		p += n;
		if (*p == '\0')
			return 1;
		if (*p++ != '.')
			return 0;
	}
}

/* The declared tree: node 0 is the root (the answer's object). */
struct fnode {
	const char	*name;		/* not NUL-terminated */
	size_t		 len;
	int		 child;		/* first child, -1: a leaf */
	int		 next;		/* next sibling, -1 */
	int		 granted;	/* this path, so all below it */
	int		 partial;	/* some path below it */
};

struct ftree {
	struct fnode	*n;
	size_t		 len;
};

static int
tree_find(const struct ftree *t, int parent, const char *name, size_t len)
{
	int c;

	for (c = t->n[parent].child; c != -1; c = t->n[c].next)
		if (t->n[c].len == len && memcmp(t->n[c].name, name, len) == 0)
			return c;
	return -1;
}

/*
 * The length of the name that starts at p: up to the next '.' in a path;
 * the whole rest in a field that is not a well-formed path (stored before
 * fields were paths), which keeps its old meaning, a top-level name.
 */
static size_t
name_len(const char *p, int path)
{
	return path ? strcspn(p, ".") : strlen(p);
}

/* Adds a field (and the paths above it). */
static void
tree_add(struct ftree *t, const char *path)
{
	const char *p = path;
	size_t len;
	int node = 0, c, split = cr_authz_path_valid(path);

	for (;;) {
		len = name_len(p, split);
		if ((c = tree_find(t, node, p, len)) == -1) {
			/* cap counts every name of every path: no overflow. */
			c = (int)t->len++;
			t->n[c].name = p;
			t->n[c].len = len;
			t->n[c].child = -1;
			t->n[c].next = t->n[node].child;
			t->n[node].child = c;
		}
		node = c;
		if (p[len] == '\0')
			return;
		p += len + 1;
	}
}

/*
 * The node of a field, -1 when not declared. grant: marks it granted and
 * the nodes above it partial.
 */
static int
tree_lookup(struct ftree *t, const char *path, int grant)
{
	int way[CR_FIELD_PATH_MAX / 2 + 1];	/* names of at least 1 byte */
	const char *p = path;
	size_t len, depth = 0, i;
	int node = 0, split = cr_authz_path_valid(path);

	for (;;) {
		if (depth == sizeof(way) / sizeof(way[0]))
			return -1;
		len = name_len(p, split);
		if ((node = tree_find(t, node, p, len)) == -1)
			return -1;
		way[depth++] = node;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	if (grant) {
		for (i = 0; i + 1 < depth; i++)
			t->n[way[i]].partial = 1;
		t->n[node].granted = 1;
	}
	return node;
}

/* The tree of the declared fields; -1 on OOM. */
static int
tree_build(struct ftree *t, const json_t *declared)
{
	const json_t *f;
	const char *s;
	size_t i, cap = 1;

	memset(t, 0, sizeof(*t));
	json_array_foreach(declared, i, f) {
		if ((s = json_string_value(f)) == NULL || *s == '\0')
			continue;
		cap++;
		if (cr_authz_path_valid(s))
			for (; *s != '\0'; s++)
				if (*s == '.')
					cap++;
	}
	if ((t->n = calloc(cap, sizeof(*t->n))) == NULL)
		return -1;
	t->len = 1;
	t->n[0].child = -1;
	t->n[0].next = -1;
	json_array_foreach(declared, i, f) {
		if ((s = json_string_value(f)) != NULL && *s != '\0')
			tree_add(t, s);
	}
	return 0;
}

/* "field '...' is not a path"; always -1. */
static int
bad_path(char *err, size_t errlen, const char *field)
{
	/* Fields are at most CR_FIELD_PATH_MAX - 1 bytes by the body specs:
	   echoed whole. */
	snprintf(err, errlen, "field '%s' is not a path of names made of "
	    "letters, digits, '_' and '-' joined by '.' (at most %d bytes)",
	    field != NULL ? field : "", CR_FIELD_PATH_MAX - 1);
	return -1;
}

int
cr_authz_fields_check(const json_t *fields, char *err, size_t errlen)
{
	const json_t *f;
	size_t i;

	json_array_foreach(fields, i, f)
		if (!json_is_string(f) ||
		    !cr_authz_path_valid(json_string_value(f)))
			return bad_path(err, errlen, json_string_value(f));
	return 0;
}

int
cr_authz_grant_check(const json_t *granted, const json_t *declared,
    const char *service, char *err, size_t errlen)
{
	struct ftree t;
	const json_t *f;
	const char *s;
	size_t i;
	int rc = 0;

	if (tree_build(&t, declared) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_array_foreach(granted, i, f) {
		s = json_string_value(f);
		/* Not a path: only as a service declared it before paths. */
		if (s == NULL || (!cr_authz_path_valid(s) &&
		    !field_listed(declared, s))) {
			rc = bad_path(err, errlen, s);
			break;
		}
		if (tree_lookup(&t, s, 0) == -1) {
			snprintf(err, errlen, "field '%s' is not declared by "
			    "service %s", s, service);
			rc = -1;
			break;
		}
	}
	free(t.n);
	return rc;
}

/* One walk of an answer against the marked tree. */
struct walk {
	const struct ftree	*t;
	struct cr_authz_drift	*drift;
	char			 path[CR_FIELD_PATH_MAX + 32];
	size_t			 plen;	/* may exceed the buffer: cut there */
};

static void
path_put(struct walk *w, const char *s, int sanitize)
{
	for (; *s != '\0'; s++, w->plen++)
		/* Source keys go to the operator's log: safe bytes only. */
		if (w->plen + 1 < sizeof(w->path))
			w->path[w->plen] = !sanitize ||
			    strchr(CR_FIELD_NAME_CHARS, *s) != NULL ? *s : '?';
	w->path[w->plen < sizeof(w->path) ? w->plen : sizeof(w->path) - 1] =
	    '\0';
}

/* Appends sep ("." or "[]") and name; returns the length before. */
static size_t
path_push(struct walk *w, const char *sep, const char *name)
{
	size_t before = w->plen;

	if (w->plen > 0 || *sep != '.')
		path_put(w, sep, 0);
	if (name != NULL)
		path_put(w, name, 1);
	return before;
}

static void
path_pop(struct walk *w, size_t before)
{
	w->plen = before;
	if (before < sizeof(w->path))
		w->path[before] = '\0';
}

/* Something the service does not declare at w->path (plus name). */
static void
undeclared(struct walk *w, const char *name)
{
	size_t before;

	if (w->drift == NULL)
		return;
	if (w->drift->undeclared++ == 0) {
		before = name != NULL ? path_push(w, ".", name) : w->plen;
		cr_util_strlcpy(w->drift->first, w->path,
		    sizeof(w->drift->first));
		path_pop(w, before);
	}
}

static int walk_value(struct walk *, int, int, int, const json_t *,
    json_t **);

/*
 * The members of obj at node (which has children). emit: build *out,
 * else only count what is undeclared (a part not granted). full: node's
 * whole declared subtree is granted.
 */
static int
walk_object(struct walk *w, int node, int full, int emit, const json_t *obj,
    json_t **out)
{
	const struct fnode *n = w->t->n;
	const char *key;
	json_t *v, *o = NULL, *cv;
	size_t before;
	int c, cemit, rc;

	*out = NULL;
	if (emit && (o = json_object()) == NULL)
		return -1;
	json_object_foreach((json_t *)obj, key, v) {
		if ((c = tree_find(w->t, node, key, strlen(key))) == -1) {
			undeclared(w, key);
			continue;
		}
		cemit = emit && (full || n[c].granted || n[c].partial);
		if (n[c].child == -1) {
			/* A leaf passes whole. */
			if (cemit && json_object_set(o, key, v) == -1)
				goto oom;
			continue;
		}
		before = path_push(w, ".", key);
		rc = walk_value(w, c, full || n[c].granted, cemit, v, &cv);
		path_pop(w, before);
		if (rc == -1)
			goto oom;
		if (cv != NULL && json_object_set_new(o, key, cv) == -1)
			goto oom;
	}
	*out = o;
	return 0;
oom:
	json_decref(o);
	return -1;
}

/*
 * A value at a node with declared children: an object is walked, a list
 * element by element, null stays null; anything else does not have the
 * declared shape and is dropped (*out NULL), counted as undeclared.
 */
static int
walk_value(struct walk *w, int node, int full, int emit, const json_t *v,
    json_t **out)
{
	json_t *a = NULL, *e, *ev;
	size_t i, before;

	*out = NULL;
	if (json_is_object(v))
		return walk_object(w, node, full, emit, v, out);
	if (json_is_null(v)) {
		if (emit && (*out = json_null()) == NULL)
			return -1;
		return 0;
	}
	if (!json_is_array(v)) {
		undeclared(w, NULL);
		return 0;
	}
	if (emit && (a = json_array()) == NULL)
		return -1;
	before = path_push(w, "[]", NULL);
	json_array_foreach(v, i, e) {
		if (walk_value(w, node, full, emit, e, &ev) == -1)
			goto oom;
		if (ev != NULL && json_array_append_new(a, ev) == -1)
			goto oom;
	}
	path_pop(w, before);
	*out = a;
	return 0;
oom:
	path_pop(w, before);
	json_decref(a);
	return -1;
}

json_t *
cr_authz_minimize(const json_t *declared, const json_t *granted,
    const json_t *data, struct cr_authz_drift *drift)
{
	struct ftree t;
	struct walk w;
	const json_t *f;
	const char *s;
	json_t *out = NULL;
	size_t i;

	if (drift != NULL)
		memset(drift, 0, sizeof(*drift));
	if (tree_build(&t, declared) == -1)
		return NULL;
	/* A grant the service does not declare (checked when the
	   authorization was made) grants nothing. */
	json_array_foreach(granted, i, f)
		if ((s = json_string_value(f)) != NULL && *s != '\0')
			(void)tree_lookup(&t, s, 1);
	memset(&w, 0, sizeof(w));
	w.t = &t;
	w.drift = drift;
	if (walk_object(&w, 0, 0, 1, data, &out) == -1)
		out = NULL;
	free(t.n);
	return out;
}

json_t *
cr_authz_filter(const struct cr_authz *a, const json_t *data)
{
	json_t *out, *field, *v;
	size_t i;

	if ((out = json_object()) == NULL)
		return NULL;
	json_array_foreach(a->fields, i, field) {
		const char *name = json_string_value(field);

		if (name == NULL)
			continue;
		v = json_object_get(data, name);
		if (v != NULL && json_object_set(out, name, v) == -1) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

const char *
cr_authz_fields_missing(const json_t *fields, const json_t *allowed)
{
	const json_t *f;
	size_t i;

	json_array_foreach(fields, i, f)
		if (!json_is_string(f) || !field_listed(allowed,
		    json_string_value(f)))
			return json_is_string(f) ? json_string_value(f) : "";
	return NULL;
}

json_t *
cr_authz_json(const struct cr_authz *a)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:O,s:O,s:s,s:s?}", "id", a->id,
	    "consumer", a->consumer, "service", a->service, "purpose",
	    a->purpose, "legal_basis", a->legal_basis, "fields", a->fields,
	    "capacities", a->capacities, "valid_from", a->valid_from,
	    "valid_to", a->valid_to[0] ? a->valid_to : NULL);
}

/* 1 when path is one of granted's or under one. */
static int
path_covered(const json_t *granted, const char *path)
{
	const json_t *g;
	const char *s;
	size_t i, n;

	json_array_foreach(granted, i, g) {
		if ((s = json_string_value(g)) == NULL)
			continue;
		n = strlen(s);
		if (strncmp(path, s, n) == 0 && (path[n] == '\0' ||
		    path[n] == '.'))
			return 1;
	}
	return 0;
}

const char *
cr_authz_fields_uncovered(const json_t *fields, const json_t *granted)
{
	const json_t *f;
	size_t i;

	json_array_foreach(fields, i, f)
		if (!json_is_string(f) || !path_covered(granted,
		    json_string_value(f)))
			return json_is_string(f) ? json_string_value(f) : "";
	return NULL;
}

int
cr_authz_fields_subset(const json_t *fields, const json_t *allowed)
{
	return cr_authz_fields_missing(fields, allowed) == NULL;
}

/*
 * Params.
 */

static const char *const param_types[] = { "string", "integer", "number",
	"boolean", "date", NULL };

/* What a value of each type is, for messages. */
static const char *const param_what[] = { "a string", "an integer",
	"a number", "true or false", "a date (YYYY-MM-DD)" };

static int
param_name_valid(const char *name)
{
	size_t n = strspn(name, CR_FIELD_NAME_CHARS);

	return n > 0 && n < CR_NAME_MAX && name[n] == '\0';
}

static int
param_type_index(const char *type)
{
	int i;

	for (i = 0; param_types[i] != NULL; i++)
		if (strcmp(param_types[i], type) == 0)
			return i;
	return -1;
}

int
cr_authz_params_decl_check(const json_t *decl, char *err, size_t errlen)
{
	const json_t *p, *q;
	const char *name, *type, *key;
	json_t *v;
	size_t i, j;

	if (decl == NULL)
		return 0;
	if (!json_is_array(decl) || json_array_size(decl) >
	    CR_PARAMS_DECL_MAX) {
		snprintf(err, errlen, "params must be an array of at most %d "
		    "{\"name\",\"type\"} objects", CR_PARAMS_DECL_MAX);
		return -1;
	}
	json_array_foreach(decl, i, p) {
		if (!json_is_object(p))
			goto shape;
		json_object_foreach((json_t *)p, key, v)
			if (strcmp(key, "name") != 0 && strcmp(key, "type") != 0)
				goto shape;
		name = json_string_value(json_object_get(p, "name"));
		type = json_string_value(json_object_get(p, "type"));
		if (name == NULL || type == NULL)
			goto shape;
		if (!param_name_valid(name)) {
			/* Echoed whole or not at all: never cut in a
			   character. */
			snprintf(err, errlen, "params[%zu]: name '%s' must be 1 "
			    "to %d letters, digits, '_' and '-'", i,
			    strlen(name) < CR_NAME_MAX ? name : "...",
			    CR_NAME_MAX - 1);
			return -1;
		}
		if (param_type_index(type) == -1) {
			snprintf(err, errlen, "params[%zu] (%s): type must be "
			    "string, integer, number, boolean or date", i, name);
			return -1;
		}
		json_array_foreach(decl, j, q) {
			if (j >= i)
				break;
			if (strcmp(json_string_value(json_object_get(q,
			    "name")), name) == 0) {
				snprintf(err, errlen, "params[%zu]: '%s' is "
				    "declared twice", i, name);
				return -1;
			}
		}
	}
	return 0;
shape:
	snprintf(err, errlen, "params[%zu] must be an object with exactly "
	    "\"name\" and \"type\", both strings", i);
	return -1;
}

static int
param_value_ok(int type, const json_t *v)
{
	switch (type) {
	case 0:
		return json_is_string(v);
	case 1:
		return json_is_integer(v);
	case 2:
		return json_is_number(v);
	case 3:
		return json_is_boolean(v);
	case 4:
		return json_is_string(v) &&
		    cr_date_valid(json_string_value(v)) == 0;
	default:
		return 0;
	}
}

int
cr_authz_params_check(const json_t *decl, const json_t *params,
    const char *service, char *err, size_t errlen)
{
	const json_t *p, *found;
	const char *key, *name;
	json_t *v;
	size_t i;
	int type;

	json_object_foreach((json_t *)params, key, v) {
		found = NULL;
		json_array_foreach(decl, i, p)
			if ((name = json_string_value(json_object_get(p,
			    "name"))) != NULL && strcmp(name, key) == 0) {
				found = p;
				break;
			}
		if (found == NULL) {
			/* A name no service could declare is not echoed:
			   cut, it could end inside a character. */
			if (param_name_valid(key))
				snprintf(err, errlen, "params.%s is not a "
				    "parameter of service %s%s", key, service,
				    json_array_size(decl) == 0 ?
				    ", which takes none" : "");
			else
				snprintf(err, errlen, "params has a member that "
				    "is not a parameter of service %s (names are "
				    "letters, digits, '_' and '-')", service);
			return -1;
		}
		type = param_type_index(jstr(found, "type"));
		if (!param_value_ok(type, v)) {
			snprintf(err, errlen, "params.%s must be %s", key,
			    type >= 0 ? param_what[type] : "valid");
			return -1;
		}
	}
	return 0;
}

void
cr_authz_from_json(const json_t *o, struct cr_authz *a)
{
	const json_t *caps = json_object_get(o, "capacities");

	memset(a, 0, sizeof(*a));
	cr_util_strlcpy(a->consumer, jstr(o, "consumer"), sizeof(a->consumer));
	cr_util_strlcpy(a->service, jstr(o, "service"), sizeof(a->service));
	cr_util_strlcpy(a->purpose, jstr(o, "purpose"), sizeof(a->purpose));
	cr_util_strlcpy(a->legal_basis, jstr(o, "legal_basis"),
	    sizeof(a->legal_basis));
	a->fields = json_incref(json_object_get(o, "fields"));
	a->capacities = caps != NULL ? json_incref((json_t *)caps) :
	    json_array();
	if (*jstr(o, "valid_from"))
		cr_util_strlcpy(a->valid_from, jstr(o, "valid_from"),
		    sizeof(a->valid_from));
	else
		cr_date_today(a->valid_from);
	cr_util_strlcpy(a->valid_to, jstr(o, "valid_to"), sizeof(a->valid_to));
}
