/*
 * Fuzz target for batch subject lists (cr_batch_parse, batch.c,
 * docs/batches.md), the body of POST /v1/batches, read both as NDJSON and
 * as CSV. Checks:
 * - a refusal says why, naming the line at fault;
 * - every subject accepted is 1 to 64 bytes of valid UTF-8 without
 *   control characters (DEL included), inside the body, and there is at
 *   least one;
 * - NDJSON: the subjects (and whether the list is refused) are exactly
 *   what jansson reads from each non-blank line, so that the parser's
 *   fast path for the common line shape agrees with a JSON parser.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch.h"
#include "fuzz.h"
#include "store.h"

struct oracle {
	char	**subjects;
	size_t	  n;
	int	  ok;
};

static void
oracle_free(struct oracle *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		free(o->subjects[i]);
	free(o->subjects);
}

static int
subject_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 64 || strlen(s) != len || !fuzz_utf8(s, len))
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* The rules of docs/batches.md for NDJSON, read with jansson. */
static void
oracle_ndjson(const char *body, size_t len, struct oracle *o)
{
	const char *p = body, *end = body + len, *nl, *a, *b;
	json_error_t jerr;
	json_t *j, *v;

	memset(o, 0, sizeof(*o));
	o->ok = 1;
	if (strlen(body) != len) {
		o->ok = 0;
		return;
	}
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	for (; p < end && o->ok; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		for (a = p; a < nl && isspace((unsigned char)*a); a++)
			;
		for (b = nl; b > a && isspace((unsigned char)b[-1]); b--)
			;
		if (a == b)
			continue;
		j = json_loadb(a, (size_t)(b - a), JSON_REJECT_DUPLICATES,
		    &jerr);
		v = json_object_get(j, "subject");
		if (!json_is_object(j) || !json_is_string(v) ||
		    !subject_ok(json_string_value(v), json_string_length(v)))
			o->ok = 0;
		else {
			o->subjects = realloc(o->subjects, (o->n + 1) *
			    sizeof(*o->subjects));
			FUZZ_CHECK(o->subjects != NULL);
			o->subjects[o->n++] = fuzz_strndup(
			    json_string_value(v), json_string_length(v));
		}
		json_decref(j);
	}
	if (o->n == 0)
		o->ok = 0;
}

static void
check_list(const char *body, size_t len, char **subjects, size_t n)
{
	size_t i;

	FUZZ_CHECK(n > 0 && subjects != NULL);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(subjects[i] >= body && subjects[i] <= body + len);
		FUZZ_CHECK(subject_ok(subjects[i], strlen(subjects[i])));
	}
}

/*
 * "line N: why" or a message about the whole body. (It may quote
 * jansson's text of a bad line: the HTTP layer makes it valid UTF-8.)
 */
static void
check_error(const char *err)
{
	static const char *const whole[] = { "NUL byte in the body",
	    "no subjects", "empty CSV: ", "out of memory", NULL };
	size_t i;

	FUZZ_CHECK(err[0] != '\0');
	if (strncmp(err, "line ", 5) == 0) {
		FUZZ_CHECK(err[5] >= '1' && err[5] <= '9');
		FUZZ_CHECK(strstr(err, ": ") != NULL);
		return;
	}
	for (i = 0; whole[i] != NULL; i++)
		if (strncmp(err, whole[i], strlen(whole[i])) == 0)
			return;
	FUZZ_CHECK(!"an error names the line at fault or the whole body");
}

static void
run(const uint8_t *data, size_t size, int csv)
{
	struct oracle o;
	char *body = fuzz_strndup(data, size), **subjects = NULL, err[512];
	size_t n = 0, i;
	int rc;

	rc = cr_batch_parse(body, size, csv, &subjects, &n, err, sizeof(err));
	if (rc == -1) {
		FUZZ_CHECK(subjects == NULL && n == 0);
		check_error(err);
	} else {
		FUZZ_CHECK(rc == 0);
		check_list(body, size, subjects, n);
	}
	if (!csv) {
		/* body was changed in place: read a fresh copy. */
		char *copy = fuzz_strndup(data, size);

		oracle_ndjson(copy, size, &o);
		FUZZ_CHECK(o.ok == (rc == 0));
		if (rc == 0) {
			FUZZ_CHECK(o.n == n);
			for (i = 0; i < n; i++)
				FUZZ_CHECK(strcmp(o.subjects[i],
				    subjects[i]) == 0);
		}
		oracle_free(&o);
		free(copy);
	}
	free(subjects);
	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, 0);
	run(data, size, 1);
	return 0;
}
