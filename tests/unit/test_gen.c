/*
 * crossroads gen: identifiers built by ident_gen.c pass their scheme's
 * check; the same seed gives the same bytes and another seed another
 * country; every person has a valid, distinct identifier; the shape of the
 * population stays within the bounds docs/synthetic-country.md states.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "gen.h"
#include "ident.h"

#define N_PERSONS	2000

struct run {
	char			dir[64];
	struct cr_gen_stats	st;
};

static void
rm_dir(const char *dir)
{
	struct dirent *de;
	char path[512];
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void
gen_into(struct run *r, const char *scheme, uint64_t seed,
    unsigned long persons)
{
	struct cr_gen_opts o;

	memset(&o, 0, sizeof(o));
	snprintf(r->dir, sizeof(r->dir), "/tmp/cr-test-gen-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	o.out_dir = r->dir;
	o.persons = persons;
	o.seed = seed;
	o.scheme = cr_ident_find(scheme);
	o.base_port = CR_GEN_DEFAULT_PORT;
	snprintf(o.as_of, sizeof(o.as_of), "%s", CR_GEN_DEFAULT_AS_OF);
	assert_int_equal(cr_gen_run(&o, &r->st), 0);
}

/* BLAKE2b of a file's bytes; 0 or -1. */
static int
file_hash(const char *dir, const char *name, uint8_t out[32])
{
	crypto_generichash_state h;
	char path[512], buf[65536];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	crypto_generichash_init(&h, NULL, 0, 32);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_generichash_update(&h, (unsigned char *)buf, n);
	fclose(f);
	crypto_generichash_final(&h, out, 32);
	return 0;
}

static const char *const files[] = {
	"population.db", "employment.db", "unemployment.db", "pensions.db",
	"family.db", "disability.db", "vehicles.db", "land.db", "borders.db",
	"population.conf", "employment.conf", "borders.conf",
	"registry.json", "directory.csv", "summary.json", NULL
};

/*
 * Valid in its scheme; be-insz checked in the year of birth (2099-12-31
 * is a valid INSZ only from 2099 on), and refused the year before for
 * the 2000+ form.
 */
static void
assert_valid_id(const struct cr_ident_scheme *sc, const char *date,
    const char *id)
{
	char norm[CR_SUBJECT_MAX];
	int year = atoi(date);

	if (strcmp(sc->name, "be-insz") != 0) {
		assert_int_equal(cr_ident_normalize(sc, id, norm, sizeof(norm)),
		    0);
		assert_string_equal(id, norm);
		return;
	}
	assert_int_equal(cr_ident_insz_normalize_at(id, year, norm,
	    sizeof(norm)), 0);
	assert_string_equal(id, norm);
	if (year >= 2000)
		assert_int_equal(cr_ident_insz_normalize_at(id, year - 1, norm,
		    sizeof(norm)), -1);
}

static void
test_ident_gen_valid(void **state)
{
	static const char *const schemes[] = { "be-insz", "ee-isikukood",
	    "tr-tckn" };
	static const char *const dates[] = { "1900-01-01", "1929-02-28",
	    "1968-12-31", "1999-12-31", "2000-01-01", "2000-02-29",
	    "2024-07-15", "2099-12-31" };
	const struct cr_ident_scheme *sc;
	char id[CR_SUBJECT_MAX], norm[CR_SUBJECT_MAX], seen[2 * 1000][12];
	unsigned max, s, n;
	size_t i, d, a, b;
	int fem;

	(void)state;
	for (i = 0; i < 3; i++) {
		sc = cr_ident_find(schemes[i]);
		max = cr_ident_gen_serials(sc);
		assert_true(max >= 498);
		for (d = 0; d < sizeof(dates) / sizeof(dates[0]); d++) {
			n = 0;
			for (fem = 0; fem < 2; fem++)
				for (s = 0; s < max; s++) {
					assert_int_equal(cr_ident_gen_person(sc,
					    dates[d], fem, s, id, sizeof(id)), 0);
					assert_valid_id(sc, dates[d], id);
					memcpy(seen[n++], id, 12);
				}
			/* Distinct for one date: every serial, both sexes. */
			for (a = 0; a < n; a++)
				for (b = a + 1; b < n; b += 97)
					assert_string_not_equal(seen[a], seen[b]);
			assert_int_equal(cr_ident_gen_person(sc, dates[d], 0, max,
			    id, sizeof(id)), -1);
		}
		assert_int_equal(cr_ident_gen_person(sc, "2001-02-29", 0, 0, id,
		    sizeof(id)), -1);
	}
	/* The same date a century apart: different INSZ check digits. */
	sc = cr_ident_find("be-insz");
	assert_int_equal(cr_ident_gen_person(sc, "1925-03-01", 0, 5, id,
	    sizeof(id)), 0);
	assert_int_equal(cr_ident_gen_person(sc, "2025-03-01", 0, 5, norm,
	    sizeof(norm)), 0);
	assert_string_not_equal(id, norm);
	assert_int_equal(cr_ident_gen_serials(cr_ident_find("be-kbo")), 0);
	sc = cr_ident_default_enterprise();
	for (s = 0; s < 200000; s += 997) {
		assert_int_equal(cr_ident_gen_kbo(s, id, sizeof(id)), 0);
		assert_int_equal(cr_ident_normalize(sc, id, norm, sizeof(norm)),
		    0);
	}
	assert_int_equal(cr_ident_gen_kbo(15000000UL, id, sizeof(id)), -1);
}

/* BIS numbers: month + 40 (sex known) or + 20, valid, never an INSZ. */
static void
test_ident_gen_bis(void **state)
{
	static const char *const dates[] = { "1900-01-01", "1968-12-31",
	    "1999-12-31", "2000-02-29", "2024-07-15", "2099-12-31" };
	const struct cr_ident_scheme *sc = cr_ident_find("be-insz");
	char id[CR_SUBJECT_MAX], seen[3 * 498 + 2 * 498][12];
	unsigned max = cr_ident_gen_serials(sc), s, n, sss;
	size_t d, a, b;
	int fem, month;

	(void)state;
	for (d = 0; d < sizeof(dates) / sizeof(dates[0]); d++) {
		n = 0;
		month = atoi(dates[d] + 5);
		for (fem = -1; fem < 2; fem++)
			for (s = 0; s < max; s++) {
				assert_int_equal(cr_ident_gen_bis(dates[d], fem,
				    s, id, sizeof(id)), 0);
				assert_valid_id(sc, dates[d], id);
				assert_int_equal(atoi((char[3]){ id[2], id[3],
				    '\0' }), month + (fem < 0 ? 20 : 40));
				sss = (unsigned)atoi((char[4]){ id[6], id[7],
				    id[8], '\0' });
				if (fem >= 0)
					assert_int_equal(sss % 2, fem ? 0 : 1);
				memcpy(seen[n++], id, 12);
			}
		for (fem = 0; fem < 2; fem++)
			for (s = 0; s < max; s++) {
				assert_int_equal(cr_ident_gen_person(sc,
				    dates[d], fem, s, id, sizeof(id)), 0);
				memcpy(seen[n++], id, 12);
			}
		/* Distinct from each other and from the INSZ of that date. */
		for (a = 0; a < n; a++)
			for (b = a + 1; b < n; b++)
				assert_string_not_equal(seen[a], seen[b]);
		assert_int_equal(cr_ident_gen_bis(dates[d], 0, max, id,
		    sizeof(id)), -1);
		assert_int_equal(cr_ident_gen_bis(dates[d], -1, max, id,
		    sizeof(id)), -1);
	}
	assert_int_equal(cr_ident_gen_bis("2001-02-29", 1, 0, id, sizeof(id)),
	    -1);
}

static void
test_same_seed_same_bytes(void **state)
{
	struct run a, b, c;
	uint8_t ha[32], hb[32], hc[32];
	size_t i;
	int differ = 0;

	(void)state;
	gen_into(&a, "be-insz", 7, N_PERSONS);
	gen_into(&b, "be-insz", 7, N_PERSONS);
	gen_into(&c, "be-insz", 8, N_PERSONS);
	for (i = 0; files[i] != NULL; i++) {
		assert_int_equal(file_hash(a.dir, files[i], ha), 0);
		assert_int_equal(file_hash(b.dir, files[i], hb), 0);
		assert_int_equal(file_hash(c.dir, files[i], hc), 0);
		assert_memory_equal(ha, hb, 32);
		if (strcmp(files[i], "population.db") == 0 ||
		    strcmp(files[i], "directory.csv") == 0 ||
		    strcmp(files[i], "registry.json") == 0)
			assert_memory_not_equal(ha, hc, 32);
		differ += memcmp(ha, hc, 32) != 0;
	}
	assert_true(differ >= 10);
	assert_memory_equal(&a.st, &b.st, sizeof(a.st));
	rm_dir(a.dir);
	rm_dir(b.dir);
	rm_dir(c.dir);
}

/* Every person of the register: valid in the scheme, distinct. */
static void
check_register(const struct run *r, const char *scheme)
{
	const struct cr_ident_scheme *sc = cr_ident_find(scheme);
	char path[512], norm[CR_SUBJECT_MAX], line[256], *comma;
	sqlite3 *db;
	sqlite3_stmt *st, *known;
	unsigned long n = 0, lines = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/population.db", r->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, count(*) OVER "
	    "(PARTITION BY id) FROM person", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_int_equal(cr_ident_normalize(sc,
		    (const char *)sqlite3_column_text(st, 0), norm,
		    sizeof(norm)), 0);
		assert_int_equal(sqlite3_column_int(st, 1), 1);
		n++;
	}
	sqlite3_finalize(st);
	assert_int_equal(n, r->st.persons);
	/* Every subject of the directory is a person of the register. */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM person WHERE "
	    "id = ?", -1, &known, NULL), SQLITE_OK);
	snprintf(path, sizeof(path), "%s/directory.csv", r->dir);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "subject,capacity,from,to,institution\n");
	while (fgets(line, sizeof(line), f) != NULL) {
		assert_non_null(comma = strchr(line, ','));
		*comma = '\0';
		sqlite3_bind_text(known, 1, line, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(known), SQLITE_ROW);
		sqlite3_reset(known);
		lines++;
	}
	fclose(f);
	sqlite3_finalize(known);
	sqlite3_close(db);
	assert_int_equal(lines, r->st.dir_records);
}

/*
 * Cross-border workers (be-insz): in the register with a BIS number, no
 * household, an address abroad, work here.
 */
static void
check_bis(const struct run *r)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *st;
	unsigned long n = 0;
	const char *id;
	int month, sss;

	snprintf(path, sizeof(path), "%s/population.db", r->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	snprintf(path, sizeof(path), "ATTACH '%s/employment.db' AS e", r->dir);
	assert_int_equal(sqlite3_exec(db, path, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, sex, household_id "
	    "IS NULL, nationality IN ('FR', 'NL', 'DE', 'LU'), address LIKE "
	    "'%, France' OR address LIKE '%, Netherlands' OR address LIKE "
	    "'%, Germany' OR address LIKE '%, Luxembourg', (SELECT count(*) "
	    "FROM e.contract AS c WHERE c.person = p.id) > 0 FROM person AS "
	    "p WHERE CAST(substr(id, 3, 2) AS INTEGER) >= 20", -1, &st, NULL),
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		id = (const char *)sqlite3_column_text(st, 0);
		month = (id[2] - '0') * 10 + (id[3] - '0');
		sss = (id[6] - '0') * 100 + (id[7] - '0') * 10 + (id[8] - '0');
		assert_true((month >= 21 && month <= 32) ||
		    (month >= 41 && month <= 52));
		/* Sex known: its parity, as an INSZ's. */
		if (month > 40)
			assert_int_equal(sss % 2, strcmp((const char *)
			    sqlite3_column_text(st, 1), "F") == 0 ? 0 : 1);
		assert_int_equal(sqlite3_column_int(st, 2), 1);
		assert_int_equal(sqlite3_column_int(st, 3), 1);
		assert_int_equal(sqlite3_column_int(st, 4), 1);
		assert_int_equal(sqlite3_column_int(st, 5), 1);
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(n, r->st.bis);
}

static void
test_identifiers_valid(void **state)
{
	static const char *const schemes[] = { "be-insz", "ee-isikukood",
	    "tr-tckn" };
	struct run r;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		gen_into(&r, schemes[i], 3, i == 0 ? N_PERSONS : 600);
		assert_int_equal(r.st.persons, i == 0 ? N_PERSONS : 600);
		check_register(&r, schemes[i]);
		if (i == 0) {
			/* About 1% of the register. */
			assert_true(r.st.bis * 1000 >= r.st.persons * 4);
			assert_true(r.st.bis * 1000 <= r.st.persons * 20);
			check_bis(&r);
		} else
			assert_int_equal(r.st.bis, 0);
		rm_dir(r.dir);
	}
}

static void
assert_share(unsigned long long part, unsigned long long whole, double lo,
    double hi, const char *what)
{
	double x = whole ? (double)part / (double)whole : -1;

	if (x < lo || x > hi)
		fail_msg("%s: %.3f outside [%.3f, %.3f]", what, x, lo, hi);
}

/* The bounds of docs/synthetic-country.md, on two seeds. */
static void
test_shape(void **state)
{
	struct run r;
	const struct cr_gen_stats *s = &r.st;
	unsigned long big;
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 2; seed++) {
		gen_into(&r, "be-insz", seed, N_PERSONS);
		assert_int_equal(s->persons, N_PERSONS);
		assert_int_equal(s->living + s->deceased, s->persons);
		assert_share(s->age_0_17, s->living, 0.16, 0.26, "age 0-17");
		assert_share(s->age_18_64, s->living, 0.54, 0.66, "age 18-64");
		assert_share(s->age_65, s->living, 0.15, 0.25, "age 65+");
		assert_share(s->hh_size[1], s->households, 0.30, 0.44,
		    "one-person households");
		assert_share(s->hh_size[2], s->households, 0.27, 0.40,
		    "two-person households");
		assert_share(s->hh_size[3], s->households, 0.08, 0.18,
		    "three-person households");
		assert_share(s->hh_size[4], s->households, 0.06, 0.16,
		    "four-person households");
		big = s->hh_size[5] + s->hh_size[6];
		assert_share(big, s->households, 0.02, 0.09, "5+ households");
		assert_share(s->persons, s->households * 100, 0.0200, 0.0245,
		    "persons per household / 100");
		assert_share(s->employed, s->age_18_64, 0.62, 0.72,
		    "employment rate 18-64");
		assert_share(s->unemployed, s->employed + s->unemployed, 0.035,
		    0.09, "unemployment rate");
		assert_share(s->pensioners_65, s->age_65, 0.90, 1.0,
		    "pensioners among 65+");
		assert_share(s->self_employed, s->employed, 0.08, 0.20,
		    "self-employed among the employed");
		assert_share(s->dir_records, s->persons, 10.0, 14.5,
		    "directory records per person");
		assert_share(s->sector_sum, s->living, 3.5, 5.5,
		    "sectors per living person");
		assert_share(s->deceased, s->persons, 0.01, 0.06, "deceased");
		assert_true(s->children_allowance >= s->age_0_17);
		assert_true(s->vehicles > 0 && s->parcels > 0 &&
		    s->crossings > 0 && s->marriages > 0 && s->pay_rows > 0);
		rm_dir(r.dir);
	}
}

static void
test_bad_options(void **state)
{
	struct cr_gen_opts o;
	struct cr_gen_stats st;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.out_dir = "/tmp/cr-test-gen-never";
	o.persons = 10;
	o.scheme = cr_ident_find("be-kbo");	/* not a person scheme */
	snprintf(o.as_of, sizeof(o.as_of), "%s", CR_GEN_DEFAULT_AS_OF);
	assert_int_equal(cr_gen_run(&o, &st), -1);
	o.scheme = cr_ident_default_person();
	o.persons = 0;
	assert_int_equal(cr_gen_run(&o, &st), -1);
	assert_int_equal(access(o.out_dir, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ident_gen_valid),
		cmocka_unit_test(test_ident_gen_bis),
		cmocka_unit_test(test_same_seed_same_bytes),
		cmocka_unit_test(test_identifiers_valid),
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_bad_options),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
