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

static const struct cr_cmd_opt import_opts[] = {
	{ "db", 'd', "PATH", "the hub's database" },
	{ NULL, 0, NULL, NULL }
};

static const struct cr_cmd import_cmd = {
	"registry import", "FILE --db PATH",
	"load institutions, clients, services and authorizations", import_opts,
	"FILE is a registry file (registry.json, as `crossroads gen` writes\n"
	"it). What is already there is skipped: importing twice is harmless.\n"
};

static int
registry_import(int argc, char **argv)
{
	struct cr_registry_counts c;
	struct cr_store *st = NULL;
	const char *db = NULL, *file;
	char err[768];
	int ch, rc = 1;

	if (cr_cmd_help_asked(&import_cmd, argc, argv))
		return 0;
	while ((ch = cr_cmd_getopt(&import_cmd, argc, argv)) != -1) {
		if (ch != 'd')
			return 2;
		db = optarg;
	}
	if (db == NULL)
		return cr_cmd_usage_error(&import_cmd, "missing --db");
	if (optind == argc)
		return cr_cmd_usage_error(&import_cmd, "missing FILE");
	file = argv[optind++];
	if (cr_cmd_no_operands(&import_cmd, argc, argv) != 0)
		return 2;
	if (sodium_init() < 0) {
		fprintf(stderr, "crossroads: libsodium failed to start\n");
		return 1;
	}
	if (cr_store_open(db, &st) == -1) {
		fprintf(stderr, "crossroads: cannot open the store %s\n", db);
		return 1;
	}
	if (cr_registry_load_file(st, file, &c, err, sizeof(err))
	    == -1) {
		fprintf(stderr, "crossroads: %s\n", err);
		goto out;
	}
	printf("institutions: %lu added, %lu already there\n"
	    "clients: %lu added, %lu already there\n"
	    "services: %lu added, %lu already there\n"
	    "authorizations: %lu added, %lu already there\n"
	    "capacities: %lu added, %lu already there\n",
	    c.institutions_added, c.institutions_skipped, c.clients_added,
	    c.clients_skipped, c.services_added, c.services_skipped,
	    c.authorizations_added, c.authorizations_skipped,
	    c.capacities_added, c.capacities_skipped);
	rc = 0;
out:
	cr_store_close(st);
	return rc;
}

int
cr_cmd_registry(int argc, char **argv)
{
	static const struct cr_cmd_sub subs[] = {
		{ &import_cmd, registry_import },
		{ NULL, NULL }
	};

	return cr_cmd_group("registry", subs, argc, argv);
}
