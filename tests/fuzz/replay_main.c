/*
 * Driver for fuzz targets in builds without libFuzzer: runs the target on
 * every file named on the command line or found (non-recursively) in the
 * directories named, then on a fixed set of pseudo-random mutations of
 * each. The generator is seeded with a constant so that a failure shows up
 * again on the next run.
 *
 *   fuzz_NAME [-dict=FILE] [-mutations=N] corpus-dir-or-file ...
 *
 * -dict names the target's libFuzzer dictionary (tests/fuzz/NAME.dict):
 * its tokens are inserted by the mutations too. -mutations is per seed
 * (default MUTATIONS_PER_SEED).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
/* Optional, as with libFuzzer: one-time set-up of a target. */
int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

#define MUTATIONS_PER_SEED	2000
#define MAX_TOKENS		512
#define REPLAY_MAX_INPUT	(64 * 1024)
#define RNG_SEED		0x9e3779b97f4a7c15ULL

struct seed {
	uint8_t	*data;
	size_t	 len;
};

static struct seed	*seeds;
static size_t		 nseeds, seedcap;
static uint64_t		 rng_state = RNG_SEED;
static unsigned long	 ninputs;

/* xorshift64*: small, and the same on every platform. */
static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t
rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rng() % n);
}

/* The input being run, shown when the target dies on it. */
static const uint8_t	*cur_data;
static size_t		 cur_len;

/*
 * Writes the input that killed the target to stderr (escaped, so that the
 * test log shows it) and to fuzz-crash.bin in the current directory, to be
 * added to the corpus once the bug is fixed. Async-signal-safe: write(2).
 */
static void
dump_current(void)
{
	static const char hex[] = "0123456789abcdef";
	char out[8];
	size_t i, n;
	int fd;

	if (cur_data == NULL)
		return;
	(void)!write(2, "fuzz replay: the failing input: \"", 33);
	for (i = 0; i < cur_len && i < 4096; i++) {
		unsigned char c = cur_data[i];

		n = 0;
		if (c == '\\' || c == '"') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f)
			out[n++] = (char)c;
		else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
		(void)!write(2, out, n);
	}
	(void)!write(2, "\"\n", 2);
	if ((fd = open("fuzz-crash.bin", O_WRONLY | O_CREAT | O_TRUNC,
	    0644)) != -1) {
		(void)!write(fd, cur_data, cur_len);
		close(fd);
	}
	cur_data = NULL;
}

static void
on_fatal(int sig)
{
	dump_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_ASAN	1
#endif
#endif
#ifdef REPLAY_ASAN
void	__sanitizer_set_death_callback(void (*)(void));
#endif

/*
 * Runs the target on an exactly sized heap copy so that AddressSanitizer
 * sees a read one past the end, as it would under libFuzzer.
 */
static void
run(const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);

	if (copy == NULL) {
		perror("malloc");
		exit(1);
	}
	if (len > 0)
		memcpy(copy, data, len);
	cur_data = copy;
	cur_len = len;
	LLVMFuzzerTestOneInput(copy, len);
	cur_data = NULL;
	free(copy);
	ninputs++;
}

static int
add_file(const char *path)
{
	struct seed *s;
	FILE *fp;
	uint8_t *buf = NULL;
	size_t len = 0, n;
	int rc = -1;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(REPLAY_MAX_INPUT)) == NULL)
		goto out;
	while (len < REPLAY_MAX_INPUT &&
	    (n = fread(buf + len, 1, REPLAY_MAX_INPUT - len, fp)) > 0)
		len += n;
	if (ferror(fp)) {
		fprintf(stderr, "%s: read error\n", path);
		goto out;
	}
	if (nseeds == seedcap) {
		size_t cap = seedcap ? seedcap * 2 : 16;

		if ((s = realloc(seeds, cap * sizeof(*s))) == NULL)
			goto out;
		seeds = s;
		seedcap = cap;
	}
	seeds[nseeds].data = buf;
	seeds[nseeds].len = len;
	nseeds++;
	buf = NULL;
	rc = 0;
 out:
	free(buf);
	fclose(fp);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries in name order, so that runs do not depend on readdir. */
static int
add_dir(const char *path)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	char file[4096], **names = NULL, **tmp;
	size_t n = 0, cap = 0, i;
	int rc = -1;

	if ((dir = opendir(path)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(file, sizeof(file), "%s/%s", path,
		    de->d_name) >= sizeof(file))
			continue;
		if (stat(file, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			if ((tmp = realloc(names, cap * sizeof(*names))) ==
			    NULL)
				goto out;
			names = tmp;
		}
		if ((names[n] = strdup(file)) == NULL)
			goto out;
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	rc = 0;
	for (i = 0; i < n; i++)
		if (add_file(names[i]) == -1)
			rc = -1;
 out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return rc;
}

static int
add_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? add_dir(path) : add_file(path);
}

/* Tokens that matter to the formats the targets read; a dictionary adds. */
static const char *const builtin_tokens[] = {
	"{", "}", "[", "]", "\"", ":", ",", "\\", "\\u0000", "\\ud800",
	"\n", "\r\n", "null", "true", "-0", "1e999", "9223372036854775808",
	"\"subject\":", "\"to\":null", "\"from\":\"2024-02-29\"", "\xc3",
	"\xf4\x90\x80\x80", "\n--\n", ";", "=", "#", "%", "&", "%00", "\t",
};

struct token {
	char	*data;
	size_t	 len;
};

static struct token	 tokens[MAX_TOKENS];
static size_t		 ntokens;

static void
add_token(const char *data, size_t len)
{
	if (ntokens == MAX_TOKENS || len == 0)
		return;
	if ((tokens[ntokens].data = malloc(len)) == NULL) {
		perror("malloc");
		exit(1);
	}
	memcpy(tokens[ntokens].data, data, len);
	tokens[ntokens].len = len;
	ntokens++;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A libFuzzer dictionary: one token a line as name="value" or "value",
 * with \\, \" and \xNN escapes; '#' starts a comment line.
 */
static int
load_dict(const char *path)
{
	char line[1024], tok[1024], *q;
	size_t n, lineno = 0;
	FILE *fp;
	int hi, lo;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		q = line + strspn(line, " \t");
		if (*q == '\0' || *q == '#')
			continue;
		if ((q = strchr(q, '"')) == NULL)
			goto bad;
		for (q++, n = 0; *q != '"'; q++) {
			if (*q == '\0')
				goto bad;
			if (*q == '\\') {
				q++;
				if (*q == 'x') {
					if ((hi = hexval(q[1])) < 0 ||
					    (lo = hexval(q[2])) < 0)
						goto bad;
					tok[n++] = (char)(hi * 16 + lo);
					q += 2;
					continue;
				}
				if (*q != '\\' && *q != '"')
					goto bad;
			}
			tok[n++] = *q;
		}
		add_token(tok, n);
	}
	fclose(fp);
	return 0;
 bad:
	fprintf(stderr, "%s:%zu: bad dictionary entry\n", path, lineno);
	fclose(fp);
	return -1;
}

/* One mutation of buf (len bytes, room for REPLAY_MAX_INPUT); new len. */
static size_t
mutate_once(uint8_t *buf, size_t len)
{
	const struct seed *other;
	const char *tok;
	size_t pos, n, toklen;

	switch (rng_below(7)) {
	case 0:		/* flip a bit */
		if (len > 0)
			buf[rng_below(len)] ^= (uint8_t)(1u << rng_below(8));
		return len;
	case 1:		/* truncate */
		return rng_below(len + 1);
	case 2:		/* insert a random byte */
		if (len >= REPLAY_MAX_INPUT)
			return len;
		pos = rng_below(len + 1);
		memmove(buf + pos + 1, buf + pos, len - pos);
		buf[pos] = (uint8_t)rng();
		return len + 1;
	case 3:		/* delete a run of bytes */
		if (len == 0)
			return 0;
		pos = rng_below(len);
		n = 1 + rng_below(len - pos < 8 ? len - pos : 8);
		memmove(buf + pos, buf + pos + n, len - pos - n);
		return len - n;
	case 4:		/* insert a token of the input's format */
		n = rng_below(ntokens);
		tok = tokens[n].data;
		toklen = tokens[n].len;
		if (len + toklen > REPLAY_MAX_INPUT)
			return len;
		pos = rng_below(len + 1);
		memmove(buf + pos + toklen, buf + pos, len - pos);
		memcpy(buf + pos, tok, toklen);
		return len + toklen;
	case 5:		/* overwrite a byte */
		if (len > 0)
			buf[rng_below(len)] = (uint8_t)rng();
		return len;
	default:	/* splice in part of another seed */
		other = &seeds[rng_below(nseeds)];
		if (other->len == 0)
			return len;
		pos = rng_below(other->len);
		n = 1 + rng_below(other->len - pos);
		if (len + n > REPLAY_MAX_INPUT)
			return len;
		{
			size_t at = rng_below(len + 1);

			memmove(buf + at + n, buf + at, len - at);
			memcpy(buf + at, other->data + pos, n);
		}
		return len + n;
	}
}

int
main(int argc, char *argv[])
{
	unsigned long long mutations = MUTATIONS_PER_SEED;
	uint8_t *buf;
	size_t i, len, k;
	unsigned long long m;
	char *end;
	int a;

	if (argc < 2) {
		fprintf(stderr, "usage: %s [-dict=FILE] [-mutations=N] "
		    "corpus-dir-or-file ...\n", argv[0]);
		return 2;
	}
	signal(SIGABRT, on_fatal);
	signal(SIGSEGV, on_fatal);
	signal(SIGBUS, on_fatal);
#ifdef REPLAY_ASAN
	/* ASan and UBSan end the process themselves: no signal. */
	__sanitizer_set_death_callback(dump_current);
#endif
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 0; i < sizeof(builtin_tokens) / sizeof(builtin_tokens[0]);
	    i++)
		add_token(builtin_tokens[i], strlen(builtin_tokens[i]));
	add_token("", 1);	/* a NUL byte */
	for (a = 1; a < argc; a++) {
		if (strncmp(argv[a], "-dict=", 6) == 0) {
			if (load_dict(argv[a] + 6) == -1)
				return 1;
		} else if (strncmp(argv[a], "-mutations=", 11) == 0) {
			mutations = strtoull(argv[a] + 11, &end, 10);
			if (*end != '\0') {
				fprintf(stderr, "%s: bad number\n", argv[a]);
				return 2;
			}
		} else if (add_path(argv[a]) == -1)
			return 1;
	}
	if (nseeds == 0) {
		fprintf(stderr, "fuzz replay: no inputs found\n");
		return 1;
	}
	if ((buf = malloc(REPLAY_MAX_INPUT)) == NULL) {
		perror("malloc");
		return 1;
	}
	for (i = 0; i < nseeds; i++)
		run(seeds[i].data, seeds[i].len);
	for (i = 0; i < nseeds; i++) {
		for (m = 0; m < mutations; m++) {
			memcpy(buf, seeds[i].data, seeds[i].len);
			len = seeds[i].len;
			/* Mostly single mutations, sometimes a few stacked. */
			k = 1 + (rng_below(4) == 0 ? rng_below(4) : 0);
			while (k-- > 0)
				len = mutate_once(buf, len);
			run(buf, len);
		}
	}
	printf("fuzz replay: %lu inputs\n", ninputs);
	for (i = 0; i < nseeds; i++)
		free(seeds[i].data);
	free(seeds);
	for (i = 0; i < ntokens; i++)
		free(tokens[i].data);
	free(buf);
	return 0;
}
