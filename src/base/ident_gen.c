/*
 * Valid identifiers for synthetic data (crossroads gen): each person scheme
 * derives its number from the birth date, the sex and a serial, the way the
 * issuing register does, then appends the check digits that ident.c
 * verifies. Distinct (date, sex, serial) give distinct identifiers.
 */
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "ident.h"

#define INSZ_SERIALS	498	/* odd 001-997 (men), even 002-996 (women) */
#define EE_SERIALS	1000	/* 000-999, the sex is in the first digit */
#define TCKN_SERIALS	1000
#define TCKN_SPAN	900000000ULL	/* 9-digit bases without a leading 0 */
#define TCKN_MIX	1000003ULL	/* prime, so coprime with TCKN_SPAN */

static int
split_date(const char *date, int *y, int *m, int *d)
{
	if (date == NULL || cr_date_valid(date) == -1)
		return -1;
	*y = (date[0] - '0') * 1000 + (date[1] - '0') * 100 +
	    (date[2] - '0') * 10 + (date[3] - '0');
	*m = (date[5] - '0') * 10 + (date[6] - '0');
	*d = (date[8] - '0') * 10 + (date[9] - '0');
	return 0;
}

/*
 * YYMMDD SSS CC, the month plus `month_add` (20 or 40 for BIS numbers);
 * from 2000 on the check is taken of 2YYMMDDSSS.
 */
static int
insz_digits(const char *date, int month_add, unsigned sss, char *out,
    size_t outlen)
{
	unsigned long long n, check;
	int y, m, d, len;

	if (split_date(date, &y, &m, &d) == -1 || y < 1900 || y > 2099 ||
	    sss < 1 || sss > 998)
		return -1;
	n = (unsigned long long)(y % 100) * 10000000ULL +
	    (unsigned long long)(m + month_add) * 100000ULL +
	    (unsigned long long)d * 1000ULL + sss;
	check = 97 - (y >= 2000 ? 2000000000ULL + n : n) % 97;
	len = snprintf(out, outlen, "%09llu%02llu", n, check);
	return len == 11 ? 0 : -1;
}

/* Odd serials 001-997 for men, even 002-996 for women. */
static int
gen_insz(const char *date, int female, unsigned serial, char *out,
    size_t outlen)
{
	if (serial >= INSZ_SERIALS)
		return -1;
	return insz_digits(date, 0, female ? 2 * serial + 2 : 2 * serial + 1,
	    out, outlen);
}

/*
 * BIS numbers (the Crossroads Bank's register of persons the National
 * Register does not hold): the month plus 40 when the sex was known when
 * the number was given, with the serial's parity as in the INSZ; plus 20
 * when it was not, the serials then odd in order (001-995).
 */
int
cr_ident_gen_bis(const char *birth_date, int female, unsigned serial,
    char *out, size_t outlen)
{
	if (serial >= INSZ_SERIALS || out == NULL)
		return -1;
	if (female < 0)
		return insz_digits(birth_date, 20, 2 * serial + 1, out, outlen);
	return insz_digits(birth_date, 40, female ? 2 * serial + 2 :
	    2 * serial + 1, out, outlen);
}

/* G YYMMDD SSS C: G is 1-8 by century and sex (odd for men). */
static int
gen_isikukood(const char *date, int female, unsigned serial, char *out,
    size_t outlen)
{
	int y, m, d, g, len;

	if (split_date(date, &y, &m, &d) == -1 || y < 1800 || y > 2199 ||
	    serial >= EE_SERIALS || outlen < 12)
		return -1;
	g = (y - 1800) / 100 * 2 + (female ? 2 : 1);
	len = snprintf(out, outlen, "%d%02d%02d%02d%03u", g, y % 100, m, d,
	    serial);
	if (len != 10)
		return -1;
	out[10] = (char)('0' + cr_ident_ee_check(out));
	out[11] = '\0';
	return 0;
}

/*
 * The Turkish number carries no birth date: (date, sex, serial) is packed
 * into an index, then scattered over the 9-digit bases by a multiplication
 * modulo their count (a bijection), so neighbours do not look sequential.
 */
static int
gen_tckn(const char *date, int female, unsigned serial, char *out,
    size_t outlen)
{
	unsigned long long x, base;
	int32_t days;
	int dg[11], i, odd = 0, even = 0, sum = 0;

	if (cr_date_to_days(date, &days) == -1 || serial >= TCKN_SERIALS ||
	    outlen < 12)
		return -1;
	days += 25567;		/* from 1900-01-01 */
	if (days < 0 || days >= 73049)	/* 1900-2099 */
		return -1;
	x = ((unsigned long long)days * 2 + (female != 0)) * TCKN_SERIALS +
	    serial;
	base = 100000000ULL + x * TCKN_MIX % TCKN_SPAN;
	for (i = 8; i >= 0; i--) {
		dg[i] = (int)(base % 10);
		base /= 10;
	}
	for (i = 0; i < 9; i += 2)
		odd += dg[i];
	for (i = 1; i < 8; i += 2)
		even += dg[i];
	dg[9] = ((odd * 7 - even) % 10 + 10) % 10;
	for (i = 0; i < 10; i++)
		sum += dg[i];
	dg[10] = sum % 10;
	for (i = 0; i < 11; i++)
		out[i] = (char)('0' + dg[i]);
	out[11] = '\0';
	return 0;
}

unsigned
cr_ident_gen_serials(const struct cr_ident_scheme *scheme)
{
	if (scheme == NULL)
		return 0;
	if (strcmp(scheme->name, "be-insz") == 0)
		return INSZ_SERIALS;
	if (strcmp(scheme->name, "ee-isikukood") == 0)
		return EE_SERIALS;
	if (strcmp(scheme->name, "tr-tckn") == 0)
		return TCKN_SERIALS;
	return 0;
}

int
cr_ident_gen_person(const struct cr_ident_scheme *scheme,
    const char *birth_date, int female, unsigned serial, char *out,
    size_t outlen)
{
	if (scheme == NULL || out == NULL)
		return -1;
	if (strcmp(scheme->name, "be-insz") == 0)
		return gen_insz(birth_date, female, serial, out, outlen);
	if (strcmp(scheme->name, "ee-isikukood") == 0)
		return gen_isikukood(birth_date, female, serial, out, outlen);
	if (strcmp(scheme->name, "tr-tckn") == 0)
		return gen_tckn(birth_date, female, serial, out, outlen);
	return -1;
}

int
cr_ident_gen_kbo(unsigned long serial, char *out, size_t outlen)
{
	unsigned long long n;

	/* Real numbers start at 0200.000.000; 0400... leaves room. */
	if (serial >= 15000000UL || outlen < 11)
		return -1;
	n = 4000000ULL + serial;
	return snprintf(out, outlen, "%08llu%02llu", n, 97 - n % 97) == 10 ?
	    0 : -1;
}
