/*
 * The source adapter's config file (docs/source-adapter.md): global
 * "key = value" settings, then one "[service NAME]" section per service
 * with its path, its main query and named nested queries. The file is
 * parsed first, then the database is opened and every query prepared, so
 * that each mistake is reported at start-up as "FILE:LINE: what is wrong".
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "config.h"
#include "log.h"
#include "util.h"

#define AC_MAX_SERVICES		256
#define AC_MAX_QUERIES		32	/* per service, main included */
#define AC_MAX_ENTRY		(256 * 1024)

struct ac_parse {
	struct cr_adapter_config *cfg;
	const char		*file;
	char			*err;
	size_t			 errlen;
	int			 database_line;
};

static void CR_PRINTF(4, 5)
ac_error(struct ac_parse *p, int line, const char *what, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0 && what != NULL)
		snprintf(p->err, p->errlen, "%s:%d: %s: %s", p->file, line,
		    what, msg);
	else if (line > 0)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->file, line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->file, msg);
}

static int
valid_ident(const char *s)
{
	size_t n;

	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_')
			return 0;
	return n < 64;
}

static int
valid_service_name(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && strchr("._-", s[n]) ==
		    NULL)
			return 0;
	return n > 0 && n < CR_ADAPTER_NAME_MAX;
}

/* An institution id at the hub: as a service name, at most 63 bytes. */
static int
valid_provider(const char *s)
{
	return valid_service_name(s) && strlen(s) < 64;
}

static const char *const param_types[] = { "string", "integer", "number",
    "boolean", "date", NULL };

static int
valid_param_type(const char *s)
{
	size_t i;

	for (i = 0; param_types[i] != NULL; i++)
		if (strcmp(param_types[i], s) == 0)
			return 1;
	return 0;
}

/* *dst = strdup(v) for an institution id, or -1 with the error. */
static int
set_provider(struct ac_parse *p, int line, char **dst, const char *v)
{
	if (*dst != NULL) {
		ac_error(p, line, NULL, "duplicate key 'provider'");
		return -1;
	}
	if (!valid_provider(v)) {
		ac_error(p, line, "provider", "'%s' is not an institution id: "
		    "expected 1 to 63 letters, digits, '.', '_' or '-'", v);
		return -1;
	}
	if ((*dst = strdup(v)) == NULL) {
		ac_error(p, line, NULL, "out of memory");
		return -1;
	}
	return 0;
}

static int
valid_path(const char *s)
{
	size_t n;

	if (s[0] != '/')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && strchr("/._-~", s[n]) ==
		    NULL)
			return 0;
	return n < CR_ADAPTER_PATH_MAX;
}

/* "sqlite:rel" and "rel" become relative to the config file's directory. */
static char *
database_uri(const char *file, const char *v)
{
	const char *scheme = "", *path = v, *slash;
	char *out = NULL;
	int dirlen;

	if (strncmp(v, "sqlite:", 7) == 0) {
		scheme = "sqlite:";
		path = v + 7;
	}
	/* Another scheme (or none known) is left as it is. */
	if (path[0] == '/' || (slash = strrchr(file, '/')) == NULL ||
	    (*scheme == '\0' && strchr(v, ':') != NULL))
		return strdup(v);
	dirlen = (int)(slash - file);
	if (asprintf(&out, "%s%.*s/%s", scheme, dirlen, file, path) == -1)
		return NULL;
	return out;
}

static int
set_number(struct ac_parse *p, int line, const char *key, const char *v,
    unsigned long long min, unsigned long long max, unsigned long long *out)
{
	if (cr_util_parse_ull(v, min, max, out) == 0)
		return 0;
	ac_error(p, line, key, "expected a whole number from %llu to %llu",
	    min, max);
	return -1;
}

static int
set_global(struct ac_parse *p, int line, const char *key, const char *v)
{
	struct cr_adapter_config *c = p->cfg;
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned long long n;
	char why[CR_LISTEN_MAX + 160];
	int b;

	if (strcmp(key, "listen") == 0) {
		if (strlen(v) >= sizeof(c->listen)) {
			ac_error(p, line, key, "expected at most %zu "
			    "characters", sizeof(c->listen) - 1);
			return -1;
		}
		if (cr_addr_parse(v, &ss, &sslen, why, sizeof(why)) == -1) {
			ac_error(p, line, key, "%s", why);
			return -1;
		}
		cr_util_strlcpy(c->listen, v, sizeof(c->listen));
	} else if (strcmp(key, "access_log") == 0) {
		if ((b = cr_util_parse_bool(v)) == -1) {
			ac_error(p, line, key, "expected on or off");
			return -1;
		}
		c->access_log = b;
	} else if (strcmp(key, "database") == 0) {
		if (p->database_line != 0) {
			ac_error(p, line, key, "set twice (first at line %d)",
			    p->database_line);
			return -1;
		}
		free(c->database);
		if ((c->database = database_uri(p->file, v)) == NULL) {
			ac_error(p, line, key, "out of memory");
			return -1;
		}
		p->database_line = line;
	} else if (strcmp(key, "threads") == 0) {
		if (set_number(p, line, key, v, 0, 256, &n) == -1)
			return -1;
		c->threads = (unsigned)n;
	} else if (strcmp(key, "connection_limit") == 0) {
		if (set_number(p, line, key, v, 16, 1000000, &n) == -1)
			return -1;
		c->connection_limit = (unsigned)n;
	} else if (strcmp(key, "body_limit") == 0) {
		if (set_number(p, line, key, v, 1024, 1 << 24, &n) == -1)
			return -1;
		c->body_limit = (size_t)n;
	} else if (strcmp(key, "tls_cert") == 0 ||
	    strcmp(key, "tls_key") == 0 || strcmp(key, "tls_client_ca") == 0) {
		char **dst = strcmp(key, "tls_cert") == 0 ? &c->tls_cert :
		    strcmp(key, "tls_key") == 0 ? &c->tls_key :
		    &c->tls_client_ca;

		free(*dst);
		if ((*dst = database_uri(p->file, v)) == NULL) {
			ac_error(p, line, key, "out of memory");
			return -1;
		}
	} else if (strcmp(key, "tls_client_auth") == 0) {
		if (cr_config_tls_client_auth(v, &c->tls_client_auth) == -1) {
			ac_error(p, line, key, "expected none, optional or "
			    "require");
			return -1;
		}
	} else if (strcmp(key, "provider") == 0) {
		return set_provider(p, line, &c->provider, v);
	} else if (strcmp(key, "max_rows") == 0) {
		if (set_number(p, line, key, v, 1, 1000000, &n) == -1)
			return -1;
		c->max_rows = (size_t)n;
	} else {
		ac_error(p, line, NULL, "unknown key '%s'", key);
		return -1;
	}
	return 0;
}

static int
is_global_key(const char *key)
{
	static const char *const keys[] = { "listen", "database", "threads",
	    "connection_limit", "body_limit", "max_rows", "access_log",
	    "tls_cert", "tls_key", "tls_client_ca", "tls_client_auth",
	    "provider", NULL };
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		if (strcmp(keys[i], key) == 0)
			return 1;
	return 0;
}

static int
add_query(struct ac_parse *p, struct cr_adapter_service *s, int line,
    enum cr_adapter_query_kind kind, const char *name, const char *sql)
{
	struct cr_adapter_query *q, *nq;
	size_t i, at;

	for (i = 0; i < s->nqueries; i++) {
		q = &s->queries[i];
		if (kind == CR_AQ_MAIN && q->kind == CR_AQ_MAIN) {
			ac_error(p, line, NULL, "duplicate key 'query' (first "
			    "at line %d)", q->line);
			return -1;
		}
		if (name != NULL && q->name != NULL &&
		    strcmp(q->name, name) == 0) {
			ac_error(p, line, NULL, "duplicate nested query '%s' "
			    "(first at line %d)", name, q->line);
			return -1;
		}
	}
	if (s->nqueries >= AC_MAX_QUERIES) {
		ac_error(p, line, NULL, "more than %d queries in service '%s'",
		    AC_MAX_QUERIES, s->name);
		return -1;
	}
	if ((nq = realloc(s->queries, (s->nqueries + 1) * sizeof(*nq))) ==
	    NULL)
		goto oom;
	s->queries = nq;
	/* The main query goes first, wherever it was written. */
	at = s->nqueries;
	if (kind == CR_AQ_MAIN) {
		memmove(nq + 1, nq, s->nqueries * sizeof(*nq));
		at = 0;
	}
	q = &nq[at];
	memset(q, 0, sizeof(*q));
	s->nqueries++;
	q->kind = kind;
	q->line = line;
	q->qid = -1;
	if ((q->sql = strdup(sql)) == NULL ||
	    (name != NULL && (q->name = strdup(name)) == NULL))
		goto oom;
	return 0;
oom:
	ac_error(p, line, NULL, "out of memory");
	return -1;
}

/* "param NAME = TYPE": the type the hub's registration declares. */
static int
add_param(struct ac_parse *p, struct cr_adapter_service *s, int line,
    const char *name, const char *type)
{
	struct cr_adapter_param *np;
	size_t i;

	if (!valid_ident(name)) {
		ac_error(p, line, NULL, "bad name '%s' for a param: expected "
		    "letters, digits and '_'", name);
		return -1;
	}
	if (!valid_param_type(type)) {
		ac_error(p, line, NULL, "param %s: unknown type '%s': expected "
		    "string, integer, number, boolean or date", name, type);
		return -1;
	}
	for (i = 0; i < s->nparams; i++) {
		if (strcmp(s->params[i].name, name) == 0) {
			ac_error(p, line, NULL, "duplicate param '%s' (first "
			    "at line %d)", name, s->params[i].line);
			return -1;
		}
	}
	if (s->nparams >= 64) {
		ac_error(p, line, NULL, "more than 64 params in service '%s'",
		    s->name);
		return -1;
	}
	if ((np = realloc(s->params, (s->nparams + 1) * sizeof(*np))) ==
	    NULL)
		goto oom;
	s->params = np;
	np = &s->params[s->nparams];
	memset(np, 0, sizeof(*np));
	np->line = line;
	s->nparams++;
	if ((np->name = strdup(name)) == NULL ||
	    (np->type = strdup(type)) == NULL)
		goto oom;
	return 0;
oom:
	ac_error(p, line, NULL, "out of memory");
	return -1;
}

static int
set_service_key(struct ac_parse *p, struct cr_adapter_service *s, int line,
    char *key, const char *v)
{
	char *sp;

	if (strcmp(key, "path") == 0) {
		if (s->path_line != 0) {
			ac_error(p, line, NULL, "duplicate key 'path' (first "
			    "at line %d)", s->path_line);
			return -1;
		}
		if (!valid_path(v)) {
			ac_error(p, line, key, "'%s' is not a path: expected "
			    "/ then letters, digits, '/', '.', '_', '-' or '~'",
			    v);
			return -1;
		}
		cr_util_strlcpy(s->path, v, sizeof(s->path));
		s->path_line = line;
		return 0;
	}
	if (strcmp(key, "query") == 0)
		return add_query(p, s, line, CR_AQ_MAIN, NULL, v);
	if (strcmp(key, "provider") == 0)
		return set_provider(p, line, &s->provider, v);
	if ((sp = strpbrk(key, " \t")) != NULL) {
		enum cr_adapter_query_kind kind;
		char *name;

		*sp = '\0';
		name = cr_util_trim(sp + 1);
		if (strcmp(key, "param") == 0)
			return add_param(p, s, line, name, v);
		if (strcmp(key, "list") == 0)
			kind = CR_AQ_LIST;
		else if (strcmp(key, "object") == 0)
			kind = CR_AQ_OBJECT;
		else {
			ac_error(p, line, NULL, "unknown key '%s %s': expected "
			    "path, provider, query, 'list NAME', 'object NAME' "
			    "or 'param NAME'", key, name);
			return -1;
		}
		if (!valid_ident(name)) {
			ac_error(p, line, NULL, "bad name '%s' for a nested "
			    "%s: expected letters, digits and '_'", name, key);
			return -1;
		}
		return add_query(p, s, line, kind, name, v);
	}
	if (is_global_key(key))
		ac_error(p, line, NULL, "'%s' is a global setting: put it "
		    "before the first [service ...] section", key);
	else
		ac_error(p, line, NULL, "unknown key '%s': expected path, "
		    "provider, query, 'list NAME', 'object NAME' or "
		    "'param NAME'", key);
	return -1;
}

static int
open_service(struct ac_parse *p, int line, char *header)
{
	struct cr_adapter_config *c = p->cfg;
	struct cr_adapter_service *s;
	char *name;
	size_t i, n = strlen(header);

	if (n < 2 || header[n - 1] != ']' || strncmp(header, "[service",
	    8) != 0 || !isspace((unsigned char)header[8])) {
		ac_error(p, line, NULL, "unknown section '%s': expected "
		    "[service NAME]", header);
		return -1;
	}
	header[n - 1] = '\0';
	name = cr_util_trim(header + 8);
	if (!valid_service_name(name)) {
		ac_error(p, line, NULL, "bad service name '%s': expected "
		    "letters, digits, '.', '_' or '-'", name);
		return -1;
	}
	for (i = 0; i < c->nservices; i++) {
		if (strcmp(c->services[i].name, name) == 0) {
			ac_error(p, line, NULL, "duplicate service '%s' "
			    "(first at line %d)", name, c->services[i].line);
			return -1;
		}
	}
	if (c->nservices >= AC_MAX_SERVICES) {
		ac_error(p, line, NULL, "more than %d services",
		    AC_MAX_SERVICES);
		return -1;
	}
	s = realloc(c->services, (c->nservices + 1) * sizeof(*s));
	if (s == NULL) {
		ac_error(p, line, NULL, "out of memory");
		return -1;
	}
	c->services = s;
	s = &c->services[c->nservices++];
	memset(s, 0, sizeof(*s));
	cr_util_strlcpy(s->name, name, sizeof(s->name));
	s->line = line;
	return 0;
}

static int
parse_entry(struct ac_parse *p, int line, char *s)
{
	struct cr_adapter_config *c = p->cfg;
	char *eq, *key, *value;

	if (*s == '[')
		return open_service(p, line, s);
	if ((eq = strchr(s, '=')) == NULL) {
		ac_error(p, line, NULL, "expected 'key = value' or "
		    "'[service NAME]'");
		return -1;
	}
	*eq = '\0';
	key = cr_util_trim(s);
	value = cr_util_trim(eq + 1);
	if (*key == '\0') {
		ac_error(p, line, NULL, "missing key before '='");
		return -1;
	}
	if (*value == '\0') {
		ac_error(p, line, key, "missing value");
		return -1;
	}
	if (c->nservices == 0)
		return set_global(p, line, key, value);
	return set_service_key(p, &c->services[c->nservices - 1], line, key,
	    value);
}

/*
 * Cuts a comment off line: '#' at the start or after a blank, outside
 * '...' and "..." (SQL strings may hold '#'). *quote carries an open quote
 * over continued lines.
 */
static void
strip_comment(char *line, char *quote)
{
	char *s;

	for (s = line; *s != '\0'; s++) {
		if (*quote != '\0') {
			if (*s == *quote)
				*quote = '\0';
			continue;
		}
		if (*s == '\'' || *s == '"')
			*quote = *s;
		else if (*s == '#' && (s == line ||
		    isspace((unsigned char)s[-1]))) {
			*s = '\0';
			return;
		}
	}
}

static int
parse_file(struct ac_parse *p, FILE *f)
{
	char *line = NULL, *entry = NULL, *s, quote = '\0';
	size_t cap = 0, elen = 0, n;
	ssize_t len;
	int lineno = 0, first = 0, rc = -1;

	while ((len = getline(&line, &cap, f)) != -1) {
		int more;

		lineno++;
		if (first == 0) {
			first = lineno;
			quote = '\0';
		}
		strip_comment(line, &quote);
		s = cr_util_trim(line);
		n = strlen(s);
		/* A trailing backslash continues the entry on the next line. */
		more = n > 0 && s[n - 1] == '\\';
		if (more) {
			s[--n] = '\0';
			s = cr_util_trim(s);
			n = strlen(s);
		}
		if (elen + n + 2 > AC_MAX_ENTRY) {
			ac_error(p, first, NULL, "entry longer than %d bytes",
			    AC_MAX_ENTRY);
			goto out;
		}
		if (n > 0) {
			char *ne = realloc(entry, elen + n + 2);

			if (ne == NULL) {
				ac_error(p, first, NULL, "out of memory");
				goto out;
			}
			entry = ne;
			if (elen > 0)
				entry[elen++] = ' ';
			memcpy(entry + elen, s, n + 1);
			elen += n;
		}
		if (more)
			continue;
		if (elen > 0 && parse_entry(p, first, entry) == -1)
			goto out;
		elen = 0;
		first = 0;
	}
	if (ferror(f)) {
		ac_error(p, 0, NULL, "read error: %s", strerror(errno));
		goto out;
	}
	if (elen > 0 && parse_entry(p, first, entry) == -1)
		goto out;
	rc = 0;
out:
	free(line);
	free(entry);
	return rc;
}

/* Maps a query's parameters to their sources; nested queries may use the
   main row's columns. */
static int
map_args(struct ac_parse *p, const struct cr_adapter_service *s,
    struct cr_adapter_query *q)
{
	const struct cr_srcdb_shape *main_shape = &s->queries[0].shape;
	size_t i, j;

	if (q->shape.nparams > 0 &&
	    (q->args = calloc(q->shape.nparams, sizeof(*q->args))) == NULL) {
		ac_error(p, q->line, NULL, "out of memory");
		return -1;
	}
	for (i = 0; i < q->shape.nparams; i++) {
		const char *pn = q->shape.params[i];
		struct cr_adapter_arg *a = &q->args[i];

		q->nargs++;
		if (strcmp(pn, "subject") == 0) {
			a->kind = CR_AA_SUBJECT;
			continue;
		}
		if (strncmp(pn, "params.", 7) == 0) {
			a->kind = CR_AA_PARAM;
			a->name = strdup(pn + 7);
		} else {
			if (q->kind == CR_AQ_MAIN) {
				ac_error(p, q->line, NULL, "parameter ':%s' is "
				    "not supported: the main query takes "
				    ":subject and :params.NAME", pn);
				return -1;
			}
			for (j = 0; j < main_shape->ncolumns; j++)
				if (strcmp(main_shape->columns[j], pn) == 0)
					break;
			if (j == main_shape->ncolumns) {
				ac_error(p, q->line, NULL, "parameter ':%s' is "
				    "not supported: expected :subject, "
				    ":params.NAME or a column of the main "
				    "query (line %d)", pn, s->queries[0].line);
				return -1;
			}
			a->kind = CR_AA_COLUMN;
			a->name = strdup(pn);
		}
		if (a->name == NULL) {
			ac_error(p, q->line, NULL, "out of memory");
			return -1;
		}
	}
	/* Without :subject every consultation, whoever it is about, would
	   get the same row: a mistake, never a design. */
	if (q->kind == CR_AQ_MAIN) {
		for (i = 0; i < q->nargs; i++)
			if (q->args[i].kind == CR_AA_SUBJECT)
				break;
		if (i == q->nargs) {
			ac_error(p, q->line, NULL, "service '%s': the main "
			    "query does not use :subject, so it would answer "
			    "the same row for every person: add WHERE ... = "
			    ":subject", s->name);
			return -1;
		}
	}
	return 0;
}

/* Whether a query of s takes :params.NAME. */
static int
param_used(const struct cr_adapter_service *s, const char *name)
{
	size_t i, j;

	for (i = 0; i < s->nqueries; i++)
		for (j = 0; j < s->queries[i].nargs; j++)
			if (s->queries[i].args[j].kind == CR_AA_PARAM &&
			    strcmp(s->queries[i].args[j].name, name) == 0)
				return 1;
	return 0;
}

static int
check_service(struct ac_parse *p, struct cr_adapter_service *s)
{
	struct cr_adapter_config *c = p->cfg;
	char why[512];
	size_t i, j;

	for (i = 0; i < s->nqueries; i++) {
		struct cr_adapter_query *q = &s->queries[i];

		q->qid = c->db->ops->prepare(c->db, q->sql, &q->shape, why,
		    sizeof(why));
		if (q->qid < 0) {
			ac_error(p, q->line, NULL, "%s", why);
			return -1;
		}
		if (map_args(p, s, q) == -1)
			return -1;
		if (q->name == NULL)
			continue;
		for (j = 0; j < s->queries[0].shape.ncolumns; j++) {
			if (strcmp(s->queries[0].shape.columns[j],
			    q->name) == 0) {
				ac_error(p, q->line, NULL, "'%s' is already a "
				    "column of the main query (line %d)",
				    q->name, s->queries[0].line);
				return -1;
			}
		}
	}
	for (i = 0; i < s->nparams; i++) {
		if (!param_used(s, s->params[i].name)) {
			ac_error(p, s->params[i].line, NULL, "param %s: no "
			    "query of service '%s' uses :params.%s",
			    s->params[i].name, s->name, s->params[i].name);
			return -1;
		}
	}
	return 0;
}

static int
check_config(struct ac_parse *p)
{
	struct cr_adapter_config *c = p->cfg;
	char why[512];
	size_t i, j;

	if (c->database == NULL) {
		ac_error(p, 0, NULL, "no 'database = ...' setting");
		return -1;
	}
	if (c->nservices == 0) {
		ac_error(p, 0, NULL, "no [service NAME] section");
		return -1;
	}
	for (i = 0; i < c->nservices; i++) {
		struct cr_adapter_service *s = &c->services[i];

		if (s->path_line == 0) {
			ac_error(p, s->line, NULL, "service '%s': missing "
			    "'path = /...'", s->name);
			return -1;
		}
		if (s->nqueries == 0 || s->queries[0].kind != CR_AQ_MAIN) {
			ac_error(p, s->line, NULL, "service '%s': missing "
			    "'query = SELECT ...'", s->name);
			return -1;
		}
		if (strcmp(s->path, "/healthz") == 0 ||
		    strcmp(s->path, "/metrics") == 0) {
			ac_error(p, s->path_line, "path", "%s is reserved",
			    s->path);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(c->services[j].path, s->path) == 0) {
				ac_error(p, s->path_line, "path", "%s is "
				    "already the path of service '%s' (line "
				    "%d)", s->path, c->services[j].name,
				    c->services[j].path_line);
				return -1;
			}
		}
	}
	if (cr_srcdb_open(c->database, &c->db, why, sizeof(why)) == -1) {
		ac_error(p, p->database_line, "database", "%s", why);
		return -1;
	}
	for (i = 0; i < c->nservices; i++)
		if (check_service(p, &c->services[i]) == -1)
			return -1;
	return 0;
}

/* The defaults, before the file is read. 0 or -1 (out of memory). */
static int
config_init(struct cr_adapter_config *c, struct ac_parse *p,
    const char *path, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	cr_util_strlcpy(c->listen, "127.0.0.1:9001", sizeof(c->listen));
	c->connection_limit = 1024;
	c->body_limit = 64 * 1024;
	c->max_rows = 1000;
	c->access_log = 1;
	c->tls_client_auth = -1;
	memset(p, 0, sizeof(*p));
	p->cfg = c;
	p->file = path;
	p->err = err;
	p->errlen = errlen;
	if ((c->file = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	return 0;
}

int
cr_adapter_config_load(struct cr_adapter_config *c, const char *path,
    char *err, size_t errlen)
{
	struct ac_parse p;
	FILE *f = NULL;
	int rc = -1;

	if (config_init(c, &p, path, err, errlen) == -1)
		return -1;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (parse_file(&p, f) == -1 || check_config(&p) == -1)
		goto out;
	rc = 0;
out:
	fclose(f);
	return rc;
}

int
cr_adapter_config_parse(struct cr_adapter_config *c, const char *name,
    const char *text, size_t len, char *err, size_t errlen)
{
	struct ac_parse p;
	FILE *f;
	int rc;

	if (config_init(c, &p, name, err, errlen) == -1)
		return -1;
	/* Read-only: fmemopen does not write through a "r" stream. */
	if ((f = fmemopen((void *)(uintptr_t)text, len, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	rc = parse_file(&p, f);
	fclose(f);
	return rc;
}

void
cr_adapter_config_free(struct cr_adapter_config *c)
{
	size_t i, j, k;

	if (c == NULL)
		return;
	for (i = 0; i < c->nservices; i++) {
		struct cr_adapter_service *s = &c->services[i];

		for (j = 0; j < s->nqueries; j++) {
			struct cr_adapter_query *q = &s->queries[j];

			for (k = 0; k < q->nargs; k++)
				free(q->args[k].name);
			free(q->args);
			free(q->name);
			free(q->sql);
			cr_srcdb_shape_free(&q->shape);
		}
		free(s->queries);
		for (j = 0; j < s->nparams; j++) {
			free(s->params[j].name);
			free(s->params[j].type);
		}
		free(s->params);
		free(s->provider);
	}
	free(c->services);
	cr_srcdb_close(c->db);
	free(c->database);
	free(c->provider);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_client_ca);
	free(c->file);
	memset(c, 0, sizeof(*c));
}

const struct cr_adapter_service *
cr_adapter_service_by_path(const struct cr_adapter_config *c,
    const char *path)
{
	size_t i;

	for (i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].path, path) == 0)
			return &c->services[i];
	return NULL;
}

/* Appends s to the array unless it is there already. 0 or -1. */
static int
append_unique(json_t *a, const char *s)
{
	size_t i;

	for (i = 0; i < json_array_size(a); i++)
		if (strcmp(json_string_value(json_array_get(a, i)), s) == 0)
			return 0;
	return json_array_append_new(a, json_string(s));
}

static const char *
param_type(const struct cr_adapter_service *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nparams; i++)
		if (strcmp(s->params[i].name, name) == 0)
			return s->params[i].type;
	return "string";
}

json_t *
cr_adapter_registration(const struct cr_adapter_config *c,
    const struct cr_adapter_service *s)
{
	json_t *body = NULL, *fields = NULL, *params = NULL, *seen = NULL;
	char path[512];
	const char *provider;
	size_t i, j;

	provider = s->provider != NULL ? s->provider : c->provider != NULL ?
	    c->provider : CR_ADAPTER_PROVIDER_UNSET;
	if ((fields = json_array()) == NULL || (params = json_array()) ==
	    NULL || (seen = json_array()) == NULL)
		goto fail;
	for (i = 0; i < s->nqueries; i++) {
		const struct cr_adapter_query *q = &s->queries[i];

		for (j = 0; j < q->shape.ncolumns; j++) {
			if (q->name == NULL)
				snprintf(path, sizeof(path), "%s",
				    q->shape.columns[j]);
			else
				snprintf(path, sizeof(path), "%s.%s", q->name,
				    q->shape.columns[j]);
			if (append_unique(fields, path) == -1)
				goto fail;
		}
		for (j = 0; j < q->nargs; j++) {
			const char *n = q->args[j].name;
			size_t before = json_array_size(seen);

			if (q->args[j].kind != CR_AA_PARAM)
				continue;
			if (append_unique(seen, n) == -1)
				goto fail;
			if (json_array_size(seen) == before)
				continue;	/* used twice */
			if (json_array_append_new(params, json_pack("{s:s,s:s}",
			    "name", n, "type", param_type(s, n))) == -1)
				goto fail;
		}
	}
	body = json_pack("{s:s,s:s,s:s++,s:O}", "id", s->name, "provider",
	    provider, "endpoint", c->tls_cert != NULL ? "https://" :
	    "http://", c->listen, s->path, "fields", fields);
	if (body != NULL && json_array_size(params) > 0 &&
	    json_object_set(body, "params", params) == -1) {
		json_decref(body);
		body = NULL;
	}
fail:
	json_decref(fields);
	json_decref(params);
	json_decref(seen);
	return body;
}
