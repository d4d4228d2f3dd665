/*
 * crossroads-fixture-source: a real authentic source for integration tests
 * and benchmarks, speaking the hub's source protocol (docs/api.md, "The
 * source protocol"): POST <any path> {"subject":...} -> 200 {"data":{...}} or 404.
 *
 *   --listen 127.0.0.1:PORT   required; port 0 picks a free port
 *   --data FILE               {"<subject>": {<data>}, ...}
 *   --synthetic               deterministic generated data for any subject
 *   --delay-ms N              answer after N ms (suspended, no thread held)
 *   --status N                always answer N {"error":"forced"}
 *   --garbage                 always answer 200 with a body that is not JSON
 *   --threads N               MHD thread pool size (default 2)
 *
 * GET /healthz answers {"status":"ok"}; GET /last answers what the source
 * last received ({"count","x_request_id","body"}) so that tests can check
 * what the hub sent. The X-Request-Id header received is echoed back in
 * X-Seen-Request-Id.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "log.h"
#include "util.h"

#define BODY_MAX	(1024 * 1024)
#define REQID_MAX	128

enum mode {
	MODE_DATA,
	MODE_SYNTHETIC,
	MODE_STATUS,
	MODE_GARBAGE,
};

struct entry {
	char	*subject;
	char	*body;		/* {"data":...}, serialized once at start */
	size_t	 len;
};

struct req {
	char			*body;
	size_t			 len;
	int			 too_large;
	struct MHD_Response	*resp;		/* ready, waiting for its delay */
	unsigned		 status;
	int			 delayed;	/* counted in tq.pending */
};

struct timer {
	double			 due;
	struct MHD_Connection	*conn;
};

static struct {
	enum mode	 mode;
	unsigned	 delay_ms;
	unsigned	 forced_status;
	struct entry	*entries;	/* sorted by subject */
	size_t		 nentries;
} cfg;

/* The delay queue: a min-heap on due time, served by one thread. */
static struct {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	struct timer	*heap;
	size_t		 n, cap;
	size_t		 pending;	/* delayed requests not completed yet */
	int		 stopping;
} tq = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static struct {
	pthread_mutex_t	 mtx;
	unsigned long	 count;
	char		 reqid[REQID_MAX];
	char		*body;
} last = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static const char usage[] =
    "usage: crossroads-fixture-source --listen 127.0.0.1:PORT\n"
    "           [--data FILE | --synthetic | --status N | --garbage]\n"
    "           [--delay-ms N] [--threads N]\n";

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *ea = a, *eb = b;

	return strcmp(ea->subject, eb->subject);
}

static int
load_data(const char *path)
{
	json_error_t jerr;
	json_t *root, *val, *wrap;
	const char *key;
	size_t i = 0;
	int rc = -1;

	root = json_load_file(path, 0, &jerr);
	if (root == NULL) {
		log_warnx("%s:%d: %s", path, jerr.line, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		log_warnx("%s: not a JSON object", path);
		goto out;
	}
	cfg.nentries = json_object_size(root);
	cfg.entries = calloc(cfg.nentries + 1, sizeof(*cfg.entries));
	if (cfg.entries == NULL)
		goto out;
	json_object_foreach(root, key, val) {
		wrap = json_pack("{s:O}", "data", val);
		if (wrap == NULL)
			goto out;
		cfg.entries[i].subject = strdup(key);
		cfg.entries[i].body = json_dumps(wrap, JSON_COMPACT);
		json_decref(wrap);
		if (cfg.entries[i].subject == NULL || cfg.entries[i].body == NULL)
			goto out;
		cfg.entries[i].len = strlen(cfg.entries[i].body);
		i++;
	}
	qsort(cfg.entries, cfg.nentries, sizeof(*cfg.entries), entry_cmp);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* A Belgian national number (YYMMDDSSSCC) with valid check digits. */
static void
make_insz(int year, int month, int day, unsigned serial, char *out,
    size_t outlen)
{
	unsigned long long base;

	base = (unsigned long long)(year % 100) * 10000000ULL +
	    (unsigned long long)month * 100000ULL +
	    (unsigned long long)day * 1000ULL + serial;
	if (year >= 2000)
		base += 2000000000ULL;
	snprintf(out, outlen, "%02d%02d%02d%03u%02llu", year % 100, month,
	    day, serial, 97 - base % 97);
}

static char *
synthetic_body(const char *subject, size_t *len)
{
	char name[160], addr[64], m1[16], m2[16];
	uint32_t h = fnv1a(subject);
	json_t *o;
	char *s;

	snprintf(name, sizeof(name), "Person %s", subject);
	snprintf(addr, sizeof(addr), "%u Main Street", (unsigned)(h % 200) + 1);
	/* Valid identifiers, so that household members can be consulted too. */
	make_insz(1987, 3, 12, (h >> 8) % 997 + 1, m1, sizeof(m1));
	make_insz(2015, 9, 1, (h >> 16) % 997 + 1, m2, sizeof(m2));
	o = json_pack("{s:{s:s,s:s,s:s,s:[s,s],s:n}}", "data", "name", name,
	    "birth_date", "1985-07-30", "address", addr, "household", m1, m2,
	    "death_date");
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s != NULL)
		*len = strlen(s);
	return s;
}

static struct MHD_Response *
json_response(const char *text)
{
	return MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_PERSISTENT);
}

static void
record(struct MHD_Connection *conn, const struct req *r)
{
	const char *rid;
	char *copy = NULL;

	rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (r->body != NULL)
		copy = strndup(r->body, r->len);
	pthread_mutex_lock(&last.mtx);
	last.count++;
	cr_util_strlcpy(last.reqid, rid != NULL ? rid : "", sizeof(last.reqid));
	free(last.body);
	last.body = copy;
	pthread_mutex_unlock(&last.mtx);
}

static struct MHD_Response *
last_response(void)
{
	json_t *o, *body = NULL;
	char *s = NULL;

	pthread_mutex_lock(&last.mtx);
	/* A body that is not JSON is shown as a string. */
	if (last.body != NULL &&
	    (body = json_loads(last.body, JSON_DECODE_ANY, NULL)) == NULL)
		body = json_string(last.body);
	o = json_pack("{s:I,s:s,s:o}", "count", (json_int_t)last.count,
	    "x_request_id", last.reqid, "body",
	    body != NULL ? body : json_null());
	pthread_mutex_unlock(&last.mtx);
	if (o != NULL) {
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	if (s == NULL)
		return NULL;
	return MHD_create_response_from_buffer(strlen(s), s,
	    MHD_RESPMEM_MUST_FREE);
}

/* Builds the answer to a source request; sets *status. */
static struct MHD_Response *
source_response(const struct req *r, unsigned *status)
{
	json_t *root = NULL, *subj;
	struct entry key, *e;
	const char *subject;
	struct MHD_Response *resp = NULL;
	char *s;
	size_t len = 0;

	if (cfg.mode == MODE_STATUS) {
		*status = cfg.forced_status;
		return json_response("{\"error\":\"forced\"}");
	}
	if (cfg.mode == MODE_GARBAGE) {
		*status = MHD_HTTP_OK;
		return json_response("<html>this is not JSON");
	}
	if (r->too_large) {
		*status = 413;
		return json_response("{\"error\":\"too large\"}");
	}
	if (r->body != NULL)
		root = json_loadb(r->body, r->len, 0, NULL);
	subj = json_object_get(root, "subject");
	if (!json_is_object(root) || !json_is_string(subj)) {
		*status = MHD_HTTP_BAD_REQUEST;
		resp = json_response("{\"error\":\"bad request\"}");
		goto out;
	}
	subject = json_string_value(subj);
	if (cfg.mode == MODE_SYNTHETIC) {
		s = synthetic_body(subject, &len);
		if (s == NULL)
			goto out;
		*status = MHD_HTTP_OK;
		resp = MHD_create_response_from_buffer(len, s,
		    MHD_RESPMEM_MUST_FREE);
		goto out;
	}
	key.subject = (char *)subject;
	e = bsearch(&key, cfg.entries, cfg.nentries, sizeof(*cfg.entries),
	    entry_cmp);
	if (e == NULL) {
		*status = MHD_HTTP_NOT_FOUND;
		resp = json_response("{\"error\":\"not found\"}");
		goto out;
	}
	*status = MHD_HTTP_OK;
	resp = MHD_create_response_from_buffer(e->len, e->body,
	    MHD_RESPMEM_PERSISTENT);
out:
	json_decref(root);
	return resp;
}

static void
heap_swap(size_t a, size_t b)
{
	struct timer t = tq.heap[a];

	tq.heap[a] = tq.heap[b];
	tq.heap[b] = t;
}

static int
heap_push(double due, struct MHD_Connection *conn)
{
	struct timer *nh;
	size_t i, p;

	if (tq.n == tq.cap) {
		size_t ncap = tq.cap ? tq.cap * 2 : 256;

		nh = realloc(tq.heap, ncap * sizeof(*nh));
		if (nh == NULL)
			return -1;
		tq.heap = nh;
		tq.cap = ncap;
	}
	i = tq.n++;
	tq.heap[i].due = due;
	tq.heap[i].conn = conn;
	while (i > 0) {
		p = (i - 1) / 2;
		if (tq.heap[p].due <= tq.heap[i].due)
			break;
		heap_swap(i, p);
		i = p;
	}
	return 0;
}

static struct MHD_Connection *
heap_pop(void)
{
	struct MHD_Connection *conn = tq.heap[0].conn;
	size_t i = 0, l, r, m;

	tq.heap[0] = tq.heap[--tq.n];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < tq.n && tq.heap[l].due < tq.heap[m].due)
			m = l;
		if (r < tq.n && tq.heap[r].due < tq.heap[m].due)
			m = r;
		if (m == i)
			break;
		heap_swap(i, m);
		i = m;
	}
	return conn;
}

/*
 * Suspends the connection until its delay is over. The push and the
 * suspension happen under the queue lock so that the timer thread can
 * never resume a connection that is not suspended yet. 0 when scheduled.
 */
static int
schedule(struct MHD_Connection *conn, struct req *r)
{
	int rc = -1;

	pthread_mutex_lock(&tq.mtx);
	if (tq.stopping)
		goto out;
	if (heap_push(cr_util_mono_ms() + cfg.delay_ms, conn) == -1)
		goto out;
	MHD_suspend_connection(conn);
	tq.pending++;
	r->delayed = 1;
	pthread_cond_signal(&tq.cond);
	rc = 0;
out:
	pthread_mutex_unlock(&tq.mtx);
	return rc;
}

static void *
timer_main(void *arg)
{
	struct MHD_Connection *conn;
	struct timespec ts;
	double now, wait;

	pthread_mutex_lock(&tq.mtx);
	for (;;) {
		now = cr_util_mono_ms();
		if (tq.n > 0 && (tq.stopping || tq.heap[0].due <= now)) {
			conn = heap_pop();
			/* Resume outside the lock: MHD takes its own locks. */
			pthread_mutex_unlock(&tq.mtx);
			MHD_resume_connection(conn);
			pthread_mutex_lock(&tq.mtx);
			continue;
		}
		if (tq.stopping)
			break;
		if (tq.n == 0) {
			pthread_cond_wait(&tq.cond, &tq.mtx);
			continue;
		}
		wait = tq.heap[0].due - now;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)((wait - (double)(long)(wait / 1000) *
		    1000) * 1e6);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&tq.cond, &tq.mtx, &ts);
	}
	pthread_mutex_unlock(&tq.mtx);
	return NULL;
}

static void
delayed_done(void)
{
	pthread_mutex_lock(&tq.mtx);
	tq.pending--;
	pthread_cond_broadcast(&tq.cond);
	pthread_mutex_unlock(&tq.mtx);
}

static enum MHD_Result
queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *resp)
{
	const char *rid;
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (rid != NULL)
		MHD_add_response_header(resp, "X-Seen-Request-Id", rid);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct req *r = *con_cls;
	struct MHD_Response *resp;
	unsigned status;
	char *nb;

	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		*con_cls = r;
		return MHD_YES;
	}
	if (r->resp != NULL) {
		/* Resumed: the delay is over. */
		resp = r->resp;
		r->resp = NULL;
		return queue(conn, r->status, resp);
	}
	if (*upload_data_size != 0) {
		if (r->len + *upload_data_size > BODY_MAX)
			r->too_large = 1;
		if (!r->too_large) {
			nb = realloc(r->body, r->len + *upload_data_size);
			if (nb == NULL)
				return MHD_NO;
			r->body = nb;
			memcpy(r->body + r->len, upload_data, *upload_data_size);
			r->len += *upload_data_size;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0)
		return queue(conn, MHD_HTTP_OK, json_response("{\"status\":\"ok\"}"));
	if (strcmp(method, "GET") == 0 && strcmp(url, "/last") == 0)
		return queue(conn, MHD_HTTP_OK, last_response());
	if (strcmp(method, "POST") != 0)
		return queue(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    json_response("{\"error\":\"method not allowed\"}"));

	record(conn, r);
	resp = source_response(r, &status);
	if (resp == NULL)
		return MHD_NO;
	if (cfg.delay_ms > 0) {
		r->resp = resp;
		r->status = status;
		if (schedule(conn, r) == 0)
			return MHD_YES;
		r->resp = NULL;
	}
	return queue(conn, status, resp);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	if (r == NULL)
		return;
	if (r->resp != NULL)
		MHD_destroy_response(r->resp);
	if (r->delayed)
		delayed_done();
	free(r->body);
	free(r);
	*con_cls = NULL;
}

static int
parse_listen(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon;
	unsigned long long port;

	colon = strrchr(s, ':');
	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (cr_util_parse_ull(colon + 1, 0, 65535, &port) == -1)
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	return 0;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	/* Hundreds of slow requests at once need more than 1024 descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct MHD_Daemon *d = NULL;
	const union MHD_DaemonInfo *info;
	const char *listen_arg = NULL, *data = NULL;
	unsigned long long n, threads = 2;
	pthread_condattr_t ca;
	pthread_t timer;
	sigset_t sigs;
	char addr[INET_ADDRSTRLEN];
	double deadline;
	int i, sig, synthetic = 0, garbage = 0, forced = 0, timer_started = 0;
	int rc = 1;

	log_init("crossroads-fixture-source", 0);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--synthetic") == 0) {
			synthetic = 1;
			continue;
		}
		if (strcmp(a, "--garbage") == 0) {
			garbage = 1;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (v == NULL)
			goto bad;
		i++;
		if (strcmp(a, "--listen") == 0)
			listen_arg = v;
		else if (strcmp(a, "--data") == 0)
			data = v;
		else if (strcmp(a, "--delay-ms") == 0 &&
		    cr_util_parse_ull(v, 0, 3600000, &n) == 0)
			cfg.delay_ms = (unsigned)n;
		else if (strcmp(a, "--status") == 0 &&
		    cr_util_parse_ull(v, 100, 599, &n) == 0) {
			cfg.forced_status = (unsigned)n;
			forced = 1;
		} else if (strcmp(a, "--threads") == 0 &&
		    cr_util_parse_ull(v, 1, 256, &threads) == 0)
			;
		else
			goto bad;
	}
	if (listen_arg == NULL || parse_listen(listen_arg, &sin) == -1 ||
	    (synthetic + garbage + forced + (data != NULL)) > 1)
		goto bad;
	if (forced)
		cfg.mode = MODE_STATUS;
	else if (garbage)
		cfg.mode = MODE_GARBAGE;
	else if (synthetic)
		cfg.mode = MODE_SYNTHETIC;
	else
		cfg.mode = MODE_DATA;
	if (data != NULL && load_data(data) == -1)
		return 1;

	raise_nofile();
	/* Signals are taken by sigwait in this thread only. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&tq.cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&timer, NULL, timer_main, NULL) != 0) {
		log_warnx("cannot start the timer thread");
		goto out;
	}
	timer_started = 1;

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    handler, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    /* A pool of one is no pool: MHD warns, so ask for none. */
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(threads > 1 ?
	    threads : 0),
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)8192,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_END);
	if (d == NULL) {
		log_warnx("cannot listen on %s", listen_arg);
		goto out;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	inet_ntop(AF_INET, &sin.sin_addr, addr, sizeof(addr));
	printf("fixture-source listening on %s:%u\n", addr,
	    info != NULL ? (unsigned)info->port : (unsigned)ntohs(sin.sin_port));
	fflush(stdout);

	while (sigwait(&sigs, &sig) != 0)
		;
	rc = 0;
out:
	/*
	 * Answer every delayed request before the daemon goes: MHD must not
	 * be stopped with suspended connections.
	 */
	pthread_mutex_lock(&tq.mtx);
	tq.stopping = 1;
	pthread_cond_signal(&tq.cond);
	pthread_mutex_unlock(&tq.mtx);
	if (timer_started)
		pthread_join(timer, NULL);
	/* Give the resumed requests a moment to be answered, not cut. */
	deadline = cr_util_mono_ms() + 2000;
	pthread_mutex_lock(&tq.mtx);
	while (tq.pending > 0 && cr_util_mono_ms() < deadline) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&tq.cond, &tq.mtx, &ts);
	}
	pthread_mutex_unlock(&tq.mtx);
	if (d != NULL)
		MHD_stop_daemon(d);
	free(tq.heap);
	for (size_t k = 0; k < cfg.nentries; k++) {
		free(cfg.entries[k].subject);
		free(cfg.entries[k].body);
	}
	free(cfg.entries);
	free(last.body);
	return rc;
bad:
	fputs(usage, stderr);
	return 2;
}
