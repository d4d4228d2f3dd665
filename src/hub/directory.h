/*
 * Reference-directory records as they arrive (HTTP body, NDJSON line,
 * CSV row of `crossroads directory import`): parsing and validation shared
 * by every way in.
 */
#ifndef CR_DIRECTORY_H
#define CR_DIRECTORY_H

#include <stddef.h>
#include <jansson.h>

#include "hub.h"
#include "store.h"

struct cr_dir_error {
	int	status;			/* 400 */
	char	code[32];		/* BAD_REQUEST, INVALID_SUBJECT */
	char	message[256];
};

/* Normalizes a person (or enterprise) identifier; 0 or -1. */
int	cr_directory_subject(const struct cr_hub *, const char *in, char *out,
	    size_t outlen);

/*
 * Parses one JSON record {"subject","capacity","from","to"} (plus
 * "institution" when institution is NULL, as in operator imports) into *e.
 * A missing "from" means today. 0, or -1 with *err set.
 */
int	cr_directory_parse_record(const struct cr_hub *, const char *json,
	    size_t len, const char *institution, struct cr_dir_entry *e,
	    struct cr_dir_error *err);

/* Validates and completes an entry whose strings are already set. */
int	cr_directory_check_entry(const struct cr_hub *, struct cr_dir_entry *e,
	    struct cr_dir_error *err);

/* {"subject","institution","capacity","from","to"}; sector when given. */
json_t	*cr_directory_entry_json(const struct cr_dir_entry *,
	    const char *sector);

#endif
