/*
 * SQLite backend, the registry: institutions and their client
 * applications, services, authorizations. Small tables, written by the
 * operator, read on every request.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite_int.h"
#include "util.h"

static const char empty_array[] = "[]";

/* A JSON array column; NULL (logged) when it does not parse. */
static json_t *
col_json(sqlite3_stmt *s, int i)
{
	const char *v = (const char *)sqlite3_column_text(s, i);
	json_error_t jerr;
	json_t *j;

	if (v == NULL)
		return json_array();
	if ((j = json_loads(v, 0, &jerr)) == NULL)
		log_warnx("store: bad JSON in column %s: %s",
		    sqlite3_column_name(s, i), jerr.text);
	return j;
}

/* Compact JSON text of an array (NULL: empty), for binding; free() it. */
static char *
dump_json(const json_t *j)
{
	char *txt;

	if (j == NULL)
		return strdup(empty_array);
	if ((txt = json_dumps(j, JSON_COMPACT)) == NULL)
		log_warnx("store: cannot encode JSON");
	return txt;
}

/*
 * Institutions and clients.
 */

static int
sq_institution_add(struct cr_registry_store *base,
    const struct cr_institution *in)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_INST_ADD)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, in->id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, in->name) != SQLITE_OK ||
	    BIND_TEXT(s, 3, in->sector) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "institution_add");
	}
	return cr_sqlite_step_write(c, s, "institution_add");
}

static int
institution_fill(sqlite3_stmt *s, void *arg)
{
	struct cr_institution *out = arg;

	memset(out, 0, sizeof(*out));
	cr_sqlite_col_str(s, 0, out->id, sizeof(out->id));
	cr_sqlite_col_str(s, 1, out->name, sizeof(out->name));
	cr_sqlite_col_str(s, 2, out->sector, sizeof(out->sector));
	return CR_STORE_OK;
}

static int
sq_institution_get(struct cr_registry_store *base, const char *id,
    struct cr_institution *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_INST_GET)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, BIND_TEXT(s, 1, id) == SQLITE_OK,
	    institution_fill, out, "institution_get");
}

static json_t *
institution_row(sqlite3_stmt *s)
{
	return json_pack("{s:s, s:s, s:s}",
	    "id", (const char *)sqlite3_column_text(s, 0),
	    "name", (const char *)sqlite3_column_text(s, 1),
	    "sector", (const char *)sqlite3_column_text(s, 2));
}

static int
sq_institution_list(struct cr_registry_store *base, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_INST_LIST)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_list_rows(c, s, institution_row, "institution_list", out);
}

/* "" is NULL: a setting not made. */
static int
bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	return v[0] != '\0' ? BIND_TEXT(s, i, v) : sqlite3_bind_null(s, i);
}

static int
sq_client_add(struct cr_registry_store *base, const struct cr_client *cl,
    const uint8_t token_hash[CR_HASH_LEN])
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_CLIENT_ADD)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, cl->id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, cl->institution) != SQLITE_OK ||
	    BIND_TEXT(s, 3, cl->name) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 4, token_hash, CR_HASH_LEN, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    bind_text_or_null(s, 5, cl->cert_sha256) != SQLITE_OK ||
	    (cl->expires_ms > 0 ? sqlite3_bind_int64(s, 6,
	    cl->expires_ms) : sqlite3_bind_null(s, 6)) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "client_add");
	}
	return cr_sqlite_step_write(c, s, "client_add");
}

static int
client_fill(sqlite3_stmt *s, void *arg)
{
	struct cr_client *out = arg;

	memset(out, 0, sizeof(*out));
	cr_sqlite_col_str(s, 0, out->id, sizeof(out->id));
	cr_sqlite_col_str(s, 1, out->institution, sizeof(out->institution));
	cr_sqlite_col_str(s, 2, out->name, sizeof(out->name));
	out->expires_ms = sqlite3_column_int64(s, 3);
	cr_sqlite_col_str(s, 4, out->cert_sha256, sizeof(out->cert_sha256));
	return CR_STORE_OK;
}

static int
sq_client_by_token(struct cr_registry_store *base,
    const uint8_t token_hash[CR_HASH_LEN], int64_t now_ms,
    struct cr_client *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_CLIENT_BY_TOKEN)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, sqlite3_bind_blob(s, 1, token_hash,
	    CR_HASH_LEN, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 2, now_ms) == SQLITE_OK,
	    client_fill, out, "client_by_token");
}

/* Checked against the wall clock here: revoked or expired, no one. */
static int
sq_client_by_cert(struct cr_registry_store *base, const char *cert_sha256,
    struct cr_client *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_CLIENT_BY_CERT)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, BIND_TEXT(s, 1, cert_sha256) ==
	    SQLITE_OK && sqlite3_bind_int64(s, 2, cr_util_wall_ms()) ==
	    SQLITE_OK, client_fill, out, "client_by_cert");
}

/* An integer column as JSON, null when NULL. */
static json_t *
col_int_or_null(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(s, i));
}

static json_t *
client_row(sqlite3_stmt *s)
{
	char hex[2 * CR_HASH_LEN + 1], prev[2 * CR_HASH_LEN + 1];
	int has_prev;

	if (sqlite3_column_bytes(s, 3) != CR_HASH_LEN)
		return NULL;
	cr_util_hex(sqlite3_column_blob(s, 3), CR_HASH_LEN, hex);
	if ((has_prev = sqlite3_column_bytes(s, 5) == CR_HASH_LEN))
		cr_util_hex(sqlite3_column_blob(s, 5), CR_HASH_LEN, prev);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:o,"
	    " s:s?}",
	    "id", (const char *)sqlite3_column_text(s, 0),
	    "institution", (const char *)sqlite3_column_text(s, 1),
	    "name", (const char *)sqlite3_column_text(s, 2),
	    "token_hash", hex,
	    "created_at", (const char *)sqlite3_column_text(s, 4),
	    "prev_token_hash", has_prev ? prev : NULL,
	    "prev_valid_until_ms", col_int_or_null(s, 6),
	    "expires_ms", col_int_or_null(s, 7),
	    "revoked_ms", col_int_or_null(s, 8),
	    "last_used_ms", col_int_or_null(s, 9),
	    "cert_sha256", (const char *)sqlite3_column_text(s, 10));
}

static int
sq_client_list(struct cr_registry_store *base, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_CLIENT_LIST)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_list_rows(c, s, client_row, "client_list", out);
}

static int
sq_client_revoke(struct cr_registry_store *base, const char *institution,
    const char *id, int64_t now_ms)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_CLIENT_REVOKE)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, institution) != SQLITE_OK ||
	    BIND_TEXT(s, 2, id) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, now_ms) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "client_revoke");
	}
	if ((rc = cr_sqlite_step_write(c, s, "client_revoke")) == CR_STORE_OK &&
	    sqlite3_changes(c->db) == 0)
		rc = CR_STORE_NOTFOUND;
	return rc;
}

static int
sq_client_rotate(struct cr_registry_store *base, const char *institution,
    const char *id, const uint8_t new_hash[CR_HASH_LEN],
    int64_t prev_valid_until_ms)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_CLIENT_ROTATE)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, institution) != SQLITE_OK ||
	    BIND_TEXT(s, 2, id) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 3, new_hash, CR_HASH_LEN, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, prev_valid_until_ms) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "client_rotate");
	}
	if ((rc = cr_sqlite_step_write(c, s, "client_rotate")) == CR_STORE_OK &&
	    sqlite3_changes(c->db) == 0)
		rc = CR_STORE_NOTFOUND;
	return rc;
}

static int
sq_clients_touch(struct cr_registry_store *base,
    const struct cr_client_use *u, size_t n)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	size_t i;

	if (n == 0)
		return CR_STORE_OK;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_CLIENT_TOUCH)) == NULL ||
	    cr_sqlite_begin(c) != CR_STORE_OK)
		return CR_STORE_ERR;
	for (i = 0; i < n; i++) {
		if (BIND_TEXT(s, 1, u[i].id) != SQLITE_OK ||
		    sqlite3_bind_int64(s, 2, u[i].used_ms) != SQLITE_OK) {
			int rc = cr_sqlite_err(c, "clients_touch");

			cr_sqlite_done(s);
			cr_sqlite_rollback(c);
			return rc;
		}
		if (cr_sqlite_step_done(c, s, "clients_touch") != CR_STORE_OK) {
			cr_sqlite_rollback(c);
			return CR_STORE_ERR;
		}
	}
	return cr_sqlite_commit(c);
}

/*
 * Named operators.
 */

static int
sq_operator_add(struct cr_registry_store *base, const struct cr_operator *op,
    const uint8_t token_hash[CR_HASH_LEN])
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_OP_ADD)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, op->id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, op->name) != SQLITE_OK ||
	    BIND_TEXT(s, 3, op->role) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 4, token_hash, CR_HASH_LEN, SQLITE_STATIC) !=
	    SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "operator_add");
	}
	return cr_sqlite_step_write(c, s, "operator_add");
}

static int
operator_fill(sqlite3_stmt *s, void *arg)
{
	struct cr_operator *out = arg;

	memset(out, 0, sizeof(*out));
	cr_sqlite_col_str(s, 0, out->id, sizeof(out->id));
	cr_sqlite_col_str(s, 1, out->name, sizeof(out->name));
	cr_sqlite_col_str(s, 2, out->role, sizeof(out->role));
	return CR_STORE_OK;
}

static int
sq_operator_by_token(struct cr_registry_store *base,
    const uint8_t token_hash[CR_HASH_LEN], struct cr_operator *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_OP_BY_TOKEN)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, sqlite3_bind_blob(s, 1, token_hash,
	    CR_HASH_LEN, SQLITE_STATIC) == SQLITE_OK,
	    operator_fill, out, "operator_by_token");
}

static json_t *
operator_row(sqlite3_stmt *s)
{
	char hex[2 * CR_HASH_LEN + 1];

	if (sqlite3_column_bytes(s, 4) != CR_HASH_LEN)
		return NULL;
	cr_util_hex(sqlite3_column_blob(s, 4), CR_HASH_LEN, hex);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
	    "id", (const char *)sqlite3_column_text(s, 0),
	    "name", (const char *)sqlite3_column_text(s, 1),
	    "role", (const char *)sqlite3_column_text(s, 2),
	    "created_at", (const char *)sqlite3_column_text(s, 3),
	    "token_hash", hex,
	    "revoked_ms", col_int_or_null(s, 5));
}

static int
sq_operator_list(struct cr_registry_store *base, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_OP_LIST)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_list_rows(c, s, operator_row, "operator_list", out);
}

static int
sq_operator_revoke(struct cr_registry_store *base, const char *id,
    int64_t now_ms)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_OP_REVOKE)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, now_ms) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "operator_revoke");
	}
	if ((rc = cr_sqlite_step_write(c, s, "operator_revoke")) ==
	    CR_STORE_OK && sqlite3_changes(c->db) == 0)
		rc = CR_STORE_NOTFOUND;
	return rc;
}

static int
sq_operator_rotate(struct cr_registry_store *base, const char *id,
    const uint8_t new_hash[CR_HASH_LEN])
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_OP_ROTATE)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, id) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 2, new_hash, CR_HASH_LEN, SQLITE_STATIC) !=
	    SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "operator_rotate");
	}
	if ((rc = cr_sqlite_step_write(c, s, "operator_rotate")) ==
	    CR_STORE_OK && sqlite3_changes(c->db) == 0)
		rc = CR_STORE_NOTFOUND;
	return rc;
}

static int
sq_registry_version(struct cr_registry_store *base, uint64_t *version)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_REG_VERSION)) == NULL)
		return CR_STORE_ERR;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*version = (uint64_t)sqlite3_column_int64(s, 0);
		rc = CR_STORE_OK;
	} else
		rc = cr_sqlite_err(c, "registry_version");
	cr_sqlite_done(s);
	return rc;
}

/*
 * Services.
 */

static int
sq_service_add(struct cr_registry_store *base, const struct cr_service *svc)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	char *fields = NULL, *params = NULL;
	int rc = CR_STORE_ERR;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_SVC_ADD)) == NULL)
		return CR_STORE_ERR;
	if ((fields = dump_json(svc->fields)) == NULL ||
	    (params = dump_json(svc->params)) == NULL)
		goto out;
	if (BIND_TEXT(s, 1, svc->id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, svc->provider) != SQLITE_OK ||
	    BIND_TEXT(s, 3, svc->endpoint) != SQLITE_OK ||
	    BIND_TEXT(s, 4, svc->subject_kind) != SQLITE_OK ||
	    BIND_TEXT(s, 5, fields) != SQLITE_OK ||
	    sqlite3_bind_int(s, 6, svc->timeout_ms) != SQLITE_OK ||
	    BIND_TEXT(s, 7, params) != SQLITE_OK ||
	    bind_text_or_null(s, 8, svc->ca_file) != SQLITE_OK ||
	    bind_text_or_null(s, 9, svc->client_cert) != SQLITE_OK ||
	    bind_text_or_null(s, 10, svc->client_key) != SQLITE_OK) {
		cr_sqlite_done(s);
		rc = cr_sqlite_err(c, "service_add");
	} else
		rc = cr_sqlite_step_write(c, s, "service_add");
 out:
	free(fields);
	free(params);
	return rc;
}

static int
service_fill(sqlite3_stmt *s, void *arg)
{
	static const size_t pathlen = sizeof(((struct cr_service *)0)->ca_file);
	struct cr_service *out = arg;

	memset(out, 0, sizeof(*out));
	cr_sqlite_col_str(s, 0, out->id, sizeof(out->id));
	cr_sqlite_col_str(s, 1, out->provider, sizeof(out->provider));
	cr_sqlite_col_str(s, 2, out->endpoint, sizeof(out->endpoint));
	cr_sqlite_col_str(s, 3, out->subject_kind, sizeof(out->subject_kind));
	out->timeout_ms = sqlite3_column_int(s, 5);
	out->fields = col_json(s, 4);
	out->params = col_json(s, 6);
	cr_sqlite_col_str(s, 7, out->ca_file, pathlen);
	cr_sqlite_col_str(s, 8, out->client_cert, pathlen);
	cr_sqlite_col_str(s, 9, out->client_key, pathlen);
	if (out->fields == NULL || out->params == NULL) {
		cr_service_clear(out);
		return CR_STORE_ERR;
	}
	return CR_STORE_OK;
}

static int
sq_service_get(struct cr_registry_store *base, const char *id,
    struct cr_service *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_SVC_GET)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, BIND_TEXT(s, 1, id) == SQLITE_OK,
	    service_fill, out, "service_get");
}

static json_t *
service_row(sqlite3_stmt *s)
{
	static const char *const tls[] = { "ca_file", "client_cert",
	    "client_key" };
	json_t *fields, *params, *o;
	int i;

	if ((fields = col_json(s, 4)) == NULL)
		return NULL;
	if ((params = col_json(s, 6)) == NULL) {
		json_decref(fields);
		return NULL;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:i}",
	    "id", (const char *)sqlite3_column_text(s, 0),
	    "provider", (const char *)sqlite3_column_text(s, 1),
	    "endpoint", (const char *)sqlite3_column_text(s, 2),
	    "subject_kind", (const char *)sqlite3_column_text(s, 3),
	    "fields", fields,
	    "params", params,
	    "timeout_ms", sqlite3_column_int(s, 5));
	/* Only those set: a plain http:// service reads as before. */
	for (i = 0; o != NULL && i < 3; i++)
		if (sqlite3_column_type(s, 7 + i) == SQLITE_TEXT &&
		    json_object_set_new(o, tls[i], json_string((const char *)
		    sqlite3_column_text(s, 7 + i))) == -1) {
			json_decref(o);
			o = NULL;
		}
	return o;
}

static int
sq_service_list(struct cr_registry_store *base, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_SVC_LIST)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_list_rows(c, s, service_row, "service_list", out);
}

/*
 * Authorizations.
 */

static int
sq_authz_add(struct cr_registry_store *base, const struct cr_authz *az)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	char *fields = NULL, *caps = NULL;
	int rc = CR_STORE_ERR;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_AZ_ADD)) == NULL)
		return CR_STORE_ERR;
	if ((fields = dump_json(az->fields)) == NULL ||
	    (caps = dump_json(az->capacities)) == NULL)
		goto out;
	if (BIND_TEXT(s, 1, az->id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, az->consumer) != SQLITE_OK ||
	    BIND_TEXT(s, 3, az->service) != SQLITE_OK ||
	    BIND_TEXT(s, 4, az->purpose) != SQLITE_OK ||
	    BIND_TEXT(s, 5, az->legal_basis) != SQLITE_OK ||
	    BIND_TEXT(s, 6, fields) != SQLITE_OK ||
	    BIND_TEXT(s, 7, caps) != SQLITE_OK ||
	    BIND_TEXT(s, 8, az->valid_from) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 9, az->valid_to) != SQLITE_OK) {
		cr_sqlite_done(s);
		rc = cr_sqlite_err(c, "authz_add");
		goto out;
	}
	rc = cr_sqlite_step_write(c, s, "authz_add");
 out:
	free(fields);
	free(caps);
	return rc;
}

static int
sq_authz_delete(struct cr_registry_store *base, const char *id)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_AZ_DELETE)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, id) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "authz_delete");
	}
	if ((rc = cr_sqlite_step_write(c, s, "authz_delete")) == CR_STORE_OK &&
	    sqlite3_changes(c->db) == 0)
		rc = CR_STORE_NOTFOUND;
	return rc;
}

static int
sq_authz_update(struct cr_registry_store *base, const struct cr_authz *az)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	char *fields;
	int rc;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_AZ_UPDATE)) == NULL ||
	    (fields = dump_json(az->fields)) == NULL)
		return CR_STORE_ERR;
	if (BIND_TEXT(s, 1, az->id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, fields) != SQLITE_OK ||
	    BIND_TEXT(s, 3, az->valid_from) != SQLITE_OK ||
	    cr_sqlite_bind_opt(s, 4, az->valid_to) != SQLITE_OK) {
		cr_sqlite_done(s);
		free(fields);
		return cr_sqlite_err(c, "authz_update");
	}
	if ((rc = cr_sqlite_step_write(c, s, "authz_update")) == CR_STORE_OK &&
	    sqlite3_changes(c->db) == 0)
		rc = CR_STORE_NOTFOUND;
	free(fields);
	return rc;
}

static json_t *
authz_row(sqlite3_stmt *s)
{
	json_t *fields, *caps;

	if ((fields = col_json(s, 5)) == NULL)
		return NULL;
	if ((caps = col_json(s, 6)) == NULL) {
		json_decref(fields);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s?}",
	    "id", (const char *)sqlite3_column_text(s, 0),
	    "consumer", (const char *)sqlite3_column_text(s, 1),
	    "service", (const char *)sqlite3_column_text(s, 2),
	    "purpose", (const char *)sqlite3_column_text(s, 3),
	    "legal_basis", (const char *)sqlite3_column_text(s, 4),
	    "fields", fields,
	    "capacities", caps,
	    "valid_from", (const char *)sqlite3_column_text(s, 7),
	    "valid_to", (const char *)sqlite3_column_text(s, 8));
}

static int
sq_authz_list(struct cr_registry_store *base, const char *consumer, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, consumer != NULL ? SQ_AZ_LIST_CONSUMER :
	    SQ_AZ_LIST)) == NULL)
		return CR_STORE_ERR;
	if (consumer != NULL && BIND_TEXT(s, 1, consumer) != SQLITE_OK) {
		cr_sqlite_done(s);
		return cr_sqlite_err(c, "authz_list");
	}
	return cr_sqlite_list_rows(c, s, authz_row, "authz_list", out);
}

static int
authz_fill(sqlite3_stmt *s, void *arg)
{
	struct cr_authz *out = arg;

	memset(out, 0, sizeof(*out));
	cr_sqlite_col_str(s, 0, out->id, sizeof(out->id));
	cr_sqlite_col_str(s, 1, out->consumer, sizeof(out->consumer));
	cr_sqlite_col_str(s, 2, out->service, sizeof(out->service));
	cr_sqlite_col_str(s, 3, out->purpose, sizeof(out->purpose));
	cr_sqlite_col_str(s, 4, out->legal_basis, sizeof(out->legal_basis));
	cr_sqlite_col_str(s, 7, out->valid_from, sizeof(out->valid_from));
	cr_sqlite_col_str(s, 8, out->valid_to, sizeof(out->valid_to));
	out->fields = col_json(s, 5);
	out->capacities = col_json(s, 6);
	if (out->fields == NULL || out->capacities == NULL) {
		cr_authz_clear(out);
		return CR_STORE_ERR;
	}
	return CR_STORE_OK;
}

static int
sq_authz_find(struct cr_registry_store *base, const char *consumer,
    const char *service, const char *purpose, const char *date,
    struct cr_authz *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_AZ_FIND)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, BIND_TEXT(s, 1, consumer) == SQLITE_OK &&
	    BIND_TEXT(s, 2, service) == SQLITE_OK &&
	    BIND_TEXT(s, 3, purpose) == SQLITE_OK &&
	    BIND_TEXT(s, 4, date) == SQLITE_OK,
	    authz_fill, out, "authz_find");
}

/*
 * Capacities.
 */

static int
capacity_write(struct cr_registry_store *base, enum sq_stmt id,
    const struct cr_capacity *cap, const char *what)
{
	struct sq_conn *c;
	sqlite3_stmt *s;
	char *insts = NULL, *sectors = NULL;
	int rc = CR_STORE_ERR;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, id)) == NULL)
		return CR_STORE_ERR;
	if ((insts = dump_json(cap->institutions)) == NULL ||
	    (sectors = dump_json(cap->sectors)) == NULL)
		goto out;
	if (BIND_TEXT(s, 1, cap->id) != SQLITE_OK ||
	    BIND_TEXT(s, 2, cap->name) != SQLITE_OK ||
	    BIND_TEXT(s, 3, insts) != SQLITE_OK ||
	    BIND_TEXT(s, 4, sectors) != SQLITE_OK) {
		cr_sqlite_done(s);
		rc = cr_sqlite_err(c, what);
		goto out;
	}
	rc = cr_sqlite_step_write(c, s, what);
	if (rc == CR_STORE_OK && id == SQ_CAP_UPDATE &&
	    sqlite3_changes(c->db) == 0)
		rc = CR_STORE_NOTFOUND;
 out:
	free(insts);
	free(sectors);
	return rc;
}

static int
sq_capacity_add(struct cr_registry_store *base, const struct cr_capacity *cap)
{
	return capacity_write(base, SQ_CAP_ADD, cap, "capacity_add");
}

static int
sq_capacity_update(struct cr_registry_store *base,
    const struct cr_capacity *cap)
{
	return capacity_write(base, SQ_CAP_UPDATE, cap, "capacity_update");
}

static int
capacity_fill(sqlite3_stmt *s, void *arg)
{
	struct cr_capacity *out = arg;

	memset(out, 0, sizeof(*out));
	cr_sqlite_col_str(s, 0, out->id, sizeof(out->id));
	cr_sqlite_col_str(s, 1, out->name, sizeof(out->name));
	out->institutions = col_json(s, 2);
	out->sectors = col_json(s, 3);
	if (out->institutions == NULL || out->sectors == NULL) {
		cr_capacity_clear(out);
		return CR_STORE_ERR;
	}
	return CR_STORE_OK;
}

static int
sq_capacity_get(struct cr_registry_store *base, const char *id,
    struct cr_capacity *out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_CAP_GET)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_one_row(c, s, BIND_TEXT(s, 1, id) == SQLITE_OK,
	    capacity_fill, out, "capacity_get");
}

static json_t *
capacity_row(sqlite3_stmt *s)
{
	json_t *insts, *sectors;

	if ((insts = col_json(s, 2)) == NULL)
		return NULL;
	if ((sectors = col_json(s, 3)) == NULL) {
		json_decref(insts);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o, s:o}",
	    "id", (const char *)sqlite3_column_text(s, 0),
	    "name", (const char *)sqlite3_column_text(s, 1),
	    "institutions", insts,
	    "sectors", sectors);
}

static int
sq_capacity_list(struct cr_registry_store *base, json_t **out)
{
	struct sq_conn *c;
	sqlite3_stmt *s;

	*out = NULL;
	if ((c = cr_sqlite_conn(base)) == NULL ||
	    (s = cr_sqlite_stmt(c, SQ_CAP_LIST)) == NULL)
		return CR_STORE_ERR;
	return cr_sqlite_list_rows(c, s, capacity_row, "capacity_list", out);
}

const struct cr_registry_ops cr_sqlite_registry_ops = {
	.institution_add = sq_institution_add,
	.institution_get = sq_institution_get,
	.institution_list = sq_institution_list,
	.client_add = sq_client_add,
	.client_by_token = sq_client_by_token,
	.client_by_cert = sq_client_by_cert,
	.client_list = sq_client_list,
	.client_revoke = sq_client_revoke,
	.client_rotate = sq_client_rotate,
	.clients_touch = sq_clients_touch,
	.operator_add = sq_operator_add,
	.operator_by_token = sq_operator_by_token,
	.operator_list = sq_operator_list,
	.operator_revoke = sq_operator_revoke,
	.operator_rotate = sq_operator_rotate,
	.registry_version = sq_registry_version,
	.service_add = sq_service_add,
	.service_get = sq_service_get,
	.service_list = sq_service_list,
	.authz_add = sq_authz_add,
	.authz_delete = sq_authz_delete,
	.authz_update = sq_authz_update,
	.authz_list = sq_authz_list,
	.authz_find = sq_authz_find,
	.capacity_add = sq_capacity_add,
	.capacity_update = sq_capacity_update,
	.capacity_get = sq_capacity_get,
	.capacity_list = sq_capacity_list,
};
