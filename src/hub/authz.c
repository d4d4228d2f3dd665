#include <string.h>

#include "util.h"

#include "authz.h"

enum cr_authz_verdict
cr_authz_decide(struct cr_store *st, const char *consumer, const char *service,
    const char *purpose, const char *subject, const char *today,
    const char *reference_date, struct cr_authz *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = st->registry->ops->authz_find(st->registry, consumer, service, purpose, today, out);
	if (rc == CR_STORE_NOTFOUND)
		return CR_AUTHZ_NOT_AUTHORIZED;
	if (rc != CR_STORE_OK)
		return CR_AUTHZ_ERROR;
	if (json_array_size(out->capacities) == 0)
		return CR_AUTHZ_GRANTED;
	rc = st->directory->ops->dir_active(st->directory, consumer, subject, out->capacities,
	    reference_date);
	if (rc == 1)
		return CR_AUTHZ_GRANTED;
	if (rc == 0)
		return CR_AUTHZ_NOT_INTEGRATED;
	cr_authz_clear(out);
	return CR_AUTHZ_ERROR;
}

json_t *
cr_authz_filter(const struct cr_authz *a, const json_t *data)
{
	json_t *out, *field, *v;
	size_t i;

	if ((out = json_object()) == NULL)
		return NULL;
	json_array_foreach(a->fields, i, field) {
		const char *name = json_string_value(field);

		if (name == NULL)
			continue;
		v = json_object_get(data, name);
		if (v != NULL && json_object_set(out, name, v) == -1) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

int
cr_authz_fields_subset(const json_t *fields, const json_t *allowed)
{
	const json_t *f, *g;
	size_t i, j;

	json_array_foreach(fields, i, f) {
		int found = 0;

		json_array_foreach(allowed, j, g) {
			if (json_equal(f, g)) {
				found = 1;
				break;
			}
		}
		if (!found)
			return 0;
	}
	return 1;
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

void
cr_authz_from_json(const json_t *o, struct cr_authz *a)
{
	const json_t *caps = json_object_get(o, "capacities");

	memset(a, 0, sizeof(*a));
	cr_util_strlcpy(a->consumer, jstr(o, "consumer"), sizeof(a->consumer));
	cr_util_strlcpy(a->service, jstr(o, "service"), sizeof(a->service));
	cr_util_strlcpy(a->purpose, jstr(o, "purpose"), sizeof(a->purpose));
	cr_util_strlcpy(a->legal_basis, jstr(o, "legal_basis"),
	    sizeof(a->legal_basis));
	a->fields = json_incref(json_object_get(o, "fields"));
	a->capacities = caps != NULL ? json_incref((json_t *)caps) :
	    json_array();
	if (*jstr(o, "valid_from"))
		cr_util_strlcpy(a->valid_from, jstr(o, "valid_from"),
		    sizeof(a->valid_from));
	else
		cr_date_today(a->valid_from);
	cr_util_strlcpy(a->valid_to, jstr(o, "valid_to"), sizeof(a->valid_to));
}
