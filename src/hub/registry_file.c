/*
 * Loading the registry file into the store. The whole document is checked
 * first (shapes with the registry API's specs, ids, references between
 * elements, fields against the service's, dates), so that a mistake loads
 * nothing and is reported with the element it is in; then each element is
 * added unless the store already has it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "authz.h"
#include "jsonv.h"
#include "log.h"
#include "registry_file.h"
#include "util.h"

/* The registry's definitions, as POST /v1/... takes them (api_registry.c
   validates request bodies with these), and a client with its token. */
const struct cr_jsonv_field cr_registry_institution_spec[] = {
	{ "id", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "name", CR_JV_STRING, 1, CR_TEXT_MAX - 1, 0, 0 },
	{ "sector", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	CR_JSONV_END
};

static const struct cr_jsonv_field client_spec[] = {
	{ "institution", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "name", CR_JV_STRING, 1, CR_TEXT_MAX - 1, 0, 0 },
	{ "token", CR_JV_STRING, 1, CR_REGISTRY_TOKEN_LEN, 0, 0 },
	CR_JSONV_END
};

const struct cr_jsonv_field cr_registry_service_spec[] = {
	{ "id", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "provider", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "endpoint", CR_JV_STRING, 1, CR_URL_MAX - 1, 0, 0 },
	{ "subject_kind", CR_JV_STRING, 0, 15, 0, 0 },
	{ "fields", CR_JV_STRING_ARRAY, 1, CR_FIELD_PATH_MAX - 1, 0, 200 },
	{ "params", CR_JV_ANY, 0, 0, 0, 0 },
	{ "timeout_ms", CR_JV_INT, 0, 0, 1, 600000 },
	{ "ca_file", CR_JV_STRING, 0, CR_PATH_MAX - 1, 0, 0 },
	{ "client_cert", CR_JV_STRING, 0, CR_PATH_MAX - 1, 0, 0 },
	{ "client_key", CR_JV_STRING, 0, CR_PATH_MAX - 1, 0, 0 },
	CR_JSONV_END
};

int
cr_registry_service_tls(const json_t *def, struct cr_service *svc,
    char *err, size_t errlen)
{
	static const char *const keys[] = { "ca_file", "client_cert",
	    "client_key" };
	char *dst[3] = { svc->ca_file, svc->client_cert, svc->client_key };
	const char *v;
	size_t i;

	for (i = 0; i < 3; i++) {
		dst[i][0] = '\0';
		if ((v = json_string_value(json_object_get(def, keys[i]))) ==
		    NULL)
			continue;
		/* The hub reads them from wherever it runs: no guessing. */
		if (v[0] != '/') {
			snprintf(err, errlen, "%s must be an absolute path",
			    keys[i]);
			return -1;
		}
		if (strncmp(svc->endpoint, "https://", 8) != 0) {
			snprintf(err, errlen, "%s needs an https:// endpoint",
			    keys[i]);
			return -1;
		}
		cr_util_strlcpy(dst[i], v, CR_PATH_MAX);
	}
	if ((svc->client_cert[0] == '\0') != (svc->client_key[0] == '\0')) {
		snprintf(err, errlen, "client_cert and client_key go together");
		return -1;
	}
	return 0;
}

const struct cr_jsonv_field cr_registry_authz_spec[] = {
	{ "consumer", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "service", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "purpose", CR_JV_STRING, 1, CR_KEY_MAX - 1, 0, 0 },
	{ "legal_basis", CR_JV_STRING, 1, CR_TEXT_MAX - 1, 0, 0 },
	{ "fields", CR_JV_STRING_ARRAY, 1, CR_FIELD_PATH_MAX - 1, 0, 200 },
	{ "capacities", CR_JV_STRING_ARRAY, 0, CR_NAME_MAX - 1, 0, 100 },
	{ "valid_from", CR_JV_DATE, 0, 0, 0, 0 },
	{ "valid_to", CR_JV_DATE_OR_NULL, 0, 0, 0, 0 },
	CR_JSONV_END
};

const struct cr_jsonv_field cr_registry_capacity_spec[] = {
	{ "id", CR_JV_STRING, 1, CR_NAME_MAX - 1, 0, 0 },
	{ "name", CR_JV_STRING, 1, CR_TEXT_MAX - 1, 0, 0 },
	{ "institutions", CR_JV_STRING_ARRAY, 0, CR_NAME_MAX - 1, 0, 1000 },
	{ "sectors", CR_JV_STRING_ARRAY, 0, CR_NAME_MAX - 1, 0, 100 },
	CR_JSONV_END
};

static const char *const sections[] = { "institutions", "clients",
	"services", "authorizations", "capacities", NULL };

void
cr_registry_token_hash(const char *token, uint8_t out[CR_HASH_LEN])
{
	crypto_generichash(out, CR_HASH_LEN, (const unsigned char *)token,
	    strlen(token), NULL, 0);
}

int
cr_registry_valid_id(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-");

	return n > 0 && s[n] == '\0';
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

/* "section[i] (name): message" into err; always returns -1. */
static int CR_PRINTF(6, 7)
elem_error(char *err, size_t errlen, const char *section, size_t i,
    const char *name, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (name != NULL && *name != '\0')
		snprintf(err, errlen, "%s[%zu] (%s): %s", section, i, name, msg);
	else
		snprintf(err, errlen, "%s[%zu]: %s", section, i, msg);
	return -1;
}

/* The element of `section` whose `key` is `value`, before index `before`. */
static json_t *
find_in(const json_t *doc, const char *section, const char *key,
    const char *value, size_t before)
{
	json_t *a = json_object_get(doc, section), *e;
	size_t i;

	json_array_foreach(a, i, e) {
		if (i >= before)
			break;
		if (strcmp(jstr(e, key), value) == 0)
			return e;
	}
	return NULL;
}

/* 1 when the institution is in the file (doc may be NULL) or the store;
   -1 on error. */
static int
institution_known(struct cr_store *st, const json_t *doc, const char *id)
{
	struct cr_institution in;
	int rc;

	if (doc != NULL &&
	    find_in(doc, "institutions", "id", id, (size_t)-1) != NULL)
		return 1;
	rc = st->registry->ops->institution_get(st->registry, id, &in);
	if (rc == CR_STORE_OK)
		return 1;
	return rc == CR_STORE_NOTFOUND ? 0 : -1;
}

static int
check_shape(const json_t *doc, char *err, size_t errlen)
{
	const char *key;
	json_t *v, *e;
	size_t i, k;
	const struct cr_jsonv_field *specs[] = { cr_registry_institution_spec,
	    client_spec, cr_registry_service_spec, cr_registry_authz_spec,
	    cr_registry_capacity_spec };
	char msg[256];

	if (!json_is_object(doc)) {
		snprintf(err, errlen, "the document must be a JSON object");
		return -1;
	}
	json_object_foreach((json_t *)doc, key, v) {
		for (k = 0; sections[k] != NULL; k++)
			if (strcmp(sections[k], key) == 0)
				break;
		if (sections[k] == NULL) {
			snprintf(err, errlen, "unknown member '%s': expected "
			    "institutions, clients, services, authorizations",
			    key);
			return -1;
		}
		if (!json_is_array(v)) {
			snprintf(err, errlen, "'%s' must be an array", key);
			return -1;
		}
		json_array_foreach(v, i, e) {
			if (cr_jsonv_check(e, specs[k], msg, sizeof(msg)) == -1)
				return elem_error(err, errlen, key, i,
				    json_is_object(e) ? jstr(e, k == 1 ?
				    "name" : k == 3 ? "service" : "id") : NULL,
				    "%s", msg);
		}
	}
	return 0;
}

static int
check_institutions(const json_t *doc, char *err, size_t errlen)
{
	json_t *e;
	size_t i;
	const char *id;

	json_array_foreach(json_object_get(doc, "institutions"), i, e) {
		id = jstr(e, "id");
		if (!cr_registry_valid_id(id))
			return elem_error(err, errlen, "institutions", i, id,
			    "id may only contain letters, digits, '.', '_' "
			    "and '-'");
		if (find_in(doc, "institutions", "id", id, i) != NULL)
			return elem_error(err, errlen, "institutions", i, id,
			    "duplicate institution id");
	}
	return 0;
}

static int
check_clients(struct cr_store *st, const json_t *doc, char *err,
    size_t errlen)
{
	uint8_t raw[32];
	const char *inst, *token, *name;
	json_t *e;
	size_t i;
	int rc;

	json_array_foreach(json_object_get(doc, "clients"), i, e) {
		inst = jstr(e, "institution");
		token = jstr(e, "token");
		name = jstr(e, "name");
		if ((rc = institution_known(st, doc, inst)) == -1)
			goto storage;
		if (rc == 0)
			return elem_error(err, errlen, "clients", i, name,
			    "no institution '%s'", inst);
		if (strlen(token) != CR_REGISTRY_TOKEN_LEN ||
		    strncmp(token, CR_REGISTRY_TOKEN_PREFIX, 4) != 0 ||
		    cr_util_unhex(token + 4, raw, sizeof(raw)) == -1)
			return elem_error(err, errlen, "clients", i, name,
			    "token must be \"crt_\" followed by 64 hex digits");
		if (find_in(doc, "clients", "token", token, i) != NULL)
			return elem_error(err, errlen, "clients", i, name,
			    "the same token is given to another client");
	}
	return 0;
storage:
	snprintf(err, errlen, "storage error");
	return -1;
}

static int
check_services(struct cr_store *st, const json_t *doc, char *err,
    size_t errlen)
{
	const char *id, *kind, *url, *provider;
	struct cr_service svc;
	char msg[256];
	json_t *e;
	size_t i;
	int rc;

	json_array_foreach(json_object_get(doc, "services"), i, e) {
		id = jstr(e, "id");
		kind = jstr(e, "subject_kind");
		url = jstr(e, "endpoint");
		provider = jstr(e, "provider");
		if (!cr_registry_valid_id(id))
			return elem_error(err, errlen, "services", i, id,
			    "id may only contain letters, digits, '.', '_' "
			    "and '-'");
		if (*kind && strcmp(kind, "person") != 0 &&
		    strcmp(kind, "enterprise") != 0)
			return elem_error(err, errlen, "services", i, id,
			    "subject_kind must be 'person' or 'enterprise'");
		if (strncmp(url, "http://", 7) != 0 &&
		    strncmp(url, "https://", 8) != 0)
			return elem_error(err, errlen, "services", i, id,
			    "endpoint must be an http:// or https:// URL");
		if (cr_authz_fields_check(json_object_get(e, "fields"), msg,
		    sizeof(msg)) == -1 ||
		    cr_authz_params_decl_check(json_object_get(e, "params"),
		    msg, sizeof(msg)) == -1)
			return elem_error(err, errlen, "services", i, id, "%s",
			    msg);
		if (find_in(doc, "services", "id", id, i) != NULL)
			return elem_error(err, errlen, "services", i, id,
			    "duplicate service id");
		memset(&svc, 0, sizeof(svc));
		cr_util_strlcpy(svc.endpoint, url, sizeof(svc.endpoint));
		if (cr_registry_service_tls(e, &svc, msg, sizeof(msg)) == -1)
			return elem_error(err, errlen, "services", i, id, "%s",
			    msg);
		if ((rc = institution_known(st, doc, provider)) == -1) {
			snprintf(err, errlen, "storage error");
			return -1;
		}
		if (rc == 0)
			return elem_error(err, errlen, "services", i, id,
			    "no institution '%s' to provide the service",
			    provider);
	}
	return 0;
}

/*
 * The fields of a service as the hub will know them: the store's when it
 * has the service already (the file's would be skipped), else the file's.
 * New reference, or NULL with *found = 0; -1 on storage error.
 */
static int
service_fields(struct cr_store *st, const json_t *doc, const char *id,
    json_t **fields)
{
	struct cr_service svc;
	json_t *e;
	int rc;

	*fields = NULL;
	memset(&svc, 0, sizeof(svc));
	rc = st->registry->ops->service_get(st->registry, id, &svc);
	if (rc == CR_STORE_OK) {
		*fields = json_incref(svc.fields);
		cr_service_clear(&svc);
		return 0;
	}
	if (rc != CR_STORE_NOTFOUND)
		return -1;
	if ((e = find_in(doc, "services", "id", id, (size_t)-1)) != NULL)
		*fields = json_incref(json_object_get(e, "fields"));
	return 0;
}

static int
check_authorizations(struct cr_store *st, const json_t *doc, char *err,
    size_t errlen)
{
	const char *consumer, *service, *from, *to;
	char msg[256];
	json_t *e, *fields;
	size_t i;
	int rc, granted;

	json_array_foreach(json_object_get(doc, "authorizations"), i, e) {
		consumer = jstr(e, "consumer");
		service = jstr(e, "service");
		from = jstr(e, "valid_from");
		to = jstr(e, "valid_to");
		if ((rc = institution_known(st, doc, consumer)) == -1)
			goto storage;
		if (rc == 0)
			return elem_error(err, errlen, "authorizations", i,
			    service, "no institution '%s'", consumer);
		if (service_fields(st, doc, service, &fields) == -1)
			goto storage;
		if (fields == NULL)
			return elem_error(err, errlen, "authorizations", i,
			    service, "no service '%s'", service);
		granted = cr_authz_grant_check(json_object_get(e, "fields"),
		    fields, service, msg, sizeof(msg));
		json_decref(fields);
		if (granted == -1)
			return elem_error(err, errlen, "authorizations", i,
			    service, "%s", msg);
		if (*from && *to && strcmp(to, from) < 0)
			return elem_error(err, errlen, "authorizations", i,
			    service, "valid_to is before valid_from");
	}
	return 0;
storage:
	snprintf(err, errlen, "storage error");
	return -1;
}

/* The audit trail's actor of what a registry file adds. */
#define IMPORT_ACTOR	"registry-import"

int
cr_registry_capacity_check(struct cr_store *st, const json_t *doc,
    const json_t *cap, char *err, size_t errlen)
{
	const char *id = jstr(cap, "id");
	json_t *v;
	size_t i;
	int rc;

	if (!cr_registry_valid_id(id)) {
		snprintf(err, errlen, "id may only contain letters, digits, "
		    "'.', '_' and '-'");
		return -1;
	}
	json_array_foreach(json_object_get(cap, "institutions"), i, v) {
		if ((rc = institution_known(st, doc, json_string_value(v)))
		    == -1) {
			snprintf(err, errlen, "storage error");
			return -2;
		}
		if (rc == 0) {
			snprintf(err, errlen, "institutions[%zu]: no "
			    "institution '%s'", i, json_string_value(v));
			return -1;
		}
	}
	return 0;
}

void
cr_registry_capacity_from_json(const json_t *o, struct cr_capacity *cap)
{
	json_t *v;

	memset(cap, 0, sizeof(*cap));
	cr_util_strlcpy(cap->id, jstr(o, "id"), sizeof(cap->id));
	cr_util_strlcpy(cap->name, jstr(o, "name"), sizeof(cap->name));
	/* Absent lists are empty: stored and shown as []. */
	v = json_object_get(o, "institutions");
	cap->institutions = v != NULL ? json_incref(v) : json_array();
	v = json_object_get(o, "sectors");
	cap->sectors = v != NULL ? json_incref(v) : json_array();
}

json_t *
cr_registry_capacity_json(const struct cr_capacity *cap)
{
	return json_pack("{s:s,s:s,s:O,s:O}", "id", cap->id, "name",
	    cap->name, "institutions", cap->institutions, "sectors",
	    cap->sectors);
}

static int
check_capacities(struct cr_store *st, const json_t *doc, char *err,
    size_t errlen)
{
	char msg[256];
	const char *id;
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(doc, "capacities"), i, e) {
		id = jstr(e, "id");
		if (cr_registry_capacity_check(st, doc, e, msg, sizeof(msg))
		    != 0)
			return elem_error(err, errlen, "capacities", i, id,
			    "%s", msg);
		if (find_in(doc, "capacities", "id", id, i) != NULL)
			return elem_error(err, errlen, "capacities", i, id,
			    "duplicate capacity id");
	}
	return 0;
}

static int
load_capacities(struct cr_store *st, const json_t *doc,
    struct cr_registry_counts *c)
{
	struct cr_capacity cap;
	char obj[CR_AUDIT_OBJECT_MAX];
	json_t *e;
	size_t i;
	int rc;

	json_array_foreach(json_object_get(doc, "capacities"), i, e) {
		cr_registry_capacity_from_json(e, &cap);
		/* A capacity already declared keeps its rule: changing who
		   may declare it is PUT /v1/capacities/{id}, an explicit act
		   (audited), not a side effect of loading a file again. */
		snprintf(obj, sizeof(obj), "capacity:%s", cap.id);
		cr_audit_stage(st, IMPORT_ACTOR, "capacity.create", obj, NULL,
		    e);
		rc = st->registry->ops->capacity_add(st->registry, &cap);
		cr_audit_done(st, rc == CR_STORE_OK);
		cr_capacity_clear(&cap);
		if (rc == CR_STORE_EXISTS)
			c->capacities_skipped++;
		else if (rc == CR_STORE_OK)
			c->capacities_added++;
		else
			return -1;
	}
	return 0;
}

static int
load_institutions(struct cr_store *st, const json_t *doc,
    struct cr_registry_counts *c)
{
	struct cr_institution in;
	char obj[CR_AUDIT_OBJECT_MAX];
	json_t *e;
	size_t i;
	int rc;

	json_array_foreach(json_object_get(doc, "institutions"), i, e) {
		memset(&in, 0, sizeof(in));
		cr_util_strlcpy(in.id, jstr(e, "id"), sizeof(in.id));
		cr_util_strlcpy(in.name, jstr(e, "name"), sizeof(in.name));
		cr_util_strlcpy(in.sector, jstr(e, "sector"), sizeof(in.sector));
		snprintf(obj, sizeof(obj), "institution:%s", in.id);
		cr_audit_stage(st, IMPORT_ACTOR, "institution.create", obj,
		    NULL, e);
		rc = st->registry->ops->institution_add(st->registry, &in);
		cr_audit_done(st, rc == CR_STORE_OK);
		if (rc == CR_STORE_EXISTS)
			c->institutions_skipped++;
		else if (rc == CR_STORE_OK)
			c->institutions_added++;
		else
			return -1;
	}
	return 0;
}

static int
load_clients(struct cr_store *st, const json_t *doc,
    struct cr_registry_counts *c)
{
	struct cr_client cl;
	uint8_t hash[CR_HASH_LEN];
	char obj[CR_AUDIT_OBJECT_MAX];
	json_t *e, *after;
	size_t i;
	int rc;

	json_array_foreach(json_object_get(doc, "clients"), i, e) {
		cr_registry_token_hash(jstr(e, "token"), hash);
		memset(&cl, 0, sizeof(cl));
		rc = st->registry->ops->client_by_token(st->registry,
		    hash, cr_util_wall_ms(), &cl);
		if (rc == CR_STORE_OK) {
			if (strcmp(cl.institution, jstr(e, "institution")) != 0)
				log_warnx("clients[%zu]: the token is already "
				    "that of a client of %s: skipped", i,
				    cl.institution);
			c->clients_skipped++;
			continue;
		}
		if (rc != CR_STORE_NOTFOUND)
			return -1;
		cr_util_uuid(cl.id);
		cr_util_strlcpy(cl.institution, jstr(e, "institution"),
		    sizeof(cl.institution));
		cr_util_strlcpy(cl.name, jstr(e, "name"), sizeof(cl.name));
		snprintf(obj, sizeof(obj), "client:%s", cl.id);
		/* Never the token. */
		after = json_pack("{s:s,s:s,s:s}", "client_id", cl.id,
		    "institution", cl.institution, "name", cl.name);
		cr_audit_stage(st, IMPORT_ACTOR, "client.create", obj, NULL,
		    after);
		json_decref(after);
		rc = st->registry->ops->client_add(st->registry, &cl, hash);
		cr_audit_done(st, rc == CR_STORE_OK);
		if (rc != CR_STORE_OK)
			return -1;
		c->clients_added++;
	}
	return 0;
}

static int
load_services(struct cr_store *st, const json_t *doc,
    struct cr_registry_counts *c)
{
	struct cr_service svc;
	char obj[CR_AUDIT_OBJECT_MAX];
	json_t *e, *to;
	char msg[256];
	size_t i;
	int rc;

	json_array_foreach(json_object_get(doc, "services"), i, e) {
		memset(&svc, 0, sizeof(svc));
		cr_util_strlcpy(svc.id, jstr(e, "id"), sizeof(svc.id));
		cr_util_strlcpy(svc.provider, jstr(e, "provider"),
		    sizeof(svc.provider));
		cr_util_strlcpy(svc.endpoint, jstr(e, "endpoint"),
		    sizeof(svc.endpoint));
		cr_util_strlcpy(svc.subject_kind, *jstr(e, "subject_kind") ?
		    jstr(e, "subject_kind") : "person", sizeof(svc.subject_kind));
		svc.fields = json_object_get(e, "fields");	/* borrowed */
		svc.params = json_object_get(e, "params");
		to = json_object_get(e, "timeout_ms");
		svc.timeout_ms = to ? (int)json_integer_value(to) : 2000;
		/* Checked by check_services. */
		if (cr_registry_service_tls(e, &svc, msg, sizeof(msg)) == -1)
			return -1;
		snprintf(obj, sizeof(obj), "service:%s", svc.id);
		cr_audit_stage(st, IMPORT_ACTOR, "service.create", obj, NULL,
		    e);
		rc = st->registry->ops->service_add(st->registry, &svc);
		cr_audit_done(st, rc == CR_STORE_OK);
		if (rc == CR_STORE_EXISTS)
			c->services_skipped++;
		else if (rc == CR_STORE_OK)
			c->services_added++;
		else
			return -1;
	}
	return 0;
}

/* 1 when the store has the same authorization already; -1 on error. */
static int
authz_exists(struct cr_store *st, const struct cr_authz *a)
{
	json_t *list, *x, *vt;
	size_t i;
	int found = 0;

	if (st->registry->ops->authz_list(st->registry,
	    a->consumer, &list) != CR_STORE_OK)
		return -1;
	json_array_foreach(list, i, x) {
		vt = json_object_get(x, "valid_to");
		if (strcmp(jstr(x, "service"), a->service) == 0 &&
		    strcmp(jstr(x, "purpose"), a->purpose) == 0 &&
		    strcmp(jstr(x, "valid_from"), a->valid_from) == 0 &&
		    strcmp(json_is_string(vt) ? json_string_value(vt) : "",
		    a->valid_to) == 0 &&
		    json_equal(json_object_get(x, "fields"), a->fields) &&
		    json_equal(json_object_get(x, "capacities"),
		    a->capacities)) {
			found = 1;
			break;
		}
	}
	json_decref(list);
	return found;
}

static int
load_authorizations(struct cr_store *st, const json_t *doc,
    struct cr_registry_counts *c)
{
	struct cr_authz a;
	char obj[CR_AUDIT_OBJECT_MAX];
	json_t *e, *after;
	size_t i;
	int rc = 0, ex;

	json_array_foreach(json_object_get(doc, "authorizations"), i, e) {
		/* As the API: no valid_from means from today. */
		cr_authz_from_json(e, &a);
		if ((ex = authz_exists(st, &a)) == 1)
			c->authorizations_skipped++;
		else if (ex == -1)
			rc = -1;
		else {
			cr_util_uuid(a.id);
			snprintf(obj, sizeof(obj), "authorization:%s", a.id);
			after = cr_authz_json(&a);
			cr_audit_stage(st, IMPORT_ACTOR, "authorization.create",
			    obj, NULL, after);
			json_decref(after);
			ex = st->registry->ops->authz_add(st->registry, &a);
			cr_audit_done(st, ex == CR_STORE_OK);
			if (ex != CR_STORE_OK)
				rc = -1;
			else
				c->authorizations_added++;
		}
		cr_authz_clear(&a);
		if (rc == -1)
			return -1;
	}
	return 0;
}

int
cr_registry_load(struct cr_store *st, const json_t *doc,
    struct cr_registry_counts *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (check_shape(doc, err, errlen) == -1 ||
	    check_institutions(doc, err, errlen) == -1 ||
	    check_clients(st, doc, err, errlen) == -1 ||
	    check_services(st, doc, err, errlen) == -1 ||
	    check_authorizations(st, doc, err, errlen) == -1 ||
	    check_capacities(st, doc, err, errlen) == -1)
		return -1;
	if (load_institutions(st, doc, c) == -1 ||
	    load_clients(st, doc, c) == -1 ||
	    load_services(st, doc, c) == -1 ||
	    load_authorizations(st, doc, c) == -1 ||
	    load_capacities(st, doc, c) == -1) {
		snprintf(err, errlen, "storage error (see above); loading "
		    "again completes what was loaded");
		return -1;
	}
	return 0;
}

/* doc as parsed from the file called path (NULL: jerr says why). */
static int
load_doc(struct cr_store *st, const char *path, json_t *doc,
    const json_error_t *jerr, struct cr_registry_counts *c, char *err,
    size_t errlen)
{
	char msg[512];
	int rc;

	memset(c, 0, sizeof(*c));
	if (doc == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr->line,
		    jerr->column, jerr->text);
		return -1;
	}
	rc = cr_registry_load(st, doc, c, msg, sizeof(msg));
	if (rc == -1)
		snprintf(err, errlen, "%s: %s", path, msg);
	json_decref(doc);
	return rc;
}

int
cr_registry_load_file(struct cr_store *st, const char *path,
    struct cr_registry_counts *c, char *err, size_t errlen)
{
	json_error_t jerr;

	return load_doc(st, path, json_load_file(path,
	    JSON_REJECT_DUPLICATES, &jerr), &jerr, c, err, errlen);
}

int
cr_registry_load_text(struct cr_store *st, const char *name,
    const char *text, size_t len, struct cr_registry_counts *c, char *err,
    size_t errlen)
{
	json_error_t jerr;

	return load_doc(st, name, json_loadb(text, len,
	    JSON_REJECT_DUPLICATES, &jerr), &jerr, c, err, errlen);
}
