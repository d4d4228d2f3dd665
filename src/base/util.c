#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "util.h"

size_t
cr_util_strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t len = strlen(src);

	if (dstsize > 0) {
		size_t n = len < dstsize - 1 ? len : dstsize - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* Length of the valid UTF-8 character at s (at most n bytes), 0 if none. */
static size_t
utf8_char_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* beyond U+10FFFF */
	} else
		return 0;
	if (len > n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static int
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int
cr_util_utf8_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, len;

	while (i < n) {
		if (is_control(p[i]) ||
		    (len = utf8_char_len(p + i, n - i)) == 0)
			return 0;
		i += len;
	}
	return 1;
}

int
cr_util_utf8_copy(char *dst, size_t dstsize, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)src;
	size_t n = strlen(src), i = 0, o = 0, len;
	int same = 1;

	if (dstsize == 0)
		return n == 0 ? 0 : -1;
	while (i < n) {
		len = is_control(p[i]) ? 0 : utf8_char_len(p + i, n - i);
		if (len > 0) {
			if (o + len >= dstsize)
				break;
			memcpy(dst + o, p + i, len);
			o += len;
			i += len;
			continue;
		}
		if (o + 4 >= dstsize)
			break;
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[p[i] >> 4];
		dst[o++] = hex[p[i] & 0xf];
		i++;
		same = 0;
	}
	dst[o] = '\0';
	return same && i == n ? 0 : -1;
}

/* n, or less so that s[0..n) does not end inside a character. */
static size_t
utf8_cut(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = n, need;

	while (i > 0 && n - i < 3 && (p[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || p[i - 1] < 0xc0)
		return n;
	need = p[i - 1] >= 0xf0 ? 4 : p[i - 1] >= 0xe0 ? 3 : 2;
	return n - (i - 1) < need ? i - 1 : n;
}

void
cr_util_utf8_trim(char *s)
{
	s[utf8_cut(s, strlen(s))] = '\0';
}

void
cr_util_utf8_vformat(char *dst, size_t dstsize, const char *fmt, va_list ap)
{
	char tmp[2048];
	size_t n;
	int len, cut;

	if (dstsize == 0)
		return;
	len = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	n = len < 0 ? 0 : strlen(tmp);
	cut = len >= 0 && (size_t)len >= sizeof(tmp);
	if (n >= dstsize) {
		n = dstsize - 1;
		cut = 1;
	}
	if (cut)
		n = utf8_cut(tmp, n);
	tmp[n] = '\0';
	cr_util_utf8_copy(dst, dstsize, tmp);
}

int
cr_util_parse_ull(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void
cr_util_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
cr_util_unhex(const char *in, uint8_t *out, size_t len)
{
	size_t i;

	if (strlen(in) != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
cr_util_uuid(char *out)
{
	uint8_t b[16];

	randombytes_buf(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, CR_UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	    b[10], b[11], b[12], b[13], b[14], b[15]);
}

void
cr_util_hash_u32(crypto_generichash_state *st, uint32_t v)
{
	uint8_t b[4];

	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	crypto_generichash_update(st, b, sizeof(b));
}

void
cr_util_hash_text(crypto_generichash_state *st, const char *s, size_t size)
{
	size_t len = strnlen(s, size);

	cr_util_hash_u32(st, (uint32_t)len);
	crypto_generichash_update(st, (const unsigned char *)s, len);
}

void
cr_util_ms_rfc3339(int64_t ms, char *out)
{
	struct tm tm;
	time_t t;
	char buf[64];
	long frac;

	t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	frac = (long)(ms - (int64_t)t * 1000);
	gmtime_r(&t, &tm);
	/* A local buffer large enough for any int keeps the compiler sure
	   nothing is truncated; real dates always fit CR_TS_LEN. */
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
	cr_util_strlcpy(out, buf, CR_TS_LEN + 1);
}

void
cr_util_now_rfc3339(char *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	cr_util_ms_rfc3339((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	    out);
}

double
cr_util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int64_t
cr_util_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cr_util_cond_init_mono(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int err;

	if ((err = pthread_condattr_init(&ca)) != 0)
		return err;
	if ((err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0)
		err = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return err;
}

void
cr_util_ms_timespec(double at_ms, struct timespec *ts)
{
	long long us = (long long)(at_ms * 1e3) + 1;

	if (us < 0)
		us = 0;
	ts->tv_sec = (time_t)(us / 1000000);
	ts->tv_nsec = (long)(us % 1000000) * 1000L;
}

int
cr_util_buf_append(char **buf, size_t *len, size_t *cap, size_t limit,
    const void *data, size_t n)
{
	size_t need;

	if (n > limit || *len > limit - n)
		return -1;
	need = *len + n + 1;
	if (need > *cap) {
		size_t ncap = *cap != 0 ? *cap : 1024;
		char *nb;

		while (ncap < need)
			ncap *= 2;
		if ((nb = realloc(*buf, ncap)) == NULL)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int
cr_util_parse_bool(const char *s)
{
	if (strcmp(s, "on") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "yes") == 0)
		return 1;
	if (strcmp(s, "off") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "no") == 0)
		return 0;
	return -1;
}

char *
cr_util_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int
cr_util_mkdirs(const char *dir)
{
	char buf[4096], *p;

	if (cr_util_strlcpy(buf, dir, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0750) == -1 && errno != EEXIST)
		return -1;
	return 0;
}
