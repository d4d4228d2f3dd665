/*
 * Helper of bench/directory.sh: the reference directory at scale.
 *
 *   bench_directory build DB CSV RECORDS QUERIES_OUT NQUERIES
 *	Fills the directory table of DB (a store already created, its
 *	institutions registered) with RECORDS records, fast: subjects are
 *	valid INSZ numbers that are not in CSV, each given the records of a
 *	person of CSV (a `crossroads gen` directory.csv) with its own subject,
 *	inserted in key order by one transaction without a journal. This is
 *	set-up, not a figure: `crossroads directory import` at 74,000
 *	records/s would take six minutes. Writes NQUERIES random lookups
 *	(subject,institution,capacity,date) to QUERIES_OUT.
 *   bench_directory raw-insert DB CSV
 *	The baseline of the import: the records of CSV through a bare
 *	prepared INSERT in one transaction, then rolled back.
 *   bench_directory lookup DB QUERIES SUBJECTS_OUT
 *	Times each lookup through the store's dir_active (as the consult path
 *	calls it) and through a bare prepared statement; writes the subjects,
 *	in the order asked, to SUBJECTS_OUT for wrk.
 *
 * Each prints one JSON object on stdout; diagnostics go to stderr.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "ident.h"
#include "store.h"
#include "util.h"

#define AS_OF		"2026-09-30"	/* crossroads gen's default "today" */
#define FIRST_YEAR	1926
#define LAST_YEAR	2025
#define WARMUP		10000
#define BLOCK		1000	/* lookups per path in turn */

struct rec {
	char	subject[16];
	char	institution[16];
	char	capacity[32];
	char	from[11];
	char	to[11];
};

struct csv {
	struct rec	*recs;
	size_t		 n;
	size_t		*group;		/* start of each subject's records */
	size_t		 ngroups;	/* group[ngroups] == n */
};

struct query {
	char	 subject[16];
	char	 institution[16];
	char	 capacity[32];
	char	 date[11];
	json_t	*caps;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	/* xorshift64*: reproducible, good enough to pick rows. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
copy_field(char *dst, size_t size, const char *src)
{
	return cr_util_strlcpy(dst, src, size) >= size ? -1 : 0;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c;

	if ((c = strcmp(x->subject, y->subject)) != 0)
		return c;
	if ((c = strcmp(x->institution, y->institution)) != 0)
		return c;
	if ((c = strcmp(x->capacity, y->capacity)) != 0)
		return c;
	return strcmp(x->from, y->from);
}

/* Reads a gen directory.csv: subject,capacity,from,to,institution. */
static int
csv_read(const char *path, int sorted, struct csv *out)
{
	FILE *f;
	char *line = NULL, *fld[5], *p;
	size_t cap = 0, alloc = 0, i;
	struct rec *r, *tmp;
	int k, rc = -1;

	memset(out, 0, sizeof(*out));
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "bench_directory: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (getline(&line, &cap, f) == -1 ||
	    strncmp(line, "subject,capacity,from,to,institution", 36) != 0) {
		fprintf(stderr, "bench_directory: %s: not a gen directory.csv\n",
		    path);
		goto out;
	}
	while (getline(&line, &cap, f) != -1) {
		line[strcspn(line, "\r\n")] = '\0';
		if (*line == '\0')
			continue;
		for (k = 0, p = line; k < 5 && p != NULL; k++) {
			fld[k] = p;
			if ((p = strchr(p, ',')) != NULL)
				*p++ = '\0';
		}
		if (k != 5 || p != NULL) {
			fprintf(stderr, "bench_directory: bad line in %s\n", path);
			goto out;
		}
		if (out->n == alloc) {
			alloc = alloc ? alloc * 2 : 65536;
			if ((tmp = realloc(out->recs, alloc * sizeof(*tmp))) ==
			    NULL) {
				fprintf(stderr, "bench_directory: out of memory\n");
				goto out;
			}
			out->recs = tmp;
		}
		r = &out->recs[out->n];
		if (copy_field(r->subject, sizeof(r->subject), fld[0]) == -1 ||
		    copy_field(r->capacity, sizeof(r->capacity), fld[1]) == -1 ||
		    copy_field(r->from, sizeof(r->from), fld[2]) == -1 ||
		    copy_field(r->to, sizeof(r->to), fld[3]) == -1 ||
		    copy_field(r->institution, sizeof(r->institution),
		    fld[4]) == -1) {
			fprintf(stderr, "bench_directory: field too long in %s\n",
			    path);
			goto out;
		}
		out->n++;
	}
	if (out->n == 0) {
		fprintf(stderr, "bench_directory: %s holds no record\n", path);
		goto out;
	}
	if (sorted) {
		qsort(out->recs, out->n, sizeof(*out->recs), rec_cmp);
		if ((out->group = calloc(out->n + 1, sizeof(size_t))) == NULL)
			goto out;
		for (i = 0; i < out->n; i++)
			if (i == 0 || strcmp(out->recs[i].subject,
			    out->recs[i - 1].subject) != 0)
				out->group[out->ngroups++] = i;
		out->group[out->ngroups] = out->n;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

static void
csv_free(struct csv *c)
{
	free(c->recs);
	free(c->group);
}

/* Is subject one of the CSV's (which the import will add)? */
static int
csv_has_subject(const struct csv *c, const char *subject)
{
	size_t lo = 0, hi = c->ngroups, mid;
	int cmp;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		cmp = strcmp(c->recs[c->group[mid]].subject, subject);
		if (cmp == 0)
			return 1;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
subject_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 12);
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/*
 * Distinct valid INSZ numbers, about `want` of them spread over every birth
 * date of a century, sorted (the table's key order).
 */
static char *
make_subjects(size_t want, size_t *n)
{
	const struct cr_ident_scheme *insz = cr_ident_find("be-insz");
	unsigned max = cr_ident_gen_serials(insz), per, step, j;
	size_t days = (size_t)(LAST_YEAR - FIRST_YEAR + 1) * 366, alloc;
	char *subs, date[32], id[CR_SUBJECT_MAX];
	int y, m, d, sex;

	per = (unsigned)(want / (days * 2) + 2);
	if (per > max)
		per = max;
	step = max / per;
	alloc = days * 2 * per;
	if ((subs = malloc(alloc * 12)) == NULL)
		return NULL;
	*n = 0;
	for (y = FIRST_YEAR; y <= LAST_YEAR; y++)
		for (m = 1; m <= 12; m++)
			for (d = 1; d <= days_in_month(y, m); d++) {
				snprintf(date, sizeof(date), "%04d-%02d-%02d",
				    y, m, d);
				for (sex = 0; sex < 2; sex++)
					for (j = 0; j < per; j++) {
						if (cr_ident_gen_person(insz,
						    date, sex, j * step + step / 2,
						    id, sizeof(id)) == -1 ||
						    strlen(id) != 11)
							continue;
						memcpy(subs + *n * 12, id, 12);
						(*n)++;
					}
			}
	qsort(subs, *n, 12, subject_cmp);
	return subs;
}

static int
exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench_directory: %s: %s\n", sql,
		    err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
bind_rec(sqlite3_stmt *s, const char *subject, const struct rec *r)
{
	return sqlite3_bind_text(s, 1, subject, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 2, r->institution, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 3, r->capacity, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 4, r->from, -1, SQLITE_STATIC) ||
	    (*r->to ? sqlite3_bind_text(s, 5, r->to, -1, SQLITE_STATIC) :
	    sqlite3_bind_null(s, 5));
}

static int
cmd_build(const char *dbpath, const char *csvpath, unsigned long long want,
    const char *qpath, unsigned long long nq)
{
	struct csv c;
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	FILE *qf = NULL;
	char *subs = NULL, subject[16];
	size_t nsubs = 0, i, g, k, used = 0, skipped = 0, queries = 0;
	unsigned long long done = 0;
	double t0 = now_s(), t1, pq;
	const struct rec *r;
	int rc = 1;

	if (csv_read(csvpath, 1, &c) == -1)
		return 1;
	/* 10% more subjects than the records need on average. */
	if ((subs = make_subjects((size_t)(want / ((double)c.n / c.ngroups) *
	    1.1) + 1000, &nsubs)) == NULL) {
		fprintf(stderr, "bench_directory: cannot make subjects\n");
		goto out;
	}
	pq = (double)nq / ((double)want / ((double)c.n / c.ngroups));
	if ((qf = fopen(qpath, "w")) == NULL) {
		fprintf(stderr, "bench_directory: %s: %s\n", qpath,
		    strerror(errno));
		goto out;
	}
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "bench_directory: %s: %s\n", dbpath,
		    sqlite3_errmsg(db));
		goto out;
	}
	/* A bench database: speed over crash safety while it is built. */
	if (exec_sql(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
	    "PRAGMA cache_size = -262144; BEGIN") == -1)
		goto out;
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO directory (subject,"
	    " institution, capacity, from_date, to_date)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)", -1, &ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_directory: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	for (i = 0; i < nsubs && done < want; i++) {
		memcpy(subject, subs + i * 12, 12);
		subject[11] = '\0';
		if (csv_has_subject(&c, subject)) {
			skipped++;
			continue;
		}
		used++;
		g = (size_t)(rng() % c.ngroups);
		for (k = c.group[g]; k < c.group[g + 1] && done < want; k++) {
			if (bind_rec(ins, subject, &c.recs[k]) != SQLITE_OK ||
			    sqlite3_step(ins) != SQLITE_DONE) {
				fprintf(stderr, "bench_directory: insert: %s\n",
				    sqlite3_errmsg(db));
				goto out;
			}
			done += (unsigned long long)sqlite3_changes(db);
			sqlite3_reset(ins);
		}
		if ((double)(rng() >> 11) / 9007199254740992.0 < pq) {
			/* Half at a date inside the record, half today. */
			r = &c.recs[c.group[g] + rng() % (c.group[g + 1] -
			    c.group[g])];
			fprintf(qf, "%s,%s,%s,%s\n", subject, r->institution,
			    r->capacity, rng() & 1 ? r->from : AS_OF);
			queries++;
		}
	}
	if (exec_sql(db, "COMMIT") == -1)
		goto out;
	t1 = now_s();
	if (done < want) {
		fprintf(stderr, "bench_directory: only %llu records\n", done);
		goto out;
	}
	sqlite3_finalize(ins);
	ins = NULL;
	/* Back to what the store expects. */
	if (exec_sql(db, "PRAGMA journal_mode = WAL") == -1)
		goto out;
	printf("{\"records\":%llu,\"subjects\":%zu,\"skipped_subjects\":%zu,"
	    "\"patterns\":%zu,\"pattern_records\":%zu,\"queries\":%zu,"
	    "\"seconds\":%.2f}\n", done, used, skipped, c.ngroups, c.n,
	    queries, t1 - t0);
	rc = 0;
out:
	if (qf != NULL && fclose(qf) != 0)
		rc = 1;
	sqlite3_finalize(ins);
	sqlite3_close(db);
	free(subs);
	csv_free(&c);
	return rc;
}

static int
cmd_raw_insert(const char *dbpath, const char *csvpath)
{
	struct csv c;
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	size_t i;
	unsigned long long inserted = 0;
	double t0, t1;
	int rc = 1;

	if (csv_read(csvpath, 0, &c) == -1)
		return 1;
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "bench_directory: %s: %s\n", dbpath,
		    sqlite3_errmsg(db));
		goto out;
	}
	/* The store's settings, not the build's. */
	if (exec_sql(db, "PRAGMA synchronous = FULL") == -1 ||
	    sqlite3_prepare_v2(db, "INSERT INTO directory (subject,"
	    " institution, capacity, from_date, to_date)"
	    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING", -1, &ins,
	    NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_directory: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	t0 = now_s();
	if (exec_sql(db, "BEGIN IMMEDIATE") == -1)
		goto out;
	for (i = 0; i < c.n; i++) {
		if (bind_rec(ins, c.recs[i].subject, &c.recs[i]) != SQLITE_OK ||
		    sqlite3_step(ins) != SQLITE_DONE) {
			fprintf(stderr, "bench_directory: insert: %s\n",
			    sqlite3_errmsg(db));
			exec_sql(db, "ROLLBACK");
			goto out;
		}
		inserted += (unsigned long long)sqlite3_changes(db);
		sqlite3_reset(ins);
	}
	t1 = now_s();
	/* The import that follows must find the same records new. */
	if (exec_sql(db, "ROLLBACK") == -1)
		goto out;
	printf("{\"records\":%zu,\"inserted\":%llu,\"seconds\":%.3f,"
	    "\"records_per_s\":%.0f}\n", c.n, inserted, t1 - t0,
	    (double)c.n / (t1 - t0));
	rc = 0;
out:
	sqlite3_finalize(ins);
	sqlite3_close(db);
	csv_free(&c);
	return rc;
}

static int
query_read(const char *path, struct query **out, size_t *n)
{
	FILE *f;
	char *line = NULL, *fld[4], *p;
	size_t cap = 0, alloc = 0;
	struct query *q = NULL, *tmp;
	int k, rc = -1;

	*n = 0;
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "bench_directory: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) != -1) {
		line[strcspn(line, "\r\n")] = '\0';
		for (k = 0, p = line; k < 4 && p != NULL; k++) {
			fld[k] = p;
			if ((p = strchr(p, ',')) != NULL)
				*p++ = '\0';
		}
		if (k != 4)
			continue;
		if (*n == alloc) {
			alloc = alloc ? alloc * 2 : 4096;
			if ((tmp = realloc(q, alloc * sizeof(*q))) == NULL)
				goto out;
			q = tmp;
		}
		memset(&q[*n], 0, sizeof(q[*n]));
		if (copy_field(q[*n].subject, sizeof(q->subject), fld[0]) ||
		    copy_field(q[*n].institution, sizeof(q->institution),
		    fld[1]) ||
		    copy_field(q[*n].capacity, sizeof(q->capacity), fld[2]) ||
		    copy_field(q[*n].date, sizeof(q->date), fld[3]) ||
		    (q[*n].caps = json_pack("[s]", fld[2])) == NULL)
			goto out;
		(*n)++;
	}
	rc = *n > 0 ? 0 : -1;
out:
	if (rc == -1) {
		fprintf(stderr, "bench_directory: cannot read %s\n", path);
		while (*n > 0)
			json_decref(q[--(*n)].caps);
		free(q);
		q = NULL;
	}
	*out = q;
	free(line);
	fclose(f);
	return rc;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* p50, p99, p99.9, max in microseconds, as JSON members. */
static void
print_latency(const char *name, double *us, size_t n, double secs)
{
	qsort(us, n, sizeof(*us), dbl_cmp);
	printf("\"%s\":{\"lookups\":%zu,\"per_s\":%.0f,\"p50_us\":%.1f,"
	    "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}", name, n,
	    (double)n / secs, us[n / 2], us[n * 99 / 100], us[n * 999 / 1000],
	    us[n - 1]);
}

static int
raw_lookup(sqlite3 *db, sqlite3_stmt *s, const struct query *q)
{
	int rc;

	if (sqlite3_bind_text(s, 1, q->subject, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 2, q->institution, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 3, q->capacity, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 4, q->date, -1, SQLITE_STATIC)) {
		fprintf(stderr, "bench_directory: bind: %s\n",
		    sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	fprintf(stderr, "bench_directory: lookup: %s\n", sqlite3_errmsg(db));
	return -1;
}

static int
cmd_lookup(const char *dbpath, const char *qpath, const char *spath)
{
	struct cr_store *inner = NULL, *st = NULL;
	struct query *q = NULL, tmp;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	FILE *sf = NULL;
	double *us_store = NULL, *us_raw = NULL, t, t0, secs_store, secs_raw;
	size_t n = 0, i, j, b, e, hits = 0, mismatch = 0;
	int *res = NULL, *raw = NULL, pass, rc = 1;

	if (query_read(qpath, &q, &n) == -1)
		return 1;
	/* Random order: the file is in key order. */
	for (i = n - 1; i > 0; i--) {
		j = (size_t)(rng() % (i + 1));
		tmp = q[i];
		q[i] = q[j];
		q[j] = tmp;
	}
	if ((sf = fopen(spath, "w")) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		fprintf(sf, "%s\n", q[i].subject);
	if (fclose(sf) != 0) {
		sf = NULL;
		goto out;
	}
	sf = NULL;
	us_store = calloc(n, sizeof(double));
	us_raw = calloc(n, sizeof(double));
	res = calloc(n, sizeof(int));
	raw = calloc(n, sizeof(int));
	if (us_store == NULL || us_raw == NULL || res == NULL || raw == NULL)
		goto out;
	/* As the hub opens it: the registry cache in front of SQLite. */
	if (cr_store_open(dbpath, &inner) == -1)
		goto out;
	if (cr_store_cache_wrap(inner, 1000, &st) == -1) {
		cr_store_close(inner);
		goto out;
	}
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "SELECT 1 FROM directory"
	    " WHERE subject = ?1 AND institution = ?2 AND capacity = ?3"
	    " AND from_date <= ?4 AND (to_date IS NULL OR to_date >= ?4)"
	    " LIMIT 1", -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_directory: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	/* Warm both paths (statements, the first pages) untimed. */
	for (i = 0; i < n && i < WARMUP; i++) {
		if (st->directory->ops->dir_active(st->directory, q[i].institution, q[i].subject,
		    q[i].caps, q[i].date) < 0 || raw_lookup(db, s, &q[i]) < 0)
			goto out;
	}
	/*
	 * Blocks of BLOCK queries, each asked through both paths, the
	 * first path alternating: neither profits from going second.
	 */
	secs_store = secs_raw = 0;
	for (b = 0; b < n; b += BLOCK) {
		e = b + BLOCK < n ? b + BLOCK : n;
		for (pass = 0; pass < 2; pass++) {
			if ((pass == 0) == ((b / BLOCK) % 2 == 0)) {
				t0 = now_s();
				for (i = b; i < e; i++) {
					t = now_s();
					res[i] = st->directory->ops->dir_active(st->directory,
					    q[i].institution, q[i].subject,
					    q[i].caps, q[i].date);
					us_store[i] = (now_s() - t) * 1e6;
					if (res[i] < 0)
						goto out;
				}
				secs_store += now_s() - t0;
			} else {
				t0 = now_s();
				for (i = b; i < e; i++) {
					t = now_s();
					raw[i] = raw_lookup(db, s, &q[i]);
					us_raw[i] = (now_s() - t) * 1e6;
					if (raw[i] < 0)
						goto out;
				}
				secs_raw += now_s() - t0;
			}
		}
	}
	for (i = 0; i < n; i++) {
		hits += res[i] == 1;
		mismatch += res[i] != raw[i];
	}
	printf("{\"queries\":%zu,\"hits\":%zu,\"mismatches\":%zu,", n, hits,
	    mismatch);
	print_latency("store", us_store, n, secs_store);
	putchar(',');
	print_latency("raw", us_raw, n, secs_raw);
	printf("}\n");
	rc = mismatch == 0 ? 0 : 1;
	if (mismatch != 0)
		fprintf(stderr, "bench_directory: %zu lookups disagree\n",
		    mismatch);
out:
	if (sf != NULL)
		fclose(sf);
	sqlite3_finalize(s);
	sqlite3_close(db);
	if (st != NULL)
		cr_store_close(st);
	for (i = 0; i < n; i++)
		json_decref(q[i].caps);
	free(q);
	free(us_store);
	free(us_raw);
	free(res);
	free(raw);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned long long records, nq;

	if (argc == 7 && strcmp(argv[1], "build") == 0 &&
	    cr_util_parse_ull(argv[4], 1, 1ULL << 40, &records) == 0 &&
	    cr_util_parse_ull(argv[6], 1, 100000000, &nq) == 0)
		return cmd_build(argv[2], argv[3], records, argv[5], nq);
	if (argc == 4 && strcmp(argv[1], "raw-insert") == 0)
		return cmd_raw_insert(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "lookup") == 0)
		return cmd_lookup(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: bench_directory build DB CSV RECORDS "
	    "QUERIES_OUT NQUERIES\n"
	    "       bench_directory raw-insert DB CSV\n"
	    "       bench_directory lookup DB QUERIES SUBJECTS_OUT\n");
	return 2;
}
