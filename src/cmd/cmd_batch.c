/*
 * crossroads batch run FILE --bundle B --purpose P: sends a list of
 * subjects to a running hub as a batch (POST /v1/batches), shows its
 * progress, and writes its results (docs/batches.md). A hub that
 * restarts meanwhile resumes the batch; the command keeps polling.
 *
 * Exit status: 0 done, every line verified; 3 done, some lines failed
 * (their result lines say why); 4 done, but every line was refused
 * (failed, or every consultation denied): nothing was verified; 1 the hub
 * refused the batch, the batch failed, or the hub could not be reached;
 * 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cmd.h"
#include "util.h"

#define UNREACHABLE_S	300	/* give up polling after this long */

#define OPT_HOUSEHOLD	CR_CMD_LONG
#define OPT_CACERT	(CR_CMD_LONG + 1)

static const struct cr_cmd_opt run_opts[] = {
	{ "bundle", 'b', "B", "the bundle to verify each subject against" },
	{ "purpose", 'p', "P", "the purpose of the verifications" },
	{ "hub", 'H', "URL", "the hub (default $CROSSROADS_HUB, else "
	    "http://127.0.0.1:8080)" },
	{ "token", 't', "T", "a client token (default $CROSSROADS_TOKEN)" },
	{ "out", 'o', "FILE", "the results (default FILE.results.ndjson)" },
	{ "household", OPT_HOUSEHOLD, NULL,
	    "verify each subject's household too" },
	{ "reference-date", 'r', "D", "the rules' date, YYYY-MM-DD" },
	{ "interval", 'i', "MS", "progress polling interval, 10 to 60000 ms" },
	{ "quiet", 'q', NULL, "no progress on stderr" },
	{ "cacert", OPT_CACERT, "FILE", "an https hub's CA (default "
	    "$CROSSROADS_CACERT)" },
	{ NULL, 0, NULL, NULL }
};

static const struct cr_cmd run_cmd = {
	"batch run", "FILE --bundle B --purpose P [--hub URL] [--token T]\n"
	    "           [--out FILE] [--household] [--reference-date D]\n"
	    "           [--interval MS] [--quiet]",
	"verify every subject of FILE on a hub, as one batch", run_opts,
	"FILE holds the subjects: NDJSON ({\"subject\":\"...\"} a line) or\n"
	"CSV with a subject column (docs/batches.md).\n"
	"Exit status: 0 every line verified; 3 some lines failed (their\n"
	"result lines say why); 1 the hub refused or failed the batch, or\n"
	"could not be reached; 2 usage.\n"
};

struct opts {
	const char	*file, *bundle, *purpose, *hub, *token, *out;
	const char	*refdate;
	int		 household, quiet;
	long		 interval_ms;
};

/* One request to the hub with the caller's token. */
static int
request(const struct opts *o, const char *method, const char *url,
    const char *ctype, const char *body, size_t len, struct cr_cmd_answer *a,
    long *status)
{
	return cr_cmd_http(method, url, o->token, ctype, body, len, 0, a,
	    status);
}

/* The error message of a hub's answer, or its status. */
static void
print_error(const char *what, long status, const struct cr_cmd_answer *a)
{
	json_t *j = a->buf != NULL ? json_loads(a->buf, 0, NULL) : NULL;
	const char *code, *msg;

	code = json_string_value(json_object_get(json_object_get(j, "error"),
	    "code"));
	msg = json_string_value(json_object_get(json_object_get(j, "error"),
	    "message"));
	if (status == 0)
		fprintf(stderr, "crossroads: %s: the hub cannot be reached\n",
		    what);
	else
		fprintf(stderr, "crossroads: %s: %ld %s: %s\n", what, status,
		    code != NULL ? code : "", msg != NULL ? msg : "");
	json_decref(j);
}

static char *
read_file(const char *path, size_t *len)
{
	char *buf = NULL, chunk[65536];
	size_t cap = 0, n;
	FILE *f;

	*len = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "crossroads: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (cr_util_buf_append(&buf, len, &cap, (size_t)1 << 34, chunk,
		    n) == -1) {
			fprintf(stderr, "crossroads: %s: too large\n", path);
			goto fail;
		}
	if (ferror(f)) {
		fprintf(stderr, "crossroads: %s: read error\n", path);
		goto fail;
	}
	fclose(f);
	if (buf == NULL && (buf = strdup("")) == NULL)
		return NULL;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

/* NDJSON or CSV: by the extension, else by the first byte. */
static const char *
file_type(const char *path, const char *body)
{
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strcasecmp(dot, ".csv") == 0)
		return "text/csv";
	if (dot != NULL && (strcasecmp(dot, ".ndjson") == 0 ||
	    strcasecmp(dot, ".jsonl") == 0))
		return "application/x-ndjson";
	body += strspn(body, " \t\r\n");
	if (strncmp(body, "\xef\xbb\xbf", 3) == 0)
		body += 3;
	return *body == '{' ? "application/x-ndjson" : "text/csv";
}

static void
progress(uint64_t done, uint64_t total, double rate, int final)
{
	char bar[31], eta[32];
	double frac = total > 0 ? (double)done / (double)total : 1;
	size_t i, fill = (size_t)(frac * 30);
	long s;

	for (i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[30] = '\0';
	if (rate > 0 && done < total) {
		s = (long)((double)(total - done) / rate + 0.5);
		snprintf(eta, sizeof(eta), "ETA %ld:%02ld:%02ld", s / 3600,
		    s / 60 % 60, s % 60);
	} else
		snprintf(eta, sizeof(eta), "%s", done < total ? "ETA --" : "");
	fprintf(stderr, "\r[%s] %5.1f%% %" PRIu64 "/%" PRIu64 " %.0f/s %s   ",
	    bar, frac * 100, done, total, rate, eta);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* 0, 1 after --help, or 2 after a usage error (said). */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
	unsigned long long n;
	int ch;

	memset(o, 0, sizeof(*o));
	o->interval_ms = 500;
	o->hub = getenv("CROSSROADS_HUB");
	o->token = getenv("CROSSROADS_TOKEN");
	if (cr_cmd_help_asked(&run_cmd, argc, argv))
		return 1;
	while ((ch = cr_cmd_getopt(&run_cmd, argc, argv)) != -1) {
		switch (ch) {
		case 'b':
			o->bundle = optarg;
			break;
		case 'p':
			o->purpose = optarg;
			break;
		case 'H':
			o->hub = optarg;
			break;
		case 't':
			o->token = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case OPT_HOUSEHOLD:
			o->household = 1;
			break;
		case 'r':
			o->refdate = optarg;
			break;
		case 'i':
			if (cr_util_parse_ull(optarg, 10, 60000, &n) == -1)
				return cr_cmd_usage_error(&run_cmd,
				    "--interval: expected 10 to 60000");
			o->interval_ms = (long)n;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_CACERT:
			cr_cmd_http_cacert(optarg);
			break;
		default:
			return 2;
		}
	}
	if (o->bundle == NULL)
		return cr_cmd_usage_error(&run_cmd, "missing --bundle");
	if (o->purpose == NULL)
		return cr_cmd_usage_error(&run_cmd, "missing --purpose");
	if (optind == argc)
		return cr_cmd_usage_error(&run_cmd, "missing FILE");
	o->file = argv[optind++];
	if (cr_cmd_no_operands(&run_cmd, argc, argv) != 0)
		return 2;
	if (o->hub == NULL || *o->hub == '\0')
		o->hub = "http://127.0.0.1:8080";
	if (o->token == NULL || *o->token == '\0')
		return cr_cmd_usage_error(&run_cmd, "missing --token (or "
		    "CROSSROADS_TOKEN)");
	return 0;
}

/* POSTs the file; the batch id into id. 0 or -1 (said). */
static int
submit(const struct opts *o, char *id, size_t idlen, uint64_t *total)
{
	struct cr_cmd_answer a = { 0 };
	char *body = NULL, *eb = NULL, *ep = NULL, *url = NULL;
	const char *ctype;
	json_t *j = NULL;
	size_t len, ulen;
	long status;
	int rc = -1;

	if ((body = read_file(o->file, &len)) == NULL)
		goto out;
	ctype = file_type(o->file, body);
	if ((eb = curl_easy_escape(NULL, o->bundle, 0)) == NULL ||
	    (ep = curl_easy_escape(NULL, o->purpose, 0)) == NULL)
		goto out;
	ulen = strlen(o->hub) + strlen(eb) + strlen(ep) + 128 +
	    (o->refdate != NULL ? strlen(o->refdate) : 0);
	if ((url = malloc(ulen)) == NULL)
		goto out;
	snprintf(url, ulen, "%s/v1/batches?bundle=%s&purpose=%s%s%s%s",
	    o->hub, eb, ep, o->household ? "&household=true" : "",
	    o->refdate != NULL ? "&reference_date=" : "",
	    o->refdate != NULL ? o->refdate : "");
	if (request(o, "POST", url, ctype, body, len, &a, &status) == -1 ||
	    status != 202) {
		print_error("POST /v1/batches", status, &a);
		goto out;
	}
	if ((j = json_loads(a.buf, 0, NULL)) == NULL ||
	    !json_is_string(json_object_get(j, "id"))) {
		fprintf(stderr, "crossroads: unexpected answer: %s\n", a.buf);
		goto out;
	}
	cr_util_strlcpy(id, json_string_value(json_object_get(j, "id")), idlen);
	*total = (uint64_t)json_integer_value(json_object_get(j, "total"));
	rc = 0;
out:
	json_decref(j);
	free(a.buf);
	free(url);
	curl_free(eb);
	curl_free(ep);
	free(body);
	return rc;
}

/* Polls until the batch is over; 0 done, -1 failed or unreachable. */
static int
wait_done(const struct opts *o, const char *id, uint64_t *done,
    uint64_t *failed)
{
	struct cr_cmd_answer a = { 0 };
	struct timespec ts;
	char url[2048];
	const char *st;
	json_t *j = NULL;
	double t0 = cr_util_mono_ms(), lost = 0, now;
	uint64_t total, d0 = UINT64_MAX;
	long status;
	int rc = -1, warned = 0;

	snprintf(url, sizeof(url), "%s/v1/batches/%s", o->hub, id);
	for (;;) {
		now = cr_util_mono_ms();
		if (request(o, "GET", url, NULL, NULL, 0, &a, &status) == -1 ||
		    status >= 500 || status == 0) {
			/* A restarting hub: the batch resumes there. */
			if (lost == 0)
				lost = now;
			if (now - lost > UNREACHABLE_S * 1000.0) {
				print_error(url, status, &a);
				goto out;
			}
			if (!warned && !o->quiet)
				fprintf(stderr, "\ncrossroads: the hub does "
				    "not answer; still trying\n");
			warned = 1;
			goto sleep;
		}
		lost = 0;
		warned = 0;
		if (status != 200) {
			print_error(url, status, &a);
			goto out;
		}
		json_decref(j);
		if ((j = json_loads(a.buf, 0, NULL)) == NULL) {
			fprintf(stderr, "crossroads: unexpected answer: %s\n",
			    a.buf);
			goto out;
		}
		st = json_string_value(json_object_get(j, "status"));
		total = (uint64_t)json_integer_value(json_object_get(j,
		    "total"));
		*done = (uint64_t)json_integer_value(json_object_get(j,
		    "done"));
		*failed = (uint64_t)json_integer_value(json_object_get(j,
		    "failed"));
		if (d0 == UINT64_MAX) {
			d0 = *done;
			t0 = now;
		}
		if (!o->quiet)
			progress(*done, total, now > t0 && *done > d0 ?
			    (double)(*done - d0) * 1000.0 / (now - t0) : 0,
			    st != NULL && (strcmp(st, "done") == 0 ||
			    strcmp(st, "failed") == 0));
		if (st != NULL && strcmp(st, "done") == 0) {
			rc = 0;
			goto out;
		}
		if (st == NULL || strcmp(st, "failed") == 0) {
			const char *e = json_string_value(json_object_get(j,
			    "error"));

			fprintf(stderr, "crossroads: batch %s failed: %s\n", id,
			    e != NULL ? e : "?");
			goto out;
		}
sleep:
		ts.tv_sec = o->interval_ms / 1000;
		ts.tv_nsec = o->interval_ms % 1000 * 1000000L;
		nanosleep(&ts, NULL);
	}
out:
	json_decref(j);
	free(a.buf);
	return rc;
}

/* Downloads the results into o->out (through a temporary file). */
/*
 * Whether a result line was refused: a failed line, or a verification
 * whose every consultation was denied (a wrong purpose, no authorization).
 */
static int
line_refused(const char *line)
{
	json_t *j, *m, *res, *r;
	const char *st, *key;
	size_t i;
	int refused = 1;

	if ((j = json_loads(line, 0, NULL)) == NULL)
		return 1;
	json_array_foreach(json_object_get(j, "members"), i, m) {
		res = json_object_get(m, "results");
		json_object_foreach(res, key, r) {
			st = json_string_value(json_object_get(r, "status"));
			if (st != NULL && strcmp(st, "denied") != 0)
				refused = 0;
		}
	}
	json_decref(j);
	return refused;
}

static int
fetch_results(const struct opts *o, const char *id, uint64_t *lines,
    uint64_t *refused)
{
	struct cr_cmd_answer a = { 0 };
	char url[2048], tmp[4096];
	long status;
	FILE *f;
	char *line = NULL;
	size_t linecap = 0;
	int rc = -1, c;

	*lines = *refused = 0;
	snprintf(url, sizeof(url), "%s/v1/batches/%s/results", o->hub, id);
	snprintf(tmp, sizeof(tmp), "%s.part", o->out);
	if ((f = fopen(tmp, "w+")) == NULL) {
		fprintf(stderr, "crossroads: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	a.out = f;
	if (request(o, "GET", url, NULL, NULL, 0, &a, &status) == -1 ||
	    status != 200) {
		/* An error body went to the file: read it back to say it. */
		a.out = NULL;
		rewind(f);
		while ((c = fgetc(f)) != EOF)
			if (cr_util_buf_append(&a.buf, &a.len, &a.cap,
			    CR_CMD_ANSWER_MAX, &(char){ (char)c }, 1) == -1)
				break;
		print_error(url, status, &a);
		goto out;
	}
	rewind(f);
	while (getline(&line, &linecap, f) != -1) {
		(*lines)++;
		*refused += line_refused(line);
	}
	if (fflush(f) != 0 || ferror(f)) {
		fprintf(stderr, "crossroads: %s: write error\n", tmp);
		goto out;
	}
	rc = 0;
out:
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, o->out) == -1) {
		fprintf(stderr, "crossroads: %s: %s\n", o->out,
		    strerror(errno));
		rc = -1;
	}
	if (rc == -1)
		unlink(tmp);
	free(line);
	free(a.buf);
	return rc;
}

static int
batch_run(int argc, char **argv)
{
	struct opts o;
	char id[64], *out = NULL;
	uint64_t total = 0, done = 0, failed = 0, lines, refused;
	size_t len;
	int rc = 1;

	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc == 1 ? 0 : rc;
	rc = 1;
	if (o.out == NULL) {
		len = strlen(o.file) + sizeof(".results.ndjson");
		if ((out = malloc(len)) == NULL)
			return 1;
		snprintf(out, len, "%s.results.ndjson", o.file);
		o.out = out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "crossroads: libcurl cannot start\n");
		goto out;
	}
	if (submit(&o, id, sizeof(id), &total) == -1)
		goto cleanup;
	if (!o.quiet)
		fprintf(stderr, "batch %s: %" PRIu64 " subjects\n", id, total);
	if (wait_done(&o, id, &done, &failed) == -1 ||
	    fetch_results(&o, id, &lines, &refused) == -1)
		goto cleanup;
	if (lines != total) {
		fprintf(stderr, "crossroads: %" PRIu64 " results for %" PRIu64
		    " subjects\n", lines, total);
		goto cleanup;
	}
	if (!o.quiet)
		fprintf(stderr, "batch %s: %" PRIu64 " results (%" PRIu64
		    " failed) in %s\n", id, lines, failed, o.out);
	if (lines > 0 && refused == lines) {
		fprintf(stderr, "crossroads: every line was refused (%" PRIu64
		    " failed, the others denied every consultation): nothing "
		    "was verified; see %s\n", failed, o.out);
		rc = 4;
	} else
		rc = failed > 0 ? 3 : 0;
cleanup:
	curl_global_cleanup();
out:
	free(out);
	return rc;
}

int
cr_cmd_batch(int argc, char **argv)
{
	static const struct cr_cmd_sub subs[] = {
		{ &run_cmd, batch_run },
		{ NULL, NULL }
	};

	return cr_cmd_group("batch", subs, argc, argv);
}
