/*
 * Subject identifier schemes. A deployment picks one scheme for persons
 * (config key id_scheme); enterprises use the enterprise scheme. Schemes
 * are a table of function pointers so that a country adds its own without
 * touching the callers.
 */
#ifndef CR_IDENT_H
#define CR_IDENT_H

#include <stddef.h>

#define CR_SUBJECT_MAX	32	/* longest normalized identifier, with NUL */
/* Longest identifier as sent (separators included) that a scheme
   considers, with NUL; the API refuses longer ones. */
#define CR_SUBJECT_RAW_MAX	65

struct cr_ident_scheme {
	const char	*name;		/* "be-insz", "ee-isikukood", ... */
	const char	*kind;		/* "person" or "enterprise" */
	const char	*description;
	/*
	 * Normalizes `in` into `out` (separators such as '.', '-', ' '
	 * removed) and checks it, check digits included. Returns 0 when
	 * valid, -1 otherwise (out is then unspecified).
	 */
	int		(*normalize)(const char *in, char *out, size_t outlen);
};

/* NULL when unknown. Names: be-insz (default), ee-isikukood, tr-tckn, be-kbo. */
const struct cr_ident_scheme *cr_ident_find(const char *name);
const struct cr_ident_scheme *cr_ident_default_person(void);	/* be-insz */
const struct cr_ident_scheme *cr_ident_default_enterprise(void);	/* be-kbo */
/* NULL-terminated list of every scheme, for `crossroads --help`. */
const struct cr_ident_scheme *const *cr_ident_all(void);

/*
 * The be-insz scheme's normalize with the current year given: the 2000+
 * check is only tried for birth years up to `year`. 0 or -1.
 */
int	cr_ident_insz_normalize_at(const char *in, int year, char *out,
	    size_t outlen);

/* The Estonian check digit of the first 10 digits of an isikukood. */
int	cr_ident_ee_check(const char *digits);

/* Shorthand: scheme->normalize(in, out, outlen). */
int	cr_ident_normalize(const struct cr_ident_scheme *, const char *in,
	    char *out, size_t outlen);

/* generation (ident_gen.c): valid identifiers for synthetic data */

/*
 * Serials that cr_ident_gen_person accepts for one birth date and sex in
 * `scheme` (0..max-1); 0 for a scheme that does not number persons.
 */
unsigned	cr_ident_gen_serials(const struct cr_ident_scheme *);

/*
 * Writes into out the normalized identifier of the person of `scheme` born
 * on birth_date (YYYY-MM-DD), female or not, with `serial` (distinct per
 * birth date and sex). Different inputs give different identifiers. 0, or
 * -1 when the scheme cannot number that date or serial.
 */
int	cr_ident_gen_person(const struct cr_ident_scheme *,
	    const char *birth_date, int female, unsigned serial, char *out,
	    size_t outlen);

/*
 * A Belgian BIS number (valid in be-insz) of someone born on birth_date:
 * female 0 or 1 when the sex was known at attribution (month + 40), -1
 * when it was not (month + 20); serial < cr_ident_gen_serials(be-insz),
 * distinct per birth date and female. Never equal to an INSZ. 0 or -1.
 */
int	cr_ident_gen_bis(const char *birth_date, int female, unsigned serial,
	    char *out, size_t outlen);

/* The serial-th valid KBO enterprise number (serial < 15,000,000). */
int	cr_ident_gen_kbo(unsigned long serial, char *out, size_t outlen);

#endif
