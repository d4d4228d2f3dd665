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
	int	status;			/* 400, 403, 500 */
	char	code[32];		/* BAD_REQUEST, INVALID_SUBJECT,
					   CAPACITY_NOT_ALLOWED, INTERNAL */
	char	message[256];
};

/* The exchange log's names for directory changes (docs/exchange-log.md). */
#define CR_DIR_LOG_INTEGRATE	"directory.integrate"
#define CR_DIR_LOG_END		"directory.end"
#define CR_DIR_LOG_PURPOSE	"reference-directory"

/*
 * The catalogue's rule (CBSS sector rules): institution may declare
 * capacity when the capacity is in the catalogue and lists the institution
 * or its sector. A capacity the catalogue does not have is refused (deny
 * by default). 0 allowed; -1 refused with *err 403 CAPACITY_NOT_ALLOWED (or
 * 500 INTERNAL on a storage error, logged).
 */
int	cr_directory_capacity_allowed(struct cr_store *,
	    const char *institution, const char *capacity,
	    struct cr_dir_error *err);

/*
 * The exchange-log entry of a directory change: action is
 * CR_DIR_LOG_INTEGRATE or CR_DIR_LOG_END, e the record (for an end, e->to
 * is the end date and e->from is ignored), outcome and status as sent,
 * code "" when granted. The capacity and the period go in params.
 */
void	cr_directory_log_entry(struct cr_xlog_entry *le, const char *action,
	    const struct cr_dir_entry *e, const char *request_id,
	    const char *client, const char *end_user, const char *outcome,
	    int status, const char *code);

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

/*
 * Lines of a `crossroads directory import` file: NDJSON records as for
 * cr_directory_parse_record (with "institution"), or CSV whose header
 * line names the columns: subject and capacity, from, to and institution
 * optional, in any order, comma-separated, no quoting (identifiers and
 * dates only). A record's institution overrides the default one.
 */
enum {
	CR_DIR_COL_SUBJECT,
	CR_DIR_COL_CAPACITY,
	CR_DIR_COL_FROM,
	CR_DIR_COL_TO,
	CR_DIR_COL_INSTITUTION,
	CR_DIR_NCOLS
};

struct cr_dir_import {
	const char	*institution;		/* default, or NULL */
	int		 csv;
	int		 col[CR_DIR_NCOLS];	/* CSV column of each; -1 */
};

/*
 * Reads the first line of the file into *im: NDJSON when it starts with
 * '{' (returns 1: the line is a record too), else the CSV header (returns
 * 0). -1 with a message in err when the header names no subject or
 * capacity column, or no institution column without a default. Changes
 * line.
 */
int	cr_directory_import_header(struct cr_dir_import *im, char *line,
	    char *err, size_t errlen);

/*
 * One record line (not blank) of the file into *e, checked as
 * cr_directory_check_entry does. 0, or -1 with *err when the record is
 * rejected. Changes line.
 */
int	cr_directory_import_line(const struct cr_hub *,
	    const struct cr_dir_import *im, char *line, struct cr_dir_entry *e,
	    struct cr_dir_error *err);

/* {"subject","institution","capacity","from","to"}; sector when given. */
json_t	*cr_directory_entry_json(const struct cr_dir_entry *,
	    const char *sector);

#endif
