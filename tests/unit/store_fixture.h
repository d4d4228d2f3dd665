/*
 * Fixture and helpers shared by the store tests (test_store.c,
 * test_store_data.c): each test gets a fresh SQLite file in its own
 * mkdtemp() directory, removed afterwards; or, when CR_TEST_PG_URL names
 * a PostgreSQL database (tests/support/pgcluster.py starts one), that
 * database emptied (fx_pg_reset), and f->path is its URL. The store is
 * opened with cr_store_open_partial, which for SQLite is cr_store_open.
 */
#ifndef CR_TEST_STORE_FIXTURE_H
#define CR_TEST_STORE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_fixture.h"
#include "store.h"
#include "util.h"


#define JSTR(o, k)	json_string_value(json_object_get((o), (k)))
#define JSTR_AT(l, i, k)	JSTR(json_array_get((l), (i)), (k))

struct fx {
	char		 dir[64];
	char		 path[128];
	struct cr_store	*st;
};

static inline void
fx_paths_remove(struct fx *f)
{
	char p[160];

	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
}

static inline int
setup(void **state)
{
	struct fx *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cr-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	if (fx_pg_url() != NULL) {
		if (fx_pg_reset(fx_pg_url()) == -1 ||
		    cr_util_strlcpy(f->path, fx_pg_url(), sizeof(f->path)) >=
		    sizeof(f->path)) {
			rmdir(f->dir);
			free(f);
			return -1;
		}
	} else
		snprintf(f->path, sizeof(f->path), "%s/hub.db", f->dir);
	if (cr_store_open_partial(f->path, &f->st) != 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static inline int
teardown(void **state)
{
	struct fx *f = *state;

	cr_store_close(f->st);
	if (fx_pg_url() == NULL)
		fx_paths_remove(f);
	rmdir(f->dir);
	free(f);
	return 0;
}

static inline void
add_inst(struct cr_store *st, const char *id, const char *sector)
{
	struct cr_institution in;

	memset(&in, 0, sizeof(in));
	cr_util_strlcpy(in.id, id, sizeof(in.id));
	snprintf(in.name, sizeof(in.name), "Institution %s", id);
	cr_util_strlcpy(in.sector, sector, sizeof(in.sector));
	assert_int_equal(st->registry->ops->institution_add(st->registry, &in), CR_STORE_OK);
}

static inline struct cr_dir_entry
dent(const char *subject, const char *inst, const char *cap,
    const char *from, const char *to)
{
	struct cr_dir_entry e;

	memset(&e, 0, sizeof(e));
	cr_util_strlcpy(e.subject, subject, sizeof(e.subject));
	cr_util_strlcpy(e.institution, inst, sizeof(e.institution));
	cr_util_strlcpy(e.capacity, cap, sizeof(e.capacity));
	cr_util_strlcpy(e.from, from, sizeof(e.from));
	cr_util_strlcpy(e.to, to, sizeof(e.to));
	return e;
}

static inline int
put(struct cr_store *st, const char *subject, const char *inst,
    const char *cap, const char *from, const char *to, int *created)
{
	struct cr_dir_entry e = dent(subject, inst, cap, from, to);

	return st->directory->ops->dir_put(st->directory, &e, created);
}

static inline int
active(struct cr_store *st, const char *inst, const char *subject,
    const char *caps, const char *date)
{
	json_t *j = json_loads(caps, 0, NULL);
	int rc;

	assert_non_null(j);
	rc = st->directory->ops->dir_active(st->directory, inst, subject, j, date);
	json_decref(j);
	return rc;
}

static inline struct cr_xlog_entry
xent(uint64_t seq, const char *subject, const char *consumer)
{
	struct cr_xlog_entry e;

	memset(&e, 0, sizeof(e));
	e.seq = seq;
	snprintf(e.ts, sizeof(e.ts), "2026-01-01T00:00:%02lluZ",
	    (unsigned long long)(seq % 60));
	snprintf(e.request_id, sizeof(e.request_id), "req-%llu",
	    (unsigned long long)seq);
	cr_util_strlcpy(e.consumer, consumer, sizeof(e.consumer));
	cr_util_strlcpy(e.client, "operator", sizeof(e.client));
	cr_util_strlcpy(e.service, "population.person", sizeof(e.service));
	cr_util_strlcpy(e.provider, "RN", sizeof(e.provider));
	cr_util_strlcpy(e.subject, subject, sizeof(e.subject));
	cr_util_strlcpy(e.purpose, "benefit", sizeof(e.purpose));
	cr_util_strlcpy(e.legal_basis, "Law 1", sizeof(e.legal_basis));
	cr_util_strlcpy(e.outcome, seq % 2 ? CR_OUTCOME_GRANTED :
	    CR_OUTCOME_DENIED, sizeof(e.outcome));
	e.status = seq % 2 ? 200 : 403;
	if (seq % 2 == 0)
		cr_util_strlcpy(e.error_code, "NOT_AUTHORIZED",
		    sizeof(e.error_code));
	memset(e.prev_hash, (int)((seq - 1) & 0xff), CR_HASH_LEN);
	memset(e.hash, (int)(seq & 0xff), CR_HASH_LEN);
	return e;
}

#endif
