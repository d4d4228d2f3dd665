/*
 * Backend selection for the storage interface (store.h).
 */
#include <string.h>

#include "log.h"
#include "store.h"

#define SQLITE_PREFIX	"sqlite:"

/*
 * "name:" prefixes that name a backend this build does not have. Anything
 * else without the "sqlite:" prefix is a plain path, so that a file called
 * "data:1.db" still opens.
 */
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
	for (i = 0; unbuilt_backends[i] != NULL; i++) {
		if (strncmp(uri, unbuilt_backends[i],
		    strlen(unbuilt_backends[i])) == 0) {
			log_warnx("store: %.*s: backend not built",
			    (int)strlen(unbuilt_backends[i]) - 1, uri);
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

int
cr_store_open(const char *uri, struct cr_store **out)
{
	return store_open(uri, 0, out);
}

int
cr_store_open_readonly(const char *uri, struct cr_store **out)
{
	return store_open(uri, 1, out);
}

void
cr_store_close(struct cr_store *st)
{
	if (st != NULL)
		st->close(st);
}
