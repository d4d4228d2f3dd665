/*
 * Identifier schemes.
 *
 * Published vectors and where they come from:
 * - python-stdnum (github.com/arthurdejong/python-stdnum) docstrings:
 *   be/nn.py 85073003328 and 17073003384 ("85.07.30-033 28" form too);
 *   be/bis.py 01490700185 (born 2001) and 98472899765; ee/ik.py 36805280109
 *   and the invalid 36805280108; tr/tckimlik.py 17291716060 and the
 *   invalid 17291716050 and 07291716092; be/vat.py BE403019261 (KBO
 *   0403019261), 0428759497 and the invalid BE431150351.
 * - Widely used sample numbers given in the project brief: 37605030299
 *   (the usual Estonian example, a man born 1976-05-03), 10000000146
 *   (the usual Turkish test number) and 0203201340 (the NMBS/SNCB
 *   enterprise number, used in the National Bank's CBSO API samples).
 *
 * The "computed" vectors below were made with an independent Python
 * implementation of each check written from the scheme definitions (not
 * from ident.c) and are noted as such.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "date.h"
#include "ident.h"

static const struct cr_ident_scheme *
scheme(const char *name)
{
	const struct cr_ident_scheme *s = cr_ident_find(name);

	assert_non_null(s);
	return s;
}

static void
expect_valid(const char *name, const char *in, const char *normalized)
{
	char out[CR_SUBJECT_MAX];

	memset(out, 'X', sizeof(out));
	if (cr_ident_normalize(scheme(name), in, out, sizeof(out)) != 0)
		fail_msg("%s: rejected valid '%s'", name, in);
	assert_string_equal(out, normalized);
}

static void
expect_invalid(const char *name, const char *in)
{
	char out[CR_SUBJECT_MAX];

	if (cr_ident_normalize(scheme(name), in, out, sizeof(out)) != -1)
		fail_msg("%s: accepted invalid '%s'", name, in);
}

static void
test_insz(void **state)
{
	static const char *published[] = {
		"85073003328", "17073003384", "01490700185", "98472899765",
	};
	/* Computed. */
	static const char *computed[] = {
		"90010112395",	/* 1990-01-01, 19th century rule */
		"05022900153",	/* 2005-02-29 does not exist, but the
				   scheme only bounds the day to 0-31 */
		"75200000165",	/* BIS, sex unknown, month, day unknown */
		"00000000196",	/* birth date entirely unknown */
		"12431599906",	/* BIS, sex known, 2012-03-15 */
	};
	size_t i;

	for (i = 0; i < sizeof(published) / sizeof(published[0]); i++)
		expect_valid("be-insz", published[i], published[i]);
	for (i = 0; i < sizeof(computed) / sizeof(computed[0]); i++)
		expect_valid("be-insz", computed[i], computed[i]);

	/* Wrong check digits, either side of the right one. */
	expect_invalid("be-insz", "85073003327");
	expect_invalid("be-insz", "85073003329");
	expect_invalid("be-insz", "17073003383");
	/* Transposed digits. */
	expect_invalid("be-insz", "58073003328");
	/* Lengths. */
	expect_invalid("be-insz", "8507300332");
	expect_invalid("be-insz", "850730033280");
	expect_invalid("be-insz", "");
	/* Letters and other junk. */
	expect_invalid("be-insz", "8507300332A");
	expect_invalid("be-insz", "85073003328\n");
	expect_invalid("be-insz", "85/07/30-033.28");
	expect_invalid("be-insz", "+85073003328");
	/* Month outside 0-12, 20-32, 40-52 (check digits right, computed). */
	expect_invalid("be-insz", "85133000105");	/* month 13 */
	expect_invalid("be-insz", "85353000162");	/* month 35 */
	expect_invalid("be-insz", "85530100188");	/* month 53 */
	/* Day 32 (check digits right, computed). */
	expect_invalid("be-insz", "85073200197");
	/* NULL input. */
	expect_invalid("be-insz", NULL);
}

static void
test_insz_separators(void **state)
{
	expect_valid("be-insz", "85.07.30-033.28", "85073003328");
	expect_valid("be-insz", "85 07 30 033 28", "85073003328");
	expect_valid("be-insz", "850730-033-28", "85073003328");
	expect_valid("be-insz", " 85073003328 ", "85073003328");
	expect_valid("be-insz", "01.49.07-001.85", "01490700185");
	/* Separators alone are not a number. */
	expect_invalid("be-insz", "...---   ");
	/* A sane number drowned in separators: beyond the input bound. */
	expect_invalid("be-insz", "85073003328"
	    "                                                            ");
}

static void
test_isikukood(void **state)
{
	/* Computed. */
	static const char *computed[] = {
		"49001010001",	/* woman, 1990-01-01 */
		"61202291237",	/* woman, 2012-02-29 (leap year) */
		"50001010006",	/* man, 2000-01-01 */
		"50002290002",	/* man, 2000-02-29 */
		"29912310010",	/* woman, 1899-12-31 */
		"75001010007",	/* man, 2150-01-01 */
		"37605030064",	/* first weight round gives 10 */
		"37605030920",	/* both rounds give 10: check digit 0 */
	};
	size_t i;

	expect_valid("ee-isikukood", "37605030299", "37605030299");
	expect_valid("ee-isikukood", "36805280109", "36805280109");
	for (i = 0; i < sizeof(computed) / sizeof(computed[0]); i++)
		expect_valid("ee-isikukood", computed[i], computed[i]);
	expect_valid("ee-isikukood", "376050-30299", "37605030299");

	expect_invalid("ee-isikukood", "37605030298");
	expect_invalid("ee-isikukood", "36805280108");
	expect_invalid("ee-isikukood", "37605030290");
	expect_invalid("ee-isikukood", "37605030921");
	/* Impossible dates with right check digits (computed). */
	expect_invalid("ee-isikukood", "30002290000");	/* 1900-02-29 */
	expect_invalid("ee-isikukood", "60002300001");	/* 2000-02-30 */
	/* Century digit outside 1-8 (check digits right, computed). */
	expect_invalid("ee-isikukood", "97605030294");
	expect_invalid("ee-isikukood", "07605030296");
	expect_invalid("ee-isikukood", "3760503029");
	expect_invalid("ee-isikukood", "376050302990");
	expect_invalid("ee-isikukood", "3760503029O");
	expect_invalid("ee-isikukood", "");
	expect_invalid("ee-isikukood", NULL);
}

static void
test_tckn(void **state)
{
	/* Computed. */
	static const char *computed[] = {
		"12345678950", "98765432150", "55555555550", "10000000214",
		"19090909018",	/* 7*odd - even < 0 before the mod */
	};
	size_t i;

	expect_valid("tr-tckn", "10000000146", "10000000146");
	expect_valid("tr-tckn", "17291716060", "17291716060");
	for (i = 0; i < sizeof(computed) / sizeof(computed[0]); i++)
		expect_valid("tr-tckn", computed[i], computed[i]);
	expect_valid("tr-tckn", "100 000 001 46", "10000000146");

	expect_invalid("tr-tckn", "10000000147");	/* d11 */
	expect_invalid("tr-tckn", "17291716050");
	expect_invalid("tr-tckn", "07291716092");	/* leading 0 */
	expect_invalid("tr-tckn", "10000000136");	/* d10 */
	/* Leading zero with both checks right (computed). */
	expect_invalid("tr-tckn", "01234567840");
	expect_invalid("tr-tckn", "1000000014");
	expect_invalid("tr-tckn", "100000001460");
	expect_invalid("tr-tckn", "1000000014x");
	expect_invalid("tr-tckn", "");
	expect_invalid("tr-tckn", NULL);
}

static void
test_kbo(void **state)
{
	/* Computed. */
	static const char *computed[] = {
		"0403571864", "0876543270", "1000000021", "0412345614",
	};
	size_t i;

	expect_valid("be-kbo", "0203201340", "0203201340");
	expect_valid("be-kbo", "BE0403019261", "0403019261");
	expect_valid("be-kbo", "0428759497", "0428759497");
	for (i = 0; i < sizeof(computed) / sizeof(computed[0]); i++)
		expect_valid("be-kbo", computed[i], computed[i]);
	expect_valid("be-kbo", "0203.201.340", "0203201340");
	expect_valid("be-kbo", "BE0203201340", "0203201340");
	expect_valid("be-kbo", "BE 0203.201.340", "0203201340");
	expect_valid("be-kbo", "be0203201340", "0203201340");

	expect_invalid("be-kbo", "0203201341");
	expect_invalid("be-kbo", "BE0431150351");
	expect_invalid("be-kbo", "0203201339");
	/* First digit 2 with the right check (computed). */
	expect_invalid("be-kbo", "2032013408");
	/* The pre-2005 nine-digit form is not accepted. */
	expect_invalid("be-kbo", "203201340");
	expect_invalid("be-kbo", "BE403019261");
	expect_invalid("be-kbo", "02032013400");
	expect_invalid("be-kbo", "BE");
	expect_invalid("be-kbo", "B0203201340");
	expect_invalid("be-kbo", "FR0203201340");
	expect_invalid("be-kbo", "0203201340BE");
	expect_invalid("be-kbo", "BEBE0203201340");
	expect_invalid("be-kbo", "");
	expect_invalid("be-kbo", NULL);
	/* A person number is not an enterprise number. */
	expect_invalid("be-kbo", "85073003328");
}

static void
test_find(void **state)
{
	static const char *names[] = {
		"be-insz", "ee-isikukood", "tr-tckn", "be-kbo",
	};
	const struct cr_ident_scheme *const *all = cr_ident_all();
	const struct cr_ident_scheme *s;
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		s = cr_ident_find(names[i]);
		assert_non_null(s);
		assert_string_equal(s->name, names[i]);
		assert_non_null(s->description);
		assert_non_null(s->normalize);
	}
	assert_string_equal(cr_ident_find("be-insz")->kind, "person");
	assert_string_equal(cr_ident_find("ee-isikukood")->kind, "person");
	assert_string_equal(cr_ident_find("tr-tckn")->kind, "person");
	assert_string_equal(cr_ident_find("be-kbo")->kind, "enterprise");

	assert_null(cr_ident_find("fr-nir"));
	assert_null(cr_ident_find(""));
	assert_null(cr_ident_find("BE-INSZ"));
	assert_null(cr_ident_find("be-insz "));
	assert_null(cr_ident_find(NULL));

	assert_ptr_equal(cr_ident_default_person(), cr_ident_find("be-insz"));
	assert_ptr_equal(cr_ident_default_enterprise(),
	    cr_ident_find("be-kbo"));

	for (n = 0; all[n] != NULL; n++)
		assert_ptr_equal(cr_ident_find(all[n]->name), all[n]);
	assert_int_equal(n, 4);
}

static void
test_outlen(void **state)
{
	const struct cr_ident_scheme *insz = scheme("be-insz");
	const struct cr_ident_scheme *kbo = scheme("be-kbo");
	char out[CR_SUBJECT_MAX];

	/* 11 digits need 12 bytes. */
	assert_int_equal(cr_ident_normalize(insz, "85073003328", out, 11), -1);
	assert_int_equal(cr_ident_normalize(insz, "85073003328", out, 0), -1);
	assert_int_equal(cr_ident_normalize(insz, "85073003328", out, 12), 0);
	assert_string_equal(out, "85073003328");
	assert_int_equal(cr_ident_normalize(kbo, "0203201340", out, 10), -1);
	assert_int_equal(cr_ident_normalize(kbo, "0203201340", out, 11), 0);
	assert_string_equal(out, "0203201340");
	assert_int_equal(cr_ident_normalize(insz, "85073003328", NULL, 12),
	    -1);
	assert_int_equal(cr_ident_normalize(NULL, "85073003328", out,
	    sizeof(out)), -1);
}

static int
insz_at(const char *in, int year)
{
	char out[CR_SUBJECT_MAX];

	return cr_ident_insz_normalize_at(in, year, out, sizeof(out));
}

/*
 * The 2000+ check (of 2YYMMDDSSS) only for birth years already reached:
 * otherwise 27000000014 would be someone born in 2027. Computed vectors.
 */
static void
test_insz_future_birth_years(void **state)
{
	char out[CR_SUBJECT_MAX], today[16], in[48];
	unsigned long long base;
	int year;

	/* 2027-00-00, serial 000: the 2000+ check. */
	assert_int_equal(insz_at("27000000014", 2026), -1);
	assert_int_equal(insz_at("27000000014", 2027), 0);
	assert_int_equal(insz_at("27000000014", 2040), 0);
	/* The same digits with the 1900 check: 1927. */
	assert_int_equal(insz_at("27000000082", 2026), 0);
	assert_int_equal(insz_at("27000000082", 1990), 0);
	/* Born 2026-01-01: not yet in 2025. */
	assert_int_equal(insz_at("26010100166", 2026), 0);
	assert_int_equal(insz_at("26010100166", 2025), -1);
	/* BIS numbers alike: month + 20 and month + 40. */
	assert_int_equal(insz_at("26210100112", 2026), 0);
	assert_int_equal(insz_at("26210100112", 2025), -1);
	assert_int_equal(insz_at("26410100155", 2026), 0);
	assert_int_equal(insz_at("26410100155", 2025), -1);
	/* 2099 is far, 1999 is not. */
	assert_int_equal(insz_at("99010100147", 2026), -1);
	assert_int_equal(insz_at("99010100118", 2026), 0);
	/* Normalized as the scheme does. */
	assert_int_equal(cr_ident_insz_normalize_at("27.00.00-000.14", 2027,
	    out, sizeof(out)), 0);
	assert_string_equal(out, "27000000014");

	/* The scheme itself takes today's year: next year's first born is
	   refused, this year's accepted. */
	cr_date_today(today);
	year = (today[0] - '0') * 1000 + (today[1] - '0') * 100 +
	    (today[2] - '0') * 10 + (today[3] - '0');
	base = (unsigned long long)((year + 1) % 100) * 10000000ULL +
	    101001ULL;
	snprintf(in, sizeof(in), "%09llu%02llu", base,
	    97 - (2000000000ULL + base) % 97);
	expect_invalid("be-insz", in);
	base = (unsigned long long)(year % 100) * 10000000ULL + 101001ULL;
	snprintf(in, sizeof(in), "%09llu%02llu", base,
	    97 - (2000000000ULL + base) % 97);
	expect_valid("be-insz", in, in);
}

/* Every single-digit change of a valid number must be caught by INSZ. */
static void
test_insz_single_errors(void **state)
{
	const struct cr_ident_scheme *insz = scheme("be-insz");
	char in[] = "85073003328", out[CR_SUBJECT_MAX];
	size_t i;
	char orig, c;

	for (i = 0; i < 11; i++) {
		orig = in[i];
		for (c = '0'; c <= '9'; c++) {
			if (c == orig)
				continue;
			in[i] = c;
			if (cr_ident_normalize(insz, in, out, sizeof(out)) == 0)
				fail_msg("accepted %s", in);
		}
		in[i] = orig;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insz),
		cmocka_unit_test(test_insz_separators),
		cmocka_unit_test(test_insz_future_birth_years),
		cmocka_unit_test(test_isikukood),
		cmocka_unit_test(test_tckn),
		cmocka_unit_test(test_kbo),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_outlen),
		cmocka_unit_test(test_insz_single_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
