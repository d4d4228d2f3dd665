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

#define IMPORT_CHUNK	10000

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
	"or NDJSON. Exit status: 0 all loaded; 3 some records were refused\n"
	"(each is reported); 1 failure; 2 usage.\n"
};

enum { COL_SUBJECT, COL_CAPACITY, COL_FROM, COL_TO, COL_INSTITUTION, NCOLS };
static const char *const col_names[NCOLS] = {
	"subject", "capacity", "from", "to", "institution"
};

struct import {
	struct cr_hub		 hub;
	const char		*institution;	/* default, or NULL */
	char			 checked[CR_NAME_MAX];	/* last known-good */
	struct cr_dir_entry	*batch;
	int			*created;
	size_t			 n;
	unsigned long long	 lines, accepted, created_total, rejected;
	int			 csv;
	int			 col[NCOLS];	/* CSV column of each field */
	double			 start_ms, last_progress_ms;
};

static int
import_flush(struct import *im)
{
	struct cr_store *st = im->hub.store;
	size_t i;

	if (im->n == 0)
		return 0;
	if (st->directory->ops->dir_put_many(st->directory, im->batch, im->n, im->created)
	    != CR_STORE_OK)
		return -1;
	for (i = 0; i < im->n; i++)
		im->created_total += im->created[i] != 0;
	im->accepted += im->n;
	im->n = 0;
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

static int
import_entry(struct import *im, struct cr_dir_entry *e)
{
	struct cr_institution in;
	struct cr_dir_error err;
	int rc;

	if (cr_directory_check_entry(&im->hub, e, &err) == -1) {
		import_reject(im, err.message);
		return 0;
	}
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
	im->n++;
	if (im->n == IMPORT_CHUNK && import_flush(im) == -1)
		return -1;
	import_progress(im, 0);
	return 0;
}

/* Splits a CSV line in place (no quoting: identifiers and dates only). */
static int
csv_split(char *line, char **fields, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		fields[n++] = line;
		if ((line = strchr(line, ',')) == NULL)
			break;
		*line++ = '\0';
	}
	return line == NULL ? n : -1;
}

static int
csv_header(struct import *im, char *line)
{
	char *fields[16];
	int n, i, j;

	for (j = 0; j < NCOLS; j++)
		im->col[j] = -1;
	if ((n = csv_split(line, fields, 16)) < 0)
		return -1;
	for (i = 0; i < n; i++)
		for (j = 0; j < NCOLS; j++)
			if (strcmp(fields[i], col_names[j]) == 0)
				im->col[j] = i;
	if (im->col[COL_SUBJECT] < 0 || im->col[COL_CAPACITY] < 0) {
		fprintf(stderr, "crossroads: the CSV header must name at least "
		    "subject and capacity\n");
		return -1;
	}
	if (im->col[COL_INSTITUTION] < 0 && im->institution == NULL) {
		fprintf(stderr, "crossroads: no institution column: give "
		    "--institution\n");
		return -1;
	}
	return 0;
}

static int
csv_line(struct import *im, char *line)
{
	struct cr_dir_entry *e = &im->batch[im->n];
	char *fields[16];
	const char *v[NCOLS];
	int n, j;

	if ((n = csv_split(line, fields, 16)) < 0) {
		import_reject(im, "too many columns");
		return 0;
	}
	for (j = 0; j < NCOLS; j++)
		v[j] = im->col[j] >= 0 && im->col[j] < n ? fields[im->col[j]] :
		    "";
	memset(e, 0, sizeof(*e));
	if (strlen(v[COL_SUBJECT]) >= sizeof(e->subject) ||
	    strlen(v[COL_CAPACITY]) >= sizeof(e->capacity) ||
	    strlen(v[COL_FROM]) >= sizeof(e->from) ||
	    strlen(v[COL_TO]) >= sizeof(e->to) ||
	    strlen(v[COL_INSTITUTION]) >= sizeof(e->institution)) {
		import_reject(im, "a field is too long");
		return 0;
	}
	cr_util_strlcpy(e->subject, v[COL_SUBJECT], sizeof(e->subject));
	cr_util_strlcpy(e->capacity, v[COL_CAPACITY], sizeof(e->capacity));
	cr_util_strlcpy(e->from, v[COL_FROM], sizeof(e->from));
	cr_util_strlcpy(e->to, v[COL_TO], sizeof(e->to));
	cr_util_strlcpy(e->institution, *v[COL_INSTITUTION] ?
	    v[COL_INSTITUTION] : (im->institution ? im->institution : ""),
	    sizeof(e->institution));
	return import_entry(im, e);
}

static int
ndjson_line(struct import *im, const char *line)
{
	struct cr_dir_entry *e = &im->batch[im->n];
	struct cr_dir_error err;
	char *copy = NULL;
	json_t *o;
	json_error_t jerr;
	int rc;

	/* An institution in the record overrides --institution. */
	o = json_loads(line, 0, &jerr);
	if (o != NULL && json_object_get(o, "institution") == NULL &&
	    im->institution != NULL) {
		json_object_set_new(o, "institution",
		    json_string(im->institution));
		copy = json_dumps(o, JSON_COMPACT);
	}
	json_decref(o);
	rc = cr_directory_parse_record(&im->hub, copy ? copy : line,
	    strlen(copy ? copy : line), NULL, e, &err);
	free(copy);
	if (rc == -1) {
		import_reject(im, err.message);
		return 0;
	}
	return import_entry(im, e);
}

static int
import_file(struct import *im, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int first = 1, rc = -1;

	while ((len = getline(&line, &cap, f)) != -1) {
		im->lines++;
		if (first) {
			first = 0;
			im->csv = line[0] != '{';
			if (im->csv) {
				if (csv_header(im, line) == -1)
					goto out;
				continue;
			}
		}
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		if ((im->csv ? csv_line(im, line) : ndjson_line(im, line)) == -1)
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
			im.institution = optarg;
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
	if (im.batch == NULL || im.created == NULL || sodium_init() < 0 ||
	    cr_store_open(db, &im.hub.store) == -1)
		goto out;
	im.start_ms = cr_util_mono_ms();
	if (import_file(&im, f) == 0)
		rc = im.rejected > 0 ? 3 : 0;
	cr_store_close(im.hub.store);
out:
	free(im.batch);
	free(im.created);
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
