/*
 * The leaves of crossroads gen: the deterministic random stream, the
 * SQLite helpers every registry writer uses, and day arithmetic. Uses
 * nothing else of the generator, so that gen.c (households) and
 * gen_registries.c (what each authentic source records) both build on it
 * without depending on each other both ways.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "gen.h"
#include "log.h"
#include "util.h"

/* --- PRNG: splitmix64 seeds xoshiro256** --------------------------------- */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
cr_gen_rng_seed(struct cr_gen_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
cr_gen_rng_next(struct cr_gen_rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

double
cr_gen_unit(struct cr_gen_rng *r)
{
	return (double)(cr_gen_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [lo, hi]. */
int
cr_gen_range(struct cr_gen_rng *r, int lo, int hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int)(cr_gen_rng_next(r) % (uint64_t)(hi - lo + 1));
}

int
cr_gen_chance(struct cr_gen_rng *r, double p)
{
	return cr_gen_unit(r) < p;
}

/* Index drawn from cumulative-free weights (they need not sum to 1). */
int
cr_gen_pick(struct cr_gen_rng *r, const double *w, int n)
{
	double t = 0, u;
	int i;

	for (i = 0; i < n; i++)
		t += w[i];
	u = cr_gen_unit(r) * t;
	for (i = 0; i < n - 1; i++) {
		if (u < w[i])
			return i;
		u -= w[i];
	}
	return n - 1;
}

/* --- SQLite helpers ------------------------------------------------------ */

int
cr_gen_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("gen: %s: %s", sqlite3_db_filename(db, "main"),
		    msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/*
 * Binds and runs an insert: fmt has one letter a parameter, 's' text,
 * 'n' text or NULL when empty, 'i' int, 'l' long long, 'L' long long or
 * NULL when not positive, 'c' cents (a long long written as a REAL amount
 * in euros), 'f' double.
 */
int
cr_gen_insert(sqlite3_stmt *st, const char *fmt, ...)
{
	va_list ap;
	const char *s;
	long long ll;
	int i, rc;

	va_start(ap, fmt);
	for (i = 1; *fmt; fmt++, i++) {
		switch (*fmt) {
		case 's':
			sqlite3_bind_text(st, i, va_arg(ap, const char *), -1,
			    SQLITE_STATIC);
			break;
		case 'n':
			s = va_arg(ap, const char *);
			if (s == NULL || *s == '\0')
				sqlite3_bind_null(st, i);
			else
				sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
			break;
		case 'i':
			sqlite3_bind_int(st, i, va_arg(ap, int));
			break;
		case 'l':
			sqlite3_bind_int64(st, i, va_arg(ap, long long));
			break;
		case 'L':
			ll = va_arg(ap, long long);
			if (ll > 0)
				sqlite3_bind_int64(st, i, ll);
			else
				sqlite3_bind_null(st, i);
			break;
		case 'f':
			sqlite3_bind_double(st, i, va_arg(ap, double));
			break;
		case 'c':
			sqlite3_bind_double(st, i,
			    (double)va_arg(ap, long long) / 100.0);
			break;
		}
	}
	va_end(ap);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("gen: insert: %s",
		    sqlite3_errmsg(sqlite3_db_handle(st)));
		return -1;
	}
	return 0;
}

/* --- dates --------------------------------------------------------------- */

void
cr_gen_date(int32_t days, char out[CR_DATE_LEN + 1])
{
	cr_date_from_days(days, out);
}

/* Days of a person born `days` when aged `years` (+ offset days). */
int32_t
cr_gen_at_age(int32_t birth, int years)
{
	return birth + years * 365 + years / 4;
}
