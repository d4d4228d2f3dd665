/*
 * PostgreSQL backend, the registry: institutions and their client
 * applications, operators, services, authorizations, capacities. The
 * same semantics and return codes as store_sqlite_registry.c (store.h
 * states them); the registry cache (store_cache.c) wraps it unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "store.h"
#include "store_pg_int.h"
#include "util.h"

#define HEX_LEN		(2 * CR_HASH_LEN + 1)
#define INT_LEN		24

static const char empty_array[] = "[]";

/* Decimal text of v for binding; buf has INT_LEN bytes. */
static const char *
int_text(char *buf, int64_t v)
{
	snprintf(buf, INT_LEN, "%lld", (long long)v);
	return buf;
}

/* "" is NULL: a setting not made. */
static const char *
or_null(const char *v)
{
	return v[0] != '\0' ? v : NULL;
}

static void
col_str(const PGresult *res, int row, int col, char *dst, size_t size)
{
	const char *v = cr_pg_val(res, row, col);

	cr_util_strlcpy(dst, v != NULL ? v : "", size);
}

static int64_t
col_int(const PGresult *res, int row, int col)
{
	const char *v = cr_pg_val(res, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

static json_t *
col_int_or_null(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	return json_integer(col_int(res, row, col));
}

/* A JSON array column; NULL (logged) when it does not parse. */
static json_t *
col_json(const PGresult *res, int row, int col)
{
	const char *v = cr_pg_val(res, row, col);
	json_error_t jerr;
	json_t *j;

	if (v == NULL)
		return json_array();
	if ((j = json_loads(v, 0, &jerr)) == NULL)
		log_warnx("store: bad JSON in column %s: %s",
		    PQfname(res, col), jerr.text);
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

/* A write that must change one row: NOTFOUND when it changed none. */
static int
write_one(struct cr_registry_store *base, enum pg_stmt id, int n,
    const char *const *p, const char *what)
{
	struct pg_conn *c;
	long changes;
	int rc;

	if ((c = cr_pg_conn(base)) == NULL)
		return CR_STORE_ERR;
	if ((rc = cr_pg_exec(c, id, n, p, NULL, &changes, what)) ==
	    CR_STORE_OK && changes == 0)
		rc = CR_STORE_NOTFOUND;
	return rc;
}

static int
write_any(struct cr_registry_store *base, enum pg_stmt id, int n,
    const char *const *p, const char *what)
{
	struct pg_conn *c;

	if ((c = cr_pg_conn(base)) == NULL)
		return CR_STORE_ERR;
	return cr_pg_exec(c, id, n, p, NULL, NULL, what);
}

static int
one_row(struct cr_registry_store *base, enum pg_stmt id, int n,
    const char *const *p, int (*fill)(const PGresult *, void *), void *arg,
    const char *what)
{
	struct pg_conn *c;

	if ((c = cr_pg_conn(base)) == NULL)
		return CR_STORE_ERR;
	return cr_pg_one_row(c, id, n, p, fill, arg, what);
}

static int
list_rows(struct cr_registry_store *base, enum pg_stmt id, int n,
    const char *const *p, json_t *(*row)(const PGresult *, int),
    const char *what, json_t **out)
{
	struct pg_conn *c;

	*out = NULL;
	if ((c = cr_pg_conn(base)) == NULL)
		return CR_STORE_ERR;
	return cr_pg_list_rows(c, id, n, p, row, what, out);
}

/*
 * Institutions and clients.
 */

static int
pg_institution_add(struct cr_registry_store *base,
    const struct cr_institution *in)
{
	const char *p[] = { in->id, in->name, in->sector };

	return write_any(base, PG_INST_ADD, 3, p, "institution_add");
}

static int
institution_fill(const PGresult *res, void *arg)
{
	struct cr_institution *out = arg;

	memset(out, 0, sizeof(*out));
	col_str(res, 0, 0, out->id, sizeof(out->id));
	col_str(res, 0, 1, out->name, sizeof(out->name));
	col_str(res, 0, 2, out->sector, sizeof(out->sector));
	return CR_STORE_OK;
}

static int
pg_institution_get(struct cr_registry_store *base, const char *id,
    struct cr_institution *out)
{
	const char *p[] = { id };

	return one_row(base, PG_INST_GET, 1, p, institution_fill, out,
	    "institution_get");
}

static json_t *
institution_row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:s}",
	    "id", PQgetvalue(res, i, 0),
	    "name", PQgetvalue(res, i, 1),
	    "sector", PQgetvalue(res, i, 2));
}

static int
pg_institution_list(struct cr_registry_store *base, json_t **out)
{
	return list_rows(base, PG_INST_LIST, 0, NULL, institution_row,
	    "institution_list", out);
}

static int
pg_client_add(struct cr_registry_store *base, const struct cr_client *cl,
    const uint8_t token_hash[CR_HASH_LEN])
{
	char hex[HEX_LEN], exp[INT_LEN];
	const char *p[6];

	cr_util_hex(token_hash, CR_HASH_LEN, hex);
	p[0] = cl->id;
	p[1] = cl->institution;
	p[2] = cl->name;
	p[3] = hex;
	p[4] = or_null(cl->cert_sha256);
	p[5] = cl->expires_ms > 0 ? int_text(exp, cl->expires_ms) : NULL;
	return write_any(base, PG_CLIENT_ADD, 6, p, "client_add");
}

static int
client_fill(const PGresult *res, void *arg)
{
	struct cr_client *out = arg;

	memset(out, 0, sizeof(*out));
	col_str(res, 0, 0, out->id, sizeof(out->id));
	col_str(res, 0, 1, out->institution, sizeof(out->institution));
	col_str(res, 0, 2, out->name, sizeof(out->name));
	out->expires_ms = col_int(res, 0, 3);
	col_str(res, 0, 4, out->cert_sha256, sizeof(out->cert_sha256));
	return CR_STORE_OK;
}

static int
pg_client_by_token(struct cr_registry_store *base,
    const uint8_t token_hash[CR_HASH_LEN], int64_t now_ms,
    struct cr_client *out)
{
	char hex[HEX_LEN], now[INT_LEN];
	const char *p[2] = { hex, int_text(now, now_ms) };

	cr_util_hex(token_hash, CR_HASH_LEN, hex);
	return one_row(base, PG_CLIENT_BY_TOKEN, 2, p, client_fill, out,
	    "client_by_token");
}

/* Checked against the wall clock here: revoked or expired, no one. */
static int
pg_client_by_cert(struct cr_registry_store *base, const char *cert_sha256,
    struct cr_client *out)
{
	char now[INT_LEN];
	const char *p[2] = { cert_sha256, int_text(now, cr_util_wall_ms()) };

	return one_row(base, PG_CLIENT_BY_CERT, 2, p, client_fill, out,
	    "client_by_cert");
}

static json_t *
client_row(const PGresult *res, int i)
{
	if (strlen(PQgetvalue(res, i, 3)) != 2 * CR_HASH_LEN)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:o,"
	    " s:s?}",
	    "id", PQgetvalue(res, i, 0),
	    "institution", PQgetvalue(res, i, 1),
	    "name", PQgetvalue(res, i, 2),
	    "token_hash", PQgetvalue(res, i, 3),
	    "created_at", PQgetvalue(res, i, 4),
	    "prev_token_hash", cr_pg_val(res, i, 5),
	    "prev_valid_until_ms", col_int_or_null(res, i, 6),
	    "expires_ms", col_int_or_null(res, i, 7),
	    "revoked_ms", col_int_or_null(res, i, 8),
	    "last_used_ms", col_int_or_null(res, i, 9),
	    "cert_sha256", cr_pg_val(res, i, 10));
}

static int
pg_client_list(struct cr_registry_store *base, json_t **out)
{
	return list_rows(base, PG_CLIENT_LIST, 0, NULL, client_row,
	    "client_list", out);
}

static int
pg_client_revoke(struct cr_registry_store *base, const char *institution,
    const char *id, int64_t now_ms)
{
	char now[INT_LEN];
	const char *p[3] = { institution, id, int_text(now, now_ms) };

	return write_one(base, PG_CLIENT_REVOKE, 3, p, "client_revoke");
}

static int
pg_client_rotate(struct cr_registry_store *base, const char *institution,
    const char *id, const uint8_t new_hash[CR_HASH_LEN],
    int64_t prev_valid_until_ms)
{
	char hex[HEX_LEN], until[INT_LEN];
	const char *p[4] = { institution, id, hex,
	    int_text(until, prev_valid_until_ms) };

	cr_util_hex(new_hash, CR_HASH_LEN, hex);
	return write_one(base, PG_CLIENT_ROTATE, 4, p, "client_rotate");
}

static int
pg_clients_touch(struct cr_registry_store *base,
    const struct cr_client_use *u, size_t n)
{
	struct pg_conn *c;
	char used[INT_LEN];
	const char *p[2];
	size_t i;

	if (n == 0)
		return CR_STORE_OK;
	if ((c = cr_pg_conn(base)) == NULL ||
	    cr_pg_simple(c, "BEGIN", "clients_touch") == -1)
		return CR_STORE_ERR;
	for (i = 0; i < n; i++) {
		p[0] = u[i].id;
		p[1] = int_text(used, u[i].used_ms);
		if (cr_pg_exec(c, PG_CLIENT_TOUCH, 2, p, NULL, NULL,
		    "clients_touch") != CR_STORE_OK)
			goto fail;
	}
	if (cr_pg_simple(c, "COMMIT", "clients_touch") == -1)
		goto fail;
	return CR_STORE_OK;
 fail:
	cr_pg_simple(c, "ROLLBACK", "clients_touch");
	return CR_STORE_ERR;
}

/*
 * Named operators.
 */

static int
pg_operator_add(struct cr_registry_store *base, const struct cr_operator *op,
    const uint8_t token_hash[CR_HASH_LEN])
{
	char hex[HEX_LEN];
	const char *p[4] = { op->id, op->name, op->role, hex };

	cr_util_hex(token_hash, CR_HASH_LEN, hex);
	return write_any(base, PG_OP_ADD, 4, p, "operator_add");
}

static int
operator_fill(const PGresult *res, void *arg)
{
	struct cr_operator *out = arg;

	memset(out, 0, sizeof(*out));
	col_str(res, 0, 0, out->id, sizeof(out->id));
	col_str(res, 0, 1, out->name, sizeof(out->name));
	col_str(res, 0, 2, out->role, sizeof(out->role));
	return CR_STORE_OK;
}

static int
pg_operator_by_token(struct cr_registry_store *base,
    const uint8_t token_hash[CR_HASH_LEN], struct cr_operator *out)
{
	char hex[HEX_LEN];
	const char *p[1] = { hex };

	cr_util_hex(token_hash, CR_HASH_LEN, hex);
	return one_row(base, PG_OP_BY_TOKEN, 1, p, operator_fill, out,
	    "operator_by_token");
}

static json_t *
operator_row(const PGresult *res, int i)
{
	if (strlen(PQgetvalue(res, i, 4)) != 2 * CR_HASH_LEN)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
	    "id", PQgetvalue(res, i, 0),
	    "name", PQgetvalue(res, i, 1),
	    "role", PQgetvalue(res, i, 2),
	    "created_at", PQgetvalue(res, i, 3),
	    "token_hash", PQgetvalue(res, i, 4),
	    "revoked_ms", col_int_or_null(res, i, 5));
}

static int
pg_operator_list(struct cr_registry_store *base, json_t **out)
{
	return list_rows(base, PG_OP_LIST, 0, NULL, operator_row,
	    "operator_list", out);
}

static int
pg_operator_revoke(struct cr_registry_store *base, const char *id,
    int64_t now_ms)
{
	char now[INT_LEN];
	const char *p[2] = { id, int_text(now, now_ms) };

	return write_one(base, PG_OP_REVOKE, 2, p, "operator_revoke");
}

static int
pg_operator_rotate(struct cr_registry_store *base, const char *id,
    const uint8_t new_hash[CR_HASH_LEN])
{
	char hex[HEX_LEN];
	const char *p[2] = { id, hex };

	cr_util_hex(new_hash, CR_HASH_LEN, hex);
	return write_one(base, PG_OP_ROTATE, 2, p, "operator_rotate");
}

static int
version_fill(const PGresult *res, void *arg)
{
	*(uint64_t *)arg = (uint64_t)col_int(res, 0, 0);
	return CR_STORE_OK;
}

static int
pg_registry_version(struct cr_registry_store *base, uint64_t *version)
{
	int rc;

	/* The row is made by the first migration: missing is an error. */
	if ((rc = one_row(base, PG_REG_VERSION, 0, NULL, version_fill,
	    version, "registry_version")) == CR_STORE_NOTFOUND) {
		log_warnx("store: postgresql: registry_version: no row");
		rc = CR_STORE_ERR;
	}
	return rc;
}

/*
 * Services.
 */

static int
pg_service_add(struct cr_registry_store *base, const struct cr_service *svc)
{
	char *fields = NULL, *params = NULL, timeout[INT_LEN];
	const char *p[10];
	int rc = CR_STORE_ERR;

	if ((fields = dump_json(svc->fields)) == NULL ||
	    (params = dump_json(svc->params)) == NULL)
		goto out;
	p[0] = svc->id;
	p[1] = svc->provider;
	p[2] = svc->endpoint;
	p[3] = svc->subject_kind;
	p[4] = fields;
	p[5] = int_text(timeout, svc->timeout_ms);
	p[6] = params;
	p[7] = or_null(svc->ca_file);
	p[8] = or_null(svc->client_cert);
	p[9] = or_null(svc->client_key);
	rc = write_any(base, PG_SVC_ADD, 10, p, "service_add");
 out:
	free(fields);
	free(params);
	return rc;
}

static int
service_fill(const PGresult *res, void *arg)
{
	static const size_t pathlen = sizeof(((struct cr_service *)0)->ca_file);
	struct cr_service *out = arg;

	memset(out, 0, sizeof(*out));
	col_str(res, 0, 0, out->id, sizeof(out->id));
	col_str(res, 0, 1, out->provider, sizeof(out->provider));
	col_str(res, 0, 2, out->endpoint, sizeof(out->endpoint));
	col_str(res, 0, 3, out->subject_kind, sizeof(out->subject_kind));
	out->timeout_ms = (int)col_int(res, 0, 5);
	out->fields = col_json(res, 0, 4);
	out->params = col_json(res, 0, 6);
	col_str(res, 0, 7, out->ca_file, pathlen);
	col_str(res, 0, 8, out->client_cert, pathlen);
	col_str(res, 0, 9, out->client_key, pathlen);
	if (out->fields == NULL || out->params == NULL) {
		cr_service_clear(out);
		return CR_STORE_ERR;
	}
	return CR_STORE_OK;
}

static int
pg_service_get(struct cr_registry_store *base, const char *id,
    struct cr_service *out)
{
	const char *p[] = { id };

	return one_row(base, PG_SVC_GET, 1, p, service_fill, out,
	    "service_get");
}

static json_t *
service_row(const PGresult *res, int r)
{
	static const char *const tls[] = { "ca_file", "client_cert",
	    "client_key" };
	json_t *fields, *params, *o;
	int i;

	if ((fields = col_json(res, r, 4)) == NULL)
		return NULL;
	if ((params = col_json(res, r, 6)) == NULL) {
		json_decref(fields);
		return NULL;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:i}",
	    "id", PQgetvalue(res, r, 0),
	    "provider", PQgetvalue(res, r, 1),
	    "endpoint", PQgetvalue(res, r, 2),
	    "subject_kind", PQgetvalue(res, r, 3),
	    "fields", fields,
	    "params", params,
	    "timeout_ms", (int)col_int(res, r, 5));
	/* Only those set: a plain http:// service reads as before. */
	for (i = 0; o != NULL && i < 3; i++)
		if (!PQgetisnull(res, r, 7 + i) &&
		    json_object_set_new(o, tls[i],
		    json_string(PQgetvalue(res, r, 7 + i))) == -1) {
			json_decref(o);
			o = NULL;
		}
	return o;
}

static int
pg_service_list(struct cr_registry_store *base, json_t **out)
{
	return list_rows(base, PG_SVC_LIST, 0, NULL, service_row,
	    "service_list", out);
}

/*
 * Authorizations.
 */

static int
pg_authz_add(struct cr_registry_store *base, const struct cr_authz *az)
{
	char *fields = NULL, *caps = NULL;
	const char *p[9];
	int rc = CR_STORE_ERR;

	if ((fields = dump_json(az->fields)) == NULL ||
	    (caps = dump_json(az->capacities)) == NULL)
		goto out;
	p[0] = az->id;
	p[1] = az->consumer;
	p[2] = az->service;
	p[3] = az->purpose;
	p[4] = az->legal_basis;
	p[5] = fields;
	p[6] = caps;
	p[7] = az->valid_from;
	p[8] = or_null(az->valid_to);
	rc = write_any(base, PG_AZ_ADD, 9, p, "authz_add");
 out:
	free(fields);
	free(caps);
	return rc;
}

static int
pg_authz_delete(struct cr_registry_store *base, const char *id)
{
	const char *p[] = { id };

	return write_one(base, PG_AZ_DELETE, 1, p, "authz_delete");
}

static int
pg_authz_update(struct cr_registry_store *base, const struct cr_authz *az)
{
	char *fields;
	const char *p[4];
	int rc;

	if ((fields = dump_json(az->fields)) == NULL)
		return CR_STORE_ERR;
	p[0] = az->id;
	p[1] = fields;
	p[2] = az->valid_from;
	p[3] = or_null(az->valid_to);
	rc = write_one(base, PG_AZ_UPDATE, 4, p, "authz_update");
	free(fields);
	return rc;
}

static json_t *
authz_row(const PGresult *res, int r)
{
	json_t *fields, *caps;

	if ((fields = col_json(res, r, 5)) == NULL)
		return NULL;
	if ((caps = col_json(res, r, 6)) == NULL) {
		json_decref(fields);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s?}",
	    "id", PQgetvalue(res, r, 0),
	    "consumer", PQgetvalue(res, r, 1),
	    "service", PQgetvalue(res, r, 2),
	    "purpose", PQgetvalue(res, r, 3),
	    "legal_basis", PQgetvalue(res, r, 4),
	    "fields", fields,
	    "capacities", caps,
	    "valid_from", PQgetvalue(res, r, 7),
	    "valid_to", cr_pg_val(res, r, 8));
}

static int
pg_authz_list(struct cr_registry_store *base, const char *consumer,
    json_t **out)
{
	const char *p[] = { consumer };

	if (consumer != NULL)
		return list_rows(base, PG_AZ_LIST_CONSUMER, 1, p, authz_row,
		    "authz_list", out);
	return list_rows(base, PG_AZ_LIST, 0, NULL, authz_row, "authz_list",
	    out);
}

static int
authz_fill(const PGresult *res, void *arg)
{
	struct cr_authz *out = arg;

	memset(out, 0, sizeof(*out));
	col_str(res, 0, 0, out->id, sizeof(out->id));
	col_str(res, 0, 1, out->consumer, sizeof(out->consumer));
	col_str(res, 0, 2, out->service, sizeof(out->service));
	col_str(res, 0, 3, out->purpose, sizeof(out->purpose));
	col_str(res, 0, 4, out->legal_basis, sizeof(out->legal_basis));
	col_str(res, 0, 7, out->valid_from, sizeof(out->valid_from));
	col_str(res, 0, 8, out->valid_to, sizeof(out->valid_to));
	out->fields = col_json(res, 0, 5);
	out->capacities = col_json(res, 0, 6);
	if (out->fields == NULL || out->capacities == NULL) {
		cr_authz_clear(out);
		return CR_STORE_ERR;
	}
	return CR_STORE_OK;
}

static int
pg_authz_find(struct cr_registry_store *base, const char *consumer,
    const char *service, const char *purpose, const char *date,
    struct cr_authz *out)
{
	const char *p[] = { consumer, service, purpose, date };

	return one_row(base, PG_AZ_FIND, 4, p, authz_fill, out, "authz_find");
}

/*
 * Capacities.
 */

static int
capacity_write(struct cr_registry_store *base, enum pg_stmt id,
    const struct cr_capacity *cap, const char *what)
{
	char *insts = NULL, *sectors = NULL;
	const char *p[4];
	int rc = CR_STORE_ERR;

	if ((insts = dump_json(cap->institutions)) == NULL ||
	    (sectors = dump_json(cap->sectors)) == NULL)
		goto out;
	p[0] = cap->id;
	p[1] = cap->name;
	p[2] = insts;
	p[3] = sectors;
	rc = id == PG_CAP_UPDATE ? write_one(base, id, 4, p, what) :
	    write_any(base, id, 4, p, what);
 out:
	free(insts);
	free(sectors);
	return rc;
}

static int
pg_capacity_add(struct cr_registry_store *base, const struct cr_capacity *cap)
{
	return capacity_write(base, PG_CAP_ADD, cap, "capacity_add");
}

static int
pg_capacity_update(struct cr_registry_store *base,
    const struct cr_capacity *cap)
{
	return capacity_write(base, PG_CAP_UPDATE, cap, "capacity_update");
}

static int
capacity_fill(const PGresult *res, void *arg)
{
	struct cr_capacity *out = arg;

	memset(out, 0, sizeof(*out));
	col_str(res, 0, 0, out->id, sizeof(out->id));
	col_str(res, 0, 1, out->name, sizeof(out->name));
	out->institutions = col_json(res, 0, 2);
	out->sectors = col_json(res, 0, 3);
	if (out->institutions == NULL || out->sectors == NULL) {
		cr_capacity_clear(out);
		return CR_STORE_ERR;
	}
	return CR_STORE_OK;
}

static int
pg_capacity_get(struct cr_registry_store *base, const char *id,
    struct cr_capacity *out)
{
	const char *p[] = { id };

	return one_row(base, PG_CAP_GET, 1, p, capacity_fill, out,
	    "capacity_get");
}

static json_t *
capacity_row(const PGresult *res, int r)
{
	json_t *insts, *sectors;

	if ((insts = col_json(res, r, 2)) == NULL)
		return NULL;
	if ((sectors = col_json(res, r, 3)) == NULL) {
		json_decref(insts);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o, s:o}",
	    "id", PQgetvalue(res, r, 0),
	    "name", PQgetvalue(res, r, 1),
	    "institutions", insts,
	    "sectors", sectors);
}

static int
pg_capacity_list(struct cr_registry_store *base, json_t **out)
{
	return list_rows(base, PG_CAP_LIST, 0, NULL, capacity_row,
	    "capacity_list", out);
}

const struct cr_registry_ops cr_pg_registry_ops = {
	.institution_add = pg_institution_add,
	.institution_get = pg_institution_get,
	.institution_list = pg_institution_list,
	.client_add = pg_client_add,
	.client_by_token = pg_client_by_token,
	.client_by_cert = pg_client_by_cert,
	.client_list = pg_client_list,
	.client_revoke = pg_client_revoke,
	.client_rotate = pg_client_rotate,
	.clients_touch = pg_clients_touch,
	.operator_add = pg_operator_add,
	.operator_by_token = pg_operator_by_token,
	.operator_list = pg_operator_list,
	.operator_revoke = pg_operator_revoke,
	.operator_rotate = pg_operator_rotate,
	.registry_version = pg_registry_version,
	.service_add = pg_service_add,
	.service_get = pg_service_get,
	.service_list = pg_service_list,
	.authz_add = pg_authz_add,
	.authz_delete = pg_authz_delete,
	.authz_update = pg_authz_update,
	.authz_list = pg_authz_list,
	.authz_find = pg_authz_find,
	.capacity_add = pg_capacity_add,
	.capacity_update = pg_capacity_update,
	.capacity_get = pg_capacity_get,
	.capacity_list = pg_capacity_list,
};
