/*
 * HTTP transport to authentic sources: one libcurl multi handle driven by
 * one thread. submit() only queues a copy of the request and wakes the
 * loop, so a slow or dead source costs a pending transfer, never a blocked
 * thread, and cannot delay calls to other sources.
 *
 * The loop drives libcurl with curl_multi_socket_action on an epoll set:
 * an event on one connection costs work for that transfer only, where
 * curl_multi_perform and curl_multi_poll would walk every transfer in
 * flight on each wake-up.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "source.h"
#include "util.h"

#define SRC_DEFAULT_CONNS	256
#define SRC_DEFAULT_MAXRESP	(4 * 1024 * 1024)
/* A request without a timeout must still end: the hub never waits forever. */
#define SRC_DEFAULT_TIMEOUT	10000
#define SRC_CONNECT_TIMEOUT	2000
/* Large enough that idle kept-alive connections are reused, not closed. */
#define SRC_MAXCONNECTS		1024
#define SRC_POLL_MS		1000
/* Idle easy handles kept for reuse: bursts then cost no handle set-up. */
#define SRC_IDLE_MAX		256
/* Response buffers above this are released when a handle goes idle. */
#define SRC_KEEP_BUF		(64 * 1024)
#define SRC_FIRST_BUF		4096
/*
 * Our own deadline check runs this long after curl's, so that curl normally
 * reports the timeout itself; it exists because libcurl does not time out
 * transfers still waiting for a free connection (max per host reached).
 */
#define SRC_GRACE_MS		25
/* The fixed headers, X-Request-Id and the caller's. */
#define SRC_NHDRS		(4 + CR_SOURCE_MAX_HEADERS)
#define SRC_NEVENTS		128

struct job {
	STAILQ_ENTRY(job)	 entry;
	cr_source_done_fn	 done;
	void			*arg;
	double			 t0;
	double			 deadline;
	long			 timeout_ms;
	const char		*bad;		/* refused unsent */
	char			*url;
	char			*body;
	size_t			 body_len;
	char			*idhdr;		/* or NULL */
	char			*xhdrs[CR_SOURCE_MAX_HEADERS];
	size_t			 nxhdrs;
	char			*ca_file;	/* or NULL */
	char			*client_cert;	/* or NULL */
	char			*client_key;	/* or NULL */
	/* url, body, idhdr, xhdrs and the TLS files live in the same
	   allocation, after this. */
};

STAILQ_HEAD(jobq, job);

struct xfer {
	LIST_ENTRY(xfer)	 entry;		/* active or idle list */
	CURL			*easy;
	struct job		*job;
	struct curl_slist	 hdrs[SRC_NHDRS];
	char			*buf;
	size_t			 len;
	size_t			 cap;
	size_t			 max;
	int			 too_large;
	char			 errbuf[CURL_ERROR_SIZE];
};

LIST_HEAD(xferlist, xfer);

struct http_transport {
	struct cr_source_transport	 pub;	/* first: the ops cast */
	pthread_mutex_t			 mtx;
	struct jobq			 queue;	/* under mtx */
	int				 stopping; /* under mtx */
	pthread_t			 thread;
	CURLM				*multi;
	int				 epfd;
	int				 evfd;	/* wakes the loop */
	double				 timer_due;	/* libcurl's; < 0: none */
	struct xferlist			 active;	/* loop thread */
	struct xferlist			 idle;	/* loop thread */
	size_t				 nidle;
	size_t				 max_resp;
	/* libcurl's own trust, for calls without a CA file: handles are
	   reused without a reset, so it is set back on each. */
	char				*default_cainfo;
	char				*default_capath;
};

static const char *const fixed_hdrs[] = {
	"Content-Type: application/json",
	"Accept: application/json",
	"Expect:",	/* no 100-continue round trip before the body */
};

static pthread_once_t	 curl_once = PTHREAD_ONCE_INIT;
static CURLcode		 curl_init_rc;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct job *
job_new(const struct cr_source_request *req, cr_source_done_fn done,
    void *arg)
{
	static const char idpfx[] = "X-Request-Id: ";
	struct job *job;
	const char *bad = NULL;
	const char *id = req->request_id;
	size_t ulen = 0, blen = 0, hlen = 0, nx = 0, xlen = 0, i, n;
	const char *tls[3] = { req->ca_file, req->client_cert,
	    req->client_key };
	char **tls_out[3];
	size_t tlen = 0;
	char *p;

	if (id != NULL && id[0] == '\0')
		id = NULL;

	if (req->url == NULL)
		bad = "invalid request: no URL";
	else if (req->body == NULL && req->body_len > 0)
		bad = "invalid request: no body";
	else if (id != NULL && !cr_source_request_id_ok(id))
		bad = "invalid request: bad request id";
	else
		bad = cr_source_headers_check(req->headers, &nx, &xlen);
	if (bad == NULL) {
		ulen = strlen(req->url);
		blen = req->body_len;
		if (id != NULL)
			hlen = sizeof(idpfx) - 1 + strlen(id);
		for (i = 0; i < 3; i++)
			if (tls[i] != NULL)
				tlen += strlen(tls[i]) + 1;
	}

	/* One allocation per call: many threads submit at once. */
	if ((job = malloc(sizeof(*job) + ulen + 1 + blen + 1 + hlen + 1 +
	    xlen + tlen)) == NULL)
		return NULL;
	memset(job, 0, sizeof(*job));
	job->done = done;
	job->arg = arg;
	job->bad = bad;
	job->t0 = cr_util_mono_ms();
	job->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms :
	    SRC_DEFAULT_TIMEOUT;
	job->deadline = job->t0 + (double)job->timeout_ms;

	p = (char *)(job + 1);
	job->url = p;
	if (ulen > 0)
		memcpy(p, req->url, ulen);
	p[ulen] = '\0';
	p += ulen + 1;
	job->body = p;
	job->body_len = blen;
	if (blen > 0)
		memcpy(p, req->body, blen);
	p[blen] = '\0';
	p += blen + 1;
	if (hlen > 0) {
		snprintf(p, hlen + 1, "%s%s", idpfx, id);
		job->idhdr = p;
	}
	p += hlen + 1;
	for (i = 0; i < nx; i++) {
		n = strlen(req->headers[i]);
		memcpy(p, req->headers[i], n + 1);
		job->xhdrs[i] = p;
		p += n + 1;
	}
	job->nxhdrs = nx;
	tls_out[0] = &job->ca_file;
	tls_out[1] = &job->client_cert;
	tls_out[2] = &job->client_key;
	for (i = 0; bad == NULL && i < 3; i++)
		if (tls[i] != NULL) {
			n = strlen(tls[i]);
			memcpy(p, tls[i], n + 1);
			*tls_out[i] = p;
			p += n + 1;
		}
	return job;
}

static void
job_fail(struct job *job, enum cr_source_error error, const char *detail)
{
	struct cr_source_result res;

	memset(&res, 0, sizeof(res));
	res.error = error;
	res.body = "";
	res.elapsed_ms = cr_util_mono_ms() - job->t0;
	cr_util_strlcpy(res.detail, detail, sizeof(res.detail));
	job->done(job->arg, &res);
	free(job);
}

static size_t
xfer_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, want;
	char *nbuf;

	if (n > x->max - x->len) {
		x->too_large = 1;
		return 0;	/* aborts the transfer */
	}
	if (x->len + n + 1 > x->cap) {
		want = x->cap > 0 ? x->cap : SRC_FIRST_BUF;
		while (want < x->len + n + 1)
			want *= 2;
		if (want > x->max + 1)
			want = x->max + 1;
		if ((nbuf = realloc(x->buf, want)) == NULL)
			return 0;
		x->buf = nbuf;
		x->cap = want;
	}
	memcpy(x->buf + x->len, ptr, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

static struct xfer *
xfer_get(struct http_transport *t)
{
	struct xfer *x;

	if ((x = LIST_FIRST(&t->idle)) != NULL) {
		LIST_REMOVE(x, entry);
		t->nidle--;
		/*
		 * No curl_easy_reset: xfer_setup sets the same options on
		 * every use, and the reset's clearing of libcurl's large
		 * option block was a visible share of each call.
		 * Connections stay in the multi's pool, not in the handle.
		 */
	} else {
		if ((x = calloc(1, sizeof(*x))) == NULL)
			return NULL;
		if ((x->easy = curl_easy_init()) == NULL) {
			free(x);
			return NULL;
		}
	}
	x->len = 0;
	x->too_large = 0;
	x->errbuf[0] = '\0';
	x->max = t->max_resp;
	return x;
}

static void
xfer_put(struct http_transport *t, struct xfer *x)
{
	x->job = NULL;
	if (t->nidle >= SRC_IDLE_MAX) {
		curl_easy_cleanup(x->easy);
		free(x->buf);
		free(x);
		return;
	}
	if (x->cap > SRC_KEEP_BUF) {
		free(x->buf);
		x->buf = NULL;
		x->cap = 0;
	}
	LIST_INSERT_HEAD(&t->idle, x, entry);
	t->nidle++;
}

static CURLcode
xfer_setup(struct http_transport *t, struct xfer *x, struct job *job,
    long remain_ms)
{
	CURL *e = x->easy;
	CURLcode rc = CURLE_OK;
	size_t i, n = 0;

	/*
	 * Built in place rather than with curl_slist_append so that a call
	 * allocates nothing here; libcurl only reads the list.
	 */
	for (i = 0; i < sizeof(fixed_hdrs) / sizeof(fixed_hdrs[0]); i++)
		x->hdrs[n++].data = (char *)fixed_hdrs[i];
	if (job->idhdr != NULL)
		x->hdrs[n++].data = job->idhdr;
	for (i = 0; i < job->nxhdrs; i++)
		x->hdrs[n++].data = job->xhdrs[i];
	for (i = 0; i < n; i++)
		x->hdrs[i].next = i + 1 < n ? &x->hdrs[i + 1] : NULL;

#define SET(opt, val) do {						\
	if (rc == CURLE_OK)						\
		rc = curl_easy_setopt(e, opt, val);			\
} while (0)
	SET(CURLOPT_URL, job->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_POSTFIELDS, job->body);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->body_len);
	SET(CURLOPT_HTTPHEADER, x->hdrs);
	SET(CURLOPT_USERAGENT, "crossroads");
	SET(CURLOPT_TIMEOUT_MS, remain_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, remain_ms < SRC_CONNECT_TIMEOUT ?
	    remain_ms : (long)SRC_CONNECT_TIMEOUT);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	/* Refuses early when the source announces a too large body. */
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	SET(CURLOPT_WRITEFUNCTION, xfer_write);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_PRIVATE, x);
	/* Every call sets them all: a reused handle keeps what it had. */
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* A CA file of its own: that CA only, not the system's too. */
	SET(CURLOPT_CAINFO, job->ca_file != NULL ? job->ca_file :
	    t->default_cainfo);
	SET(CURLOPT_CAPATH, job->ca_file != NULL ? NULL : t->default_capath);
	SET(CURLOPT_SSLCERT, job->client_cert);
	SET(CURLOPT_SSLKEY, job->client_key);
#undef SET
	return rc;
}

static void
job_start(struct http_transport *t, struct job *job)
{
	struct xfer *x;
	CURLcode rc;
	CURLMcode mrc;
	double remain;

	if (job->bad != NULL) {
		job_fail(job, CR_SOURCE_UNAVAILABLE, job->bad);
		return;
	}
	remain = job->deadline - cr_util_mono_ms();
	if (remain < 1) {
		job_fail(job, CR_SOURCE_TIMEOUT, "timed out before sending");
		return;
	}
	if ((x = xfer_get(t)) == NULL) {
		job_fail(job, CR_SOURCE_UNAVAILABLE, "out of memory");
		return;
	}
	x->job = job;
	if ((rc = xfer_setup(t, x, job, (long)remain)) != CURLE_OK) {
		xfer_put(t, x);
		job_fail(job, CR_SOURCE_UNAVAILABLE, curl_easy_strerror(rc));
		return;
	}
	if ((mrc = curl_multi_add_handle(t->multi, x->easy)) != CURLM_OK) {
		xfer_put(t, x);
		job_fail(job, CR_SOURCE_UNAVAILABLE, curl_multi_strerror(mrc));
		return;
	}
	LIST_INSERT_HEAD(&t->active, x, entry);
}

/* Reports the outcome of an active transfer and recycles its handle. */
static void
xfer_finish(struct http_transport *t, struct xfer *x, CURLcode rc,
    enum cr_source_error forced, const char *forced_detail)
{
	struct cr_source_result res;
	struct job *job = x->job;
	const char *why;
	long status = 0;

	why = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc);
	memset(&res, 0, sizeof(res));
	res.body = "";
	if (forced_detail != NULL) {
		res.error = forced;
		cr_util_strlcpy(res.detail, forced_detail, sizeof(res.detail));
	} else if (rc == CURLE_OK) {
		res.error = CR_SOURCE_OK;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		res.http_status = status;
		if (x->buf != NULL) {
			res.body = x->buf;
			res.body_len = x->len;
		}
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		res.error = CR_SOURCE_TIMEOUT;
		cr_util_strlcpy(res.detail, why, sizeof(res.detail));
	} else if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		res.error = CR_SOURCE_UNAVAILABLE;
		snprintf(res.detail, sizeof(res.detail),
		    "response too large (limit %zu bytes)", x->max);
	} else {
		res.error = CR_SOURCE_UNAVAILABLE;
		cr_util_strlcpy(res.detail, why, sizeof(res.detail));
	}
	res.elapsed_ms = cr_util_mono_ms() - job->t0;

	curl_multi_remove_handle(t->multi, x->easy);
	LIST_REMOVE(x, entry);
	job->done(job->arg, &res);
	free(job);
	xfer_put(t, x);
}

static void
reap(struct http_transport *t)
{
	CURLMsg *msg;
	struct xfer *x;
	char *priv;
	int left;

	while ((msg = curl_multi_info_read(t->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		if ((x = (struct xfer *)priv) == NULL)
			continue;
		xfer_finish(t, x, msg->data.result, CR_SOURCE_OK, NULL);
	}
}

/*
 * Fails transfers past their deadline that curl has not ended; returns how
 * long the loop may sleep before the next deadline.
 */
static long
sweep(struct http_transport *t)
{
	struct xfer *x, *next;
	double now = cr_util_mono_ms(), due, soonest = now + SRC_POLL_MS;
	char detail[80];

	for (x = LIST_FIRST(&t->active); x != NULL; x = next) {
		next = LIST_NEXT(x, entry);
		due = x->job->deadline + SRC_GRACE_MS;
		if (due <= now) {
			snprintf(detail, sizeof(detail),
			    "no answer within %ld ms", x->job->timeout_ms);
			xfer_finish(t, x, CURLE_OK, CR_SOURCE_TIMEOUT, detail);
		} else if (due < soonest)
			soonest = due;
	}
	return (long)(soonest - now) + 1;
}

static void
drain(struct http_transport *t, struct jobq *batch)
{
	struct job *job;
	struct xfer *x;

	while ((job = STAILQ_FIRST(batch)) != NULL) {
		STAILQ_REMOVE_HEAD(batch, entry);
		job_fail(job, CR_SOURCE_UNAVAILABLE, "hub stopping");
	}
	while ((x = LIST_FIRST(&t->active)) != NULL)
		xfer_finish(t, x, CURLE_OK, CR_SOURCE_UNAVAILABLE,
		    "hub stopping");
}

/* libcurl tells which sockets to watch for what. */
static int
sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_transport *t = userp;
	struct epoll_event ev;
	int op = socketp != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (what == CURL_POLL_REMOVE) {
		/* The socket may be closed already: ENOENT/EBADF are fine. */
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL);
		curl_multi_assign(t->multi, fd, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) |
	    ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (epoll_ctl(t->epfd, op, fd, &ev) == -1) {
		/* A descriptor number reused after a close we did not see. */
		op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
		if (epoll_ctl(t->epfd, op, fd, &ev) == -1) {
			log_warn("source: epoll_ctl");
			return -1;
		}
	}
	if (socketp == NULL)
		curl_multi_assign(t->multi, fd, t);
	return 0;
}

/* libcurl asks to be called back after timeout_ms (-1: never). */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_transport *t = userp;

	t->timer_due = timeout_ms < 0 ? -1 : cr_util_mono_ms() +
	    (double)timeout_ms;
	return 0;
}

static void
run_timeouts(struct http_transport *t)
{
	int running;

	if (t->timer_due < 0 || cr_util_mono_ms() < t->timer_due)
		return;
	t->timer_due = -1;
	curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

static void
wake_drain(struct http_transport *t)
{
	uint64_t n;

	while (read(t->evfd, &n, sizeof(n)) > 0)
		;
}

static void *
http_loop(void *arg)
{
	struct http_transport *t = arg;
	struct epoll_event ev[SRC_NEVENTS];
	struct jobq batch;
	struct job *job;
	long wait_ms;
	int i, n, stopping, running, flags;

	for (;;) {
		STAILQ_INIT(&batch);
		pthread_mutex_lock(&t->mtx);
		STAILQ_CONCAT(&batch, &t->queue);
		stopping = t->stopping;
		pthread_mutex_unlock(&t->mtx);
		if (stopping)
			break;

		while ((job = STAILQ_FIRST(&batch)) != NULL) {
			STAILQ_REMOVE_HEAD(&batch, entry);
			job_start(t, job);
		}
		run_timeouts(t);
		reap(t);
		wait_ms = sweep(t);
		if (t->timer_due >= 0) {
			double d = t->timer_due - cr_util_mono_ms();

			if (d < (double)wait_ms)
				wait_ms = d > 0 ? (long)d + 1 : 0;
		}
		n = epoll_wait(t->epfd, ev, SRC_NEVENTS, (int)wait_ms);
		if (n == -1 && errno != EINTR)
			log_warn("source: epoll_wait");
		for (i = 0; i < n; i++) {
			if (ev[i].data.fd == t->evfd) {
				wake_drain(t);
				continue;
			}
			flags = 0;
			if (ev[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (ev[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (ev[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(t->multi, ev[i].data.fd,
			    flags, &running);
		}
		reap(t);
	}
	drain(t, &batch);
	return NULL;
}

static void
loop_wake(struct http_transport *t)
{
	uint64_t one = 1;

	if (write(t->evfd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("source: eventfd write");
}

static int
http_submit(struct cr_source_transport *tp, const struct cr_source_request *req,
    cr_source_done_fn done, void *arg)
{
	struct http_transport *t = (struct http_transport *)tp;
	struct job *job;
	int rc = -1, wake;

	/*
	 * Without memory there is no way to call done later, so this is the
	 * one failure besides stopping that submit reports itself.
	 */
	if ((job = job_new(req, done, arg)) == NULL) {
		log_warn("source: submit");
		return -1;
	}

	pthread_mutex_lock(&t->mtx);
	if (t->stopping) {
		free(job);
		goto out;
	}
	/* A non-empty queue has a wakeup pending already. */
	wake = STAILQ_EMPTY(&t->queue);
	STAILQ_INSERT_TAIL(&t->queue, job, entry);
	/* Under the lock so that stop cannot free the multi meanwhile. */
	if (wake)
		loop_wake(t);
	rc = 0;
 out:
	pthread_mutex_unlock(&t->mtx);
	return rc;
}

static void
http_free(struct http_transport *t)
{
	struct xfer *x;

	while ((x = LIST_FIRST(&t->idle)) != NULL) {
		LIST_REMOVE(x, entry);
		curl_easy_cleanup(x->easy);
		free(x->buf);
		free(x);
	}
	if (t->multi != NULL)
		curl_multi_cleanup(t->multi);
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->evfd >= 0)
		close(t->evfd);
	pthread_mutex_destroy(&t->mtx);
	free(t->default_cainfo);
	free(t->default_capath);
	free(t);
}

/* libcurl's built-in CA file and directory (the system's). 0 or -1. */
static int
default_trust(struct http_transport *t)
{
	CURL *e;
	char *p;
	int rc = 0;

	if ((e = curl_easy_init()) == NULL)
		return -1;
	if (curl_easy_getinfo(e, CURLINFO_CAINFO, &p) == CURLE_OK &&
	    p != NULL && (t->default_cainfo = strdup(p)) == NULL)
		rc = -1;
	if (curl_easy_getinfo(e, CURLINFO_CAPATH, &p) == CURLE_OK &&
	    p != NULL && (t->default_capath = strdup(p)) == NULL)
		rc = -1;
	curl_easy_cleanup(e);
	return rc;
}

static void
http_stop(struct cr_source_transport *tp)
{
	struct http_transport *t = (struct http_transport *)tp;
	int err;

	pthread_mutex_lock(&t->mtx);
	t->stopping = 1;
	loop_wake(t);
	pthread_mutex_unlock(&t->mtx);
	if ((err = pthread_join(t->thread, NULL)) != 0) {
		errno = err;
		log_warn("source: pthread_join");
	}
	http_free(t);
}

static const struct cr_source_transport_ops http_ops = {
	.name = "http",
	.submit = http_submit,
	.stop = http_stop,
};

int
cr_source_http_start(const struct cr_source_config *cfg,
    struct cr_source_transport **out)
{
	struct http_transport *t = NULL;
	sigset_t all, old;
	long conns = SRC_DEFAULT_CONNS;
	CURLMcode mrc;
	int err, rc = -1;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		log_warnx("source: curl_global_init: %s",
		    curl_easy_strerror(curl_init_rc));
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("source: calloc");
		return -1;
	}
	t->pub.ops = &http_ops;
	STAILQ_INIT(&t->queue);
	LIST_INIT(&t->active);
	LIST_INIT(&t->idle);
	t->max_resp = SRC_DEFAULT_MAXRESP;
	if (cfg != NULL && cfg->max_connections_per_host > 0)
		conns = cfg->max_connections_per_host;
	if (cfg != NULL && cfg->max_response_bytes > 0)
		t->max_resp = cfg->max_response_bytes;
	/* Keeps the buffer size arithmetic in xfer_write from wrapping. */
	if (t->max_resp > SIZE_MAX / 4)
		t->max_resp = SIZE_MAX / 4;
	if ((err = pthread_mutex_init(&t->mtx, NULL)) != 0) {
		free(t);
		errno = err;
		log_warn("source: pthread_mutex_init");
		return -1;
	}
	t->epfd = t->evfd = -1;
	t->timer_due = -1;
	if ((t->multi = curl_multi_init()) == NULL ||
	    default_trust(t) == -1) {
		log_warnx("source: curl_multi_init failed");
		goto out;
	}
	if ((t->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (t->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("source: epoll/eventfd");
		goto out;
	}
	{
		struct epoll_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.fd = t->evfd;
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &ev) == -1) {
			log_warn("source: epoll_ctl");
			goto out;
		}
	}
	if (curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) !=
	    CURLM_OK ||
	    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t) != CURLM_OK ||
	    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, timer_cb) !=
	    CURLM_OK ||
	    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t) != CURLM_OK) {
		log_warnx("source: cannot set the multi callbacks");
		goto out;
	}
	if ((mrc = curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    conns)) != CURLM_OK ||
	    (mrc = curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS,
	    (long)SRC_MAXCONNECTS)) != CURLM_OK) {
		log_warnx("source: curl_multi_setopt: %s",
		    curl_multi_strerror(mrc));
		goto out;
	}

	/* Signals belong to the main thread, not to the transfer loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t->thread, NULL, http_loop, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		errno = err;
		log_warn("source: pthread_create");
		goto out;
	}
	pthread_setname_np(t->thread, "cr-source");
	*out = &t->pub;
	t = NULL;
	rc = 0;
 out:
	if (t != NULL)
		http_free(t);
	return rc;
}
