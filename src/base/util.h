/*
 * Small helpers shared by every module: bounded string copies, number
 * parsing (instead of atoi), hex, UUIDs and timestamps.
 */
#ifndef CR_UTIL_H
#define CR_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define CR_UUID_LEN	36	/* without the NUL */
#define CR_TS_LEN	24	/* "2026-11-23T05:05:00.123Z" */

/* Copies with truncation; returns strlen(src) like strlcpy. */
size_t	cr_util_strlcpy(char *dst, const char *src, size_t dstsize);

/*
 * UTF-8 text. A client's bytes reach error messages (JSON strings, which
 * jansson refuses to build from invalid UTF-8) and log entries; these
 * keep them valid, whole characters only.
 */

/* 1 when s is valid UTF-8 without control characters (C0, DEL), else 0. */
int	cr_util_utf8_text(const char *s);
/*
 * Copies src into dst as valid UTF-8 text: a byte that does not start a
 * valid character, and a control character, becomes the four characters
 * \xNN (hex, upper case). When dst is full the copy stops before the
 * character or escape that does not fit, never inside it. Returns 0 when
 * dst holds src unchanged, -1 when something was escaped or left out.
 */
int	cr_util_utf8_copy(char *dst, size_t dstsize, const char *src);
/*
 * vsnprintf into dst, made text as by cr_util_utf8_copy (messages quoting
 * a client's bytes); a character cut by the size limit is left out, not
 * escaped.
 */
void	cr_util_utf8_vformat(char *dst, size_t dstsize, const char *fmt,
	    va_list ap);
/*
 * Drops a character cut short at the end of s, as a copy bounded in bytes
 * (strlcpy, snprintf) leaves UTF-8 text cut: what is left is whole
 * characters (the rest of s is not checked).
 */
void	cr_util_utf8_trim(char *s);

/* Parses a base-10 unsigned number in [min, max]; 0 or -1 on any junk. */
int	cr_util_parse_ull(const char *s, unsigned long long min,
	    unsigned long long max, unsigned long long *out);

/* Writes 2*len hex digits and a NUL into out (size >= 2*len+1). */
void	cr_util_hex(const uint8_t *in, size_t len, char *out);
/* Parses exactly 2*len hex digits; 0 or -1. */
int	cr_util_unhex(const char *in, uint8_t *out, size_t len);

/*
 * Pieces of the hash chains' canonical encodings (docs/exchange-log.md,
 * docs/audit.md), fed to a BLAKE2b state (crypto_generichash_state):
 * a 32-bit big-endian number, and text as its 32-bit length then its
 * bytes (at most size of them, up to a NUL), so that no two splits of
 * the fields encode the same bytes.
 */
struct crypto_generichash_blake2b_state;
void	cr_util_hash_u32(struct crypto_generichash_blake2b_state *, uint32_t);
void	cr_util_hash_text(struct crypto_generichash_blake2b_state *,
	    const char *s, size_t size);

/* Random version-4 UUID into out[CR_UUID_LEN + 1]. */
void	cr_util_uuid(char *out);

/* Current UTC time as RFC 3339 with milliseconds, out[CR_TS_LEN + 1]. */
void	cr_util_now_rfc3339(char *out);
/* The same for Unix time ms. */
void	cr_util_ms_rfc3339(int64_t ms, char *out);

/* Monotonic clock in milliseconds, for durations and deadlines. */
double	cr_util_mono_ms(void);
/* Unix time in milliseconds (CLOCK_REALTIME), for times that are stored. */
int64_t	cr_util_wall_ms(void);

/*
 * Deadlines for pthread_cond_timedwait. cr_util_cond_init_mono makes a
 * condition variable whose timed waits use CLOCK_MONOTONIC, the clock of
 * cr_util_mono_ms (0 or an errno value); cr_util_ms_timespec turns an
 * absolute time in ms, on whichever clock the condition variable uses,
 * into the timespec it waits until (rounded up, so that a wait never ends
 * before the deadline).
 */
struct timespec;
int	cr_util_cond_init_mono(pthread_cond_t *);
void	cr_util_ms_timespec(double at_ms, struct timespec *ts);

/*
 * Appends n bytes to a growable buffer (*buf, *len used, *cap allocated),
 * keeping it NUL-terminated and at most limit bytes long. -1, with nothing
 * appended, when it would exceed limit or memory runs out. The caller
 * frees *buf.
 */
int	cr_util_buf_append(char **buf, size_t *len, size_t *cap, size_t limit,
	    const void *data, size_t n);

/* "on", "true", "yes" -> 1; "off", "false", "no" -> 0; else -1. */
int	cr_util_parse_bool(const char *s);

/* Strips leading and trailing white space in place; returns the start. */
char	*cr_util_trim(char *s);

/* Creates dir and its missing parents (mode 0750), like mkdir -p. 0 or -1
   with errno set. */
int	cr_util_mkdirs(const char *dir);

#endif
