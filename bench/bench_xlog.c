/*
 * Helper of bench/xlog.sh: the exchange log's durable appends.
 *
 *   bench_xlog append DB BASEDB SECONDS TOTAL
 *	For 1, 4 and 16 threads, each thread for SECONDS appends an entry
 *	and waits until it is durable, as a request thread of the hub does:
 *	  - through cr_xlog_submit (the group-committing writer) into DB;
 *	  - baseline: through the same store's xlog_append with n = 1 (one
 *	    transaction and one fsync per entry) into BASEDB, the chain kept
 *	    under a lock.
 *	Then one thread submits without waiting (at most WINDOW entries in
 *	flight: the writer's ceiling) until DB holds TOTAL entries, for
 *	`crossroads log verify` to read next.
 *   bench_xlog scan DB
 *	The baseline of verify: reads every column of every entry, in seq
 *	order, through a bare prepared statement, without hashing.
 *
 * Each prints one JSON object on stdout; diagnostics go to stderr.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store.h"
#include "util.h"
#include "xlog.h"

#define MAX_THREADS	16
#define WINDOW		8192	/* ceiling run: entries in flight */
#define MAX_BATCH	4096	/* the hub's default log_max_batch */

/*
 * A store in front of the real one that counts the transactions the log
 * writer makes (the only way to see its batch sizes without touching it).
 * cr_xlog uses xlog_tail and xlog_append only; the other exchange-log ops
 * stay NULL, and the other concerns are the real store's.
 */
struct counting {
	struct cr_store		 base;
	struct cr_xlog_store	 xlog;
	struct cr_store		*inner;
	atomic_ullong		 batches;
	atomic_ullong		 entries;
	atomic_ullong		 max;
	atomic_ullong		 hist[MAX_BATCH + 1];	/* by batch size */
};

static int
counting_append(struct cr_xlog_store *base, const struct cr_xlog_entry *e,
    size_t n, const struct cr_xlog_node *nodes, size_t nnodes)
{
	struct counting *c = (struct counting *)(void *)((char *)base -
	    offsetof(struct counting, xlog));
	unsigned long long m;
	int rc;

	rc = c->inner->xlog->ops->xlog_append(c->inner->xlog, e, n, nodes,
	    nnodes);
	if (rc == CR_STORE_OK) {
		atomic_fetch_add(&c->batches, 1);
		atomic_fetch_add(&c->entries, n);
		atomic_fetch_add(&c->hist[n > MAX_BATCH ? MAX_BATCH : n], 1);
		m = atomic_load(&c->max);
		while (n > m && !atomic_compare_exchange_weak(&c->max, &m, n))
			;
	}
	return rc;
}

static int
counting_tail(struct cr_xlog_store *base, uint64_t *seq, uint8_t hash[CR_HASH_LEN])
{
	struct counting *c = (struct counting *)(void *)((char *)base -
	    offsetof(struct counting, xlog));

	return c->inner->xlog->ops->xlog_tail(c->inner->xlog, seq, hash);
}

static int
counting_tree_count(struct cr_xlog_store *base, unsigned level,
    uint64_t *count)
{
	struct counting *c = (struct counting *)(void *)((char *)base -
	    offsetof(struct counting, xlog));

	return c->inner->xlog->ops->tree_count(c->inner->xlog, level,
	    count);
}

static int
counting_tree_get(struct cr_xlog_store *base, unsigned level, uint64_t index,
    uint8_t hash[CR_HASH_LEN])
{
	struct counting *c = (struct counting *)(void *)((char *)base -
	    offsetof(struct counting, xlog));

	return c->inner->xlog->ops->tree_get(c->inner->xlog, level, index,
	    hash);
}

static int
counting_xlog_hashes(struct cr_xlog_store *base, uint64_t from, size_t n,
    uint8_t (*out)[CR_HASH_LEN])
{
	struct counting *c = (struct counting *)(void *)((char *)base -
	    offsetof(struct counting, xlog));

	return c->inner->xlog->ops->xlog_hashes(c->inner->xlog, from, n, out);
}

static const struct cr_xlog_ops counting_ops = {
	.xlog_append = counting_append,
	.xlog_tail = counting_tail,
	.tree_count = counting_tree_count,
	.xlog_hashes = counting_xlog_hashes,
	.tree_get = counting_tree_get,
};

static void
counting_reset(struct counting *c)
{
	size_t i;

	atomic_store(&c->batches, 0);
	atomic_store(&c->entries, 0);
	atomic_store(&c->max, 0);
	for (i = 0; i <= MAX_BATCH; i++)
		atomic_store(&c->hist[i], 0);
}

/* The median batch size, by batch. */
static unsigned long long
counting_p50(struct counting *c)
{
	unsigned long long seen = 0, half = atomic_load(&c->batches) / 2;
	size_t i;

	for (i = 0; i <= MAX_BATCH; i++) {
		seen += atomic_load(&c->hist[i]);
		if (seen > half)
			return i;
	}
	return 0;
}

struct worker {
	pthread_t	 thread;
	int		 id;
	int		 baseline;
	double		 deadline;
	/* Completion of the entry in flight (group commit). */
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	int		 done, rc;
	/* Latencies in microseconds. */
	double		*us;
	size_t		 n, cap;
	int		 failed;
};

static struct cr_xlog	*xlog;
static struct cr_store	*base_store;
static pthread_mutex_t	 chain_mtx = PTHREAD_MUTEX_INITIALIZER;
static uint64_t		 chain_seq;
static uint8_t		 chain_hash[CR_HASH_LEN];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the consult path logs for a granted consultation. */
static void
fill_entry(struct cr_xlog_entry *e, unsigned long long k)
{
	memset(e, 0, sizeof(*e));
	cr_util_now_rfc3339(e->ts);
	cr_util_uuid(e->request_id);
	cr_util_strlcpy(e->consumer, "ONEM", sizeof(e->consumer));
	cr_util_strlcpy(e->client, "6f1c1f53-7a4e-4c55-9d8e-0b7c3a1e2f40",
	    sizeof(e->client));
	cr_util_strlcpy(e->service, "population.person", sizeof(e->service));
	cr_util_strlcpy(e->provider, "RN", sizeof(e->provider));
	/* Subjects vary, so that the subject index grows as in service. */
	snprintf(e->subject, sizeof(e->subject), "%011llu",
	    (k * 2654435761ULL) % 100000000000ULL);
	cr_util_strlcpy(e->purpose, "unemployment-benefit", sizeof(e->purpose));
	cr_util_strlcpy(e->legal_basis, "Deliberation 22/123",
	    sizeof(e->legal_basis));
	cr_util_strlcpy(e->outcome, CR_OUTCOME_GRANTED, sizeof(e->outcome));
	e->status = 200;
}

static void
worker_done(void *arg, int rc, uint64_t seq)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->mtx);
	w->done = 1;
	w->rc = rc;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
}

/* One transaction and one fsync for this entry alone. */
static int
baseline_append(struct cr_xlog_entry *e)
{
	int rc;

	pthread_mutex_lock(&chain_mtx);
	e->seq = chain_seq + 1;
	memcpy(e->prev_hash, chain_hash, CR_HASH_LEN);
	cr_xlog_entry_hash(e, e->hash);
	rc = base_store->xlog->ops->xlog_append(base_store->xlog, e, 1, NULL,
	    0);
	if (rc == CR_STORE_OK) {
		chain_seq = e->seq;
		memcpy(chain_hash, e->hash, CR_HASH_LEN);
	}
	pthread_mutex_unlock(&chain_mtx);
	return rc == CR_STORE_OK ? 0 : -1;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct cr_xlog_entry e;
	unsigned long long k = (unsigned long long)w->id << 40;
	double t, *tmp;
	int rc;

	while ((t = now_s()) < w->deadline) {
		fill_entry(&e, k++);
		if (w->baseline)
			rc = baseline_append(&e);
		else {
			w->done = 0;
			if (cr_xlog_submit(xlog, &e, worker_done, w) == -1)
				rc = -1;
			else {
				pthread_mutex_lock(&w->mtx);
				while (!w->done)
					pthread_cond_wait(&w->cond, &w->mtx);
				rc = w->rc;
				pthread_mutex_unlock(&w->mtx);
			}
		}
		if (rc != 0) {
			w->failed = 1;
			break;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 65536;
			if ((tmp = realloc(w->us, w->cap * sizeof(*tmp))) ==
			    NULL) {
				w->failed = 1;
				break;
			}
			w->us = tmp;
		}
		w->us[w->n++] = (now_s() - t) * 1e6;
	}
	return NULL;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* T threads for secs; prints one JSON object. */
static int
run_closed(int nthreads, int baseline, double secs, struct counting *cnt)
{
	struct worker w[MAX_THREADS];
	double t0, elapsed, *all = NULL;
	size_t total = 0, off = 0;
	int i, started = 0, rc = -1;

	memset(w, 0, sizeof(w));
	if (cnt != NULL)
		counting_reset(cnt);
	t0 = now_s();
	for (i = 0; i < nthreads; i++) {
		w[i].id = i + (baseline ? 100 : 0) + nthreads * 1000;
		w[i].baseline = baseline;
		w[i].deadline = t0 + secs;
		pthread_mutex_init(&w[i].mtx, NULL);
		pthread_cond_init(&w[i].cond, NULL);
		if (pthread_create(&w[i].thread, NULL, worker_run, &w[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	elapsed = now_s() - t0;
	if (started < nthreads) {
		fprintf(stderr, "bench_xlog: pthread_create failed\n");
		goto out;
	}
	for (i = 0; i < nthreads; i++) {
		if (w[i].failed) {
			fprintf(stderr, "bench_xlog: an append failed\n");
			goto out;
		}
		total += w[i].n;
	}
	if (total == 0 || (all = malloc(total * sizeof(*all))) == NULL)
		goto out;
	for (i = 0; i < nthreads; i++) {
		memcpy(all + off, w[i].us, w[i].n * sizeof(*all));
		off += w[i].n;
	}
	qsort(all, total, sizeof(*all), dbl_cmp);
	printf("{\"threads\":%d,\"entries\":%zu,\"seconds\":%.3f,"
	    "\"per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f",
	    nthreads, total, elapsed, (double)total / elapsed,
	    all[total / 2] / 1e3, all[total * 99 / 100] / 1e3,
	    all[total - 1] / 1e3);
	if (cnt != NULL)
		printf(",\"batches\":%llu,\"batch_mean\":%.2f,\"batch_p50\":%llu,"
		    "\"batch_max\":%llu", atomic_load(&cnt->batches),
		    atomic_load(&cnt->batches) ? (double)atomic_load(
		    &cnt->entries) / atomic_load(&cnt->batches) : 0.0,
		    counting_p50(cnt), atomic_load(&cnt->max));
	else
		printf(",\"batches\":%zu,\"batch_mean\":1,\"batch_p50\":1,"
		    "\"batch_max\":1", total);
	putchar('}');
	rc = 0;
out:
	for (i = 0; i < started; i++) {
		pthread_mutex_destroy(&w[i].mtx);
		pthread_cond_destroy(&w[i].cond);
		free(w[i].us);
	}
	free(all);
	return rc;
}

/* The ceiling run: entries in flight, bounded by WINDOW. */
static pthread_mutex_t	win_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	win_cond = PTHREAD_COND_INITIALIZER;
static size_t		win_in_flight;
static int		win_failed;

static void
window_done(void *arg, int rc, uint64_t seq)
{
	pthread_mutex_lock(&win_mtx);
	win_in_flight--;
	if (rc != 0)
		win_failed = 1;
	pthread_cond_signal(&win_cond);
	pthread_mutex_unlock(&win_mtx);
}

static int
run_ceiling(unsigned long long want, struct counting *cnt)
{
	struct cr_xlog_entry e;
	unsigned long long k;
	double t0, elapsed;

	counting_reset(cnt);
	t0 = now_s();
	for (k = 0; k < want; k++) {
		fill_entry(&e, (1ULL << 50) + k);
		pthread_mutex_lock(&win_mtx);
		while (win_in_flight >= WINDOW)
			pthread_cond_wait(&win_cond, &win_mtx);
		win_in_flight++;
		pthread_mutex_unlock(&win_mtx);
		if (cr_xlog_submit(xlog, &e, window_done, NULL) == -1)
			return -1;
	}
	pthread_mutex_lock(&win_mtx);
	while (win_in_flight > 0)
		pthread_cond_wait(&win_cond, &win_mtx);
	pthread_mutex_unlock(&win_mtx);
	elapsed = now_s() - t0;
	if (win_failed) {
		fprintf(stderr, "bench_xlog: an append failed\n");
		return -1;
	}
	printf("{\"entries\":%llu,\"seconds\":%.3f,\"per_s\":%.0f,"
	    "\"batches\":%llu,\"batch_mean\":%.2f,\"batch_p50\":%llu,"
	    "\"batch_max\":%llu}", want, elapsed, (double)want / elapsed,
	    atomic_load(&cnt->batches), atomic_load(&cnt->batches) ?
	    (double)atomic_load(&cnt->entries) / atomic_load(&cnt->batches) :
	    0.0, counting_p50(cnt), atomic_load(&cnt->max));
	return 0;
}

static int
cmd_append(const char *db, const char *basedb, double secs,
    unsigned long long total)
{
	static const int threads[] = { 1, 4, 16 };
	static struct counting cnt;
	struct cr_xlog_config cfg = { .max_batch = MAX_BATCH };
	uint64_t count = 0;
	size_t i;
	int rc = 1;

	if (sodium_init() < 0 || cr_store_open(db, &cnt.inner) == -1 ||
	    cr_store_open(basedb, &base_store) == -1)
		goto out;
	cnt.base = *cnt.inner;
	cnt.base.name = "counting";
	cnt.xlog.ops = &counting_ops;
	cnt.base.xlog = &cnt.xlog;
	if (cr_xlog_start(&cnt.base, &cfg, &xlog) == -1 ||
	    base_store->xlog->ops->xlog_tail(base_store->xlog, &chain_seq,
	    chain_hash) !=
	    CR_STORE_OK)
		goto out;
	printf("{\"group\":[");
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		if (i > 0)
			putchar(',');
		if (run_closed(threads[i], 0, secs, &cnt) == -1)
			goto out;
	}
	printf("],\"baseline\":[");
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		if (i > 0)
			putchar(',');
		if (run_closed(threads[i], 1, secs, NULL) == -1)
			goto out;
	}
	printf("],\"ceiling\":");
	fflush(stdout);
	if (cnt.inner->xlog->ops->xlog_count(cnt.inner->xlog, &count) != CR_STORE_OK)
		goto out;
	if (run_ceiling(total > count ? total - count : 1, &cnt) == -1)
		goto out;
	cr_xlog_stop(xlog);
	xlog = NULL;
	if (cnt.inner->xlog->ops->xlog_count(cnt.inner->xlog, &count) != CR_STORE_OK)
		goto out;
	printf(",\"log_entries\":%llu}\n", (unsigned long long)count);
	rc = 0;
out:
	fflush(stdout);
	if (xlog != NULL)
		cr_xlog_stop(xlog);
	if (cnt.inner != NULL)
		cr_store_close(cnt.inner);
	if (base_store != NULL)
		cr_store_close(base_store);
	return rc;
}

static int
cmd_scan(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	unsigned long long n = 0, bytes = 0;
	double t0, elapsed;
	int i, step, rc = 1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "SELECT seq, ts, request_id,"
	    " consumer, client, end_user, service, provider, subject, purpose,"
	    " legal_basis, outcome, status, error_code, prev_hash, hash"
	    " FROM xlog WHERE seq >= 1 ORDER BY seq", -1, &s, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "bench_xlog: %s: %s\n", path, sqlite3_errmsg(db));
		goto out;
	}
	t0 = now_s();
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		for (i = 0; i < 16; i++) {
			if (i == 0 || i == 12)
				bytes += (unsigned long long)
				    sqlite3_column_int64(s, i) & 1;
			else if (i >= 14)
				bytes += (sqlite3_column_blob(s, i) != NULL) +
				    (unsigned long long)sqlite3_column_bytes(s, i);
			else
				bytes += (sqlite3_column_text(s, i) != NULL) +
				    (unsigned long long)sqlite3_column_bytes(s, i);
		}
		n++;
	}
	elapsed = now_s() - t0;
	if (step != SQLITE_DONE) {
		fprintf(stderr, "bench_xlog: scan: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	printf("{\"entries\":%llu,\"seconds\":%.3f,\"bytes\":%llu}\n", n,
	    elapsed, bytes);
	rc = 0;
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned long long ms, total;

	if (argc == 6 && strcmp(argv[1], "append") == 0 &&
	    cr_util_parse_ull(argv[4], 1, 3600, &ms) == 0 &&
	    cr_util_parse_ull(argv[5], 1, 100000000, &total) == 0)
		return cmd_append(argv[2], argv[3], (double)ms, total);
	if (argc == 3 && strcmp(argv[1], "scan") == 0)
		return cmd_scan(argv[2]);
	fprintf(stderr, "usage: bench_xlog append DB BASEDB SECONDS TOTAL\n"
	    "       bench_xlog scan DB\n");
	return 2;
}
