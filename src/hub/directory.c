#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "jsonv.h"
#include "util.h"
#include "xlog.h"

static const struct cr_jsonv_field record_spec[] = {
	{ "subject", CR_JV_STRING, 1, CR_SUBJECT_RAW_MAX - 1, 0, 0 },
	{ "capacity", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "from", CR_JV_DATE, 0, 0, 0, 0 },
	{ "to", CR_JV_DATE_OR_NULL, 0, 0, 0, 0 },
	CR_JSONV_END
};

static const struct cr_jsonv_field import_spec[] = {
	{ "subject", CR_JV_STRING, 1, CR_SUBJECT_RAW_MAX - 1, 0, 0 },
	{ "capacity", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "from", CR_JV_DATE, 0, 0, 0, 0 },
	{ "to", CR_JV_DATE_OR_NULL, 0, 0, 0, 0 },
	{ "institution", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	CR_JSONV_END
};

static int
dir_error(struct cr_dir_error *err, const char *code, const char *msg)
{
	err->status = 400;
	cr_util_strlcpy(err->code, code, sizeof(err->code));
	/* Messages quote what was sent: text only (JSON strings). */
	cr_util_utf8_copy(err->message, sizeof(err->message), msg);
	return -1;
}

int
cr_directory_subject(const struct cr_hub *hub, const char *in, char *out,
    size_t outlen)
{
	if (in == NULL)
		return -1;
	if (cr_ident_normalize(hub->person_scheme, in, out, outlen) == 0)
		return 0;
	return cr_ident_normalize(hub->enterprise_scheme, in, out, outlen);
}

int
cr_directory_check_entry(const struct cr_hub *hub, struct cr_dir_entry *e,
    struct cr_dir_error *err)
{
	char subject[CR_SUBJECT_MAX], msg[256];

	if (cr_directory_subject(hub, e->subject, subject, sizeof(subject))
	    == -1) {
		snprintf(msg, sizeof(msg), "'%s' is not a valid identifier",
		    e->subject);
		return dir_error(err, "INVALID_SUBJECT", msg);
	}
	cr_util_strlcpy(e->subject, subject, sizeof(e->subject));
	if (e->capacity[0] == '\0')
		return dir_error(err, "BAD_REQUEST", "capacity is required");
	/* JSON answers show the record: a CSV line may hold any bytes. */
	if (!cr_util_utf8_text(e->capacity) ||
	    !cr_util_utf8_text(e->institution))
		return dir_error(err, "BAD_REQUEST", "capacity and "
		    "institution must be UTF-8 text");
	if (e->from[0] == '\0')
		cr_date_today(e->from);
	else if (cr_date_valid(e->from) == -1)
		return dir_error(err, "BAD_REQUEST", "from: expected a date "
		    "YYYY-MM-DD");
	if (e->to[0] != '\0' && cr_date_valid(e->to) == -1)
		return dir_error(err, "BAD_REQUEST", "to: expected a date "
		    "YYYY-MM-DD");
	if (e->to[0] != '\0' && strcmp(e->to, e->from) < 0)
		return dir_error(err, "BAD_REQUEST", "to is before from");
	return 0;
}

int
cr_directory_parse_record(const struct cr_hub *hub, const char *json,
    size_t len, const char *institution, struct cr_dir_entry *e,
    struct cr_dir_error *err)
{
	char msg[256];
	json_t *o = NULL;
	const char *s;
	int rc = -1;

	memset(e, 0, sizeof(*e));
	if (cr_jsonv_parse_object(json, len, &o, msg, sizeof(msg)) == -1 ||
	    cr_jsonv_check(o, institution ? record_spec : import_spec, msg,
	    sizeof(msg)) == -1) {
		dir_error(err, "BAD_REQUEST", msg);
		goto out;
	}
	/* Normalized from the subject whole: a copy cut to e->subject first
	   could leave a valid identifier of someone else. */
	s = json_string_value(json_object_get(o, "subject"));
	if (cr_directory_subject(hub, s, e->subject, sizeof(e->subject))
	    == -1) {
		snprintf(msg, sizeof(msg), "'%s' is not a valid identifier", s);
		dir_error(err, "INVALID_SUBJECT", msg);
		goto out;
	}
	cr_util_strlcpy(e->capacity, json_string_value(json_object_get(o,
	    "capacity")), sizeof(e->capacity));
	cr_util_strlcpy(e->institution, institution ? institution :
	    json_string_value(json_object_get(o, "institution")),
	    sizeof(e->institution));
	if ((s = json_string_value(json_object_get(o, "from"))) != NULL)
		cr_util_strlcpy(e->from, s, sizeof(e->from));
	if ((s = json_string_value(json_object_get(o, "to"))) != NULL)
		cr_util_strlcpy(e->to, s, sizeof(e->to));
	rc = cr_directory_check_entry(hub, e, err);
out:
	json_decref(o);
	return rc;
}

static const char *const import_cols[CR_DIR_NCOLS] = {
	"subject", "capacity", "from", "to", "institution"
};

/* Splits a CSV line in place (no quoting: identifiers and dates only). */
static int
csv_split(char *line, char **fields, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		fields[n++] = line;
		if ((line = strchr(line, ',')) == NULL)
			break;
		*line++ = '\0';
	}
	return line == NULL ? n : -1;
}

int
cr_directory_import_header(struct cr_dir_import *im, char *line, char *err,
    size_t errlen)
{
	char *fields[16];
	int n, i, j;

	for (j = 0; j < CR_DIR_NCOLS; j++)
		im->col[j] = -1;
	if ((im->csv = line[0] != '{') == 0)
		return 1;
	if ((n = csv_split(line, fields, 16)) < 0) {
		snprintf(err, errlen, "the CSV header has more than 16 "
		    "columns");
		return -1;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < CR_DIR_NCOLS; j++)
			if (strcmp(fields[i], import_cols[j]) == 0)
				im->col[j] = i;
	if (im->col[CR_DIR_COL_SUBJECT] < 0 ||
	    im->col[CR_DIR_COL_CAPACITY] < 0) {
		snprintf(err, errlen, "the CSV header must name at least "
		    "subject and capacity");
		return -1;
	}
	if (im->col[CR_DIR_COL_INSTITUTION] < 0 && im->institution == NULL) {
		snprintf(err, errlen, "no institution column: give "
		    "--institution");
		return -1;
	}
	return 0;
}

static int
import_csv(const struct cr_hub *hub, const struct cr_dir_import *im,
    char *line, struct cr_dir_entry *e, struct cr_dir_error *err)
{
	char *fields[16];
	const char *v[CR_DIR_NCOLS];
	int n, j;

	if ((n = csv_split(line, fields, 16)) < 0)
		return dir_error(err, "BAD_REQUEST", "too many columns");
	for (j = 0; j < CR_DIR_NCOLS; j++)
		v[j] = im->col[j] >= 0 && im->col[j] < n ?
		    fields[im->col[j]] : "";
	if (strlen(v[CR_DIR_COL_SUBJECT]) >= sizeof(e->subject) ||
	    strlen(v[CR_DIR_COL_CAPACITY]) >= sizeof(e->capacity) ||
	    strlen(v[CR_DIR_COL_FROM]) >= sizeof(e->from) ||
	    strlen(v[CR_DIR_COL_TO]) >= sizeof(e->to) ||
	    strlen(v[CR_DIR_COL_INSTITUTION]) >= sizeof(e->institution))
		return dir_error(err, "BAD_REQUEST", "a field is too long");
	cr_util_strlcpy(e->subject, v[CR_DIR_COL_SUBJECT], sizeof(e->subject));
	cr_util_strlcpy(e->capacity, v[CR_DIR_COL_CAPACITY],
	    sizeof(e->capacity));
	cr_util_strlcpy(e->from, v[CR_DIR_COL_FROM], sizeof(e->from));
	cr_util_strlcpy(e->to, v[CR_DIR_COL_TO], sizeof(e->to));
	cr_util_strlcpy(e->institution, *v[CR_DIR_COL_INSTITUTION] ?
	    v[CR_DIR_COL_INSTITUTION] : (im->institution ? im->institution :
	    ""), sizeof(e->institution));
	return cr_directory_check_entry(hub, e, err);
}

static int
import_ndjson(const struct cr_hub *hub, const struct cr_dir_import *im,
    const char *line, struct cr_dir_entry *e, struct cr_dir_error *err)
{
	char *copy = NULL;
	json_t *o;
	json_error_t jerr;
	int rc;

	/* An institution in the record overrides the default. */
	o = json_loads(line, 0, &jerr);
	if (o != NULL && json_object_get(o, "institution") == NULL &&
	    im->institution != NULL) {
		json_object_set_new(o, "institution",
		    json_string(im->institution));
		copy = json_dumps(o, JSON_COMPACT);
	}
	json_decref(o);
	rc = cr_directory_parse_record(hub, copy ? copy : line,
	    strlen(copy ? copy : line), NULL, e, err);
	free(copy);
	return rc;
}

int
cr_directory_import_line(const struct cr_hub *hub,
    const struct cr_dir_import *im, char *line, struct cr_dir_entry *e,
    struct cr_dir_error *err)
{
	memset(e, 0, sizeof(*e));
	return im->csv ? import_csv(hub, im, line, e, err) :
	    import_ndjson(hub, im, line, e, err);
}

json_t *
cr_directory_entry_json(const struct cr_dir_entry *e, const char *sector)
{
	json_t *j;

	j = json_pack("{s:s,s:s,s:s,s:s,s:s?}", "subject", e->subject,
	    "institution", e->institution, "capacity", e->capacity, "from",
	    e->from, "to", e->to[0] ? e->to : NULL);
	if (j != NULL && sector != NULL)
		json_object_set_new(j, "sector", json_string(sector));
	return j;
}

static int
list_has(const json_t *list, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

int
cr_directory_capacity_allowed(struct cr_store *st, const char *institution,
    const char *capacity, struct cr_dir_error *err)
{
	struct cr_capacity cap;
	struct cr_institution in;
	char msg[256];
	int rc, ok;

	memset(&cap, 0, sizeof(cap));
	rc = st->registry->ops->capacity_get(st->registry, capacity, &cap);
	if (rc == CR_STORE_NOTFOUND) {
		snprintf(msg, sizeof(msg), "capacity '%s' is not in the "
		    "catalogue (GET /v1/capacities)", capacity);
		goto refused;
	}
	if (rc != CR_STORE_OK)
		goto storage;
	if (list_has(cap.institutions, institution)) {
		cr_capacity_clear(&cap);
		return 0;
	}
	rc = st->registry->ops->institution_get(st->registry, institution,
	    &in);
	if (rc != CR_STORE_OK && rc != CR_STORE_NOTFOUND) {
		cr_capacity_clear(&cap);
		goto storage;
	}
	ok = rc == CR_STORE_OK && list_has(cap.sectors, in.sector);
	cr_capacity_clear(&cap);
	if (ok)
		return 0;
	snprintf(msg, sizeof(msg), "institution '%s' (sector '%s') may not "
	    "declare capacity '%s'", institution, rc == CR_STORE_OK ?
	    in.sector : "", capacity);
refused:
	err->status = 403;
	cr_util_strlcpy(err->code, "CAPACITY_NOT_ALLOWED", sizeof(err->code));
	cr_util_utf8_copy(err->message, sizeof(err->message), msg);
	return -1;
storage:
	err->status = 500;
	cr_util_strlcpy(err->code, "INTERNAL", sizeof(err->code));
	cr_util_strlcpy(err->message, "storage error", sizeof(err->message));
	return -1;
}

void
cr_directory_log_entry(struct cr_xlog_entry *le, const char *action,
    const struct cr_dir_entry *e, const char *request_id, const char *client,
    const char *end_user, const char *outcome, int status, const char *code)
{
	int end = strcmp(action, CR_DIR_LOG_END) == 0;
	json_t *p;

	memset(le, 0, sizeof(*le));
	cr_util_now_rfc3339(le->ts);
	cr_util_strlcpy(le->request_id, request_id, sizeof(le->request_id));
	cr_util_strlcpy(le->consumer, e->institution, sizeof(le->consumer));
	cr_util_strlcpy(le->client, client, sizeof(le->client));
	cr_util_strlcpy(le->end_user, end_user ? end_user : "",
	    sizeof(le->end_user));
	cr_util_strlcpy(le->service, action, sizeof(le->service));
	cr_util_strlcpy(le->subject, e->subject, sizeof(le->subject));
	cr_util_strlcpy(le->purpose, CR_DIR_LOG_PURPOSE, sizeof(le->purpose));
	cr_util_strlcpy(le->outcome, outcome, sizeof(le->outcome));
	le->status = status;
	cr_util_strlcpy(le->error_code, code ? code : "",
	    sizeof(le->error_code));
	/* What was declared, hashed with the entry: capacity and period. */
	if (end)
		p = json_pack("{s:s,s:s}", "capacity", e->capacity, "to",
		    e->to);
	else
		p = json_pack("{s:s,s:s,s:s?}", "capacity", e->capacity,
		    "from", e->from, "to", e->to[0] ? e->to : NULL);
	if (p != NULL && json_object_get(p, "to") == NULL)
		json_object_set_new(p, "to", json_null());
	/* A capacity is at most 63 bytes: the text always fits params. */
	cr_xlog_params(p, le->params, sizeof(le->params));
	json_decref(p);
}
