/*
 * crossroads demo: a whole country on 127.0.0.1 in seconds. Generates a
 * synthetic country (crossroads gen), loads its registry and reference
 * directory into a fresh hub database, starts one source adapter per
 * registry and the hub, loads the social-assistance bundle and an event
 * type through the hub's API, then prints the URLs, the tokens and the
 * commands to paste: consultations, the exchange log, an event to publish
 * and read, a verification. Ctrl-C (or SIGTERM) stops every process it
 * started.
 *
 * Each step runs this same binary as a child (/proc/self/exe), so the
 * demo is exactly what an operator would run by hand.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "cmd.h"
#include "date.h"
#include "log.h"
#include "util.h"

extern char **environ;

#define DEMO_MAX_CHILDREN	32
#define DEMO_READY_MS		15000
#define DEMO_BUNDLE		"bundle-social-assistance.json"
#define DEMO_EVENT_TYPE		"population.address_changed"
#define CR_URL_MAX_DEMO		1024	/* the hub's limit on endpoints */

static const struct cr_cmd_opt demo_opts[] = {
	{ "dir", 'd', "DIR", "the country and logs (crossroads-demo)" },
	{ "persons", 'n', "N", "persons in the country (5000)" },
	{ "seed", 's', "S", "random seed (1)" },
	{ "port", 'p', "PORT", "the hub's port on 127.0.0.1 (8080)" },
	{ "base-port", 'b', "PORT", "the first source's port (9101)" },
	{ NULL, 0, NULL, NULL }
};

static const struct cr_cmd demo_cmd = {
	"demo", "[--dir DIR] [--persons N] [--seed S] [--port PORT]\n"
	    "           [--base-port PORT]",
	"run a synthetic country: its sources and the hub", demo_opts,
	"Generates the country, loads the hub's registry and reference\n"
	"directory, starts one source adapter per registry and the hub on\n"
	"127.0.0.1, and prints commands to try. Ctrl-C stops everything.\n"
};

struct demo {
	char		 exe[PATH_MAX];
	const char	*dir;
	char		 persons[24];
	char		 seed[24];
	unsigned	 port, base_port;
	char		 admin[64];
	pid_t		 children[DEMO_MAX_CHILDREN];
	char		 names[DEMO_MAX_CHILDREN][64];
	unsigned	 ports[DEMO_MAX_CHILDREN];
	int		 https[DEMO_MAX_CHILDREN];
	char		 tls[PATH_MAX];		/* the demo CA's directory */
	char		 cacert[PATH_MAX + 16];	/* tls/ca.pem */
	char		 cert[PATH_MAX + 16];	/* tls/hub-client.pem */
	char		 key[PATH_MAX + 16];	/* and its key */
	size_t		 nchildren;
};

/* Runs exe with args; output to logfile (appended) when given. */
static pid_t
demo_spawn(struct demo *d, char *const argv[], const char *logfile,
    char *const envp[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int err;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (logfile != NULL) {
		posix_spawn_file_actions_addopen(&fa, 1, logfile,
		    O_WRONLY | O_CREAT | O_APPEND, 0640);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	err = posix_spawn(&pid, d->exe, &fa, NULL, argv,
	    envp != NULL ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0) {
		errno = err;
		log_warn("spawn %s", argv[1]);
		return -1;
	}
	return pid;
}

/*
 * The hub's environment: ours (PATH, the locale, and the sanitizer options
 * of a `make check-asan` or `make check-tsan` run, without which its reports
 * would not fail the run) with the demo's operator token in place of any
 * other. The array is the caller's to free, not its strings.
 */
static char **
demo_hub_env(char *envtok)
{
	static const char name[] = "CROSSROADS_ADMIN_TOKEN=";
	size_t n = 0, i, j = 0;
	char **envp;

	while (environ[n] != NULL)
		n++;
	if ((envp = calloc(n + 2, sizeof(*envp))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], name, sizeof(name) - 1) != 0)
			envp[j++] = environ[i];
	envp[j++] = envtok;
	envp[j] = NULL;
	return envp;
}

/* Runs a step to completion; 0 when it exited 0. */
static int
demo_run(struct demo *d, char *const argv[], const char *logfile)
{
	pid_t pid;
	int status;

	if ((pid = demo_spawn(d, argv, logfile, NULL)) == -1)
		return -1;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "crossroads demo: '%s %s' failed; see %s\n",
	    argv[0], argv[1], logfile != NULL ? logfile : "above");
	return -1;
}

static int
demo_start(struct demo *d, const char *name, unsigned port, int https,
    char *const argv[], char *const envp[])
{
	char logfile[PATH_MAX];
	pid_t pid;

	if (d->nchildren == DEMO_MAX_CHILDREN)
		return -1;
	snprintf(logfile, sizeof(logfile), "%s/logs/%s.log", d->dir, name);
	if ((pid = demo_spawn(d, argv, logfile, envp)) == -1)
		return -1;
	d->children[d->nchildren] = pid;
	cr_util_strlcpy(d->names[d->nchildren], name, sizeof(d->names[0]));
	d->ports[d->nchildren] = port;
	d->https[d->nchildren] = https;
	d->nchildren++;
	return 0;
}

static void
demo_stop_all(struct demo *d)
{
	size_t i;

	for (i = 0; i < d->nchildren; i++)
		kill(d->children[i], SIGTERM);
	for (i = 0; i < d->nchildren; i++)
		while (waitpid(d->children[i], NULL, 0) == -1 && errno == EINTR)
			;
	d->nchildren = 0;
}

/*
 * One request to a child: GET without body, else POST of body's JSON,
 * with the token when given. The HTTP status (0: no answer) and, when
 * answer is not NULL, the JSON answer (new reference, NULL if none).
 */
static long
http_call(const char *url, const char *token, const json_t *body,
    json_t **answer)
{
	struct cr_cmd_answer a = { 0 };
	char *text = NULL;
	long code = 0;

	if (answer != NULL)
		*answer = NULL;
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL)
		return 0;
	if (cr_cmd_http(body != NULL ? "POST" : "GET", url, token,
	    body != NULL ? "application/json" : NULL, text,
	    text != NULL ? strlen(text) : 0, 10000, &a, &code) == -1)
		code = 0;
	if (answer != NULL && a.len > 0)
		*answer = json_loadb(a.buf, a.len, 0, NULL);
	cr_cmd_answer_free(&a);
	free(text);
	return code;
}

static int
http_ok(const char *url)
{
	return http_call(url, NULL, NULL, NULL) == 200;
}

/*
 * A call to the hub that must answer `want`; the answer (new reference)
 * or NULL, said on stderr. Takes body.
 */
static json_t *
hub_call(struct demo *d, const char *token, const char *path, json_t *body,
    long want)
{
	char url[512], *text;
	json_t *ans;
	long code;

	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", d->port, path);
	code = http_call(url, token, body, &ans);
	json_decref(body);
	if (code == want && ans != NULL)
		return ans;
	text = ans != NULL ? json_dumps(ans, JSON_COMPACT) : NULL;
	fprintf(stderr, "crossroads demo: %s: HTTP %ld %s\n", path, code,
	    text != NULL ? text : "");
	free(text);
	json_decref(ans);
	return NULL;
}

/* Waits until every child answers /healthz, or one of them died. */
static int
demo_wait_ready(struct demo *d)
{
	double deadline = cr_util_mono_ms() + DEMO_READY_MS;
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	char url[128];
	size_t i, ready;
	int status;

	do {
		for (i = 0, ready = 0; i < d->nchildren; i++) {
			if (waitpid(d->children[i], &status, WNOHANG) ==
			    d->children[i]) {
				fprintf(stderr, "crossroads demo: %s exited; "
				    "see %s/logs/%s.log\n", d->names[i],
				    d->dir, d->names[i]);
				d->children[i] = d->children[--d->nchildren];
				return -1;
			}
			snprintf(url, sizeof(url),
			    "%s://127.0.0.1:%u/healthz", d->https[i] ?
			    "https" : "http", d->ports[i]);
			ready += http_ok(url);
		}
		if (ready == d->nchildren)
			return 0;
		nanosleep(&pause, NULL);
	} while (cr_util_mono_ms() < deadline);
	fprintf(stderr, "crossroads demo: not ready after %d s; see %s/logs\n",
	    DEMO_READY_MS / 1000, d->dir);
	return -1;
}

/* The listen port of an adapter config ("listen = 127.0.0.1:PORT"). */
static unsigned
config_port(const char *path)
{
	char line[512], *p;
	unsigned long long port = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		p = cr_util_trim(line);
		if (strncmp(p, "listen", 6) != 0 || (p = strrchr(p, ':')) ==
		    NULL)
			continue;
		if (cr_util_parse_ull(cr_util_trim(p + 1), 1, 65535, &port) ==
		    -1)
			port = 0;
		break;
	}
	fclose(f);
	return (unsigned)port;
}

static int
demo_start_sources(struct demo *d)
{
	char path[PATH_MAX], name[64];
	char cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	struct dirent **ents;
	int n, i, rc = 0;

	/* HTTPS, and only the hub's certificate gets an answer. */
	snprintf(cert, sizeof(cert), "%s/source.pem", d->tls);
	snprintf(key, sizeof(key), "%s/source.key", d->tls);
	snprintf(ca, sizeof(ca), "%s/ca.pem", d->tls);
	if ((n = scandir(d->dir, &ents, NULL, alphasort)) == -1) {
		log_warn("%s", d->dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *fn = ents[i]->d_name;
		size_t len = strlen(fn);
		char *argv[] = { "crossroads", "source", "--config", path,
		    "--tls-cert", cert, "--tls-key", key, "--tls-client-ca",
		    ca, "--tls-client-auth", "require", NULL };

		if (rc == 0 && len > 5 && len - 5 < sizeof(name) &&
		    strcmp(fn + len - 5, ".conf") == 0) {
			snprintf(path, sizeof(path), "%s/%s", d->dir, fn);
			snprintf(name, sizeof(name), "source-%.*s",
			    (int)(len - 5), fn);
			rc = demo_start(d, name, config_port(path), 1, argv,
			    NULL);
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

struct example {
	const char	*consumer;
	const char	*service;
	const char	*purpose;
	const char	*token;
	const json_t	*caps;
	char		 granted[64];
	char		 refused[64];
};

/* What the demo adds through the API, for the banner. */
struct extras {
	char		 provider[64];		/* the event type's */
	char		 provider_token[160];
	char		 occurred_at[32];
	struct example	 verify;		/* the bundle's purpose */
	int		 has_verify;		/* the bundle was found */
};

/* Does the consumer have subject integrated in one of caps today? */
static int
csv_integrated(const char *line, const char *consumer, const json_t *caps,
    const char *today, char *subject, size_t sublen)
{
	char buf[512], *f[5], *p = buf;
	const json_t *c;
	size_t i;
	int n = 0;

	cr_util_strlcpy(buf, line, sizeof(buf));
	buf[strcspn(buf, "\r\n")] = '\0';
	while (n < 5 && (f[n] = strsep(&p, ",")) != NULL)
		n++;
	if (n < 5 || strcmp(f[0], "subject") == 0)
		return -1;
	/* subject,capacity,from,to,institution */
	cr_util_strlcpy(subject, f[0], sublen);
	if (strcmp(f[4], consumer) != 0 || strcmp(f[2], today) > 0 ||
	    (f[3][0] != '\0' && strcmp(f[3], today) < 0))
		return 0;
	json_array_foreach(caps, i, c)
		if (strcmp(json_string_value(c), f[1]) == 0)
			return 1;
	return 0;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Picks a consumer with a client and an authorization that requires a
 * capacity (for `service` and `purpose` when not NULL), a subject it has
 * integrated (granted) and one it has not (NOT_INTEGRATED), from
 * registry.json and directory.csv: one pass collects what the consumer
 * integrates, a second finds a subject outside that set.
 */
static int
demo_example(struct demo *d, json_t *reg, const char *service,
    const char *purpose, struct example *ex)
{
	char path[PATH_MAX + 64], line[512], subject[64];
	char today[CR_DATE_LEN + 1], *key, **mine = NULL, **grown;
	size_t nmine = 0, capmine = 0, i, j;
	json_t *a, *cl;
	const json_t *caps = NULL;
	FILE *f = NULL;
	int r, rc = -1;

	memset(ex, 0, sizeof(*ex));
	json_array_foreach(json_object_get(reg, "authorizations"), i, a) {
		if (json_array_size(json_object_get(a, "capacities")) == 0 ||
		    (service != NULL && strcmp(service, json_string_value(
		    json_object_get(a, "service"))) != 0) ||
		    (purpose != NULL && strcmp(purpose, json_string_value(
		    json_object_get(a, "purpose"))) != 0))
			continue;
		json_array_foreach(json_object_get(reg, "clients"), j, cl) {
			if (json_equal(json_object_get(cl, "institution"),
			    json_object_get(a, "consumer"))) {
				ex->token = json_string_value(
				    json_object_get(cl, "token"));
				break;
			}
		}
		if (ex->token == NULL)
			continue;
		ex->consumer = json_string_value(json_object_get(a,
		    "consumer"));
		ex->service = json_string_value(json_object_get(a, "service"));
		ex->purpose = json_string_value(json_object_get(a, "purpose"));
		caps = ex->caps = json_object_get(a, "capacities");
		break;
	}
	if (caps == NULL)
		return -1;
	cr_date_today(today);
	snprintf(path, sizeof(path), "%s/directory.csv", d->dir);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (csv_integrated(line, ex->consumer, caps, today, subject,
		    sizeof(subject)) != 1)
			continue;
		if (nmine == capmine) {
			capmine = capmine ? capmine * 2 : 1024;
			if ((grown = realloc(mine, capmine * sizeof(*mine))) ==
			    NULL)
				goto out;
			mine = grown;
		}
		if ((mine[nmine] = strdup(subject)) == NULL)
			goto out;
		nmine++;
	}
	if (nmine == 0)
		goto out;
	cr_util_strlcpy(ex->granted, mine[0], sizeof(ex->granted));
	qsort(mine, nmine, sizeof(*mine), str_cmp);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		r = csv_integrated(line, ex->consumer, caps, today, subject,
		    sizeof(subject));
		key = subject;
		if (r == 0 && bsearch(&key, mine, nmine, sizeof(*mine),
		    str_cmp) == NULL) {
			cr_util_strlcpy(ex->refused, subject,
			    sizeof(ex->refused));
			rc = 0;
			break;
		}
	}
out:
	for (i = 0; i < nmine; i++)
		free(mine[i]);
	free(mine);
	if (f != NULL)
		fclose(f);
	return rc;
}

/* The demo's bundle: in the source tree of this binary, or ./demo. */
static json_t *
demo_bundle(struct demo *d)
{
	char path[PATH_MAX + 64], *slash;
	json_t *b;

	cr_util_strlcpy(path, d->exe, sizeof(path));
	if ((slash = strrchr(path, '/')) != NULL) {
		snprintf(slash, sizeof(path) - (size_t)(slash - path),
		    "/../demo/%s", DEMO_BUNDLE);
		if ((b = json_load_file(path, 0, NULL)) != NULL)
			return b;
	}
	return json_load_file("demo/" DEMO_BUNDLE, 0, NULL);
}

/*
 * Through the hub's API, as an operator would: the social-assistance
 * bundle, an event type of the population register with a client to
 * publish it, an authorization and a feed subscription for the example's
 * consumer (which follows the subject the event is about). 0 or -1.
 */
static int
demo_setup(struct demo *d, json_t *reg, const struct example *ex,
    struct extras *x)
{
	char path[128], today[CR_DATE_LEN + 1];
	const char *provider = NULL;
	json_t *bundle, *ans, *svc;
	size_t i;

	memset(x, 0, sizeof(*x));
	json_array_foreach(json_object_get(reg, "services"), i, svc)
		if (strcmp(json_string_value(json_object_get(svc, "id")),
		    "population.person") == 0)
			provider = json_string_value(json_object_get(svc,
			    "provider"));
	if (provider == NULL)
		return -1;
	cr_util_strlcpy(x->provider, provider, sizeof(x->provider));
	cr_date_today(today);
	snprintf(x->occurred_at, sizeof(x->occurred_at), "%sT09:00:00Z",
	    today);

	if ((bundle = demo_bundle(d)) == NULL)
		fprintf(stderr, "crossroads demo: %s not found (demo/ of the "
		    "source tree): no verification example\n", DEMO_BUNDLE);
	else {
		if ((ans = hub_call(d, d->admin, "/v1/bundles", bundle, 201)) ==
		    NULL)
			return -1;
		json_decref(ans);
		/* The purpose the bundle is written for. */
		x->has_verify = demo_example(d, reg, "population.person",
		    "social-assistance", &x->verify) == 0;
	}
	if ((ans = hub_call(d, d->admin, "/v1/event-types", json_pack(
	    "{s:s,s:s,s:[sss]}", "id", DEMO_EVENT_TYPE, "provider", provider,
	    "fields", "street", "postcode", "city"), 201)) == NULL)
		return -1;
	json_decref(ans);
	snprintf(path, sizeof(path), "/v1/institutions/%s/clients", provider);
	if ((ans = hub_call(d, d->admin, path, json_pack("{s:s}", "name",
	    "demo-publisher"), 201)) == NULL)
		return -1;
	cr_util_strlcpy(x->provider_token, json_string_value(json_object_get(
	    ans, "token")) ? json_string_value(json_object_get(ans, "token")) :
	    "", sizeof(x->provider_token));
	json_decref(ans);
	if ((ans = hub_call(d, d->admin, "/v1/authorizations", json_pack(
	    "{s:s,s:s,s:s,s:s,s:[sss],s:O,s:s,s:n}", "consumer", ex->consumer,
	    "service", DEMO_EVENT_TYPE, "purpose", ex->purpose, "legal_basis",
	    "Law of 8 August 1983 on the National Register, art. 5",
	    "fields", "street", "postcode", "city", "capacities", ex->caps,
	    "valid_from", "2020-01-01", "valid_to"), 201)) == NULL)
		return -1;
	json_decref(ans);
	if ((ans = hub_call(d, ex->token, "/v1/subscriptions", json_pack(
	    "{s:s,s:{s:b},s:s}", "event_type", DEMO_EVENT_TYPE, "delivery",
	    "feed", 1, "purpose", ex->purpose), 201)) == NULL)
		return -1;
	json_decref(ans);
	return 0;
}

/*
 * The generated registry with its services on HTTPS: each endpoint
 * https://, verified against the demo CA, the hub presenting its client
 * certificate. Rewritten in place (the country is regenerated at every
 * start). 0 or -1.
 */
static int
demo_registry_https(struct demo *d, const char *path)
{
	char ca[PATH_MAX + 16], cert[PATH_MAX + 16], key[PATH_MAX + 16];
	char url[CR_URL_MAX_DEMO];
	json_error_t jerr;
	json_t *reg, *svc;
	const char *ep;
	size_t i;
	int rc = -1;

	if ((reg = json_load_file(path, 0, &jerr)) == NULL) {
		fprintf(stderr, "crossroads demo: %s: %s\n", path, jerr.text);
		return -1;
	}
	snprintf(ca, sizeof(ca), "%s/ca.pem", d->tls);
	snprintf(cert, sizeof(cert), "%s/hub-client.pem", d->tls);
	snprintf(key, sizeof(key), "%s/hub-client.key", d->tls);
	json_array_foreach(json_object_get(reg, "services"), i, svc) {
		ep = json_string_value(json_object_get(svc, "endpoint"));
		if (ep == NULL || strncmp(ep, "http://", 7) != 0)
			continue;
		snprintf(url, sizeof(url), "https://%s", ep + 7);
		if (json_object_set_new(svc, "endpoint", json_string(url)) ||
		    json_object_set_new(svc, "ca_file", json_string(ca)) ||
		    json_object_set_new(svc, "client_cert",
		    json_string(cert)) ||
		    json_object_set_new(svc, "client_key", json_string(key)))
			goto out;
	}
	if (json_dump_file(reg, path, JSON_INDENT(2)) == -1) {
		log_warnx("%s: cannot write", path);
		goto out;
	}
	rc = 0;
out:
	json_decref(reg);
	return rc;
}

static void
demo_banner(struct demo *d, json_t *reg, const struct example *ex,
    const struct extras *x)
{
	const char *h = "https://127.0.0.1";
	const char *ca = d->cacert;
	json_t *cl;
	size_t i;

	printf("\nCrossroads demo is running: a synthetic country of %s "
	    "persons (seed %s) in %s.\n\n", d->persons, d->seed, d->dir);
	printf("  hub:             %s:%u   (log: %s/logs/hub.log)\n", h,
	    d->port, d->dir);
	for (i = 0; i < d->nchildren; i++)
		if (strncmp(d->names[i], "source-", 7) == 0)
			printf("  %-16s %s:%u\n", d->names[i] + 7, h,
			    d->ports[i]);
	printf("  demo CA:         %s   (every certificate chains to it;\n"
	    "                   the sources answer the hub's only: "
	    "hub-client.pem)\n", ca);
	printf("  operator token:  %s\n", d->admin);
	printf("  client tokens:\n");
	json_array_foreach(json_object_get(reg, "clients"), i, cl)
		printf("    %-12s %s\n", json_string_value(json_object_get(cl,
		    "institution")), json_string_value(json_object_get(cl,
		    "token")));
	if (ex != NULL) {
		printf("\nA granted consultation (%s has integrated %s):\n"
		    "  curl -s --cacert %s -H 'Authorization: Bearer %s' -d "
		    "'{\"subject\":\"%s\",\"purpose\":\"%s\"}' "
		    "%s:%u/v1/consult/%s\n", ex->consumer, ex->granted, ca,
		    ex->token, ex->granted, ex->purpose, h, d->port,
		    ex->service);
		printf("\nA refusal, NOT_INTEGRATED (%s has no file on %s):\n"
		    "  curl -s --cacert %s -H 'Authorization: Bearer %s' -d "
		    "'{\"subject\":\"%s\",\"purpose\":\"%s\"}' "
		    "%s:%u/v1/consult/%s\n", ex->consumer, ex->refused, ca,
		    ex->token, ex->refused, ex->purpose, h, d->port,
		    ex->service);
		printf("\nThe exchange log of one citizen (operator):\n"
		    "  curl -s --cacert %s -H 'Authorization: Bearer %s' "
		    "'%s:%u/v1/log?subject=%s'\n", ca, d->admin, h, d->port,
		    ex->granted);
	}
	if (ex != NULL && x != NULL) {
		printf("\nA provider's client token (%s publishes %s):\n"
		    "  %s\n", x->provider, DEMO_EVENT_TYPE, x->provider_token);
		printf("\nAn event to publish (%s moved; %s follows %s and "
		    "has a feed subscription):\n"
		    "  curl -s --cacert %s -H 'Authorization: Bearer %s' -d "
		    "'{\"type\":\"%s\",\"subject\":\"%s\",\"occurred_at\":"
		    "\"%s\",\"data\":{\"street\":\"Kerkstraat 12\","
		    "\"postcode\":\"2000\",\"city\":\"Antwerpen\"}}' "
		    "%s:%u/v1/events\n", ex->granted, ex->consumer,
		    ex->granted, ca, x->provider_token, DEMO_EVENT_TYPE,
		    ex->granted, x->occurred_at, h, d->port);
		printf("\n%s reads it from its feed:\n"
		    "  curl -s --cacert %s -H 'Authorization: Bearer %s' "
		    "'%s:%u/v1/feed?after=0'\n", ex->consumer, ca, ex->token, h,
		    d->port);
	}
	if (x != NULL && x->has_verify) {
		printf("\nA verification (%s: the bundle social-assistance "
		    "for %s and the household):\n"
		    "  curl -s --cacert %s -H 'Authorization: Bearer %s' -d "
		    "'{\"subject\":\"%s\",\"purpose\":\"%s\","
		    "\"household\":true}' %s:%u/v1/verify/social-assistance\n",
		    x->verify.consumer, x->verify.granted, ca, x->verify.token,
		    x->verify.granted, x->verify.purpose, h, d->port);
	}
	printf("\nPress Ctrl-C to stop.\n");
	fflush(stdout);
}

/* 0, 1 after --help, or 2 after a usage error (said). */
static int
demo_options(int argc, char **argv, struct demo *d)
{
	unsigned long long v;
	int ch;

	d->dir = "crossroads-demo";
	cr_util_strlcpy(d->persons, "5000", sizeof(d->persons));
	cr_util_strlcpy(d->seed, "1", sizeof(d->seed));
	d->port = 8080;
	d->base_port = 9101;
	if (cr_cmd_help_asked(&demo_cmd, argc, argv))
		return 1;
	while ((ch = cr_cmd_getopt(&demo_cmd, argc, argv)) != -1) {
		switch (ch) {
		case 'd':
			d->dir = optarg;
			break;
		case 'n':
			if (cr_util_parse_ull(optarg, 1, 100000000, &v) == -1)
				return cr_cmd_usage_error(&demo_cmd,
				    "--persons: expected 1 to 100000000");
			cr_util_strlcpy(d->persons, optarg, sizeof(d->persons));
			break;
		case 's':
			if (cr_util_parse_ull(optarg, 0, ~0ULL, &v) == -1)
				return cr_cmd_usage_error(&demo_cmd, "--seed: "
				    "expected a whole number");
			cr_util_strlcpy(d->seed, optarg, sizeof(d->seed));
			break;
		case 'p':
		case 'b':
			if (cr_util_parse_ull(optarg, 1, 65535, &v) == -1)
				return cr_cmd_usage_error(&demo_cmd, "--%s: "
				    "expected 1 to 65535", ch == 'p' ? "port" :
				    "base-port");
			if (ch == 'p')
				d->port = (unsigned)v;
			else
				d->base_port = (unsigned)v;
			break;
		default:
			return 2;
		}
	}
	return cr_cmd_no_operands(&demo_cmd, argc, argv);
}

int
cr_cmd_demo(int argc, char **argv)
{
	static struct demo d;
	/* Derived paths have room for the longest suffix added to dir. */
	char path[PATH_MAX + 64], db[PATH_MAX], logs[PATH_MAX];
	char genlog[PATH_MAX + 64], reg_path[PATH_MAX];
	char listen[32], base[16], envtok[96];
	struct example ex;
	struct extras x;
	json_error_t jerr;
	json_t *reg = NULL;
	sigset_t sigs;
	uint8_t rnd[16];
	ssize_t len;
	int sig, rc = 1;

	if ((rc = demo_options(argc, argv, &d)) != 0)
		return rc == 1 ? 0 : rc;
	rc = 1;
	if (strlen(d.dir) > PATH_MAX - 64)
		return cr_cmd_usage_error(&demo_cmd, "--dir is too long");
	log_init("crossroads demo", 0);
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return 1;
	if ((len = readlink("/proc/self/exe", d.exe, sizeof(d.exe) - 1)) <= 0) {
		log_warn("/proc/self/exe");
		return 1;
	}
	d.exe[len] = '\0';
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(d.admin, "demo-", 5);
	cr_util_hex(rnd, sizeof(rnd), d.admin + 5);

	/* Children get SIGTERM from us, not the terminal's SIGINT. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	snprintf(logs, sizeof(logs), "%s/logs", d.dir);
	if (cr_util_mkdirs(logs) == -1) {
		log_warn("mkdir %s", logs);
		goto out;
	}
	snprintf(genlog, sizeof(genlog), "%s/gen.log", logs);
	/* The hub serves HTTPS with a certificate of a CA made now. */
	snprintf(d.tls, sizeof(d.tls), "%s/tls", d.dir);
	if (cr_cmd_demo_pki(d.tls) == -1)
		goto out;
	/* Absolute: the printed commands work from any directory. */
	if (realpath(d.tls, path) != NULL)
		cr_util_strlcpy(d.tls, path, sizeof(d.tls));
	snprintf(d.cacert, sizeof(d.cacert), "%s/ca.pem", d.tls);
	snprintf(d.cert, sizeof(d.cert), "%s/hub-client.pem", d.tls);
	snprintf(d.key, sizeof(d.key), "%s/hub-client.key", d.tls);
	cr_cmd_http_cacert(d.cacert);
	/* The sources' health checks need the hub's certificate. */
	cr_cmd_http_cert(d.cert, d.key);
	snprintf(base, sizeof(base), "%u", d.base_port);
	printf("generating %s persons in %s ...\n", d.persons, d.dir);
	fflush(stdout);
	{
		char *gen[] = { "crossroads", "gen", "--out", (char *)d.dir,
		    "--persons", d.persons, "--seed", d.seed, "--base-port",
		    base, NULL };

		if (demo_run(&d, gen, genlog) == -1)
			goto out;
	}
	/* A fresh hub database each time: the country was just regenerated. */
	snprintf(db, sizeof(db), "%s/hub.db", d.dir);
	unlink(db);
	snprintf(path, sizeof(path), "%s-wal", db);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db);
	unlink(path);
	snprintf(reg_path, sizeof(reg_path), "%s/registry.json", d.dir);
	snprintf(path, sizeof(path), "%s/directory.csv", d.dir);
	{
		char *reg_argv[] = { "crossroads", "registry", "import",
		    reg_path, "--db", db, NULL };
		char *dir_argv[] = { "crossroads", "directory", "import", path,
		    "--db", db, NULL };

		printf("loading the registry and the reference directory ...\n");
		fflush(stdout);
		if (demo_registry_https(&d, reg_path) == -1 ||
		    demo_run(&d, reg_argv, genlog) == -1 ||
		    demo_run(&d, dir_argv, genlog) == -1)
			goto out;
	}
	if ((reg = json_load_file(reg_path, 0, &jerr)) == NULL) {
		fprintf(stderr, "crossroads demo: %s: %s\n", reg_path,
		    jerr.text);
		goto out;
	}
	if (demo_start_sources(&d) == -1)
		goto out;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", d.port);
	snprintf(envtok, sizeof(envtok), "CROSSROADS_ADMIN_TOKEN=%s", d.admin);
	{
		char cert[PATH_MAX + 16], key[PATH_MAX + 16];
		char *hub[] = { "crossroads", "serve", "--listen", listen,
		    "--db", db, "--tls-cert", cert, "--tls-key", key, NULL };
		char **envp;
		int started;

		snprintf(cert, sizeof(cert), "%s/hub.pem", d.tls);
		snprintf(key, sizeof(key), "%s/hub.key", d.tls);
		if ((envp = demo_hub_env(envtok)) == NULL) {
			log_warn("demo: environment");
			goto out;
		}
		started = demo_start(&d, "hub", d.port, 1, hub, envp);
		free(envp);
		if (started == -1)
			goto out;
	}
	if (demo_wait_ready(&d) == -1)
		goto out;
	if (demo_example(&d, reg, NULL, NULL, &ex) == 0) {
		if (demo_setup(&d, reg, &ex, &x) == -1)
			goto out;
		demo_banner(&d, reg, &ex, &x);
	} else
		demo_banner(&d, reg, NULL, NULL);
	if (sigwait(&sigs, &sig) == 0)
		printf("\nstopping ...\n");
	rc = 0;
out:
	demo_stop_all(&d);
	json_decref(reg);
	curl_global_cleanup();
	if (rc == 0)
		printf("demo stopped\n");
	return rc;
}
