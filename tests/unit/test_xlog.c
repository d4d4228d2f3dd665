/*
 * Exchange log: hash known answers, JSON form, group commit under
 * concurrency, tamper detection, restart, stop semantics and append
 * failures, all against the real SQLite store in a mkdtemp directory.
 *
 * Transactions are counted by a wrapper around the store, in every build.
 * Built standalone (gcc ... -DCR_XLOG_TEST_STANDALONE, without metrics.c)
 * the metrics hook below also records each batch, so the test checks that
 * cr_metrics_xlog_batch sees the same batches. In the meson build
 * metrics.c provides the hook and only those extra checks are skipped.
 *
 * Size: over 800 lines: one module, its known answers and its failure
 * cases on one fixture.
 */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "util.h"
#include "xlog.h"

#ifdef CR_XLOG_TEST_STANDALONE
#include "metrics.h"

#define MAX_BATCHES	16384
static pthread_mutex_t	batch_mtx = PTHREAD_MUTEX_INITIALIZER;
static size_t		batch_calls;
static size_t		batch_total;
static size_t		batch_sizes[MAX_BATCHES];

void
cr_metrics_xlog_batch(size_t n, double commit_ms)
{
	pthread_mutex_lock(&batch_mtx);
	if (batch_calls < MAX_BATCHES)
		batch_sizes[batch_calls] = n;
	batch_calls++;
	batch_total += n;
	pthread_mutex_unlock(&batch_mtx);
}

#endif

struct tamper_case;

struct fixture {
	char				 dir[64];
	char				 db[128];
	struct cr_store			*store;
	const struct tamper_case	*tcase;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_xlog.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/log.db", f->dir);
	assert_int_equal(cr_store_open(f->db, &f->store), 0);
#ifdef CR_XLOG_TEST_STANDALONE
	batch_calls = batch_total = 0;	/* no writer is running */
#endif
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	static const char *const files[] = { "", "-wal", "-shm", "-journal" };
	struct fixture *f = *state;
	char path[256];
	size_t i;

	cr_store_close(f->store);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", f->db, files[i]);
		unlink(path);
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void
reopen(struct fixture *f)
{
	cr_store_close(f->store);
	f->store = NULL;
	assert_int_equal(cr_store_open(f->db, &f->store), 0);
}

#define SET(e, f, v)	cr_util_strlcpy((e).f, (v), sizeof((e).f))

static void
make_entry(struct cr_xlog_entry *e, int thread, int i)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->ts, sizeof(e->ts), "2026-11-23T05:%02d:%02d.%03dZ",
	    i / 3600 % 60, i / 60 % 60, i % 1000);
	snprintf(e->request_id, sizeof(e->request_id), "req-%d-%d", thread, i);
	SET(*e, consumer, "ONEM");
	SET(*e, client, "3f2c8a1e-0000-4000-8000-000000000001");
	if (i % 3 == 0)
		snprintf(e->end_user, sizeof(e->end_user), "agent-%d", i % 17);
	SET(*e, service, "population.person");
	SET(*e, provider, "RN");
	snprintf(e->subject, sizeof(e->subject), "850730%05d", i);
	SET(*e, purpose, "unemployment-benefit");
	SET(*e, legal_basis, "Deliberation 22/123");
	SET(*e, outcome, i % 5 == 4 ? CR_OUTCOME_DENIED : CR_OUTCOME_GRANTED);
	e->status = i % 5 == 4 ? 403 : 200;
	SET(*e, error_code, i % 5 == 4 ? "NOT_INTEGRATED" : "");
	if (i % 4 == 1)
		snprintf(e->params, sizeof(e->params), "{\"year\":%d}",
		    2000 + i);
	/* Garbage the writer must overwrite. */
	e->seq = 999999;
	memset(e->prev_hash, 0xaa, CR_HASH_LEN);
	memset(e->hash, 0x55, CR_HASH_LEN);
}

/* What one submission's callback saw. */
struct rec {
	int		calls;
	int		rc;
	uint64_t	seq;
};

static void
rec_done(void *arg, int rc, uint64_t seq)
{
	struct rec *r = arg;

	r->rc = rc;
	r->seq = seq;
	/* Release: a test polling calls then sees rc and seq. */
	__atomic_add_fetch(&r->calls, 1, __ATOMIC_RELEASE);
}

static void
hex_equal(const uint8_t h[CR_HASH_LEN], const char *want)
{
	char hex[2 * CR_HASH_LEN + 1];

	cr_util_hex(h, CR_HASH_LEN, hex);
	assert_string_equal(hex, want);
}

static void
expect_intact(struct cr_store *st, uint64_t want_count)
{
	uint64_t count = 0, bad = 0;
	char why[128];

	assert_int_equal(cr_xlog_verify(st, &count, &bad, why, sizeof(why)),
	    0);
	assert_int_equal(count, want_count);
}

/* Submits n entries, stops, checks they got seq first..first+n-1. */
static void
fill(struct cr_store *st, int n, uint64_t first)
{
	struct cr_xlog *x;
	struct cr_xlog_entry e;
	struct rec *r = calloc((size_t)n, sizeof(*r));
	int i;

	assert_non_null(r);
	assert_int_equal(cr_xlog_start(st, NULL, &x), 0);
	for (i = 0; i < n; i++) {
		make_entry(&e, 0, (int)first + i);
		assert_int_equal(cr_xlog_submit(x, &e, rec_done, &r[i]), 0);
	}
	cr_xlog_stop(x);
	for (i = 0; i < n; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, 0);
		assert_int_equal(r[i].seq, first + (uint64_t)i);
	}
	free(r);
}

/* Expected values computed independently with Python's hashlib.blake2b. */
static void
test_hash_known_answer(void **state)
{
	struct cr_xlog_entry e, e2;
	uint8_t h[CR_HASH_LEN], h2[CR_HASH_LEN];
	int i;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < CR_HASH_LEN; i++)
		e.prev_hash[i] = (uint8_t)i;
	e.seq = 42;
	e.status = 403;
	SET(e, ts, "2026-11-23T05:05:00.123Z");
	SET(e, request_id, "req-0001");
	SET(e, consumer, "ONEM");
	SET(e, client, "3f2c8a1e-0000-4000-8000-000000000001");
	SET(e, end_user, "agent-17");
	SET(e, service, "population.person");
	SET(e, provider, "RN");
	SET(e, subject, "85073003328");
	SET(e, purpose, "unemployment-benefit");
	SET(e, legal_basis, "Deliberation 22/123");
	SET(e, outcome, "denied");
	SET(e, error_code, "NOT_INTEGRATED");
	memset(e.hash, 0x77, CR_HASH_LEN);	/* not an input */
	cr_xlog_entry_hash(&e, h);
	hex_equal(h, "3c8c01d627d2b7e31ca3bdb7015a0530"
	    "fff9ff1653ce2534e234a39167f0bdba");
	/* With params: LV(params) follows; without, the hash of before. */
	SET(e, params, "{\"on\":\"2026-01-01\",\"year\":2026}");
	cr_xlog_entry_hash(&e, h);
	hex_equal(h, "ae2f31df048f837906e58c7bbe9bf19e"
	    "3b17e27abaea9e5ee6cbae58d678102b");
	e.params[0] = '\0';

	/* First entry: zero prev_hash, empty optional fields. */
	memset(&e2, 0, sizeof(e2));
	e2.seq = 1;
	e2.status = 200;
	SET(e2, ts, "2026-01-01T00:00:00.000Z");
	SET(e2, request_id, "r");
	SET(e2, consumer, "ONEM");
	SET(e2, client, "c");
	SET(e2, service, "s");
	SET(e2, provider, "RN");
	SET(e2, subject, "85073003328");
	SET(e2, purpose, "p");
	SET(e2, legal_basis, "lb");
	SET(e2, outcome, "granted");
	cr_xlog_entry_hash(&e2, h);
	hex_equal(h, "4ea5ba12b5acdea97e43e0109f614f25"
	    "6061bb050eef73f344afe9fb8eb22fc3");

	/* Length prefixes: moving a byte across a field boundary matters. */
	SET(e2, purpose, "pl");
	SET(e2, legal_basis, "b");
	cr_xlog_entry_hash(&e2, h2);
	assert_memory_not_equal(h, h2, CR_HASH_LEN);

	/* seq and status are covered. */
	e.seq = 43;
	cr_xlog_entry_hash(&e, h2);
	e.seq = 42;
	cr_xlog_entry_hash(&e, h);
	assert_memory_not_equal(h, h2, CR_HASH_LEN);
	e.status = 200;
	cr_xlog_entry_hash(&e, h2);
	assert_memory_not_equal(h, h2, CR_HASH_LEN);
}

static const char *
jstr(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s != NULL ? s : "<not a string>";
}

static json_int_t
jint(const json_t *j, const char *key)
{
	const json_t *v = json_object_get(j, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void
test_entry_json(void **state)
{
	struct cr_xlog_entry e;
	json_t *j;
	size_t i;

	make_entry(&e, 0, 3);
	e.seq = UINT64_C(1) << 40;
	for (i = 0; i < CR_HASH_LEN; i++)
		e.hash[i] = (uint8_t)(0xf0 + i % 16);
	j = cr_xlog_entry_json(&e);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 16);
	assert_true(json_is_null(json_object_get(j, "params")));
	assert_int_equal(jint(j, "seq"), (json_int_t)1 << 40);
	assert_string_equal(jstr(j, "ts"), e.ts);
	assert_string_equal(jstr(j, "request_id"), "req-0-3");
	assert_string_equal(jstr(j, "consumer"), "ONEM");
	assert_string_equal(jstr(j, "client"), e.client);
	assert_string_equal(jstr(j, "end_user"), "agent-3");
	assert_string_equal(jstr(j, "service"), "population.person");
	assert_string_equal(jstr(j, "provider"), "RN");
	assert_string_equal(jstr(j, "subject"), e.subject);
	assert_string_equal(jstr(j, "purpose"), "unemployment-benefit");
	assert_string_equal(jstr(j, "legal_basis"), "Deliberation 22/123");
	assert_string_equal(jstr(j, "outcome"), "granted");
	assert_int_equal(jint(j, "status"), 200);
	assert_true(json_is_null(json_object_get(j, "error_code")));
	assert_string_equal(jstr(j, "hash"), "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
	    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
	json_decref(j);

	/* Unauthenticated refusal: absent values are null, not "". */
	make_entry(&e, 0, 4);
	e.consumer[0] = e.client[0] = e.end_user[0] = '\0';
	e.provider[0] = '\0';
	/* A request id header that is not UTF-8 must not lose the entry. */
	cr_util_strlcpy(e.request_id, "id-\xff\xfe", sizeof(e.request_id));
	j = cr_xlog_entry_json(&e);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "consumer")));
	assert_true(json_is_null(json_object_get(j, "client")));
	assert_true(json_is_null(json_object_get(j, "end_user")));
	assert_true(json_is_null(json_object_get(j, "provider")));
	assert_string_equal(jstr(j, "request_id"), "id-\\xFF\\xFE");
	assert_string_equal(jstr(j, "error_code"), "NOT_INTEGRATED");
	assert_int_equal(jint(j, "status"), 403);
	json_decref(j);

	/* Params are shown as the object they encode. */
	make_entry(&e, 0, 5);
	j = cr_xlog_entry_json(&e);
	assert_non_null(j);
	assert_int_equal(jint(json_object_get(j, "params"), "year"), 2005);
	assert_int_equal(json_object_size(json_object_get(j, "params")), 1);
	json_decref(j);
}

static void
test_params_text(void **state)
{
	char out[64];
	json_t *p;

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_int_equal(cr_xlog_params(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	p = json_object();
	assert_int_equal(cr_xlog_params(p, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	json_decref(p);
	/* Compact, keys sorted, UTF-8 as sent. */
	p = json_loads("{ \"year\": 2024, \"on\": \"2024-02-29\", "
	    "\"b\": true, \"s\": \"\u20ac\" }", 0, NULL);
	assert_int_equal(cr_xlog_params(p, out, sizeof(out)), 0);
	assert_string_equal(out, "{\"b\":true,\"on\":\"2024-02-29\","
	    "\"s\":\"\xe2\x82\xac\",\"year\":2024}");
	json_decref(p);
	/* 63 bytes fit in 64; 64 do not, and leave "". */
	p = json_pack("{s:s}", "s", "0123456789012345678901234567890123456789"
	    "012345678901234");
	assert_int_equal(cr_xlog_params(p, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 63);
	json_decref(p);
	p = json_pack("{s:s}", "s", "0123456789012345678901234567890123456789"
	    "0123456789012345");
	assert_int_equal(cr_xlog_params(p, out, sizeof(out)), -1);
	assert_string_equal(out, "");
	json_decref(p);
}

/*
 * The real store seen through a wrapper that counts transactions (the
 * batching is observable in every build, metrics hook or not) and fails
 * xlog_append on demand. Only the writer thread touches the counters.
 */
#define FLAKY_SIZES	16
struct flaky {
	struct cr_store		 base;	/* first: the xlog sees only this */
	struct cr_xlog_store	 xlog;	/* replaces the real exchange log */
	struct cr_xlog_ops	 ops;
	struct cr_store		*real;
	int			 fail_next;
	int			 appends;
	size_t			 entries;
	size_t			 sizes[FLAKY_SIZES];
};

static struct flaky *
flaky_of(struct cr_xlog_store *h)
{
	return (struct flaky *)(void *)((char *)h -
	    offsetof(struct flaky, xlog));
}

static int
flaky_append(struct cr_xlog_store *st, const struct cr_xlog_entry *e, size_t n,
    const struct cr_xlog_node *nodes, size_t nnodes)
{
	struct flaky *fl = flaky_of(st);

	if (fl->appends < FLAKY_SIZES)
		fl->sizes[fl->appends] = n;
	fl->appends++;
	fl->entries += n;
	if (fl->fail_next > 0) {
		fl->fail_next--;
		return CR_STORE_ERR;
	}
	return fl->real->xlog->ops->xlog_append(fl->real->xlog, e, n, nodes,
	    nnodes);
}

static int
flaky_tail(struct cr_xlog_store *st, uint64_t *seq, uint8_t hash[CR_HASH_LEN])
{
	struct cr_store *real = flaky_of(st)->real;

	return real->xlog->ops->xlog_tail(real->xlog, seq, hash);
}

static int
flaky_scan(struct cr_xlog_store *st, uint64_t from,
    int (*cb)(const struct cr_xlog_entry *, void *), void *arg)
{
	struct cr_store *real = flaky_of(st)->real;

	return real->xlog->ops->xlog_scan(real->xlog, from, cb, arg);
}

static int
flaky_tree_count(struct cr_xlog_store *st, unsigned level,
    uint64_t *count)
{
	struct cr_store *real = flaky_of(st)->real;

	return real->xlog->ops->tree_count(real->xlog, level, count);
}

static int
flaky_tree_get(struct cr_xlog_store *st, unsigned level, uint64_t index,
    uint8_t hash[CR_HASH_LEN])
{
	struct cr_store *real = flaky_of(st)->real;

	return real->xlog->ops->tree_get(real->xlog, level, index, hash);
}

static int
flaky_xlog_hashes(struct cr_xlog_store *st, uint64_t from, size_t n,
    uint8_t (*out)[CR_HASH_LEN])
{
	struct cr_store *real = flaky_of(st)->real;

	return real->xlog->ops->xlog_hashes(real->xlog, from, n, out);
}

/* The real store's probe, given the real store (base is a copy). */
static int
flaky_health(struct cr_store *st)
{
	struct cr_store *real = ((struct flaky *)(void *)st)->real;

	return real->health(real);
}

/* The other concerns are the real store's; exchange-log ops the writer
   does not use stay NULL: a call would crash the test. */
static void
flaky_init(struct flaky *fl, struct cr_store *real)
{
	memset(fl, 0, sizeof(*fl));
	fl->base = *real;
	fl->base.name = "flaky";
	fl->base.health = flaky_health;
	fl->ops.xlog_append = flaky_append;
	fl->ops.xlog_tail = flaky_tail;
	fl->ops.xlog_scan = flaky_scan;
	fl->ops.tree_count = flaky_tree_count;
	fl->ops.xlog_hashes = flaky_xlog_hashes;
	fl->ops.tree_get = flaky_tree_get;
	fl->xlog.ops = &fl->ops;
	fl->base.xlog = &fl->xlog;
	fl->real = real;
}

#define NTHREADS	4
#define PER_THREAD	2000

struct submitter {
	struct cr_xlog	*x;
	int		 id;
	struct rec	*recs;
	int		 failures;
};

static void *
submit_thread(void *arg)
{
	struct submitter *s = arg;
	struct cr_xlog_entry e;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		make_entry(&e, s->id, i);
		if (cr_xlog_submit(s->x, &e, rec_done, &s->recs[i]) != 0)
			s->failures++;
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct submitter s[NTHREADS];
	pthread_t t[NTHREADS];
	struct cr_xlog_config cfg = { .max_batch = 0 };
	struct cr_xlog *x;
	struct flaky fl;
	uint8_t *seen;
	uint64_t prev;
	int i, k;

	seen = calloc(NTHREADS * PER_THREAD + 1, 1);
	assert_non_null(seen);
	flaky_init(&fl, f->store);
	assert_int_equal(cr_xlog_start(&fl.base, &cfg, &x), 0);
	for (i = 0; i < NTHREADS; i++) {
		s[i].x = x;
		s[i].id = i;
		s[i].failures = 0;
		s[i].recs = calloc(PER_THREAD, sizeof(struct rec));
		assert_non_null(s[i].recs);
		assert_int_equal(pthread_create(&t[i], NULL, submit_thread,
		    &s[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	cr_xlog_stop(x);

	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(s[i].failures, 0);
		prev = 0;
		for (k = 0; k < PER_THREAD; k++) {
			struct rec *r = &s[i].recs[k];

			assert_int_equal(r->calls, 1);
			assert_int_equal(r->rc, 0);
			assert_true(r->seq >= 1 &&
			    r->seq <= NTHREADS * PER_THREAD);
			assert_int_equal(seen[r->seq], 0);
			seen[r->seq] = 1;
			/* One thread's entries keep their order. */
			assert_true(r->seq > prev);
			prev = r->seq;
		}
		free(s[i].recs);
	}
	free(seen);
	/* Recomputing every hash also proves each field survived storage. */
	expect_intact(f->store, NTHREADS * PER_THREAD);

	/* Group commit: entries that queued up during a commit share the
	   next one. */
	assert_int_equal(fl.entries, NTHREADS * PER_THREAD);
	assert_true(fl.appends < NTHREADS * PER_THREAD);
#ifdef CR_XLOG_TEST_STANDALONE
	assert_int_equal(batch_total, NTHREADS * PER_THREAD);
	assert_int_equal(batch_calls, (size_t)fl.appends);
#endif
}

/*
 * A callback that holds the writer until released, so that a test knows
 * exactly what is queued when the writer next looks.
 */
struct gate {
	pthread_mutex_t	mtx;
	pthread_cond_t	cond;
	int		entered;
	int		open;
	struct rec	rec;
};

#define GATE_INIT	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, \
	0, 0, { 0, 0, 0 } }

static void
gate_done(void *arg, int rc, uint64_t seq)
{
	struct gate *g = arg;

	rec_done(&g->rec, rc, seq);
	pthread_mutex_lock(&g->mtx);
	g->entered = 1;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->mtx);
	pthread_mutex_unlock(&g->mtx);
}

static void
gate_wait_entered(struct gate *g)
{
	pthread_mutex_lock(&g->mtx);
	while (!g->entered)
		pthread_cond_wait(&g->cond, &g->mtx);
	pthread_mutex_unlock(&g->mtx);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mtx);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->mtx);
}

/* Holds the writer, queues n entries, releases it. */
static void
queue_behind_gate(struct cr_xlog *x, struct gate *g, struct rec *r, int n)
{
	struct cr_xlog_entry e;
	int i;

	make_entry(&e, 9, 0);
	assert_int_equal(cr_xlog_submit(x, &e, gate_done, g), 0);
	gate_wait_entered(g);
	for (i = 0; i < n; i++) {
		make_entry(&e, 9, i + 1);
		assert_int_equal(cr_xlog_submit(x, &e, rec_done, &r[i]), 0);
	}
	gate_open(g);
}

static void
test_group_commit(void **state)
{
	struct fixture *f = *state;
	struct cr_xlog_config cfg = { .max_batch = 100 };
	static const size_t want[] = { 1, 100, 100, 100, 100, 50 };
	const size_t nwant = sizeof(want) / sizeof(want[0]);
	struct cr_xlog *x;
	struct flaky fl;
	struct gate g = GATE_INIT;
	struct rec r[450];
	size_t i;

	memset(r, 0, sizeof(r));
	flaky_init(&fl, f->store);
	assert_int_equal(cr_xlog_start(&fl.base, &cfg, &x), 0);
	queue_behind_gate(x, &g, r, 450);
	cr_xlog_stop(x);

	assert_int_equal(g.rec.seq, 1);
	for (i = 0; i < 450; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].seq, i + 2);
	}
	/* Everything queued during the first commit went out at once, in
	   max_batch chunks: 6 transactions for 451 entries. */
	assert_int_equal(fl.appends, nwant);
	for (i = 0; i < nwant; i++)
		assert_int_equal(fl.sizes[i], want[i]);
#ifdef CR_XLOG_TEST_STANDALONE
	assert_int_equal(batch_calls, nwant);
	for (i = 0; i < nwant; i++)
		assert_int_equal(batch_sizes[i], want[i]);
#endif
	expect_intact(f->store, 451);
}

/* cr_xlog_write: n entries queued at once, durable when it returns, in one
   transaction (n <= max_batch); -1 when the batch could not be written. */
static void
test_write_waits(void **state)
{
	struct fixture *f = *state;
	struct cr_xlog *x;
	struct flaky fl;
	struct cr_xlog_entry *e;
	int i;

	assert_non_null(e = calloc(300, sizeof(*e)));
	flaky_init(&fl, f->store);
	assert_int_equal(cr_xlog_start(&fl.base, NULL, &x), 0);
	for (i = 0; i < 300; i++)
		make_entry(&e[i], 3, i + 1);
	assert_int_equal(cr_xlog_write(x, e, 300), 0);
	assert_int_equal(fl.appends, 1);
	assert_int_equal(fl.sizes[0], 300);
	expect_intact(f->store, 300);
	fl.fail_next = 1;
	assert_int_equal(cr_xlog_write(x, e, 10), -1);
	assert_int_equal(cr_xlog_write(x, e, 0), 0);
	assert_int_equal(cr_xlog_write(x, e, 2), 0);
	cr_xlog_stop(x);
	expect_intact(f->store, 302);
	free(e);
}

static void
test_restart(void **state)
{
	struct fixture *f = *state;

	fill(f->store, 10, 1);
	expect_intact(f->store, 10);
	/* Same store, new writer: reads the tail back. */
	fill(f->store, 5, 11);
	/* As after a process restart. */
	reopen(f);
	fill(f->store, 7, 16);
	expect_intact(f->store, 22);
}

static void
test_empty_and_null_callback(void **state)
{
	struct fixture *f = *state;
	struct cr_xlog *x;
	struct cr_xlog_entry e;

	expect_intact(f->store, 0);
	/* A writer that never got anything stops cleanly. */
	assert_int_equal(cr_xlog_start(f->store, NULL, &x), 0);
	cr_xlog_stop(x);
	cr_xlog_stop(NULL);
	expect_intact(f->store, 0);

	assert_int_equal(cr_xlog_start(f->store, NULL, &x), 0);
	make_entry(&e, 0, 1);
	assert_int_equal(cr_xlog_submit(x, &e, NULL, NULL), 0);
	cr_xlog_stop(x);
	expect_intact(f->store, 1);
}

static void
test_stop_drains(void **state)
{
	struct fixture *f = *state;

	/* fill() stops right after the last submit: nothing may be lost. */
	fill(f->store, 3000, 1);
	expect_intact(f->store, 3000);
}

static void *
stop_thread(void *x)
{
	cr_xlog_stop(x);
	return NULL;
}

static void
test_submit_while_stopping(void **state)
{
	struct fixture *f = *state;
	struct timespec ts = { 0, 200 * 1000 };
	struct cr_xlog_entry e;
	struct cr_xlog *x;
	struct gate g = GATE_INIT;
	struct rec *r;
	pthread_t t;
	int i, accepted = 0, refused = 0;

	r = calloc(100000, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(cr_xlog_start(f->store, NULL, &x), 0);
	make_entry(&e, 0, 0);
	assert_int_equal(cr_xlog_submit(x, &e, gate_done, &g), 0);
	gate_wait_entered(&g);

	/* The writer is held, so x stays valid while stop waits for it. */
	assert_int_equal(pthread_create(&t, NULL, stop_thread, x), 0);
	for (i = 0; i < 100000; i++) {
		make_entry(&e, 0, i + 1);
		if (cr_xlog_submit(x, &e, rec_done, &r[i]) != 0) {
			refused = 1;
			break;
		}
		accepted++;
		nanosleep(&ts, NULL);
	}
	assert_true(refused);
	gate_open(&g);
	pthread_join(t, NULL);

	/* Accepted before the stop: written. Refused: never called back. */
	for (i = 0; i < accepted; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, 0);
		assert_int_equal(r[i].seq, (uint64_t)i + 2);
	}
	assert_int_equal(r[accepted].calls, 0);
	free(r);
	expect_intact(f->store, (uint64_t)accepted + 1);

	/* A new writer on the same store carries on. */
	fill(f->store, 3, (uint64_t)accepted + 2);
	expect_intact(f->store, (uint64_t)accepted + 4);
}

/*
 * A failed transaction: every entry of it is called back with -1, the
 * failure is not counted as logged, and the chain continues from what is
 * really stored, both with the same writer and after a restart.
 */
static void
test_append_failure(void **state)
{
	struct fixture *f = *state;
	struct cr_xlog_entry e;
	struct flaky fl;
	struct cr_xlog *x;
	struct gate g = GATE_INIT;
	struct rec r[4], after[4], later;
	int i;

	flaky_init(&fl, f->store);
	memset(r, 0, sizeof(r));
	memset(after, 0, sizeof(after));
	memset(&later, 0, sizeof(later));

	fill(f->store, 3, 1);
	assert_int_equal(cr_xlog_start(&fl.base, NULL, &x), 0);
	make_entry(&e, 0, 0);
	assert_int_equal(cr_xlog_submit(x, &e, gate_done, &g), 0);
	gate_wait_entered(&g);
	/* The writer is parked in a callback: the next append is the batch
	   of the four entries queued now. */
	fl.fail_next = 1;
	for (i = 0; i < 4; i++) {
		make_entry(&e, 0, i + 1);
		assert_int_equal(cr_xlog_submit(x, &e, rec_done, &r[i]), 0);
	}
	gate_open(&g);
	while (__atomic_load_n(&r[3].calls, __ATOMIC_ACQUIRE) == 0)
		usleep(1000);
	for (i = 0; i < 4; i++) {
		make_entry(&e, 0, i + 10);
		assert_int_equal(cr_xlog_submit(x, &e, rec_done, &after[i]),
		    0);
	}
	cr_xlog_stop(x);

	assert_int_equal(g.rec.rc, 0);
	assert_int_equal(g.rec.seq, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, -1);
		assert_int_equal(r[i].seq, 0);
		assert_int_equal(after[i].calls, 1);
		assert_int_equal(after[i].rc, 0);
		assert_int_equal(after[i].seq, (uint64_t)i + 5);
	}
	/* The gate entry, then the failed batch of four, then the four
	   after it in however many transactions the writer made. */
	assert_int_equal(fl.sizes[0], 1);
	assert_int_equal(fl.sizes[1], 4);
	assert_int_equal(fl.entries, 1 + 4 + 4);
#ifdef CR_XLOG_TEST_STANDALONE
	/* fill()'s batch, the gate entry, the four after: not the failure. */
	assert_int_equal(batch_total, 3 + 1 + 4);
#endif
	expect_intact(f->store, 8);

	/* The failure is the very last thing a writer did before a restart. */
	fl.fail_next = 1;
	assert_int_equal(cr_xlog_start(&fl.base, NULL, &x), 0);
	make_entry(&e, 0, 20);
	assert_int_equal(cr_xlog_submit(x, &e, rec_done, &r[0]), 0);
	cr_xlog_stop(x);
	assert_int_equal(r[0].rc, -1);
	assert_int_equal(cr_xlog_start(&fl.base, NULL, &x), 0);
	assert_int_equal(cr_xlog_submit(x, &e, rec_done, &later), 0);
	cr_xlog_stop(x);
	assert_int_equal(later.rc, 0);
	assert_int_equal(later.seq, 9);
	expect_intact(f->store, 9);
}

/*
 * Tampering: 20 entries, then one change made behind the hub's back with
 * a separate SQLite connection; verify must name the entry.
 */
#define TAMPER_N	20

static void
sql_exec(const char *db, const char *sql, int want_changes)
{
	sqlite3 *h;
	char *err = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	assert_int_equal(sqlite3_changes(h), want_changes);
	sqlite3_close(h);
}

static void
expect_broken(struct cr_store *st, uint64_t want_bad, const char *want_why)
{
	uint64_t count = 0, bad = 0;
	char why[128];

	assert_int_equal(cr_xlog_verify(st, &count, &bad, why, sizeof(why)),
	    -1);
	assert_int_equal(bad, want_bad);
	if (strstr(why, want_why) == NULL)
		fail_msg("why: \"%s\", wanted \"%s\"", why, want_why);
}

struct tamper_case {
	const char	*sql;
	uint64_t	 bad_seq;
	const char	*why;
};

static const struct tamper_case tamper_field = {
	"UPDATE xlog SET purpose = 'curiosity' WHERE seq = 7", 7,
	"hash mismatch"
};
static const struct tamper_case tamper_status = {	/* denied -> granted */
	"UPDATE xlog SET status = 200, outcome = 'granted', error_code = ''"
	" WHERE seq = 9", 9, "hash mismatch"
};
static const struct tamper_case tamper_absent = {	/* "" was absent */
	"UPDATE xlog SET end_user = 'x' WHERE seq = 2", 2, "hash mismatch"
};
static const struct tamper_case tamper_params_removed = {
	"UPDATE xlog SET params = '' WHERE seq = 5", 5, "hash mismatch"
};
static const struct tamper_case tamper_params_added = {
	"UPDATE xlog SET params = '{\"year\":1}' WHERE seq = 6", 6,
	"hash mismatch"
};
static const struct tamper_case tamper_params_changed = {
	"UPDATE xlog SET params = '{\"year\":1999}' WHERE seq = 9", 9,
	"hash mismatch"
};
static const struct tamper_case tamper_delete = {
	"DELETE FROM xlog WHERE seq = 7", 7, "sequence gap after 6"
};
static const struct tamper_case tamper_delete_first = {
	"DELETE FROM xlog WHERE seq = 1", 1, "sequence gap"
};
static const struct tamper_case tamper_hash = {
	"UPDATE xlog SET hash = zeroblob(32) WHERE seq = 7", 7,
	"hash mismatch"
};
static const struct tamper_case tamper_prev = {
	"UPDATE xlog SET prev_hash = randomblob(32) WHERE seq = 7", 7,
	"prev_hash does not match"
};
static const struct tamper_case tamper_first_prev = {
	"UPDATE xlog SET prev_hash = randomblob(32) WHERE seq = 1", 1,
	"first entry"
};

/* The case comes in as cmocka's initial state; setup replaces it. */
static int
tamper_setup(void **state)
{
	const struct tamper_case *tc = *state;
	struct fixture *f;

	setup(state);
	f = *state;
	f->tcase = tc;
	return 0;
}

static void
test_tamper(void **state)
{
	struct fixture *f = *state;
	const struct tamper_case *tc = f->tcase;

	fill(f->store, TAMPER_N, 1);
	expect_intact(f->store, TAMPER_N);
	sql_exec(f->db, tc->sql, 1);
	expect_broken(f->store, tc->bad_seq, tc->why);
	/* Not an artefact of a cached connection: a fresh one agrees. */
	reopen(f);
	expect_broken(f->store, tc->bad_seq, tc->why);
}

static int
grab_cb(const struct cr_xlog_entry *e, void *arg)
{
	memcpy(arg, e, sizeof(*e));
	return 1;
}

/*
 * A careful forger rewrites entry 7 and recomputes its hash: entry 7 is
 * then self-consistent, and the break shows at entry 8.
 */
static void
test_tamper_rehashed(void **state)
{
	struct fixture *f = *state;
	struct cr_xlog_entry e;
	sqlite3_stmt *s;
	sqlite3 *h;

	fill(f->store, TAMPER_N, 1);
	assert_int_equal(f->store->xlog->ops->xlog_scan(f->store->xlog, 7, grab_cb, &e),
	    1);
	assert_int_equal(e.seq, 7);
	cr_util_strlcpy(e.subject, "99999999999", sizeof(e.subject));
	cr_xlog_entry_hash(&e, e.hash);

	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_prepare_v2(h, "UPDATE xlog SET subject = ?1,"
	    " hash = ?2 WHERE seq = 7", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_text(s, 1, e.subject, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, e.hash, CR_HASH_LEN, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(h), 1);
	sqlite3_finalize(s);
	sqlite3_close(h);

	expect_broken(f->store, 8, "prev_hash does not match the hash of "
	    "entry 7");
}

#define TAMPER(c)	{ "test_" #c, test_tamper, tamper_setup, teardown, \
	(void *)(uintptr_t)&c }

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_known_answer),
		cmocka_unit_test(test_entry_json),
		cmocka_unit_test(test_params_text),
		cmocka_unit_test_setup_teardown(test_concurrent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_waits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_null_callback,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_drains, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_submit_while_stopping,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_failure, setup,
		    teardown),
		TAMPER(tamper_field),
		TAMPER(tamper_status),
		TAMPER(tamper_absent),
		TAMPER(tamper_params_removed),
		TAMPER(tamper_params_added),
		TAMPER(tamper_params_changed),
		TAMPER(tamper_delete),
		TAMPER(tamper_delete_first),
		TAMPER(tamper_hash),
		TAMPER(tamper_prev),
		TAMPER(tamper_first_prev),
		cmocka_unit_test_setup_teardown(test_tamper_rehashed, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
