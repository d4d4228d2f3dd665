/*
 * crossroads log verify --db PATH [--head FILE [--key FILE]]: checks the
 * exchange log's hash chain and that it extends a saved tree head.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "log.h"
#include "store.h"
#include "translog.h"
#include "xlog.h"

static const struct cr_cmd_opt verify_opts[] = {
	{ "db", 'd', "PATH", "the hub's database (a file, or sqlite:PATH)" },
	{ "head", 'H', "FILE", "a saved tree head (JSON) the log must extend" },
	{ "key", 'k', "FILE",
	    "the hub's public key (JSON of /v1/log/key) that signed it" },
	{ NULL, 0, NULL, NULL }
};

static const struct cr_cmd verify_cmd = {
	"log verify", "--db PATH [--head FILE [--key FILE]]",
	"check the exchange log's hash chain", verify_opts,
	"With --head: the first tree_size entries must have the head's Merkle\n"
	"root (docs/exchange-log.md); with --key the head's signature too.\n"
	"Exit status: 0 intact; 1 broken (the first bad entry is named), or\n"
	"not an extension of the head; 2 usage, or what is to be read cannot\n"
	"be.\n"
};

/* The public key of a key file as GET /v1/log/key gives it. */
static int
read_public_key(const char *path, uint8_t pk[CR_STH_PK_LEN])
{
	char buf[4096], err[256];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "crossroads: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (cr_sth_parse_key(buf, n, pk, err, sizeof(err)) == -1) {
		fprintf(stderr, "crossroads: %s: not a log key: %s\n", path,
		    err);
		return -1;
	}
	return 0;
}

static int
log_verify(int argc, char **argv)
{
	struct cr_store *st = NULL;
	const char *db = NULL, *head_file = NULL, *key_file = NULL;
	struct cr_tree_head head;
	uint8_t pk[CR_STH_PK_LEN];
	char why[256] = "", err[1024];
	uint64_t count = 0, bad = 0;
	int ch, rc, missing;

	if (cr_cmd_help_asked(&verify_cmd, argc, argv))
		return 0;
	while ((ch = cr_cmd_getopt(&verify_cmd, argc, argv)) != -1) {
		if (ch == 'd')
			db = optarg;
		else if (ch == 'H')
			head_file = optarg;
		else if (ch == 'k')
			key_file = optarg;
		else
			return 2;
	}
	if (db == NULL)
		return cr_cmd_usage_error(&verify_cmd, "missing --db");
	if (key_file != NULL && head_file == NULL)
		return cr_cmd_usage_error(&verify_cmd, "--key needs --head");
	if (cr_cmd_no_operands(&verify_cmd, argc, argv) != 0)
		return 2;
	if (sodium_init() < 0)
		return 2;
	if (head_file != NULL && cr_translog_head_read(head_file, &head,
	    &missing, err, sizeof(err)) == -1) {
		fprintf(stderr, "crossroads: %s\n", err);
		return 2;
	}
	if (key_file != NULL) {
		if (read_public_key(key_file, pk) == -1)
			return 2;
		if (cr_sth_verify(&head, pk) == -1) {
			printf("saved head %s is NOT signed by the key %s\n",
			    head_file, key_file);
			return 1;
		}
	}
	/* An auditor's copy may be read-only; a wrong path is not created. */
	if (cr_store_open_readonly(db, &st) == -1) {
		fprintf(stderr, "crossroads: cannot open %s\n", db);
		return 2;
	}
	rc = cr_xlog_verify_head(st, head_file != NULL ? &head : NULL, &count,
	    &bad, why, sizeof(why));
	cr_store_close(st);
	if (rc == 0) {
		printf("exchange log intact: %llu entries\n",
		    (unsigned long long)count);
		if (head_file != NULL)
			printf("it extends the saved head %s (tree size "
			    "%llu)\n", head_file,
			    (unsigned long long)head.tree_size);
		return 0;
	}
	if (rc == -1 && head_file != NULL && strstr(why, "saved head") !=
	    NULL) {
		printf("exchange log does NOT extend the saved head %s (tree "
		    "size %llu): %s\n", head_file,
		    (unsigned long long)head.tree_size, why);
		return 1;
	}
	if (rc == -1) {
		printf("exchange log BROKEN at entry %llu: %s\n",
		    (unsigned long long)bad, why);
		return 1;
	}
	fprintf(stderr, "crossroads: cannot read the exchange log: %s\n", why);
	return 2;
}

int
cr_cmd_log(int argc, char **argv)
{
	static const struct cr_cmd_sub subs[] = {
		{ &verify_cmd, log_verify },
		{ &cr_cmd_witness_cmd, cr_cmd_log_witness },
		{ NULL, NULL }
	};

	return cr_cmd_group("log", subs, argc, argv);
}
