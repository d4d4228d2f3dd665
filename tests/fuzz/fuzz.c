/* Helpers shared by the fuzz targets (fuzz.h). */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

void
fuzz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "fuzz: invariant broken at %s:%d: %s\n", file, line,
	    what);
	abort();
}

char *
fuzz_strndup(const void *data, size_t len)
{
	char *s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

size_t
fuzz_split(const char *s, size_t len, const char **p, size_t *n, size_t max)
{
	const char *end = s + len, *at = s, *line, *nl;
	size_t k = 0;

	if (max == 0)
		return 0;
	p[0] = s;
	for (line = s; line < end && k + 1 < max; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			break;
		if (nl - line == 2 && line[0] == '-' && line[1] == '-') {
			/* The newline before "--" belongs to neither part. */
			n[k] = (size_t)(line - at) - (line > at);
			at = nl + 1;
			p[++k] = at;
		}
	}
	n[k] = (size_t)(end - at);
	return k + 1;
}

/* An independent check (not the library's): RFC 3629, no surrogates. */
int
fuzz_utf8(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k, need;
	unsigned long cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			need = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			need = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			need = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return 0;
		if (len - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

void
fuzz_check_msg(const char *msg)
{
	json_t *j;

	FUZZ_CHECK(msg != NULL && msg[0] != '\0');
	FUZZ_CHECK(fuzz_utf8(msg, strlen(msg)));
	FUZZ_CHECK((j = json_string(msg)) != NULL);
	json_decref(j);
}

void
fuzz_check_json(const json_t *j)
{
	json_error_t jerr;
	json_t *back;
	char *s;

	FUZZ_CHECK(j != NULL);
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(fuzz_utf8(s, strlen(s)));
	back = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(json_equal(back, j));
	json_decref(back);
	free(s);
}

#define TMPDIR_PREFIX	"cr-fuzz-"
#define TMPDIRS_MAX	8

static char	tmpdirs[TMPDIRS_MAX][128];
static size_t	ntmpdirs;

/* Removes dir and the files in it (the targets make no subdirectory). */
static void
rm_dir(const char *dir)
{
	struct dirent *de;
	char path[512];
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

static void
rm_tmpdirs(void)
{
	size_t i;

	for (i = 0; i < ntmpdirs; i++)
		rm_dir(tmpdirs[i]);
}

/* "cr-fuzz-NAME-PID-XXXXXX" of a process that no longer runs. */
static void
rm_stale(const char *base)
{
	struct dirent *de;
	char path[512];
	const char *p;
	long pid;
	DIR *d;

	if ((d = opendir(base)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, TMPDIR_PREFIX,
		    strlen(TMPDIR_PREFIX)) != 0 ||
		    (p = strrchr(de->d_name, '-')) == NULL || p == de->d_name)
			continue;
		while (--p > de->d_name && *p != '-')
			;
		if ((pid = strtol(p + 1, NULL, 10)) <= 0 ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
		rm_dir(path);
	}
	closedir(d);
}

void
fuzz_tmpdir(const char *name, char *out, size_t len)
{
	struct stat sb;
	const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ?
	    "/dev/shm" : "/tmp";

	FUZZ_CHECK(ntmpdirs < TMPDIRS_MAX && len <= sizeof(tmpdirs[0]));
	rm_stale(base);
	FUZZ_CHECK((size_t)snprintf(out, len, "%s/" TMPDIR_PREFIX
	    "%s-%ld-XXXXXX", base, name, (long)getpid()) < len);
	FUZZ_CHECK(mkdtemp(out) != NULL);
	memcpy(tmpdirs[ntmpdirs++], out, len);
	if (ntmpdirs == 1)
		atexit(rm_tmpdirs);
}
