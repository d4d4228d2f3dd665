/*
 * Fuzz target for reference-directory records (directory.c): the JSON
 * record of PUT /v1/directory (cr_directory_parse_record, with and without
 * the caller's institution), and the lines of `crossroads directory
 * import` (cr_directory_import_header and _line, CSV or NDJSON, with and
 * without --institution), read line by line as the command does. Checks:
 * - a rejected record says why, with a contract code, in a message fit
 *   for a JSON answer (even when a CSV line held other bytes);
 * - an accepted record has its subject normalized from the whole subject
 *   as sent, a capacity, valid dates with `to` not before `from`, and
 *   checks again unchanged; its JSON form serializes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "directory.h"
#include "fuzz.h"

static struct cr_hub	hub;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	hub.person_scheme = cr_ident_find("be-insz");
	hub.enterprise_scheme = cr_ident_default_enterprise();
	FUZZ_CHECK(hub.person_scheme != NULL && hub.enterprise_scheme != NULL);
	return 0;
}

static void
check_rejected(const struct cr_dir_error *err)
{
	FUZZ_CHECK(err->status == 400);
	FUZZ_CHECK(strcmp(err->code, "BAD_REQUEST") == 0 ||
	    strcmp(err->code, "INVALID_SUBJECT") == 0);
	fuzz_check_msg(err->message);
}

/* sent: the subject as the record gave it, when known. */
static void
check_accepted(const struct cr_dir_entry *e, const char *sent)
{
	struct cr_dir_entry again;
	struct cr_dir_error err;
	char norm[CR_SUBJECT_MAX];
	json_t *j;
	size_t i;

	FUZZ_CHECK(e->subject[0] != '\0');
	for (i = 0; e->subject[i] != '\0'; i++)
		FUZZ_CHECK(e->subject[i] >= '0' && e->subject[i] <= '9');
	if (sent != NULL) {
		FUZZ_CHECK(cr_directory_subject(&hub, sent, norm,
		    sizeof(norm)) == 0);
		FUZZ_CHECK(strcmp(norm, e->subject) == 0);
	}
	FUZZ_CHECK(e->capacity[0] != '\0');
	FUZZ_CHECK(cr_date_valid(e->from) == 0);
	if (e->to[0] != '\0') {
		FUZZ_CHECK(cr_date_valid(e->to) == 0);
		FUZZ_CHECK(strcmp(e->to, e->from) >= 0);
	}
	memcpy(&again, e, sizeof(again));
	FUZZ_CHECK(cr_directory_check_entry(&hub, &again, &err) == 0);
	FUZZ_CHECK(memcmp(&again, e, sizeof(again)) == 0);
	j = cr_directory_entry_json(e, NULL);
	fuzz_check_json(j);
	json_decref(j);
}

/* The "subject" of a JSON record, as a heap string, or NULL. */
static char *
sent_subject(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *o = json_loadb(text, len, 0, &jerr);
	const char *s = json_string_value(json_object_get(o, "subject"));
	char *copy = s != NULL ? fuzz_strndup(s, strlen(s)) : NULL;

	json_decref(o);
	return copy;
}

static void
check_record(const char *text, size_t len, const char *institution)
{
	struct cr_dir_entry e;
	struct cr_dir_error err;
	char *sent;

	memset(&err, 0, sizeof(err));
	if (cr_directory_parse_record(&hub, text, len, institution, &e,
	    &err) == -1) {
		check_rejected(&err);
		return;
	}
	sent = sent_subject(text, len);
	FUZZ_CHECK(sent != NULL);
	check_accepted(&e, sent);
	if (institution != NULL)
		FUZZ_CHECK(strcmp(e.institution, institution) == 0);
	free(sent);
}

/* As `crossroads directory import` reads a file: line by line. */
static void
check_import(const char *text, size_t len, const char *institution)
{
	struct cr_dir_import im;
	struct cr_dir_entry e;
	struct cr_dir_error err;
	const char *p = text, *end = text + len, *nl;
	char *line, why[256], *sent;
	int first = 1, rc;

	memset(&im, 0, sizeof(im));
	im.institution = institution;
	for (; p < end; p = nl) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl != NULL ? nl + 1 : end;
		line = fuzz_strndup(p, (size_t)(nl - p));
		if (first) {
			first = 0;
			why[0] = '\0';
			rc = cr_directory_import_header(&im, line, why,
			    sizeof(why));
			if (rc == -1)
				FUZZ_CHECK(why[0] != '\0');
			FUZZ_CHECK(rc == (im.csv ? 0 : 1) || rc == -1);
			if (rc != 1) {
				free(line);
				if (rc == -1)
					return;
				continue;
			}
		}
		if (strspn(line, " \t\r\n") == strlen(line)) {
			free(line);
			continue;
		}
		sent = im.csv ? NULL : sent_subject(line, strlen(line));
		memset(&err, 0, sizeof(err));
		if (cr_directory_import_line(&hub, &im, line, &e, &err) == -1)
			check_rejected(&err);
		else
			check_accepted(&e, sent);
		free(sent);
		free(line);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	check_record(text, size, "RN");
	check_record(text, size, NULL);
	check_import(text, size, NULL);
	check_import(text, size, "ONEM");
	return 0;
}
