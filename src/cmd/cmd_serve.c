/* crossroads serve: wires the store, the log, the sources and HTTP. */
#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <sodium.h>

#include "api.h"
#include "batch.h"
#include "client_rate.h"
#include "cmd.h"
#include "delivery.h"
#include "events.h"
#include "http.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "translog.h"
#include "unauth.h"
#include "usage.h"
#include "util.h"
#include "verify.h"

/* How soon registry changes made by another process are seen. */
#define REGISTRY_REFRESH_MS	1000

static const struct cr_cmd_opt serve_opts[] = {
	{ "config", 'c', "FILE", "a config file (docs/configuration.md)" },
	{ "listen", 'l', "HOST:PORT", "address and port (127.0.0.1:8080)" },
	{ "db", 'd', "PATH", "the store (./data/crossroads.db)" },
	{ "threads", 't', "N", "HTTP worker threads (one per core)" },
	{ "tls-cert", CR_CMD_LONG + 0, "FILE", "serve HTTPS: the certificate "
	    "(PEM, with its chain)" },
	{ "tls-key", CR_CMD_LONG + 1, "FILE", "the certificate's key (PEM)" },
	{ "tls-client-ca", CR_CMD_LONG + 2, "FILE", "verify client "
	    "certificates against this CA (PEM)" },
	{ "tls-client-auth", CR_CMD_LONG + 3, "MODE", "none, optional "
	    "(default with a CA) or require" },
	{ "log-key", CR_CMD_LONG + 4, "FILE",
	    "the hub's Ed25519 log key (DB.log-key; created if missing)" },
	{ "log-head-file", CR_CMD_LONG + 5, "FILE",
	    "the last signed tree head (LOG-KEY.head)" },
	{ "accept-log-rewrite", CR_CMD_LONG + 6, NULL,
	    "serve a log that does not extend the saved head (rebuilds it)" },
	{ "verbose", 'v', NULL, "debug diagnostics" },
	{ NULL, 0, NULL, NULL }
};

static const struct cr_cmd serve_cmd = {
	"serve", "[--config FILE] [--listen HOST:PORT] [--db PATH]\n"
	    "           [--threads N] [--log-key FILE] [--log-head-file FILE]\n"
	    "           [--accept-log-rewrite] [-v]",
	"run the hub", serve_opts,
	"Settings: the defaults, then the config file, then these flags\n"
	"(docs/configuration.md). The operator token is read from\n"
	"CROSSROADS_ADMIN_TOKEN. SIGTERM or SIGINT: stop accepting, finish\n"
	"what is in flight, exit 0. SIGHUP: read the TLS certificate and\n"
	"key again (open connections go on).\n"
	"Exit status: 0 stopped by a signal; 1 it could not start (the\n"
	"address is busy, the store cannot be opened...); 2 usage or a bad\n"
	"setting.\n"
};

/* Creates the directory that will hold the database file, if missing. */
static void
make_parent_dir(const char *path)
{
	char dir[PATH_MAX], *p;

	if (strncmp(path, "sqlite:", 7) == 0)
		path += 7;
	if (cr_util_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return;
	if ((p = strrchr(dir, '/')) == NULL || p == dir)
		return;
	*p = '\0';
	if (cr_util_mkdirs(dir) == -1)
		log_warn("mkdir %s", dir);
}

/*
 * The log key and head file: as set, else the key beside the database
 * (DB.log-key) and the head beside the key (KEY.head).
 */
static void
log_files(const struct cr_config *cfg, char key[PATH_MAX],
    char head[PATH_MAX])
{
	const char *db = cfg->db;

	if (strncmp(db, "sqlite:", 7) == 0)
		db += 7;
	if (cfg->log_key[0] != '\0')
		cr_util_strlcpy(key, cfg->log_key, PATH_MAX);
	else if (snprintf(key, PATH_MAX, "%s.log-key", db) >= PATH_MAX)
		fatalx("the log key's path is too long: set log_key");
	if (cfg->log_head_file[0] != '\0')
		cr_util_strlcpy(head, cfg->log_head_file, PATH_MAX);
	else if (snprintf(head, PATH_MAX, "%s.head", key) >= PATH_MAX)
		fatalx("the saved head's path is too long: set log_head_file");
}

/* The events module's hook after a commit that routed deliveries: wakes
   the webhook engine once it runs. */
static void
serve_routed(void *arg)
{
	struct cr_hub *hub = arg;

	if (hub->deliveries != NULL)
		cr_delivery_notify(hub->deliveries);
}

/*
 * Room for connection_limit connections and what the hub opens besides
 * (the store, sources, webhooks): the soft limit on open files raised
 * towards the hard one, which is often 1024 against a hard limit in the
 * hundreds of thousands. Below it, accept(2) fails with EMFILE long before
 * connection_limit is reached.
 */
static void
serve_nofile(unsigned connection_limit)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)connection_limit + 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		want = rl.rlim_max;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
	else if (want < (rlim_t)connection_limit + 1024)
		log_warnx("open files limited to %llu: fewer than "
		    "connection_limit %u connections may be served",
		    (unsigned long long)want, connection_limit);
}

/* 0, 1 after --help, or 2 after a usage error or a bad setting (said). */
static int
serve_options(int argc, char **argv, struct cr_config *cfg, int *verbose,
    int *accept_rewrite)
{
	char err[512];
	int ch;

	if (cr_cmd_help_asked(&serve_cmd, argc, argv))
		return 1;
	/* The config files first, so that flags override them. */
	while ((ch = cr_cmd_getopt(&serve_cmd, argc, argv)) != -1) {
		if (ch == '?')
			return 2;
		if (ch == 'c' && cr_config_load(cfg, optarg, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "crossroads serve: %s\n", err);
			return 2;
		}
	}
	if (cr_cmd_no_operands(&serve_cmd, argc, argv) != 0)
		return 2;
	optind = 0;		/* glibc: start afresh */
	while ((ch = cr_cmd_getopt(&serve_cmd, argc, argv)) != -1) {
		const char *key = NULL;

		switch (ch) {
		case 'c':
			continue;
		case 'l':
			key = "listen";
			break;
		case 'd':
			key = "db";
			break;
		case 't':
			key = "threads";
			break;
		case CR_CMD_LONG + 0:
			key = "tls_cert";
			break;
		case CR_CMD_LONG + 1:
			key = "tls_key";
			break;
		case CR_CMD_LONG + 2:
			key = "tls_client_ca";
			break;
		case CR_CMD_LONG + 3:
			key = "tls_client_auth";
			break;
		case 'v':
			*verbose = 1;
			continue;
		case CR_CMD_LONG + 4:
			key = "log_key";
			break;
		case CR_CMD_LONG + 5:
			key = "log_head_file";
			break;
		case CR_CMD_LONG + 6:
			*accept_rewrite = 1;
			continue;
		default:
			return 2;
		}
		if (cr_config_set(cfg, key, optarg, err, sizeof(err)) == -1)
			return cr_cmd_usage_error(&serve_cmd, "--%s: %s", key,
			    err);
	}
	if (cr_config_check_tls(cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "crossroads serve: %s\n", err);
		return 2;
	}
	return 0;
}

int
cr_cmd_serve(int argc, char **argv)
{
	static struct cr_hub hub;
	const char *names[CR_METRICS_MAX_ROUTES + 1];
	struct cr_source_config scfg;
	struct cr_xlog_config xcfg;
	struct cr_events_config ecfg;
	struct cr_delivery_config dcfg;
	struct cr_http *http = NULL;
	struct cr_listener *listener;
	struct cr_store *inner;
	const char *token;
	sigset_t sigs;
	double drain_end = 0, left;
	size_t i;
	struct cr_translog_config tcfg;
	char log_key[PATH_MAX], head_file[PATH_MAX];
	int verbose = 0, accept_rewrite = 0, sig, rc = 1, chk;

	cr_config_defaults(&hub.cfg);
	if ((rc = serve_options(argc, argv, &hub.cfg, &verbose,
	    &accept_rewrite)) != 0)
		return rc == 1 ? 0 : rc;
	rc = 1;
	log_init("crossroads", verbose);
	serve_nofile(hub.cfg.connection_limit);
	/* Before any file: a busy address fails here, saying which. */
	if (cr_listener_open(hub.cfg.listen, &listener) == -1)
		return 1;
	/* Then the certificate: a bad one stops the start as early. */
	if (hub.cfg.tls_cert[0] != '\0') {
		struct cr_tls_config tc = {
			.cert = hub.cfg.tls_cert,
			.key = hub.cfg.tls_key,
			.client_ca = hub.cfg.tls_client_ca,
			.client_auth = hub.cfg.tls_client_auth,
		};

		if (cr_listener_tls(listener, &tc) == -1) {
			cr_listener_free(listener);
			return 1;
		}
	}
	if (sodium_init() < 0)
		fatalx("libsodium cannot start");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("libcurl cannot start");
	hub.person_scheme = cr_ident_find(hub.cfg.id_scheme);
	hub.enterprise_scheme = cr_ident_default_enterprise();
	if (hub.person_scheme == NULL || hub.enterprise_scheme == NULL)
		fatalx("identifier scheme %s unknown", hub.cfg.id_scheme);
	token = getenv("CROSSROADS_ADMIN_TOKEN");
	if (token == NULL || *token == '\0')
		log_warnx("CROSSROADS_ADMIN_TOKEN is not set: the operator "
		    "API is disabled");
	else if (strlen(token) < 16 || strlen(token) >= CR_TOKEN_MAX)
		fatalx("CROSSROADS_ADMIN_TOKEN must have 16 to %d characters",
		    CR_TOKEN_MAX - 1);
	else
		hub.admin_token_len = cr_util_strlcpy(hub.admin_token, token,
		    sizeof(hub.admin_token));

	/* Signals are taken by sigwait below, never by worker threads. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/* The store holds token hashes and the log personal data. */
	umask(027);
	make_parent_dir(hub.cfg.db);
	if (cr_store_open(hub.cfg.db, &inner) == -1)
		fatalx("cannot open the store %s", hub.cfg.db);
	if (cr_store_cache_wrap(inner, REGISTRY_REFRESH_MS, &hub.store) == -1)
		fatalx("cannot cache the registry");
	memset(&xcfg, 0, sizeof(xcfg));
	xcfg.max_batch = hub.cfg.log_max_batch;
	log_files(&hub.cfg, log_key, head_file);
	memset(&tcfg, 0, sizeof(tcfg));
	tcfg.key_file = log_key;
	tcfg.head_file = head_file;
	tcfg.interval_ms = hub.cfg.log_head_interval_ms;
	tcfg.every = hub.cfg.log_head_entries;
	if (cr_translog_open(&tcfg, &hub.translog) == -1)
		fatalx("cannot load the log key %s", log_key);
	/* Before the writer starts: a sequence number is never reused. */
	if ((chk = cr_translog_check(hub.translog, hub.store)) == -2)
		fatalx("cannot read the exchange log");
	if (chk == -1 && !accept_rewrite)
		fatalx("refusing to serve an exchange log that does not "
		    "extend its saved head %s (see above); restart with "
		    "--accept-log-rewrite to accept it", head_file);
	if (chk == -1) {
		log_warnx("!!! --accept-log-rewrite: SERVING AN EXCHANGE LOG "
		    "THAT DOES NOT EXTEND ITS SAVED HEAD %s: its Merkle tree "
		    "and signed heads are rebuilt from the entries as they "
		    "are now; witnesses will report the change !!!",
		    head_file);
		xcfg.rebuild_tree = 1;
	}
	if (cr_xlog_start(hub.store, &xcfg, &hub.xlog) == -1)
		fatalx("cannot start the exchange log");
	if (cr_translog_start(hub.translog, hub.store, hub.xlog) == -1)
		fatalx("cannot publish the exchange log's signed heads");
	if (cr_unauth_start(hub.xlog, &hub.cfg.unauth_rate, &hub.unauth) == -1)
		fatalx("cannot start the limits of unauthenticated requests");
	if (cr_client_rate_new(&hub.cfg, &hub.client_rate) == -1)
		fatalx("cannot start the rate limits of clients");
	memset(&scfg, 0, sizeof(scfg));
	scfg.max_connections_per_host = hub.cfg.source_max_connections;
	scfg.max_response_bytes = hub.cfg.source_max_response;
	if (cr_source_http_start(&scfg, &hub.sources) == -1)
		fatalx("cannot start the source transport");
	/* Events before HTTP: publishes and feeds need them at once. */
	memset(&ecfg, 0, sizeof(ecfg));
	ecfg.max_batch = hub.cfg.events_max_batch;
	ecfg.routed = serve_routed;
	ecfg.routed_arg = &hub;
	if (cr_events_start(&hub, &ecfg, &hub.events) == -1)
		fatalx("cannot start event publishing");
	memset(&dcfg, 0, sizeof(dcfg));
	dcfg.max_attempts = hub.cfg.delivery_max_attempts;
	dcfg.base_backoff_ms = hub.cfg.delivery_base_backoff_ms;
	dcfg.max_backoff_ms = hub.cfg.delivery_max_backoff_ms;
	dcfg.timeout_ms = hub.cfg.delivery_timeout_ms;
	dcfg.max_in_flight = hub.cfg.delivery_max_in_flight;
	dcfg.ca_file = hub.cfg.webhook_ca_file[0] != '\0' ?
	    hub.cfg.webhook_ca_file : NULL;
	dcfg.client_cert = hub.cfg.webhook_client_cert[0] != '\0' ?
	    hub.cfg.webhook_client_cert : NULL;
	dcfg.client_key = hub.cfg.webhook_client_key[0] != '\0' ?
	    hub.cfg.webhook_client_key : NULL;
	if (cr_delivery_start(&hub, &dcfg, &hub.deliveries) == -1)
		fatalx("cannot start webhook delivery");
	if (cr_usage_start(hub.store, hub.cfg.client_usage_flush_ms,
	    &hub.usage) == -1)
		fatalx("cannot start recording clients' last use");
	if (cr_verifier_start(&hub.verifier) == -1)
		fatalx("cannot start verification");
	/* Batches resume here: they need the log, the sources and the
	   verifier. */
	if (cr_batch_runner_start(&hub, hub.cfg.batch_concurrency,
	    &hub.batches) == -1)
		fatalx("cannot start the batch runner");

	/* A route past the table would go uncounted: a build mistake. */
	if (cr_api_nroutes > CR_METRICS_MAX_ROUTES)
		fatalx("%zu routes, metrics hold %d", (size_t)cr_api_nroutes,
		    CR_METRICS_MAX_ROUTES);
	for (i = 0; i < cr_api_nroutes; i++)
		names[i] = cr_api_routes[i].name;
	names[i] = "unmatched";
	cr_metrics_init(names, i + 1);
	if (cr_http_start(&hub, listener, cr_api_routes, cr_api_nroutes,
	    &http) == -1)
		goto out;
	atomic_store(&hub.ready, 1);
	log_info("listening on %s%s, store %s", cr_http_address(http),
	    hub.cfg.tls_cert[0] != '\0' ? " (HTTPS)" : "", hub.cfg.db);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0) {
			log_warnx("sigwait failed");
			break;
		}
		if (sig != SIGHUP)
			break;
		if (hub.cfg.tls_cert[0] != '\0')
			cr_listener_reload(listener);
		else
			log_info("SIGHUP: no TLS certificate to reload");
	}
	log_info("signal %d: draining", sig);
	atomic_store(&hub.draining, 1);
	atomic_store(&hub.ready, 0);
	/* Parked feed long polls are answered now, not after the drain. */
	cr_events_quiesce(hub.events);
	drain_end = cr_util_mono_ms() + hub.cfg.drain_timeout_ms;
	cr_http_drain(http, hub.cfg.drain_timeout_ms);
	rc = 0;
out:
	/*
	 * Verification first: it starts consultations and fires deadlines
	 * from its own thread, so it must be quiet before what it calls
	 * stops. Batches' verifications in flight get what is left of the
	 * drain; then whatever is pending is answered UNAVAILABLE.
	 */
	left = drain_end - cr_util_mono_ms();
	cr_verifier_stop(hub.verifier, left > 0 ? (unsigned)left : 0);
	/*
	 * Queued publishes are written and answered (the publisher notifies
	 * the webhook engine, so it stops first), webhooks in flight finish
	 * or fail and are logged, source calls in flight fail, their log
	 * entries are written, then HTTP.
	 */
	cr_events_stop(hub.events);
	cr_delivery_stop(hub.deliveries);
	/* The results of the verifications that completed are written;
	   the lines cut short by the stop resume at the next start. */
	cr_batch_runner_stop(hub.batches);
	hub.sources->ops->stop(hub.sources);
	/* The counts of unauthenticated attempts, the current minute's
	   too, before the log stops. */
	cr_unauth_flush(hub.unauth);
	/* The last head covers every entry written. */
	cr_xlog_quiesce(hub.xlog);
	cr_translog_free(hub.translog);
	cr_xlog_stop(hub.xlog);
	cr_http_stop(http);
	cr_unauth_free(hub.unauth);
	cr_client_rate_free(hub.client_rate);
	/* No request notes a use any more: the last ones are written. */
	cr_usage_stop(hub.usage);
	/* Nothing calls cr_verify_start() any more. */
	cr_verifier_free(hub.verifier);
	cr_store_close(hub.store);
	curl_global_cleanup();
	log_info("stopped");
	return rc;
}
