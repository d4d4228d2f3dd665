/*
 * SQLite backend, bundles of services and rules for verifications: a
 * definition is kept as the JSON text the API validated, so that the rule
 * language can grow without schema changes.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite_int.h"

static json_t *
col_definition(sqlite3_stmt *s)
{
	const char *v = (const char *)sqlite3_column_text(s, 0);
	json_error_t jerr;
	json_t *j;

	if (v == NULL || (j = json_loads(v, 0, &jerr)) == NULL) {
		log_warnx("store: bad JSON in bundles.definition: %s",
		    v == NULL ? "NULL" : jerr.text);
		return NULL;
	}
	return j;
}

int
cr_sqlite_bundle_add(struct cr_batch_store *base, const char *id,
    const json_t *def)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	char *txt;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_BUNDLE_ADD)) == NULL)
		return CR_STORE_ERR;
	if ((txt = json_dumps(def, JSON_COMPACT)) == NULL) {
		log_warnx("store: cannot encode bundle %s", id);
		return CR_STORE_ERR;
	}
	if (BIND_TEXT(s, 1, id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, txt) != SQLITE_OK) {
		cr_sqlite_done(s);
		rc = cr_sqlite_err(c, "bundle_add");
	} else
		rc = cr_sqlite_step_write(c, s, "bundle_add");
	free(txt);
	return rc;
}

int
cr_sqlite_bundle_get(struct cr_batch_store *base, const char *id, json_t **def)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	*def = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_BUNDLE_GET)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, id) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "bundle_get");
	}
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		rc = (*def = col_definition(s)) != NULL ? CR_STORE_OK :
		    CR_STORE_ERR;
		break;
	case SQLITE_DONE:
		rc = CR_STORE_NOTFOUND;
		break;
	default:
		rc = cr_sqlite_err(c, "bundle_get");
	}
	cr_sqlite_done(s);
	return rc;
}

int
cr_sqlite_bundle_list(struct cr_batch_store *base, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	json_t *list, *d;
	int rc = CR_STORE_ERR, step;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_BUNDLE_LIST)) == NULL)
		return CR_STORE_ERR;
	if ((list = json_array()) == NULL)
		goto out;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((d = col_definition(s)) == NULL ||
		    json_array_append_new(list, d) == -1)
			goto out;
	}
	if (step != SQLITE_DONE) {
		cr_sqlite_err(c, "bundle_list");
		goto out;
	}
	*out = list;
	list = NULL;
	rc = CR_STORE_OK;
out:
	cr_sqlite_done(s);
	json_decref(list);
	return rc;
}
