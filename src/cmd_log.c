/* crossroads log verify --db PATH: checks the exchange log's hash chain. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "log.h"
#include "store.h"
#include "xlog.h"

static const char log_usage[] = "usage: crossroads log verify --db PATH\n";

int
cr_cmd_log(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	struct cr_store *st = NULL;
	const char *db = NULL;
	char why[256] = "";
	uint64_t count = 0, bad = 0;
	int ch, rc;

	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		fputs(log_usage, stderr);
		return 2;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "d:", longopts, NULL)) != -1) {
		if (ch != 'd') {
			fputs(log_usage, stderr);
			return 2;
		}
		db = optarg;
	}
	if (db == NULL || optind != argc) {
		fputs(log_usage, stderr);
		return 2;
	}
	/* An auditor's copy may be read-only; a wrong path is not created. */
	if (sodium_init() < 0 || cr_store_open_readonly(db, &st) == -1) {
		fprintf(stderr, "crossroads: cannot open %s\n", db);
		return 2;
	}
	rc = cr_xlog_verify(st, &count, &bad, why, sizeof(why));
	cr_store_close(st);
	if (rc == 0) {
		printf("exchange log intact: %llu entries\n",
		    (unsigned long long)count);
		return 0;
	}
	if (rc == -1) {
		printf("exchange log BROKEN at entry %llu: %s\n",
		    (unsigned long long)bad, why);
		return 1;
	}
	fprintf(stderr, "crossroads: cannot read the exchange log: %s\n", why);
	return 2;
}
