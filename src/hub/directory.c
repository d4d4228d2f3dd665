#include <stdio.h>
#include <string.h>

#include "directory.h"
#include "jsonv.h"
#include "util.h"

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
