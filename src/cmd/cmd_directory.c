/*
 * crossroads directory import FILE --db PATH [--institution ID]
 * Loads reference-directory records from CSV (header: subject,capacity,
 * from,to[,institution]) or NDJSON, in large transactions, with a
 * progress line on stderr.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "directory.h"
#include "log.h"
#include "util.h"
#include "xlog.h"

/* Records stored, then logged, together: the log's max_batch. */
#define IMPORT_CHUNK	4096

static const struct cr_cmd_opt import_opts[] = {
	{ "db", 'd', "PATH", "the hub's database" },
	{ "institution", 'i', "ID",
	    "institution of the records without an institution column" },
	{ "id-scheme", 's', "NAME",
	    "person identifier scheme (default be-insz)" },
	{ NULL, 0, NULL, NULL }
};

static const struct cr_cmd import_cmd = {
	"directory import", "FILE --db PATH [--institution ID]\n"
	    "           [--id-scheme NAME]",
	"load reference-directory records into the hub's store", import_opts,
	"FILE is CSV with the header subject,capacity,from,to[,institution],\n"
	"or NDJSON. Each record's capacity must be one its institution may\n"
	"declare (the capacity catalogue, registry import). Every record is\n"
	"written to the exchange log: run it while no hub runs on the\n"
	"database (or send the records to POST /v1/directory/batch).\n"
	"Exit status: 0 all loaded; 3 some records were refused\n"
	"(each is reported); 1 failure; 2 usage.\n"
};

struct import {
	struct cr_hub		 hub;
	struct cr_dir_import	 fmt;		/* the file's columns */
	char			 checked[CR_NAME_MAX];	/* last known-good */
	struct cr_dir_entry	*batch;
	int			*created;
	size_t			 n;
	struct cr_xlog_entry	*log;		/* the chunk's entries */
	size_t			 nlog;
	char			 request_id[64];	/* of this run */
	/* The catalogue's last answer, for this institution and capacity. */
	char			 cap_inst[CR_NAME_MAX], cap[CR_NAME_MAX];
	int			 cap_rc;
	struct cr_dir_error	 cap_err;
	unsigned long long	 lines, accepted, created_total, rejected;
	double			 start_ms, last_progress_ms;
};

static int
import_flush(struct import *im)
{
	struct cr_store *st = im->hub.store;
	size_t i;

	if (im->n > 0 && st->directory->ops->dir_put_many(st->directory,
	    im->batch, im->n, im->created) != CR_STORE_OK)
		return -1;
	for (i = 0; i < im->n; i++) {
		im->created_total += im->created[i] != 0;
		cr_directory_log_entry(&im->log[im->nlog++],
		    CR_DIR_LOG_INTEGRATE, &im->batch[i], im->request_id,
		    "operator", "", CR_OUTCOME_GRANTED,
		    im->created[i] ? 201 : 200, "");
	}
	if (cr_xlog_write(im->hub.xlog, im->log, im->nlog) == -1) {
		log_warnx("the exchange log could not be written: the last "
		    "%zu records are stored but not logged; import again "
		    "(is a hub running on this database?)", im->n);
		return -1;
	}
	im->accepted += im->n;
	im->n = 0;
	im->nlog = 0;
	return 0;
}

static void
import_progress(struct import *im, int final)
{
	double now = cr_util_mono_ms(), secs;

	if (!final && now - im->last_progress_ms < 500)
		return;
	im->last_progress_ms = now;
	secs = (now - im->start_ms) / 1e3;
	fprintf(stderr, "\rimported %llu records (%llu new), rejected %llu, "
	    "%.0f records/s%s", im->accepted, im->created_total, im->rejected,
	    secs > 0 ? (double)im->accepted / secs : 0.0, final ? "\n" : "");
}

static void
import_reject(struct import *im, const char *why)
{
	im->rejected++;
	if (im->rejected <= 20)
		fprintf(stderr, "\nline %llu: %s\n", im->lines, why);
}

/* A checked record into the batch. */
static int
import_entry(struct import *im, struct cr_dir_entry *e)
{
	struct cr_institution in;
	int rc;

	/* Unknown institutions would fail the whole chunk: check first. */
	if (strcmp(e->institution, im->checked) != 0) {
		rc = im->hub.store->registry->ops->institution_get(im->hub.store->registry,
		    e->institution, &in);
		if (rc == CR_STORE_NOTFOUND) {
			import_reject(im, "unknown institution");
			return 0;
		}
		if (rc != CR_STORE_OK)
			return -1;
		cr_util_strlcpy(im->checked, e->institution,
		    sizeof(im->checked));
	}
	if (strcmp(e->institution, im->cap_inst) != 0 ||
	    strcmp(e->capacity, im->cap) != 0) {
		im->cap_rc = cr_directory_capacity_allowed(im->hub.store,
		    e->institution, e->capacity, &im->cap_err);
		if (im->cap_rc == -1 && im->cap_err.status != 403)
			return -1;
		cr_util_strlcpy(im->cap_inst, e->institution,
		    sizeof(im->cap_inst));
		cr_util_strlcpy(im->cap, e->capacity, sizeof(im->cap));
	}
	if (im->cap_rc == -1) {
		import_reject(im, im->cap_err.message);
		cr_directory_log_entry(&im->log[im->nlog++],
		    CR_DIR_LOG_INTEGRATE, e, im->request_id, "operator", "",
		    CR_OUTCOME_DENIED, 403, im->cap_err.code);
	} else
		im->n++;
	if (im->n + im->nlog == IMPORT_CHUNK && import_flush(im) == -1)
		return -1;
	import_progress(im, 0);
	return 0;
}

static int
import_file(struct import *im, FILE *f)
{
	struct cr_dir_entry *e;
	struct cr_dir_error err;
	char *line = NULL, why[256];
	size_t cap = 0;
	ssize_t len;
	int first = 1, hrc, rc = -1;

	while ((len = getline(&line, &cap, f)) != -1) {
		im->lines++;
		if (first) {
			first = 0;
			if ((hrc = cr_directory_import_header(&im->fmt, line,
			    why, sizeof(why))) == -1) {
				fprintf(stderr, "crossroads: %s\n", why);
				goto out;
			}
			if (hrc == 0)
				continue;
		}
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		e = &im->batch[im->n];
		if (cr_directory_import_line(&im->hub, &im->fmt, line, e,
		    &err) == -1)
			import_reject(im, err.message);
		else if (import_entry(im, e) == -1)
			goto out;
	}
	if (import_flush(im) == -1)
		goto out;
	rc = 0;
out:
	import_progress(im, 1);
	free(line);
	return rc;
}

static int
directory_import(int argc, char **argv)
{
	static struct import im;
	const char *db = NULL, *scheme = "be-insz", *file;
	FILE *f = NULL;
	int ch, rc = 1;

	if (cr_cmd_help_asked(&import_cmd, argc, argv))
		return 0;
	while ((ch = cr_cmd_getopt(&import_cmd, argc, argv)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'i':
			im.fmt.institution = optarg;
			break;
		case 's':
			scheme = optarg;
			break;
		default:
			return 2;
		}
	}
	if (db == NULL)
		return cr_cmd_usage_error(&import_cmd, "missing --db");
	if (optind == argc)
		return cr_cmd_usage_error(&import_cmd, "missing FILE");
	file = argv[optind++];
	if (cr_cmd_no_operands(&import_cmd, argc, argv) != 0)
		return 2;
	im.hub.person_scheme = cr_ident_find(scheme);
	im.hub.enterprise_scheme = cr_ident_default_enterprise();
	if (im.hub.person_scheme == NULL)
		return cr_cmd_usage_error(&import_cmd, "--id-scheme: unknown "
		    "identifier scheme '%s'", scheme);
	if ((f = fopen(file, "r")) == NULL) {
		log_warn("%s", file);
		return 1;
	}
	im.batch = calloc(IMPORT_CHUNK, sizeof(*im.batch));
	im.created = calloc(IMPORT_CHUNK, sizeof(*im.created));
	im.log = calloc(IMPORT_CHUNK, sizeof(*im.log));
	if (im.batch == NULL || im.created == NULL || im.log == NULL ||
	    sodium_init() < 0 || cr_store_open(db, &im.hub.store) == -1)
		goto out;
	if (cr_xlog_start(im.hub.store, NULL, &im.hub.xlog) == -1) {
		cr_store_close(im.hub.store);
		goto out;
	}
	/* One request id for the whole run: its entries read as one act. */
	memcpy(im.request_id, "import-", 7);
	cr_util_uuid(im.request_id + 7);
	im.start_ms = cr_util_mono_ms();
	if (import_file(&im, f) == 0)
		rc = im.rejected > 0 ? 3 : 0;
	cr_xlog_stop(im.hub.xlog);
	cr_store_close(im.hub.store);
out:
	free(im.batch);
	free(im.created);
	free(im.log);
	fclose(f);
	return rc;
}

int
cr_cmd_directory(int argc, char **argv)
{
	static const struct cr_cmd_sub subs[] = {
		{ &import_cmd, directory_import },
		{ NULL, NULL }
	};

	return cr_cmd_group("directory", subs, argc, argv);
}
