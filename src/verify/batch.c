/*
 * Batches: parsing of the subject lists and the background runner
 * (batch.h, docs/batches.md).
 *
 * One thread runs every batch. Verification callbacks run on the
 * exchange-log writer's or the verify module's thread and must not wait:
 * they only put the finished verification on a list and signal. The
 * runner builds the answers (rules, JSON) itself, writes them in groups
 * (one transaction per FLUSH_MAX results or FLUSH_MS), and tops each
 * batch up to `concurrency` verifications in flight, reading the pending
 * lines from the store a page at a time, so that a batch of a million
 * lines never sits in memory.
 *
 * Size: just over 800 lines because the parser of subject lists shares
 * the runner's limits and error lines; the runner alone is about 600.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "batch.h"
#include "bundle.h"
#include "log.h"
#include "util.h"
#include "verify.h"

#define PAGE		1024	/* pending lines read at a time */
#define FLUSH_MAX	512	/* results written per transaction at most */
#define FLUSH_MS	50	/* a result waits at most this long */
#define RETRY_MS	1000	/* after a storage error */

/* Parsing ------------------------------------------------------------------ */

static int
subject_ok(const char *s, size_t len, size_t lineno, char *err, size_t errlen)
{
	char tmp[CR_BATCH_SUBJECT_MAX];
	size_t i;

	if (len == 0) {
		snprintf(err, errlen, "line %zu: empty subject", lineno);
		return -1;
	}
	if (len >= CR_BATCH_SUBJECT_MAX) {
		snprintf(err, errlen, "line %zu: subject longer than %d "
		    "characters", lineno, CR_BATCH_SUBJECT_MAX - 1);
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errlen, "line %zu: control character "
			    "in subject", lineno);
			return -1;
		}
	/* Quoted in results and logged: text only (CSV is any bytes). */
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (!cr_util_utf8_text(tmp)) {
		snprintf(err, errlen, "line %zu: subject is not UTF-8 text",
		    lineno);
		return -1;
	}
	return 0;
}

/* One NDJSON line (trimmed, NUL-terminated): the subject, in place. */
static char *
ndjson_line(char *line, size_t lineno, char *err, size_t errlen)
{
	static const char pre[] = "{\"subject\":\"";
	const size_t plen = sizeof(pre) - 1;
	size_t len = strlen(line), n;
	json_error_t jerr;
	json_t *j, *v;
	char *q;

	/* The common shape without a JSON parser: a million lines. */
	if (len > plen + 2 && strncmp(line, pre, plen) == 0 &&
	    strcmp(line + len - 2, "\"}") == 0) {
		q = line + plen;
		n = len - plen - 2;
		if (memchr(q, '"', n) == NULL && memchr(q, '\\', n) == NULL) {
			if (subject_ok(q, n, lineno, err, errlen) == -1)
				return NULL;
			q[n] = '\0';
			return q;
		}
	}
	if ((j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		snprintf(err, errlen, "line %zu: not JSON: %s", lineno,
		    jerr.text);
		return NULL;
	}
	q = NULL;
	if (!json_is_object(j))
		snprintf(err, errlen, "line %zu: expected an object", lineno);
	else if (!json_is_string(v = json_object_get(j, "subject")))
		snprintf(err, errlen, "line %zu: \"subject\" must be a string",
		    lineno);
	else if (subject_ok(json_string_value(v), json_string_length(v),
	    lineno, err, errlen) == 0 &&
	    strlen(json_string_value(v)) == json_string_length(v)) {
		/* Shorter than the line that holds it. */
		memcpy(line, json_string_value(v), json_string_length(v) + 1);
		q = line;
	} else if (err[0] == '\0')
		snprintf(err, errlen, "line %zu: NUL in subject", lineno);
	json_decref(j);
	return q;
}

/*
 * The next field of a CSV line at *p, unquoted in place; *p moves past
 * the delimiter, or to NULL after the last field. 0 or -1 (bad quotes).
 */
static int
csv_field(char **p, char delim, char **field)
{
	char *s = *p, *w;

	if (*s != '"') {
		*field = s;
		if ((w = strchr(s, delim)) == NULL)
			*p = NULL;
		else {
			*w = '\0';
			*p = w + 1;
		}
		*field = cr_util_trim(*field);
		return 0;
	}
	*field = w = ++s;
	for (;;) {
		if (*s == '\0')
			return -1;
		if (*s == '"') {
			if (s[1] == '"') {
				*w++ = '"';
				s += 2;
				continue;
			}
			s++;
			break;
		}
		*w++ = *s++;
	}
	*w = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		*p = NULL;
	else if (*s == delim)
		*p = s + 1;
	else
		return -1;
	return 0;
}

static int
push(char ***list, size_t *n, size_t *cap, char *s)
{
	char **nl;
	size_t nc;

	if (*n == *cap) {
		nc = *cap == 0 ? 1024 : *cap * 2;
		if ((nl = reallocarray(*list, nc, sizeof(*nl))) == NULL)
			return -1;
		*list = nl;
		*cap = nc;
	}
	(*list)[(*n)++] = s;
	return 0;
}

int
cr_batch_parse(char *body, size_t len, int csv, char ***subjects,
    size_t *n, char *err, size_t errlen)
{
	char **list = NULL, *line, *next, *end = body + len, *p, *f;
	char delim = ',';
	size_t cnt = 0, cap = 0, lineno = 0, col = 0, i;
	int header = csv;

	*subjects = NULL;
	*n = 0;
	err[0] = '\0';
	if (strlen(body) != len) {
		snprintf(err, errlen, "NUL byte in the body");
		return -1;
	}
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		body += 3;
	for (line = body; line < end; line = next) {
		lineno++;
		if ((next = memchr(line, '\n', (size_t)(end - line))) == NULL)
			next = end;
		else
			*next++ = '\0';
		line = cr_util_trim(line);
		if (*line == '\0')
			continue;
		if (!csv) {
			if ((f = ndjson_line(line, lineno, err, errlen)) ==
			    NULL)
				goto fail;
		} else if (header) {
			if (strchr(line, ',') == NULL &&
			    strchr(line, ';') != NULL)
				delim = ';';
			for (p = line, i = 0; p != NULL; i++) {
				if (csv_field(&p, delim, &f) == -1) {
					snprintf(err, errlen, "line %zu: bad "
					    "quotes", lineno);
					goto fail;
				}
				if (strcasecmp(f, "subject") == 0)
					break;
			}
			if (p == NULL && strcasecmp(f, "subject") != 0) {
				snprintf(err, errlen, "line %zu: the header "
				    "names no \"subject\" column", lineno);
				goto fail;
			}
			col = i;
			header = 0;
			continue;
		} else {
			for (p = line, i = 0; ; i++) {
				if (p == NULL) {
					snprintf(err, errlen, "line %zu: no "
					    "subject column", lineno);
					goto fail;
				}
				if (csv_field(&p, delim, &f) == -1) {
					snprintf(err, errlen, "line %zu: bad "
					    "quotes", lineno);
					goto fail;
				}
				if (i == col)
					break;
			}
			if (subject_ok(f, strlen(f), lineno, err, errlen) == -1)
				goto fail;
		}
		if (push(&list, &cnt, &cap, f) == -1) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (header) {
		snprintf(err, errlen, "empty CSV: expected a header naming a "
		    "\"subject\" column");
		goto fail;
	}
	if (cnt == 0) {
		snprintf(err, errlen, "no subjects");
		goto fail;
	}
	*subjects = list;
	*n = cnt;
	return 0;
fail:
	free(list);
	return -1;
}

/* The runner --------------------------------------------------------------- */

struct job;

/* A verification in flight. */
struct item {
	struct item		*next;
	struct cr_batch_runner	*r;
	struct job		*job;
	uint64_t		 line;
	char			 subject[CR_BATCH_SUBJECT_MAX];
	struct cr_verification	*v;		/* NULL: out of memory */
};

/* A batch being run; touched by the runner thread only. */
struct job {
	struct job		*next;
	struct cr_batch		 b;
	json_t			*def;		/* the bundle's definition */
	uint64_t		 cursor;	/* last line read */
	struct cr_batch_item	 buf[PAGE];	/* read, not started */
	size_t			 nbuf, ibuf;
	int			 exhausted;
	double			 retry_at;	/* after a storage error */
	size_t			 inflight;	/* started, not in wq */
	/* Results to write: room for FLUSH_MAX and k in flight. */
	struct cr_batch_item	*wq;
	size_t			 nwq;
	double			 wq_since;
	char			 fail[CR_TEXT_MAX];	/* "": fine */
	int			 halted;	/* the verifier stopped: start
						   nothing, never close */
};

struct added {
	struct added	*next;
	char		 id[40];
};

struct cr_batch_runner {
	struct cr_hub		*hub;
	unsigned		 k;
	pthread_t		 thread;
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	/* Protected by mtx. */
	int			 stopping;
	struct item		*completed;
	struct added		*added;
	/* The thread's. */
	struct job		*jobs;
};


static void
item_done(void *arg, struct cr_verification *v)
{
	struct item *it = arg;
	struct cr_batch_runner *r = it->r;

	it->v = v;
	pthread_mutex_lock(&r->mtx);
	it->next = r->completed;
	r->completed = it;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mtx);
}

static void
request_id(const struct job *j, uint64_t line, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s.%" PRIu64, j->b.id, line);
}

/* A failed line as the results show it: what POST /v1/verify answers. */
static char *
error_line(const char *subject, const char *rid, const char *code,
    const char *msg)
{
	char subj[4 * CR_BATCH_SUBJECT_MAX], text[1024];
	json_t *j;
	char *s;

	/* Text only: a subject stored before they were checked to be. */
	cr_util_utf8_copy(subj, sizeof(subj), subject);
	cr_util_utf8_copy(text, sizeof(text), msg);
	j = json_pack("{s:s,s:{s:s,s:s,s:s}}", "subject", subj, "error",
	    "code", code, "message", text, "request_id", rid);
	s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

/* Queues a result (taking result) for the next write. */
static void
wq_add(struct job *j, uint64_t line, int state, char *result)
{
	struct cr_batch_item *w = &j->wq[j->nwq++];

	memset(w, 0, sizeof(*w));
	w->line = line;
	w->state = state;
	w->result = result;
	if (j->nwq == 1)
		j->wq_since = cr_util_mono_ms();
}

static void
item_finish(struct item *it)
{
	struct job *j = it->job;
	json_t *ans;
	char *txt = NULL, rid[64];
	int state = CR_BATCH_ITEM_DONE;

	if (it->v != NULL && cr_verify_aborted(it->v)) {
		/* Cut short by the shutdown: the line stays pending. */
		j->halted = 1;
		cr_verify_release(it->v);
		j->inflight--;
		free(it);
		return;
	}
	if (it->v != NULL && (ans = cr_verify_answer(it->v)) != NULL) {
		/* As cr_http_reply_json: the same bytes as POST /v1/verify. */
		txt = json_dumps(ans, JSON_COMPACT | JSON_REAL_PRECISION(15));
		json_decref(ans);
	}
	if (txt == NULL) {
		request_id(j, it->line, rid, sizeof(rid));
		txt = error_line(it->subject, rid, "INTERNAL", "out of memory");
		state = CR_BATCH_ITEM_FAILED;
	}
	cr_verify_release(it->v);
	j->inflight--;
	wq_add(j, it->line, state, txt);
	free(it);
}

static void
job_fail(struct job *j, const char *why)
{
	if (j->fail[0] == '\0') {
		log_warnx("batch %s: %s", j->b.id, why);
		cr_util_strlcpy(j->fail, why, sizeof(j->fail));
	}
}

/* Starts the verification of one pending line. */
static void
item_start(struct cr_batch_runner *r, struct job *j,
    const struct cr_batch_item *bi)
{
	struct cr_hub *hub = r->hub;
	struct cr_verify_req vr;
	struct cr_bundle *b;
	struct item *it;
	char norm[CR_SUBJECT_MAX], rid[64], msg[512];

	request_id(j, bi->line, rid, sizeof(rid));
	/* As POST /v1/verify: refused before anything is consulted. */
	if (cr_ident_normalize(hub->person_scheme, bi->subject, norm,
	    sizeof(norm)) == -1 && cr_ident_normalize(hub->enterprise_scheme,
	    bi->subject, norm, sizeof(norm)) == -1) {
		snprintf(msg, sizeof(msg), "'%s' is not a valid identifier",
		    bi->subject);
		wq_add(j, bi->line, CR_BATCH_ITEM_FAILED, error_line(
		    bi->subject, rid, "INVALID_SUBJECT", msg));
		return;
	}
	if (cr_bundle_parse(j->def, &b, msg, sizeof(msg)) == -1) {
		job_fail(j, "the stored bundle is invalid");
		return;
	}
	if ((it = calloc(1, sizeof(*it))) == NULL) {
		cr_bundle_free(b);
		wq_add(j, bi->line, CR_BATCH_ITEM_FAILED, error_line(
		    bi->subject, rid, "INTERNAL", "out of memory"));
		return;
	}
	it->r = r;
	it->job = j;
	it->line = bi->line;
	cr_util_strlcpy(it->subject, bi->subject, sizeof(it->subject));
	j->inflight++;
	memset(&vr, 0, sizeof(vr));
	vr.consumer = j->b.institution;
	vr.client_id = j->b.client;
	vr.end_user = j->b.end_user;
	vr.request_id = rid;
	vr.subject = norm;
	vr.purpose = j->b.purpose;
	vr.reference_date = j->b.reference_date;
	vr.household = j->b.household;
	cr_verify_start(hub, b, &vr, item_done, it);
}

/* Tops the job up to k verifications in flight. */
static void
job_fill(struct cr_batch_runner *r, struct job *j, double now)
{
	size_t n;
	int rc;

	while (j->fail[0] == '\0' && !j->halted && j->inflight < r->k &&
	    j->nwq < FLUSH_MAX) {
		if (j->ibuf == j->nbuf) {
			if (j->exhausted || now < j->retry_at)
				return;
			n = PAGE;
			rc = r->hub->store->batches->ops->batch_pending(r->hub->store->batches,
			    j->b.id, j->cursor, j->buf, &n);
			if (rc != CR_STORE_OK) {
				j->retry_at = now + RETRY_MS;
				return;
			}
			j->nbuf = n;
			j->ibuf = 0;
			if (n == 0) {
				j->exhausted = 1;
				return;
			}
			j->cursor = j->buf[n - 1].line;
		}
		item_start(r, j, &j->buf[j->ibuf++]);
	}
}

/* Writes the queued results; they stay queued when the store fails. */
static void
job_flush(struct cr_batch_runner *r, struct job *j, double now)
{
	struct cr_store *st = r->hub->store;

	if (j->nwq == 0 || now < j->retry_at)
		return;
	if (st->batches->ops->batch_results_put(st->batches,
	    j->b.id, j->wq, j->nwq) !=
	    CR_STORE_OK) {
		j->retry_at = now + RETRY_MS;
		return;
	}
	cr_batch_items_clear(j->wq, j->nwq);
	j->nwq = 0;
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	if (j->wq != NULL)
		cr_batch_items_clear(j->wq, j->nwq);
	free(j->wq);
	json_decref(j->def);
	free(j);
}

/* Loads an accepted or resumed batch; NULL when there is nothing to run. */
static struct job *
job_open(struct cr_batch_runner *r, const char *id)
{
	struct cr_store *st = r->hub->store;
	struct cr_bundle *b = NULL;
	struct job *j;
	char err[512], why[CR_TEXT_MAX];
	int rc;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->wq = calloc(FLUSH_MAX + r->k, sizeof(*j->wq))) == NULL) {
		log_warn("batch %s: calloc", id);
		job_free(j);
		return NULL;
	}
	if (st->batches->ops->batch_get(st->batches,
	    id, &j->b) != CR_STORE_OK) {
		log_warnx("batch %s: cannot read it", id);
		goto fail;
	}
	if (strcmp(j->b.status, "queued") != 0 &&
	    strcmp(j->b.status, "running") != 0)
		goto fail;
	rc = cr_bundle_load(st, j->b.bundle, &b, &j->def, err, sizeof(err));
	if (rc == CR_STORE_ERR)
		goto fail;	/* tried again at the next start */
	if (rc == CR_STORE_NOTFOUND)
		snprintf(why, sizeof(why), "no bundle '%s'", j->b.bundle);
	else if (rc == CR_BUNDLE_INVALID)
		snprintf(why, sizeof(why), "the stored bundle '%s' is "
		    "invalid", j->b.bundle);
	else
		why[0] = '\0';
	cr_bundle_free(b);
	if (why[0] != '\0') {
		log_warnx("batch %s: %s", id, why);
		st->batches->ops->batch_set_status(st->batches,
		    id, "failed", why);
		goto fail;
	}
	if (strcmp(j->b.status, "queued") == 0 &&
	    st->batches->ops->batch_set_status(st->batches,
	    id, "running", NULL) != CR_STORE_OK)
		goto fail;
	log_info("batch %s: running (%" PRIu64 " of %" PRIu64 " lines "
	    "done)", id, j->b.done, j->b.total);
	return j;
fail:
	job_free(j);
	return NULL;
}

/* 1 when the job is over (done or failed) and was recorded so. */
static int
job_close(struct cr_batch_runner *r, struct job *j)
{
	struct cr_store *st = r->hub->store;

	if (j->inflight > 0 || j->nwq > 0 || j->halted)
		return 0;
	if (cr_util_mono_ms() < j->retry_at)
		return 0;
	if (j->fail[0] != '\0') {
		if (st->batches->ops->batch_set_status(st->batches,
		    j->b.id, "failed", j->fail) !=
		    CR_STORE_OK) {
			j->retry_at = cr_util_mono_ms() + RETRY_MS;
			return 0;
		}
		return 1;
	}
	if (!j->exhausted || j->ibuf < j->nbuf)
		return 0;
	if (st->batches->ops->batch_set_status(st->batches,
	    j->b.id, "done", NULL) !=
	    CR_STORE_OK) {
		j->retry_at = cr_util_mono_ms() + RETRY_MS;
		return 0;
	}
	log_info("batch %s: done", j->b.id);
	return 1;
}

/* Whether the thread has something to do without waiting. */
static int
runnable(struct cr_batch_runner *r, double now, double *wake)
{
	struct job *j;
	int run = 0;

	*wake = 0;
	for (j = r->jobs; j != NULL; j = j->next) {
		double t = 0;

		if (j->nwq > 0)
			t = j->wq_since + FLUSH_MS;
		if (j->retry_at > now && (t == 0 || j->retry_at > t))
			t = j->retry_at;
		if (t > 0 && (*wake == 0 || t < *wake))
			*wake = t;
		if (j->fail[0] == '\0' && !j->halted && j->inflight < r->k &&
		    j->nwq < FLUSH_MAX && (j->ibuf < j->nbuf ||
		    (!j->exhausted && now >= j->retry_at)))
			run = 1;
		if (j->inflight == 0 && j->nwq == 0 && now >= j->retry_at &&
		    !j->halted && (j->fail[0] != '\0' || (j->exhausted &&
		    j->ibuf == j->nbuf)))
			run = 1;
	}
	return run;
}

static void *
runner_main(void *arg)
{
	struct cr_batch_runner *r = arg;
	struct item *done, *it;
	struct added *add, *a;
	struct job *j, **pp;
	struct timespec ts;
	double now, wake;
	int stopping = 0;

	for (;;) {
		pthread_mutex_lock(&r->mtx);
		for (;;) {
			now = cr_util_mono_ms();
			/* A pass once stopping: halted jobs are idle. */
			if (r->completed != NULL || r->added != NULL ||
			    (r->stopping && (r->jobs == NULL || !stopping)) ||
			    (!r->stopping && runnable(r, now, &wake)))
				break;
			if (r->stopping)
				runnable(r, now, &wake);
			if (wake == 0 || wake <= now) {
				if (wake > 0)
					break;
				pthread_cond_wait(&r->cond, &r->mtx);
				continue;
			}
			cr_util_ms_timespec(wake, &ts);
			pthread_cond_timedwait(&r->cond, &r->mtx, &ts);
			break;
		}
		done = r->completed;
		r->completed = NULL;
		add = r->added;
		r->added = NULL;
		stopping = r->stopping;
		pthread_mutex_unlock(&r->mtx);

		while ((a = add) != NULL) {
			add = a->next;
			if (!stopping && (j = job_open(r, a->id)) != NULL) {
				j->next = r->jobs;
				r->jobs = j;
			}
			free(a);
		}
		while ((it = done) != NULL) {
			done = it->next;
			item_finish(it);
		}
		now = cr_util_mono_ms();
		for (j = r->jobs; j != NULL; j = j->next) {
			if (j->nwq >= FLUSH_MAX || (j->nwq > 0 &&
			    (stopping || j->inflight == 0 ||
			    now >= j->wq_since + FLUSH_MS)))
				job_flush(r, j, now);
			if (!stopping)
				job_fill(r, j, now);
		}
		for (pp = &r->jobs; (j = *pp) != NULL; ) {
			if (job_close(r, j) || (stopping &&
			    j->inflight == 0 && (j->nwq == 0 ||
			    now < j->retry_at))) {
				*pp = j->next;
				job_free(j);
			} else
				pp = &j->next;
		}
		if (stopping && r->jobs == NULL)
			break;
	}
	return NULL;
}

static void
runner_add(struct cr_batch_runner *r, const char *id)
{
	struct added *a, **pp;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		log_warn("batch %s: calloc (it runs at the next start)", id);
		return;
	}
	cr_util_strlcpy(a->id, id, sizeof(a->id));
	pthread_mutex_lock(&r->mtx);
	/* In order: the oldest batch first. */
	for (pp = &r->added; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = a;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mtx);
}

void
cr_batch_runner_add(struct cr_batch_runner *r, const char *id)
{
	if (r != NULL)
		runner_add(r, id);
}

int
cr_batch_runner_start(struct cr_hub *hub, unsigned concurrency,
    struct cr_batch_runner **out)
{
	struct cr_batch_runner *r;
	json_t *ids = NULL, *v;
	size_t i;
	int err;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("batch: calloc");
		return -1;
	}
	r->hub = hub;
	r->k = concurrency > 0 ? concurrency : 1;
	pthread_mutex_init(&r->mtx, NULL);
	cr_util_cond_init_mono(&r->cond);
	if (hub->store->batches->ops->batch_unfinished(hub->store->batches,
	    &ids) !=
	    CR_STORE_OK) {
		log_warnx("batch: cannot read the unfinished batches");
		goto fail;
	}
	json_array_foreach(ids, i, v)
		runner_add(r, json_string_value(v));
	json_decref(ids);
	if ((err = pthread_create(&r->thread, NULL, runner_main, r)) != 0) {
		errno = err;
		log_warn("batch: pthread_create");
		goto fail;
	}
	pthread_setname_np(r->thread, "cr-batch");
	*out = r;
	return 0;
fail:
	while (r->added != NULL) {
		struct added *a = r->added;

		r->added = a->next;
		free(a);
	}
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mtx);
	free(r);
	return -1;
}

void
cr_batch_runner_stop(struct cr_batch_runner *r)
{
	struct added *a;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mtx);
	r->stopping = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mtx);
	pthread_join(r->thread, NULL);
	while ((a = r->added) != NULL) {
		r->added = a->next;
		free(a);
	}
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mtx);
	free(r);
}
