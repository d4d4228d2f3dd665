/*
 * Subject identifier schemes: normalization and check digits. Each scheme
 * first strips the separators people type (dots, dashes, spaces), then
 * insists on exactly its number of digits, then verifies the check digits.
 */
#include <string.h>

#include "date.h"
#include "ident.h"

/*
 * Longest raw input considered: generous for separators, but bounded so
 * that a hostile megabyte of dots is rejected without being walked.
 */
#define IDENT_RAW_MAX	(CR_SUBJECT_RAW_MAX - 1)

static int
is_separator(char c)
{
	return c == '.' || c == '-' || c == ' ';
}

/*
 * Copies the digits of `in` into `out`, dropping separators; out must then
 * hold exactly `ndigits` digits. -1 on anything else, including an out
 * buffer too small for ndigits and the NUL.
 */
static int
strip_digits(const char *in, size_t ndigits, char *out, size_t outlen)
{
	size_t n = 0;

	if (in == NULL || out == NULL || outlen < ndigits + 1)
		return -1;
	if (strnlen(in, IDENT_RAW_MAX + 1) > IDENT_RAW_MAX)
		return -1;
	for (; *in != '\0'; in++) {
		if (is_separator(*in))
			continue;
		if (*in < '0' || *in > '9' || n == ndigits)
			return -1;
		out[n++] = *in;
	}
	if (n != ndigits)
		return -1;
	out[n] = '\0';
	return 0;
}

static unsigned long long
digits_value(const char *s, size_t n)
{
	unsigned long long v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned long long)(s[i] - '0');
	return v;
}

/*
 * Belgian INSZ/NISS (national register) and BIS numbers: YYMMDD SSS CC.
 * The check is 97 - (YYMMDDSSS mod 97); from 2000 on, the modulus is taken
 * of 2YYMMDDSSS instead, so both forms are tried (the two-digit year alone
 * does not say the century), the 2000+ one only when 20YY is not after
 * `year`: nobody is born in the future. BIS numbers add 20 or 40 to the
 * month, and month or day 00 stands for a partly unknown birth date.
 */
static int
insz_check(const char *in, int year, char *out, size_t outlen)
{
	char today[CR_DATE_LEN + 1];
	unsigned long long n, check;
	int month, day;

	if (strip_digits(in, 11, out, outlen) == -1)
		return -1;
	month = (int)digits_value(out + 2, 2);
	day = (int)digits_value(out + 4, 2);
	if (!(month <= 12 || (month >= 20 && month <= 32) ||
	    (month >= 40 && month <= 52)))
		return -1;
	if (day > 31)
		return -1;
	n = digits_value(out, 9);
	check = digits_value(out + 9, 2);
	if (97 - n % 97 == check)
		return 0;
	if (97 - (2000000000ULL + n) % 97 != check)
		return -1;
	/* 0: this year, read only when it matters. */
	if (year == 0) {
		cr_date_today(today);
		year = (int)digits_value(today, 4);
	}
	return 2000 + (int)digits_value(out, 2) <= year ? 0 : -1;
}

int
cr_ident_insz_normalize_at(const char *in, int year, char *out,
    size_t outlen)
{
	return year > 0 ? insz_check(in, year, out, outlen) : -1;
}

static int
insz_normalize(const char *in, char *out, size_t outlen)
{
	return insz_check(in, 0, out, outlen);
}

/*
 * Estonian isikukood GYYMMDDSSSC: G gives sex and century, the birth date
 * must exist, and the check digit uses two weight rounds mod 11.
 */
int
cr_ident_ee_check(const char *digits)
{
	static const int w1[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 1 };
	static const int w2[10] = { 3, 4, 5, 6, 7, 8, 9, 1, 2, 3 };
	int i, s1 = 0, s2 = 0, check;

	for (i = 0; i < 10; i++) {
		s1 += w1[i] * (digits[i] - '0');
		s2 += w2[i] * (digits[i] - '0');
	}
	check = s1 % 11;
	if (check == 10) {
		check = s2 % 11;
		if (check == 10)
			check = 0;
	}
	return check;
}

static int
isikukood_normalize(const char *in, char *out, size_t outlen)
{
	char date[CR_DATE_LEN + 1];
	int g;

	if (strip_digits(in, 11, out, outlen) == -1)
		return -1;
	g = out[0] - '0';
	if (g < 1 || g > 8)
		return -1;
	/* G 1-2: 18xx, 3-4: 19xx, 5-6: 20xx, 7-8: 21xx. */
	date[0] = g <= 4 ? '1' : '2';
	date[1] = "8901"[(g - 1) / 2];
	memcpy(date + 2, out + 1, 2);
	date[4] = '-';
	memcpy(date + 5, out + 3, 2);
	date[7] = '-';
	memcpy(date + 8, out + 5, 2);
	date[CR_DATE_LEN] = '\0';
	if (cr_date_valid(date) == -1)
		return -1;
	return cr_ident_ee_check(out) == out[10] - '0' ? 0 : -1;
}

/* Turkish T.C. Kimlik No: 11 digits, no leading 0, two check digits. */
static int
tckn_normalize(const char *in, char *out, size_t outlen)
{
	int d[11], i, odd = 0, even = 0, sum = 0, d10;

	if (strip_digits(in, 11, out, outlen) == -1)
		return -1;
	for (i = 0; i < 11; i++)
		d[i] = out[i] - '0';
	if (d[0] == 0)
		return -1;
	for (i = 0; i < 9; i += 2)
		odd += d[i];
	for (i = 1; i < 8; i += 2)
		even += d[i];
	d10 = ((odd * 7 - even) % 10 + 10) % 10;
	if (d10 != d[9])
		return -1;
	for (i = 0; i < 10; i++)
		sum += d[i];
	return sum % 10 == d[10] ? 0 : -1;
}

/*
 * Belgian KBO/BCE enterprise number: 10 digits starting 0 or 1, the last
 * two being 97 - (first eight mod 97). The VAT form carries a "BE" prefix.
 */
static int
kbo_normalize(const char *in, char *out, size_t outlen)
{
	unsigned long long n, check;

	if (in == NULL)
		return -1;
	if ((in[0] == 'B' || in[0] == 'b') && (in[1] == 'E' || in[1] == 'e'))
		in += 2;
	if (strip_digits(in, 10, out, outlen) == -1)
		return -1;
	if (out[0] != '0' && out[0] != '1')
		return -1;
	n = digits_value(out, 8);
	check = digits_value(out + 8, 2);
	return 97 - n % 97 == check ? 0 : -1;
}

static const struct cr_ident_scheme scheme_insz = {
	"be-insz", "person",
	"Belgian INSZ/NISS or BIS number (11 digits, mod 97)",
	insz_normalize
};
static const struct cr_ident_scheme scheme_isikukood = {
	"ee-isikukood", "person",
	"Estonian personal identification code (11 digits, mod 11)",
	isikukood_normalize
};
static const struct cr_ident_scheme scheme_tckn = {
	"tr-tckn", "person",
	"Turkish T.C. Kimlik No (11 digits, two check digits)",
	tckn_normalize
};
static const struct cr_ident_scheme scheme_kbo = {
	"be-kbo", "enterprise",
	"Belgian KBO/BCE enterprise number (10 digits, mod 97)",
	kbo_normalize
};

static const struct cr_ident_scheme *const schemes[] = {
	&scheme_insz,
	&scheme_isikukood,
	&scheme_tckn,
	&scheme_kbo,
	NULL
};

const struct cr_ident_scheme *
cr_ident_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; schemes[i] != NULL; i++)
		if (strcmp(schemes[i]->name, name) == 0)
			return schemes[i];
	return NULL;
}

const struct cr_ident_scheme *
cr_ident_default_person(void)
{
	return &scheme_insz;
}

const struct cr_ident_scheme *
cr_ident_default_enterprise(void)
{
	return &scheme_kbo;
}

const struct cr_ident_scheme *const *
cr_ident_all(void)
{
	return schemes;
}

int
cr_ident_normalize(const struct cr_ident_scheme *scheme, const char *in,
    char *out, size_t outlen)
{
	if (scheme == NULL)
		return -1;
	return scheme->normalize(in, out, outlen);
}
