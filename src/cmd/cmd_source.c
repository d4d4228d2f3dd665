/* crossroads source: serves an SQL database as an authentic source. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "cmd.h"
#include "log.h"

#define SOURCE_DRAIN_MS	5000

static const char source_usage[] =
    "usage: crossroads source --config FILE [-v]\n"
    "       crossroads source --check --config FILE\n";

/* The host part of HOST:PORT or [V6]:PORT, brackets kept. */
static void
listen_host(const char *listen, char *host, size_t size)
{
	const char *colon = strrchr(listen, ':');
	size_t n = colon != NULL ? (size_t)(colon - listen) : strlen(listen);

	if (n >= size)
		n = size - 1;
	memcpy(host, listen, n);
	host[n] = '\0';
}

int
cr_cmd_source(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	struct cr_adapter_config cfg;
	struct cr_adapter *ad = NULL;
	const char *file = NULL;
	char err[1024], host[128];
	sigset_t sigs;
	int ch, sig, verbose = 0, check = 0, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:nv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fputs(source_usage, stderr);
			return 2;
		}
	}
	if (file == NULL || optind != argc) {
		fputs(source_usage, stderr);
		return 2;
	}
	log_init("crossroads", verbose);
	if (cr_adapter_config_load(&cfg, file, err, sizeof(err)) == -1) {
		fprintf(stderr, "crossroads: %s\n", err);
		cr_adapter_config_free(&cfg);
		return 1;
	}
	if (check) {
		printf("%s: %zu services, configuration OK\n", file,
		    cfg.nservices);
		cr_adapter_config_free(&cfg);
		return 0;
	}

	/* Signals are taken by sigwait below, never by worker threads. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (cr_adapter_start(&cfg, &ad) == -1)
		goto out;
	listen_host(cfg.listen, host, sizeof(host));
	printf("source listening on %s:%u\n", host, cr_adapter_port(ad));
	fflush(stdout);
	log_info("%zu services from %s, database %s", cfg.nservices, file,
	    cfg.database);
	if (sigwait(&sigs, &sig) != 0)
		log_warnx("sigwait failed");
	log_info("signal %d: stopping", sig);
	rc = 0;
out:
	cr_adapter_stop(ad, SOURCE_DRAIN_MS);
	cr_adapter_config_free(&cfg);
	return rc;
}
