/* crossroads: one binary, subcommands. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const char usage[] =
    "usage: crossroads COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE] [--listen HOST:PORT] [--db PATH]   run the hub\n"
    "  log verify --db PATH                  check the exchange log's hash chain\n"
    "  directory import FILE --db PATH [--institution ID]\n"
    "                                        load reference-directory records\n"
    "  source --config FILE                  serve an SQL database as an authentic source\n"
    "  gen [--persons N] [--seed S] --out DIR  generate a synthetic country\n"
    "  registry import FILE --db PATH        load institutions, services, authorizations\n"
    "  demo [--dir DIR] [--persons N]        run a synthetic country: sources and hub\n"
    "  batch run FILE --bundle B --purpose P [--hub URL] [--out FILE]\n"
    "                                        verify a list of subjects on a hub\n"
    "  version                               print the version\n"
    "\n"
    "The operator token is read from CROSSROADS_ADMIN_TOKEN. See README.md.\n";

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cr_cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "log") == 0)
		return cr_cmd_log(argc - 1, argv + 1);
	if (strcmp(argv[1], "directory") == 0)
		return cr_cmd_directory(argc - 1, argv + 1);
	if (strcmp(argv[1], "source") == 0)
		return cr_cmd_source(argc - 1, argv + 1);
	if (strcmp(argv[1], "gen") == 0)
		return cr_cmd_gen(argc - 1, argv + 1);
	if (strcmp(argv[1], "registry") == 0)
		return cr_cmd_registry(argc - 1, argv + 1);
	if (strcmp(argv[1], "demo") == 0)
		return cr_cmd_demo(argc - 1, argv + 1);
	if (strcmp(argv[1], "batch") == 0)
		return cr_cmd_batch(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0) {
		puts("crossroads " CR_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "crossroads: unknown command '%s'\n\n%s", argv[1],
	    usage);
	return 2;
}
