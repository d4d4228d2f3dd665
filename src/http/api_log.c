/* Exchange log queries: who consulted what about whom, when and why. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "directory.h"
#include "util.h"

#define LOG_LIMIT_DEFAULT	100
#define LOG_LIMIT_MAX		1000

void
cr_api_log_query(struct cr_req *req)
{
	struct cr_store *st = req->hub->store;
	struct cr_xlog_filter f;
	struct cr_xlog_entry *entries = NULL;
	char subject[CR_SUBJECT_RAW_MAX];
	const char *s, *v;
	unsigned long long n;
	json_t *list;
	size_t i, count;

	if (cr_http_require_operator(req) == -1)
		return;
	memset(&f, 0, sizeof(f));
	f.limit = LOG_LIMIT_DEFAULT;
	if ((s = cr_http_query(req, "subject")) == NULL || *s == '\0') {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'subject' is required");
		return;
	}
	/* Refused attempts are logged with the subject as sent: text, at
	   most as long as a consultation accepts. */
	if (!cr_util_utf8_text(s) || strlen(s) >= sizeof(subject)) {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'subject' must be UTF-8 text of at most %zu bytes",
		    sizeof(subject) - 1);
		return;
	}
	if (cr_directory_subject(req->hub, s, subject, sizeof(subject)) == -1)
		cr_util_strlcpy(subject, s, sizeof(subject));
	f.subject = subject;
	f.consumer = cr_http_query(req, "consumer");
	if (f.consumer != NULL && !cr_util_utf8_text(f.consumer)) {
		cr_http_error(req, 400, "BAD_REQUEST", "query parameter "
		    "'consumer' must be UTF-8 text");
		return;
	}
	if ((v = cr_http_query(req, "limit")) != NULL) {
		if (cr_util_parse_ull(v, 1, LOG_LIMIT_MAX, &n) == -1) {
			cr_http_error(req, 400, "BAD_REQUEST", "limit must be "
			    "a number from 1 to %d", LOG_LIMIT_MAX);
			return;
		}
		f.limit = (int)n;
	}
	if ((v = cr_http_query(req, "before")) != NULL) {
		if (cr_util_parse_ull(v, 1, ~0ULL >> 1, &n) == -1) {
			cr_http_error(req, 400, "BAD_REQUEST", "before must be "
			    "a sequence number");
			return;
		}
		f.before_seq = n;
	}
	if ((entries = calloc((size_t)f.limit, sizeof(*entries))) == NULL) {
		cr_http_error(req, 500, "INTERNAL", "out of memory");
		return;
	}
	count = (size_t)f.limit;
	if (st->xlog->ops->xlog_query(st->xlog,
	    &f, entries, &count) != CR_STORE_OK) {
		cr_http_storage_error(req);
		goto out;
	}
	list = json_array();
	for (i = 0; i < count; i++)
		json_array_append_new(list, cr_xlog_entry_json(&entries[i]));
	cr_http_reply_json(req, 200, json_pack("{s:o}", "entries", list));
out:
	free(entries);
}
