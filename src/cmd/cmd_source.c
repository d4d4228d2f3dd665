/* crossroads source: serves an SQL database as an authentic source. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "cmd.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "util.h"

#define SOURCE_DRAIN_MS	5000

static const struct cr_cmd_opt source_opts[] = {
	{ "config", 'c', "FILE", "the config file (docs/source-adapter.md)" },
	{ "listen", 'l', "HOST:PORT", "instead of the file's listen" },
	{ "check", 'n', NULL, "check the file and its queries, print each "
	    "service's POST /v1/services body, then exit" },
	{ "tls-cert", CR_CMD_LONG + 0, "FILE", "serve HTTPS: the certificate "
	    "(PEM, with its chain)" },
	{ "tls-key", CR_CMD_LONG + 1, "FILE", "the certificate's key (PEM)" },
	{ "tls-client-ca", CR_CMD_LONG + 2, "FILE", "verify client (the "
	    "hub's) certificates against this CA" },
	{ "tls-client-auth", CR_CMD_LONG + 3, "MODE", "none, optional "
	    "(default with a CA) or require" },
	{ "verbose", 'v', NULL, "debug diagnostics" },
	{ NULL, 0, NULL, NULL }
};

static const struct cr_cmd source_cmd = {
	"source", "--config FILE [--listen HOST:PORT] [--check] [-v]",
	"serve an SQL database as an authentic source", source_opts,
	"The config file maps services to SELECT statements\n"
	"(docs/source-adapter.md). Prints 'source listening on HOST:PORT'\n"
	"once it listens; SIGTERM or SIGINT stops it; SIGHUP reads the TLS\n"
	"certificate and key again.\n"
	"Exit status: 0 stopped by a signal (or --check passed); 1 a bad\n"
	"config file or an address it cannot listen on; 2 usage.\n"
};

/* tls[]: --tls-cert, --tls-key, --tls-client-ca (NULL: the file's). */
static int
source_tls_flags(struct cr_adapter_config *cfg, const char *const tls[3],
    int auth, char *err, size_t errlen)
{
	char **dst[3] = { &cfg->tls_cert, &cfg->tls_key, &cfg->tls_client_ca };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (tls[i] == NULL)
			continue;
		free(*dst[i]);
		if ((*dst[i] = strdup(tls[i])) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	if (auth != -1)
		cfg->tls_client_auth = auth;
	return cr_config_tls_rules(cfg->tls_cert, cfg->tls_key,
	    cfg->tls_client_ca, &cfg->tls_client_auth, err, errlen);
}

/*
 * --check: per service, the body of the hub's POST /v1/services, one line
 * of JSON after a "# " line naming it, so that onboarding is a paste; what
 * the operator must still fill in goes to stderr.
 */
static int
source_check(const struct cr_adapter_config *cfg, const char *file)
{
	const char *colon = strrchr(cfg->listen, ':');
	size_t i;
	int wildcard;

	/* A wildcard or port 0 listens fine but is no address to call. */
	wildcard = strncmp(cfg->listen, "0.0.0.0:", 8) == 0 ||
	    strncmp(cfg->listen, "[::]:", 5) == 0 ||
	    (colon != NULL && strcmp(colon, ":0") == 0);
	for (i = 0; i < cfg->nservices; i++) {
		const struct cr_adapter_service *s = &cfg->services[i];
		json_t *body;
		char *text;

		if ((body = cr_adapter_registration(cfg, s)) == NULL ||
		    (text = json_dumps(body, JSON_COMPACT |
		    JSON_PRESERVE_ORDER)) == NULL) {
			json_decref(body);
			fprintf(stderr, "crossroads: out of memory\n");
			return 1;
		}
		printf("# [service %s] (line %d): POST /v1/services\n%s\n",
		    s->name, s->line, text);
		free(text);
		if (strcmp(json_string_value(json_object_get(body,
		    "provider")), CR_ADAPTER_PROVIDER_UNSET) == 0)
			fprintf(stderr, "%s: service '%s': no 'provider = ID' "
			    "in the file: replace \"%s\" with the hub's id of "
			    "the institution\n", file, s->name,
			    CR_ADAPTER_PROVIDER_UNSET);
		if (wildcard)
			fprintf(stderr, "%s: service '%s': listen = %s is not "
			    "an address the hub can call: put the adapter's "
			    "address in the endpoint\n", file, s->name,
			    cfg->listen);
		json_decref(body);
	}
	printf("%s: %zu services, configuration OK\n", file, cfg->nservices);
	return 0;
}

int
cr_cmd_source(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct cr_adapter_config cfg;
	struct cr_adapter *ad = NULL;
	const char *file = NULL, *listen = NULL, *tls[3] = { NULL, NULL, NULL };
	int tls_auth = -1;
	char err[1024];
	sigset_t sigs;
	int ch, sig, verbose = 0, check = 0, rc = 1;

	if (cr_cmd_help_asked(&source_cmd, argc, argv))
		return 0;
	while ((ch = cr_cmd_getopt(&source_cmd, argc, argv)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'l':
			/* Checked before the file is read or the database
			   opened. */
			if (cr_addr_parse(optarg, &ss, &sslen, err,
			    sizeof(err)) == -1)
				return cr_cmd_usage_error(&source_cmd,
				    "--listen: %s", err);
			if (strlen(optarg) >= sizeof(cfg.listen))
				return cr_cmd_usage_error(&source_cmd,
				    "--listen: too long");
			listen = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case CR_CMD_LONG + 0:
		case CR_CMD_LONG + 1:
		case CR_CMD_LONG + 2:
			tls[ch - CR_CMD_LONG] = optarg;
			break;
		case CR_CMD_LONG + 3:
			if (cr_config_tls_client_auth(optarg, &tls_auth) == -1)
				return cr_cmd_usage_error(&source_cmd,
				    "--tls-client-auth: expected none, "
				    "optional or require");
			break;
		default:
			return 2;
		}
	}
	if (file == NULL)
		return cr_cmd_usage_error(&source_cmd, "missing --config");
	if (cr_cmd_no_operands(&source_cmd, argc, argv) != 0)
		return 2;
	log_init("crossroads", verbose);
	if (cr_adapter_config_load(&cfg, file, err, sizeof(err)) == -1) {
		fprintf(stderr, "crossroads: %s\n", err);
		cr_adapter_config_free(&cfg);
		return 1;
	}
	if (listen != NULL)
		cr_util_strlcpy(cfg.listen, listen, sizeof(cfg.listen));
	/* The flags over the file's keys. */
	if (source_tls_flags(&cfg, tls, tls_auth, err, sizeof(err)) == -1) {
		fprintf(stderr, "crossroads source: %s\n", err);
		cr_adapter_config_free(&cfg);
		return 2;
	}
	if (check) {
		rc = source_check(&cfg, file);
		cr_adapter_config_free(&cfg);
		return rc;
	}

	/* Signals are taken by sigwait below, never by worker threads. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (cr_adapter_start(&cfg, &ad) == -1)
		goto out;
	printf("source listening on %s\n", cr_adapter_address(ad));
	fflush(stdout);
	log_info("%zu services from %s, database %s", cfg.nservices, file,
	    cfg.database);
	/* SIGHUP: the TLS certificate again, nothing else. */
	for (;;) {
		if (sigwait(&sigs, &sig) != 0) {
			log_warnx("sigwait failed");
			break;
		}
		if (sig != SIGHUP)
			break;
		if (cfg.tls_cert != NULL)
			cr_adapter_reload(ad);
	}
	log_info("signal %d: stopping", sig);
	rc = 0;
out:
	cr_adapter_stop(ad, SOURCE_DRAIN_MS);
	cr_adapter_config_free(&cfg);
	return rc;
}
