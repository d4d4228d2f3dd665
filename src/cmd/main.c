/* crossroads: one binary, subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static const struct {
	const char	*name;
	int		(*run)(int, char **);
	const char	*about;
} commands[] = {
	{ "serve", cr_cmd_serve, "run the hub" },
	{ "log", cr_cmd_log,
	    "check the exchange log's hash chain (log verify)" },
	{ "audit", cr_cmd_audit,
	    "check the audit trail's hash chain (audit verify)" },
	{ "directory", cr_cmd_directory,
	    "load reference-directory records (directory import)" },
	{ "source", cr_cmd_source,
	    "serve an SQL database as an authentic source" },
	{ "gen", cr_cmd_gen, "generate a synthetic country" },
	{ "registry", cr_cmd_registry,
	    "load institutions, services, authorizations (registry import)" },
	{ "demo", cr_cmd_demo, "run a synthetic country: sources and hub" },
	{ "batch", cr_cmd_batch,
	    "verify a list of subjects on a hub (batch run)" },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	size_t i;

	fputs("usage: crossroads COMMAND [ARGS]\n\nCommands:\n", f);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s  %s\n", commands[i].name,
		    commands[i].about);
	fprintf(f, "  %-10s  %s\n  %-10s  %s\n", "version",
	    "print the version (also --version)", "help",
	    "this list; 'help COMMAND' for the options of one");
	fputs("\nRun 'crossroads COMMAND --help' for the options of a command."
	    "\nThe operator token is read from CROSSROADS_ADMIN_TOKEN. "
	    "See README.md.\n", f);
}

static int
run(int argc, char **argv)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(argc, argv);
	fprintf(stderr, "crossroads: unknown command '%s'\n\n", argv[0]);
	usage(stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	char **args;
	int i, rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		puts("crossroads " CR_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc == 2) {
			usage(stdout);
			return 0;
		}
		/* help COMMAND...: COMMAND... --help */
		if ((args = calloc((size_t)argc, sizeof(*args))) == NULL)
			return 1;
		for (i = 2; i < argc; i++)
			args[i - 2] = argv[i];
		args[argc - 2] = "--help";
		rc = run(argc - 1, args);
		free(args);
		return rc;
	}
	return run(argc - 1, argv + 1);
}
