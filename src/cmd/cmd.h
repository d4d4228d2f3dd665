/*
 * Subcommands of the crossroads binary; each returns the exit status: 0,
 * 1 when the work failed, 2 for a usage error (and what the command's
 * header says beyond that).
 *
 * Each command describes its options once, in a struct cr_cmd; cmd_args.c
 * derives from it getopt_long's tables, `--help` (one line per option, on
 * stdout, exit 0) and the usage errors ("crossroads CMD: missing --db"
 * with the short usage, on stderr, exit 2).
 */
#ifndef CR_CMD_H
#define CR_CMD_H

#include <stddef.h>
#include <stdio.h>

#include "log.h"

/* The option letter of --help, reserved in every command. */
#define CR_CMD_HELP	'h'
/* getopt values of options without a short letter start here. */
#define CR_CMD_LONG	256

struct cr_cmd_opt {
	const char	*name;		/* long name, without "--" */
	int		 val;		/* letter, or CR_CMD_LONG + n */
	const char	*arg;		/* value ("PATH"); NULL: a flag */
	const char	*help;		/* one line */
};

struct cr_cmd {
	const char		*name;		/* "log verify" */
	const char		*synopsis;	/* after it: "--db PATH" */
	const char		*about;		/* one line */
	/* Until a NULL name; --help is added. */
	const struct cr_cmd_opt	*opts;
	const char		*more;		/* after the options */
};

/*
 * Call first, with argv[0] the command's name: 1 when --help or -h is
 * among the options (the help is then printed on stdout: exit 0), else 0
 * with getopt reset for cr_cmd_getopt().
 */
int	cr_cmd_help_asked(const struct cr_cmd *, int argc, char **argv);
/*
 * The next option as getopt_long() would give it (value in optarg), -1
 * after the last one (optind is then the first operand), or '?' after a
 * usage error, already said on stderr: exit 2.
 */
int	cr_cmd_getopt(const struct cr_cmd *, int argc, char **argv);
/* "crossroads CMD: WHAT" and the short usage on stderr; returns 2. */
int	cr_cmd_usage_error(const struct cr_cmd *, const char *fmt, ...)
	    CR_PRINTF(2, 3);
/* 2 unless optind == argc, after saying which argument is too many. */
int	cr_cmd_no_operands(const struct cr_cmd *, int argc, char **argv);

/* A command made of sub-commands ("log verify", "batch run"). */
struct cr_cmd_sub {
	const struct cr_cmd	*cmd;
	/* argv[0] is the sub-command's own name. */
	int			(*run)(int argc, char **argv);
};

/*
 * argv[0] is the group ("log"), argv[1] the sub-command: runs it with
 * argv + 1, prints the group's help (--help, -h), or says what is wrong
 * (exit 2). subs ends with a NULL cmd.
 */
int	cr_cmd_group(const char *group, const struct cr_cmd_sub *subs,
	    int argc, char **argv);

/*
 * One HTTP request of a command (cmd_http.c): GET, or POST of body[0..len)
 * with Content-Type ctype when not NULL; the bearer token when not NULL;
 * timeout_ms 0 for none (a stream). The answer goes to a->out when set,
 * else into a->buf (NUL-terminated, up to CR_CMD_ANSWER_MAX; free with
 * cr_cmd_answer_free). *status is 0 when nothing answered. 0 or -1.
 */
#define CR_CMD_ANSWER_MAX	(1024 * 1024)
struct cr_cmd_answer {
	char	*buf;
	size_t	 len, cap;
	FILE	*out;
	int	 failed;
};
int	cr_cmd_http(const char *method, const char *url, const char *token,
	    const char *ctype, const char *body, size_t len, long timeout_ms,
	    struct cr_cmd_answer *, long *status);
void	cr_cmd_answer_free(struct cr_cmd_answer *);
/*
 * The CA file that an https:// hub's certificate must chain to, for every
 * later cr_cmd_http() (borrowed). NULL: $CROSSROADS_CACERT, else the
 * system's CAs. The client certificate and key presented: those of
 * cr_cmd_http_cert(), else $CROSSROADS_CERT and $CROSSROADS_KEY, if set.
 */
void	cr_cmd_http_cacert(const char *path);
void	cr_cmd_http_cert(const char *cert, const char *key);

int	cr_cmd_serve(int argc, char **argv);
int	cr_cmd_log(int argc, char **argv);
/* crossroads log witness (cmd_witness.c), a sub-command of log. */
extern const struct cr_cmd	cr_cmd_witness_cmd;
int	cr_cmd_log_witness(int argc, char **argv);
int	cr_cmd_audit(int argc, char **argv);
int	cr_cmd_directory(int argc, char **argv);
int	cr_cmd_source(int argc, char **argv);		/* cmd_source.c */
int	cr_cmd_gen(int argc, char **argv);		/* cmd_gen.c */
int	cr_cmd_registry(int argc, char **argv);		/* cmd_registry.c */
int	cr_cmd_demo(int argc, char **argv);		/* cmd_demo.c */
/*
 * The demo's CA in dir (cmd_demo_pki.c): ca.pem and ca.key, hub.pem and
 * hub.key, source.pem and source.key (server certificates for 127.0.0.1
 * and localhost), hub-client.pem and hub-client.key (the hub's client
 * certificate). 0 or -1 (logged).
 */
int	cr_cmd_demo_pki(const char *dir);
int	cr_cmd_batch(int argc, char **argv);		/* cmd_batch.c */

#endif
