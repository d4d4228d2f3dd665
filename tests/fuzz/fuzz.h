/*
 * Helpers shared by the fuzz targets (docs/fuzzing.md). A target is one
 * LLVMFuzzerTestOneInput() that feeds its input to a parser of the library
 * and checks what the parser promises; a broken promise aborts with the
 * invariant named on stderr, which libFuzzer (or the replay driver under
 * ASan) reports as a crash with the input that caused it.
 */
#ifndef CR_FUZZ_H
#define CR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
/* Optional: one-time set-up, before the first input. */
int	LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond))							\
		fuzz_fail(#cond, __FILE__, __LINE__);			\
} while (0)

void	fuzz_fail(const char *what, const char *file, int line)
	    __attribute__((noreturn));

/* A NUL-terminated heap copy of len bytes (the caller frees it). */
char	*fuzz_strndup(const void *data, size_t len);

/*
 * Cuts s (len bytes) at each line holding only "--" into at most max
 * parts; part i is p[i] (p[i] + n[i] is its end, not NUL-terminated).
 * Returns how many parts there are; the last one takes the rest.
 */
size_t	fuzz_split(const char *s, size_t len, const char **p, size_t *n,
	    size_t max);

/* 1 when the len bytes at s are valid UTF-8 (NUL included). */
int	fuzz_utf8(const char *s, size_t len);

/*
 * A failure must say why, in a message that can go back to the client
 * inside JSON: non-empty and valid UTF-8.
 */
void	fuzz_check_msg(const char *msg);

/* j serializes, and the text parses back to an equal value. */
void	fuzz_check_json(const json_t *j);

/*
 * A new directory for a target's files (a store, a database), on /dev/shm
 * when there is one (stores sync every commit), as out[len]; removed with
 * its files at exit. A run that crashed leaves its directory: the next
 * target to start removes those of processes that are gone.
 */
void	fuzz_tmpdir(const char *name, char *out, size_t len);

#endif
