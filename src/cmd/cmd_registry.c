/*
 * crossroads registry import FILE --db PATH
 * Loads institutions, client applications (with their tokens' hashes),
 * services and authorizations from a registry file (registry.json, as
 * `crossroads gen` writes it) into the hub's store. What is already there
 * is skipped, so importing twice is harmless.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "registry_file.h"

static const char reg_usage[] =
    "usage: crossroads registry import FILE --db PATH\n";

static int
registry_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	struct cr_registry_counts c;
	struct cr_store *st = NULL;
	const char *db = NULL;
	char err[768];
	int ch, rc = 1;

	optind = 2;
	while ((ch = getopt_long(argc, argv, "d:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		default:
			fputs(reg_usage, stderr);
			return 2;
		}
	}
	if (db == NULL || optind != argc - 1) {
		fputs(reg_usage, stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "crossroads: libsodium failed to start\n");
		return 1;
	}
	if (cr_store_open(db, &st) == -1) {
		fprintf(stderr, "crossroads: cannot open the store %s\n", db);
		return 1;
	}
	if (cr_registry_load_file(st, argv[optind], &c, err, sizeof(err))
	    == -1) {
		fprintf(stderr, "crossroads: %s\n", err);
		goto out;
	}
	printf("institutions: %lu added, %lu already there\n"
	    "clients: %lu added, %lu already there\n"
	    "services: %lu added, %lu already there\n"
	    "authorizations: %lu added, %lu already there\n",
	    c.institutions_added, c.institutions_skipped, c.clients_added,
	    c.clients_skipped, c.services_added, c.services_skipped,
	    c.authorizations_added, c.authorizations_skipped);
	rc = 0;
out:
	cr_store_close(st);
	return rc;
}

int
cr_cmd_registry(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "import") == 0)
		return registry_import(argc, argv);
	fputs(reg_usage, stderr);
	return 2;
}
