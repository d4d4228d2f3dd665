/*
 * crossroads log witness --hub URL --state DIR: a process apart from the
 * hub (an institution's, an inspector's, a data-protection authority's)
 * that fetches the hub's signed tree heads, checks that each extends the
 * last it accepted (a consistency proof), countersigns it with its own
 * key and keeps it. A fork (two trees of one size, or a tree that does not
 * extend the last), a rollback (a smaller tree), a bad signature or a
 * changed hub key is an alarm: said on stderr, written to DIR/status.json
 * and DIR/witness.prom, kept in DIR/alarm.json so that every later run
 * fails too until someone has looked, and exit status 1.
 *
 * DIR holds: witness.key (its Ed25519 seed, 0600, created), hub-key.json
 * (the hub's key, pinned at first contact), last-head.json (the last head
 * accepted), heads.ndjson (every head accepted, with the witness's
 * signature over the same bytes), status.json, witness.prom, alarm.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "cmd.h"
#include "log.h"
#include "merkle.h"
#include "sth.h"
#include "translog.h"
#include "util.h"

#define W_OK_		0
#define W_ALARM		1
#define W_USAGE		2
#define W_UNREACHABLE	3

static const struct cr_cmd_opt witness_opts[] = {
	{ "hub", 'u', "URL", "the hub (http://127.0.0.1:8080)" },
	{ "state", 's', "DIR", "the witness's key and the heads it keeps" },
	{ "token", 't', "T", "a token of the hub (default $CROSSROADS_TOKEN)" },
	{ "once", 'o', NULL, "check one head and exit" },
	{ "interval", 'i', "SECONDS", "between two heads (10)" },
	{ NULL, 0, NULL, NULL }
};

const struct cr_cmd cr_cmd_witness_cmd = {
	"log witness", "--hub URL --state DIR [--token T] [--once]\n"
	    "           [--interval SECONDS]",
	"watch the exchange log's signed heads for forks and rollbacks",
	witness_opts,
	"The token is any of the hub's (a client's or the operator's).\n"
	"Exit status: 0 (--once) the head extends the last one accepted;\n"
	"1 alarm: fork, rollback, bad signature or changed hub key (also in\n"
	"DIR/alarm.json, which keeps every later run failing until it is\n"
	"removed); 2 usage or DIR unusable; 3 (--once) the hub could not be\n"
	"asked.\n"
};

struct witness {
	const char	*hub;
	const char	*dir;
	const char	*token;
	uint8_t		 sk[CR_STH_SK_LEN];
	uint8_t		 pk[CR_STH_PK_LEN];
	uint8_t		 hub_pk[CR_STH_PK_LEN];
	int		 have_hub_pk;
	struct cr_tree_head last;
	int		 have_last;
	char		 why[512];	/* of the latest failure */
};

static volatile sig_atomic_t	stop_asked;

static void
on_signal(int sig)
{
	(void)sig;
	stop_asked = 1;
}

static void
state_path(const struct witness *w, const char *name, char out[PATH_MAX])
{
	if (snprintf(out, PATH_MAX, "%s/%s", w->dir, name) >= PATH_MAX)
		out[0] = '\0';
}

/* Writes text to DIR/name atomically. 0 or -1 (said). */
static int
write_state(const struct witness *w, const char *name, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	state_path(w, name, path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("witness: %s", tmp);
		return -1;
	}
	if (fputs(text, f) == EOF || fflush(f) == EOF || fsync(fileno(f)) ==
	    -1) {
		log_warn("witness: %s", tmp);
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path) == -1) {
		log_warn("witness: %s", path);
		return -1;
	}
	return 0;
}

/* GET hub + path: 0 with the answer's JSON (*out, new reference). */
static int
get_json(struct witness *w, const char *path, json_t **out)
{
	struct cr_cmd_answer a;
	char url[2048];
	json_error_t je;
	long status = 0;

	*out = NULL;
	memset(&a, 0, sizeof(a));
	snprintf(url, sizeof(url), "%s%s", w->hub, path);
	if (cr_cmd_http("GET", url, w->token, NULL, NULL, 0, 30000, &a,
	    &status) == -1 || status != 200) {
		snprintf(w->why, sizeof(w->why), "GET %.300s: %s %ld", url,
		    status == 0 ? "no answer" : "status", status);
		cr_cmd_answer_free(&a);
		return -1;
	}
	*out = json_loadb(a.buf != NULL ? a.buf : "", a.len, 0, &je);
	cr_cmd_answer_free(&a);
	if (*out == NULL) {
		snprintf(w->why, sizeof(w->why), "GET %.300s: not JSON: %.150s",
		    url,
		    je.text);
		return -1;
	}
	return 0;
}

static void
write_status(const struct witness *w, const char *status, const char *msg,
    int alarm)
{
	char ts[CR_TS_LEN + 1], prom[512], *text;
	json_t *j;

	cr_util_now_rfc3339(ts);
	j = json_pack("{s:s,s:s,s:s,s:I}", "status", status, "checked_at", ts,
	    "message", msg, "tree_size",
	    (json_int_t)(w->have_last ? w->last.tree_size : 0));
	if (j != NULL && (text = json_dumps(j, JSON_COMPACT)) != NULL) {
		write_state(w, "status.json", text);
		free(text);
	}
	json_decref(j);
	/* For a node exporter's textfile collector. */
	snprintf(prom, sizeof(prom),
	    "# HELP crossroads_witness_alarm 1 after a fork or rollback.\n"
	    "# TYPE crossroads_witness_alarm gauge\n"
	    "crossroads_witness_alarm %d\n"
	    "# TYPE crossroads_witness_tree_size gauge\n"
	    "crossroads_witness_tree_size %llu\n"
	    "# TYPE crossroads_witness_last_check_seconds gauge\n"
	    "crossroads_witness_last_check_seconds %lld\n", alarm,
	    (unsigned long long)(w->have_last ? w->last.tree_size : 0),
	    (long long)time(NULL));
	write_state(w, "witness.prom", prom);
}

/* An alarm: said, kept, exit 1. */
static int
alarm_raise(struct witness *w, const char *kind, const struct cr_tree_head *h)
{
	json_t *j, *hj = h != NULL ? cr_sth_json(h) : json_null();
	char ts[CR_TS_LEN + 1], *text;

	log_warnx("ALARM: %s: %s", kind, w->why);
	cr_util_now_rfc3339(ts);
	j = json_pack("{s:s,s:s,s:s,s:o?}", "alarm", kind, "message", w->why,
	    "at", ts, "head", hj);
	if (j != NULL && (text = json_dumps(j, JSON_COMPACT)) != NULL) {
		write_state(w, "alarm.json", text);
		free(text);
	}
	json_decref(j);
	write_status(w, "alarm", w->why, 1);
	return W_ALARM;
}

static int
load_state(struct witness *w)
{
	char path[PATH_MAX], err[PATH_MAX + 128], buf[4096];
	size_t n;
	int missing;
	FILE *f;

	state_path(w, "witness.key", path);
	if (cr_translog_key_file(path, 1, w->sk, w->pk, err, sizeof(err)) ==
	    -1) {
		log_warnx("witness: %s", err);
		return -1;
	}
	state_path(w, "hub-key.json", path);
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (cr_sth_parse_key(buf, n, w->hub_pk, err, sizeof(err)) ==
		    -1) {
			log_warnx("witness: %s: %s", path, err);
			return -1;
		}
		w->have_hub_pk = 1;
	} else if (errno != ENOENT) {
		log_warn("witness: %s", path);
		return -1;
	}
	state_path(w, "last-head.json", path);
	if (cr_translog_head_read(path, &w->last, &missing, err,
	    sizeof(err)) == 0)
		w->have_last = 1;
	else if (!missing) {
		log_warnx("witness: %s", err);
		return -1;
	}
	return 0;
}

/* Pins the hub's key at first contact; a different one later: alarm. */
static int
check_key(struct witness *w)
{
	uint8_t pk[CR_STH_PK_LEN];
	char err[256], *text;
	json_t *j;
	int rc;

	if (get_json(w, "/v1/log/key", &j) == -1)
		return W_UNREACHABLE;
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL || cr_sth_parse_key(text, strlen(text), pk, err,
	    sizeof(err)) == -1) {
		snprintf(w->why, sizeof(w->why), "the hub's key: %s",
		    text == NULL ? "out of memory" : err);
		free(text);
		return W_UNREACHABLE;
	}
	rc = W_OK_;
	if (!w->have_hub_pk) {
		if (write_state(w, "hub-key.json", text) == -1)
			rc = W_USAGE;
		memcpy(w->hub_pk, pk, sizeof(pk));
		w->have_hub_pk = 1;
		log_info("witness: pinned the hub's key %s", text);
	} else if (sodium_memcmp(pk, w->hub_pk, sizeof(pk)) != 0) {
		snprintf(w->why, sizeof(w->why), "the hub's key changed (now "
		    "%s)", text);
		rc = alarm_raise(w, "key changed", NULL);
	}
	free(text);
	return rc;
}

/* The consistency proof from the last head to h, verified. */
static int
check_consistency(struct witness *w, const struct cr_tree_head *h)
{
	uint8_t proof[CR_MERKLE_MAX_PROOF][CR_HASH_LEN];
	char path[128], err[128];
	json_t *j;
	size_t len;
	int rc;

	snprintf(path, sizeof(path),
	    "/v1/log/proof/consistency?first=%llu&second=%llu",
	    (unsigned long long)w->last.tree_size,
	    (unsigned long long)h->tree_size);
	if (get_json(w, path, &j) == -1)
		return W_UNREACHABLE;
	rc = cr_sth_hashes_from_json(json_object_get(j, "proof"), proof,
	    CR_MERKLE_MAX_PROOF, &len, err, sizeof(err));
	json_decref(j);
	if (rc == -1) {
		snprintf(w->why, sizeof(w->why), "consistency proof %llu..%llu:"
		    " %s", (unsigned long long)w->last.tree_size,
		    (unsigned long long)h->tree_size, err);
		return alarm_raise(w, "fork", h);
	}
	if (cr_merkle_verify_consistency(w->last.tree_size, h->tree_size,
	    w->last.root, h->root, (const uint8_t (*)[CR_HASH_LEN])proof,
	    len) == -1) {
		snprintf(w->why, sizeof(w->why), "the head of tree size %llu "
		    "does not extend the one of %llu accepted before (the "
		    "consistency proof fails): the log was forked or "
		    "rewritten", (unsigned long long)h->tree_size,
		    (unsigned long long)w->last.tree_size);
		return alarm_raise(w, "fork", h);
	}
	return W_OK_;
}

/* Countersigns h and keeps it. */
static int
accept_head(struct witness *w, const struct cr_tree_head *h)
{
	uint8_t msg[CR_STH_MSG_LEN], sig[CR_SIG_LEN];
	char id[CR_KEY_ID_LEN + 1], b64[128], path[PATH_MAX], err[512];
	char *line = NULL;
	json_t *j;
	FILE *f;
	int rc = -1;

	cr_sth_message(h, msg);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), w->sk);
	cr_sth_key_id(w->pk, id);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	j = json_pack("{s:o,s:s,s:s}", "head", cr_sth_json(h),
	    "witness_key_id", id, "witness_signature", b64);
	if (j == NULL || (line = json_dumps(j, JSON_COMPACT)) == NULL)
		goto out;
	state_path(w, "heads.ndjson", path);
	if ((f = fopen(path, "a")) == NULL) {
		log_warn("witness: %s", path);
		goto out;
	}
	if (fprintf(f, "%s\n", line) < 0 || fflush(f) == EOF ||
	    fsync(fileno(f)) == -1) {
		log_warn("witness: %s", path);
		fclose(f);
		goto out;
	}
	fclose(f);
	state_path(w, "last-head.json", path);
	if (cr_translog_head_write(path, h, err, sizeof(err)) == -1) {
		log_warnx("witness: %s", err);
		goto out;
	}
	w->last = *h;
	w->have_last = 1;
	rc = 0;
out:
	free(line);
	json_decref(j);
	return rc;
}

/* One head: W_OK_, W_ALARM, W_UNREACHABLE or W_USAGE. */
static int
check_once(struct witness *w)
{
	struct cr_tree_head h;
	char err[256], msg[256], *text;
	json_t *j;
	int rc;

	if ((rc = check_key(w)) != W_OK_)
		return rc;
	if (get_json(w, "/v1/log/head", &j) == -1)
		return W_UNREACHABLE;
	rc = cr_sth_from_json(j, &h, err, sizeof(err));
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (rc == -1) {
		snprintf(w->why, sizeof(w->why), "the head: %s", err);
		free(text);
		return W_UNREACHABLE;
	}
	free(text);
	if (cr_sth_verify(&h, w->hub_pk) == -1) {
		snprintf(w->why, sizeof(w->why), "the head of tree size %llu "
		    "is not signed by the hub's key",
		    (unsigned long long)h.tree_size);
		return alarm_raise(w, "bad signature", &h);
	}
	if (w->have_last) {
		if (h.tree_size < w->last.tree_size) {
			snprintf(w->why, sizeof(w->why), "the hub's tree has "
			    "%llu entries, %llu were accepted before: the log "
			    "was rolled back", (unsigned long long)h.tree_size,
			    (unsigned long long)w->last.tree_size);
			return alarm_raise(w, "rollback", &h);
		}
		if (h.tree_size == w->last.tree_size) {
			if (sodium_memcmp(h.root, w->last.root, CR_HASH_LEN)
			    != 0) {
				snprintf(w->why, sizeof(w->why), "two roots "
				    "for tree size %llu: the log was forked",
				    (unsigned long long)h.tree_size);
				return alarm_raise(w, "fork", &h);
			}
		} else if ((rc = check_consistency(w, &h)) != W_OK_)
			return rc;
	}
	if (!w->have_last || h.tree_size != w->last.tree_size ||
	    h.timestamp_ms != w->last.timestamp_ms) {
		if (accept_head(w, &h) == -1)
			return W_USAGE;
	}
	snprintf(msg, sizeof(msg), "tree size %llu consistent",
	    (unsigned long long)h.tree_size);
	write_status(w, "ok", msg, 0);
	return W_OK_;
}

/* An alarm kept from an earlier run: still an alarm. */
static int
alarm_pending(struct witness *w)
{
	char path[PATH_MAX], buf[1024];
	size_t n;
	FILE *f;

	state_path(w, "alarm.json", path);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	log_warnx("ALARM raised before and not cleared (%s): %s", path, buf);
	return 1;
}

int
cr_cmd_log_witness(int argc, char **argv)
{
	static struct witness w;
	unsigned long long interval = 10;
	struct sigaction sa;
	int ch, once = 0, rc;

	if (cr_cmd_help_asked(&cr_cmd_witness_cmd, argc, argv))
		return 0;
	memset(&w, 0, sizeof(w));
	w.token = getenv("CROSSROADS_TOKEN");
	while ((ch = cr_cmd_getopt(&cr_cmd_witness_cmd, argc, argv)) != -1) {
		switch (ch) {
		case 'u':
			w.hub = optarg;
			break;
		case 's':
			w.dir = optarg;
			break;
		case 't':
			w.token = optarg;
			break;
		case 'o':
			once = 1;
			break;
		case 'i':
			if (cr_util_parse_ull(optarg, 1, 86400, &interval) ==
			    -1)
				return cr_cmd_usage_error(&cr_cmd_witness_cmd,
				    "--interval: expected 1 to 86400 seconds");
			break;
		default:
			return W_USAGE;
		}
	}
	if (cr_cmd_no_operands(&cr_cmd_witness_cmd, argc, argv) != 0)
		return W_USAGE;
	if (w.hub == NULL)
		return cr_cmd_usage_error(&cr_cmd_witness_cmd, "missing --hub");
	if (w.dir == NULL)
		return cr_cmd_usage_error(&cr_cmd_witness_cmd,
		    "missing --state");
	if (w.token == NULL || *w.token == '\0')
		return cr_cmd_usage_error(&cr_cmd_witness_cmd, "missing "
		    "--token (or CROSSROADS_TOKEN)");
	log_init("crossroads log witness", 0);
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) !=
	    CURLE_OK)
		return W_USAGE;
	if (cr_util_mkdirs(w.dir) == -1 && errno != EEXIST) {
		log_warn("witness: %s", w.dir);
		rc = W_USAGE;
		goto out;
	}
	if (load_state(&w) == -1) {
		rc = W_USAGE;
		goto out;
	}
	if (alarm_pending(&w)) {
		rc = W_ALARM;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (;;) {
		rc = check_once(&w);
		if (rc == W_UNREACHABLE) {
			log_warnx("witness: %s", w.why);
			write_status(&w, "unreachable", w.why, 0);
		} else if (rc == W_OK_ && !once)
			log_info("witness: tree size %llu consistent",
			    (unsigned long long)w.last.tree_size);
		if (once || rc == W_ALARM || rc == W_USAGE)
			break;
		/* sleep() ends early on SIGTERM. */
		if (!stop_asked)
			sleep((unsigned)interval);
		if (stop_asked) {
			rc = W_OK_;
			break;
		}
	}
out:
	sodium_memzero(w.sk, sizeof(w.sk));
	curl_global_cleanup();
	return rc;
}
