/*
 * Option parsing shared by the subcommands (cmd.h): getopt_long's tables,
 * --help and the usage errors, all from one struct cr_cmd per command so
 * that the help cannot drift from the options.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

#define MAX_OPTS	32		/* per command, --help included */

static const struct cr_cmd_opt help_opt = {
	"help", CR_CMD_HELP, NULL, "print this help and exit"
};

struct tables {
	struct option	 lo[MAX_OPTS + 1];
	char		 so[2 * MAX_OPTS + 2];
};

static void
tables_add(struct tables *t, size_t *n, size_t *k, const struct cr_cmd_opt *o)
{
	if (*n >= MAX_OPTS)
		return;
	t->lo[*n].name = o->name;
	t->lo[*n].has_arg = o->arg != NULL ? required_argument : no_argument;
	t->lo[*n].flag = NULL;
	t->lo[*n].val = o->val;
	(*n)++;
	if (o->val < CR_CMD_LONG) {
		t->so[(*k)++] = (char)o->val;
		if (o->arg != NULL)
			t->so[(*k)++] = ':';
	}
}

static void
tables_make(const struct cr_cmd *c, struct tables *t)
{
	size_t i, n = 0, k = 0;

	/* Leading ':': a missing value is told apart, and said by us. */
	t->so[k++] = ':';
	for (i = 0; c->opts[i].name != NULL; i++)
		tables_add(t, &n, &k, &c->opts[i]);
	tables_add(t, &n, &k, &help_opt);
	memset(&t->lo[n], 0, sizeof(t->lo[n]));
	t->so[k] = '\0';
}

/* "-d, --db PATH" (or "    --household") into spec; its length. */
static int
option_spec(const struct cr_cmd_opt *o, char *spec, size_t size)
{
	int n;

	if (o->val < CR_CMD_LONG)
		n = snprintf(spec, size, "-%c, --%s", o->val, o->name);
	else
		n = snprintf(spec, size, "    --%s", o->name);
	if (o->arg != NULL && n >= 0 && (size_t)n < size)
		n += snprintf(spec + n, size - (size_t)n, " %s", o->arg);
	return n;
}

static void
print_option(const struct cr_cmd_opt *o, int width)
{
	char spec[128];

	option_spec(o, spec, sizeof(spec));
	printf("  %-*s  %s\n", width, spec, o->help);
}

static void
print_help(const struct cr_cmd *c)
{
	char spec[128];
	size_t i;
	int n, width = option_spec(&help_opt, spec, sizeof(spec));

	/* One column for the options, as wide as the widest. */
	for (i = 0; c->opts[i].name != NULL; i++)
		if ((n = option_spec(&c->opts[i], spec, sizeof(spec))) > width)
			width = n;
	printf("usage: crossroads %s %s\n\n%c%s.\n\nOptions:\n", c->name,
	    c->synopsis, toupper((unsigned char)c->about[0]), c->about + 1);
	for (i = 0; c->opts[i].name != NULL; i++)
		print_option(&c->opts[i], width);
	print_option(&help_opt, width);
	if (c->more != NULL)
		printf("\n%s", c->more);
}

int
cr_cmd_help_asked(const struct cr_cmd *c, int argc, char **argv)
{
	struct tables t;
	int ch, asked = 0;

	tables_make(c, &t);
	/* A pass of its own, so that --help wins over any error. */
	opterr = 0;
	optind = 0;		/* glibc: start afresh */
	while ((ch = getopt_long(argc, argv, t.so, t.lo, NULL)) != -1)
		if (ch == CR_CMD_HELP)
			asked = 1;
	optind = 0;
	if (asked)
		print_help(c);
	return asked;
}

static const char *
option_name(const struct cr_cmd *c, int val)
{
	size_t i;

	for (i = 0; c->opts[i].name != NULL; i++)
		if (c->opts[i].val == val)
			return c->opts[i].name;
	return "?";
}

int
cr_cmd_getopt(const struct cr_cmd *c, int argc, char **argv)
{
	struct tables t;
	const char *arg;
	int ch;

	tables_make(c, &t);
	opterr = 0;
	ch = getopt_long(argc, argv, t.so, t.lo, NULL);
	if (ch == ':') {
		cr_cmd_usage_error(c, "--%s needs a value",
		    option_name(c, optopt));
		return '?';
	}
	if (ch == '?') {
		if (optopt != 0)
			cr_cmd_usage_error(c, "unknown option -%c", optopt);
		else {
			arg = argv[optind - 1];
			cr_cmd_usage_error(c, "unknown option %.*s",
			    (int)strcspn(arg, "="), arg);
		}
		return '?';
	}
	return ch;
}

int
cr_cmd_usage_error(const struct cr_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "crossroads %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: crossroads %s %s\n"
	    "Run 'crossroads %s --help' for the options.\n", c->name,
	    c->synopsis, c->name);
	return 2;
}

int
cr_cmd_no_operands(const struct cr_cmd *c, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	return cr_cmd_usage_error(c, "unexpected argument '%s'", argv[optind]);
}

static void
group_usage(FILE *f, const char *group, const struct cr_cmd_sub *subs)
{
	size_t i;

	for (i = 0; subs[i].cmd != NULL; i++)
		fprintf(f, "%s crossroads %s %s\n", i == 0 ? "usage:" :
		    "      ", subs[i].cmd->name, subs[i].cmd->synopsis);
	fputs("\nCommands:\n", f);
	for (i = 0; subs[i].cmd != NULL; i++)
		fprintf(f, "  %-10s  %s\n", strrchr(subs[i].cmd->name, ' ') + 1,
		    subs[i].cmd->about);
	fprintf(f, "\nRun 'crossroads %s COMMAND --help' for its options.\n",
	    group);
}

int
cr_cmd_group(const char *group, const struct cr_cmd_sub *subs, int argc,
    char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "crossroads %s: missing command\n", group);
		group_usage(stderr, group, subs);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		group_usage(stdout, group, subs);
		return 0;
	}
	for (i = 0; subs[i].cmd != NULL; i++)
		if (strcmp(strrchr(subs[i].cmd->name, ' ') + 1, argv[1]) == 0)
			return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "crossroads %s: unknown command '%s'\n", group,
	    argv[1]);
	group_usage(stderr, group, subs);
	return 2;
}
