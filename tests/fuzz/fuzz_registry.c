/*
 * Fuzz target for the registry file (`crossroads registry import`,
 * registry_file.c): the text is loaded by cr_registry_load_text into a
 * real SQLite store, kept for the whole run in a temporary directory
 * (fuzz_tmpdir). Checks:
 * - a refused file names itself and says why, and changes nothing in the
 *   store ("nothing is loaded when the check fails");
 * - a file loaded once loads again with nothing added and every element
 *   skipped (loading twice is harmless).
 * Inputs may depend on what earlier ones loaded (a client of an
 * institution loaded before); each invariant holds whatever is stored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "fuzz.h"
#include "registry_file.h"
#include "store.h"

#define NAME	"fuzz-registry.json"

static struct cr_store	*st;
static char		 dir[128];
static char		 db[160];

static void
close_store(void)
{
	cr_store_close(st);
	st = NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FUZZ_CHECK(sodium_init() >= 0);
	fuzz_tmpdir("registry", dir, sizeof(dir));
	snprintf(db, sizeof(db), "%s/hub.db", dir);
	FUZZ_CHECK(cr_store_open(db, &st) == 0);
	/* Before the directory goes (atexit: last in, first out). */
	atexit(close_store);
	return 0;
}

struct sizes {
	size_t	institutions, services, authorizations, capacities;
};

static void
sizes(struct sizes *z)
{
	struct cr_registry_store *r = st->registry;
	json_t *l;

	FUZZ_CHECK(r->ops->institution_list(r, &l) == CR_STORE_OK);
	z->institutions = json_array_size(l);
	json_decref(l);
	FUZZ_CHECK(r->ops->service_list(r, &l) == CR_STORE_OK);
	z->services = json_array_size(l);
	json_decref(l);
	FUZZ_CHECK(r->ops->authz_list(r, NULL, &l) == CR_STORE_OK);
	z->authorizations = json_array_size(l);
	json_decref(l);
	FUZZ_CHECK(r->ops->capacity_list(r, &l) == CR_STORE_OK);
	z->capacities = json_array_size(l);
	json_decref(l);
}

/* Elements of a section of the document as loaded. */
static size_t
section(const uint8_t *data, size_t size, const char *key)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data, size, 0, &jerr);
	size_t n = json_array_size(json_object_get(doc, key));

	json_decref(doc);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_registry_counts c, again;
	struct sizes before, after;
	char err[1024];

	sizes(&before);
	err[0] = '\0';
	if (cr_registry_load_text(st, NAME, (const char *)data, size, &c, err,
	    sizeof(err)) == -1) {
		FUZZ_CHECK(strncmp(err, NAME ":", strlen(NAME ":")) == 0);
		FUZZ_CHECK(err[strlen(NAME ":")] != '\0');
		/* The store itself never fails here. */
		FUZZ_CHECK(strncmp(err, NAME ": storage error",
		    strlen(NAME ": storage error")) != 0);
		sizes(&after);
		FUZZ_CHECK(memcmp(&before, &after, sizeof(before)) == 0);
		return 0;
	}
	FUZZ_CHECK(cr_registry_load_text(st, NAME, (const char *)data, size,
	    &again, err, sizeof(err)) == 0);
	FUZZ_CHECK(again.institutions_added == 0 && again.clients_added == 0 &&
	    again.services_added == 0 && again.authorizations_added == 0 &&
	    again.capacities_added == 0);
	FUZZ_CHECK(again.institutions_skipped ==
	    section(data, size, "institutions"));
	FUZZ_CHECK(again.clients_skipped == section(data, size, "clients"));
	FUZZ_CHECK(again.services_skipped == section(data, size, "services"));
	FUZZ_CHECK(again.authorizations_skipped ==
	    section(data, size, "authorizations"));
	FUZZ_CHECK(again.capacities_skipped ==
	    section(data, size, "capacities"));
	sizes(&after);
	FUZZ_CHECK(after.institutions == before.institutions +
	    c.institutions_added);
	FUZZ_CHECK(after.services == before.services + c.services_added);
	FUZZ_CHECK(after.authorizations == before.authorizations +
	    c.authorizations_added);
	FUZZ_CHECK(after.capacities == before.capacities + c.capacities_added);
	return 0;
}
