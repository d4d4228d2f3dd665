/*
 * Calendar dates ("YYYY-MM-DD", proleptic Gregorian, UTC) and validity
 * periods. Dates are kept as their 10-character text in structs and in the
 * store: that form sorts like the dates themselves, so periods can be
 * compared with strcmp and in SQL alike.
 */
#ifndef CR_DATE_H
#define CR_DATE_H

#include <stdint.h>

#define CR_DATE_LEN	10	/* without the NUL */

/* 0 when s is exactly a valid YYYY-MM-DD date (years 1000-9999), else -1. */
int	cr_date_valid(const char *s);

/* Days since 1970-01-01 for a valid date; 0 or -1. */
int	cr_date_to_days(const char *s, int32_t *days);
/* Inverse of cr_date_to_days; out has room for CR_DATE_LEN + 1. */
void	cr_date_from_days(int32_t days, char *out);

/* Today's UTC date into out[CR_DATE_LEN + 1]. */
void	cr_date_today(char *out);

/* out = date + n days (n may be negative); 0 or -1 on an invalid date. */
int	cr_date_add_days(const char *date, int32_t n, char *out);

/*
 * 1 when date lies in the period [from, to], both ends inclusive; an empty
 * or NULL `to` means open-ended, an empty or NULL `from` means since always.
 */
int	cr_period_contains(const char *from, const char *to, const char *date);

#endif
