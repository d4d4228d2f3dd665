/*
 * Backend selection for the storage interface (store.h).
 */
#include <string.h>

#include "log.h"
#include "store.h"

#define SQLITE_PREFIX	"sqlite:"

/*
 * PostgreSQL URLs (libpq's two schemes). Anything else without the
 * "sqlite:" prefix is a plain path, so that a file called "data:1.db"
 * still opens; other "name:" prefixes of PostgreSQL are refused rather
 * than created as files.
 */
static const char *const pg_schemes[] = {
	"postgresql://",
	"postgres://",
	NULL
};
static const char *const unbuilt_backends[] = {
	"postgres:",
	"postgresql:",
	"pgsql:",
	NULL
};

static int
sqlite_open(const char *path, int rdonly, struct cr_store **out)
{
	return rdonly ? cr_store_sqlite_open_readonly(path, out) :
	    cr_store_sqlite_open(path, out);
}

static int
store_open(const char *uri, int rdonly, struct cr_store **out)
{
	const char *sep;
	size_t i;

	*out = NULL;
	if (uri == NULL || *uri == '\0') {
		log_warnx("store: empty database location");
		return -1;
	}
	if (strncmp(uri, SQLITE_PREFIX, strlen(SQLITE_PREFIX)) == 0)
		return sqlite_open(uri + strlen(SQLITE_PREFIX), rdonly, out);
	for (i = 0; pg_schemes[i] != NULL; i++)
		if (strncmp(uri, pg_schemes[i], strlen(pg_schemes[i])) == 0)
			return rdonly ? cr_store_pg_open_readonly(uri, out) :
			    cr_store_pg_open(uri, out);
	for (i = 0; unbuilt_backends[i] != NULL; i++) {
		if (strncmp(uri, unbuilt_backends[i],
		    strlen(unbuilt_backends[i])) == 0) {
			log_warnx("store: %.*s: not a PostgreSQL URL (%s//...)",
			    (int)strlen(unbuilt_backends[i]) - 1, uri,
			    unbuilt_backends[i]);
			return -1;
		}
	}
	/*
	 * A URL-like location ("scheme://...") is never a file we should
	 * create. Only the scheme is logged: the rest may hold a password.
	 */
	if ((sep = strstr(uri, "://")) != NULL) {
		log_warnx("store: %.*s: unknown backend", (int)(sep - uri),
		    uri);
		return -1;
	}
	return sqlite_open(uri, rdonly, out);
}

/* The first concern st does not store, by what users call it; NULL when
   it stores them all. */
static const char *
missing_concern(const struct cr_store *st)
{
	if (st->xlog == NULL)
		return "the exchange log";
	if (st->directory == NULL)
		return "the reference directory";
	if (st->events == NULL)
		return "events";
	if (st->batches == NULL)
		return "bundles and batches";
	if (st->audit == NULL)
		return "the audit trail";
	if (st->registry == NULL)
		return "the registry";
	return NULL;
}

/* A whole hub's store, or none: no caller meets a NULL concern. */
static int
store_open_whole(const char *uri, int rdonly, struct cr_store **out)
{
	const char *missing;

	if (store_open(uri, rdonly, out) == -1)
		return -1;
	if ((missing = missing_concern(*out)) != NULL) {
		log_warnx("store: the %s backend does not store %s yet",
		    (*out)->name, missing);
		cr_store_close(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int
cr_store_open(const char *uri, struct cr_store **out)
{
	return store_open_whole(uri, 0, out);
}

int
cr_store_open_readonly(const char *uri, struct cr_store **out)
{
	return store_open_whole(uri, 1, out);
}

int
cr_store_open_partial(const char *uri, struct cr_store **out)
{
	return store_open(uri, 0, out);
}

void
cr_store_close(struct cr_store *st)
{
	if (st != NULL)
		st->close(st);
}
