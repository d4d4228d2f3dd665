/*
 * A registry cache in front of any store: the consult path looks up the
 * caller's client, the service and the authorization on every request,
 * and a database read for each costs more than the rest of the checks.
 * The registry is small and changes rarely, so this keeps an immutable
 * snapshot of it in memory.
 *
 * Readers take no lock: each thread keeps a reference to the snapshot it
 * last used and the generation it belonged to, and only when the
 * generation moved does it take the (short) mutex to pick up the new one.
 * Writers go through to the inner store and rebuild the snapshot before
 * returning, so a revoked authorization is gone for the next request.
 * Changes made by another process (a CLI import on the same database) are
 * noticed through the store's registry_version within refresh_ms, except
 * for credentials: every token lookup reads registry_version first (one
 * indexed read of one row), so that a client revoked or rotated by another
 * hub process on the same database is refused on its next request here
 * too. Expiry and the end of a rotation's overlap are checked against the
 * clock at each lookup.
 *
 * When a snapshot cannot be built, lookups go to the inner store: a
 * stale snapshot must never grant what the database no longer grants.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "util.h"

/* One valid token: a client with a rotation in overlap has two. */
struct snap_client {
	uint8_t			hash[CR_HASH_LEN];
	int64_t			valid_until_ms;	/* INT64_MAX: no end */
	struct cr_client	client;
};

struct snap_operator {
	uint8_t			hash[CR_HASH_LEN];
	struct cr_operator	op;
};

struct snapshot {
	atomic_int		 refs;
	uint64_t		 version;
	struct snap_client	*clients;	/* sorted by hash */
	size_t			 nclients;
	struct snap_operator	*operators;	/* sorted by hash, revoked
						   ones left out */
	size_t			 noperators;
	struct cr_service	*services;	/* sorted by id */
	size_t			 nservices;
	struct cr_authz		*authz;		/* sorted by consumer,
						   service, purpose */
	size_t			 nauthz;
};

struct reader {
	struct snapshot		*snap;
	uint64_t		 gen;
};

struct cache_store {
	struct cr_store		 base;		/* first: callers see a cr_store */
	struct cr_registry_store registry;	/* this cache's registry */
	struct cr_store		*inner;
	struct cr_registry_store *ireg;		/* inner->registry */
	pthread_key_t		 key;		/* this thread's struct reader */
	pthread_mutex_t		 mtx;		/* cur, rebuilds */
	struct snapshot		*cur;		/* NULL: pass through */
	/* cur's version, readable without the mutex; UINT64_MAX when cur
	   is NULL. */
	atomic_uint_fast64_t	 cur_version;
	atomic_uint_fast64_t	 gen;
	atomic_long		 next_check_ms;	/* of registry_version */
	unsigned		 refresh_ms;
};

/* The cache that a registry handle belongs to, and the inner registry. */
#define CACHE(r)	((struct cache_store *)(void *)((char *)(r) - \
			    offsetof(struct cache_store, registry)))
#define INNER(r)	(CACHE(r)->ireg)

static void
snapshot_release(struct snapshot *s)
{
	size_t i;

	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (i = 0; i < s->nservices; i++)
		cr_service_clear(&s->services[i]);
	for (i = 0; i < s->nauthz; i++)
		cr_authz_clear(&s->authz[i]);
	free(s->clients);
	free(s->operators);
	free(s->services);
	free(s->authz);
	free(s);
}

static int
client_cmp(const void *a, const void *b)
{
	return memcmp(((const struct snap_client *)a)->hash,
	    ((const struct snap_client *)b)->hash, CR_HASH_LEN);
}

static int
service_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cr_service *)a)->id,
	    ((const struct cr_service *)b)->id);
}

/* bsearch with a service id as the key. */
static int
service_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cr_service *)elem)->id);
}

static int
authz_key_cmp(const struct cr_authz *a, const char *consumer,
    const char *service, const char *purpose)
{
	int c;

	if ((c = strcmp(a->consumer, consumer)) != 0 ||
	    (c = strcmp(a->service, service)) != 0)
		return c;
	return strcmp(a->purpose, purpose);
}

static int
authz_cmp(const void *a, const void *b)
{
	const struct cr_authz *y = b;

	return authz_key_cmp(a, y->consumer, y->service, y->purpose);
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

/* A _ms member of a client_list row; dflt when null. */
static int64_t
jms(const json_t *o, const char *key, int64_t dflt)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* Adds the entry of one token of client o, valid until `until`. */
static void
add_client(struct snapshot *s, const json_t *o, const char *hash_key,
    int64_t until)
{
	struct snap_client *c = &s->clients[s->nclients];

	if (cr_util_unhex(jstr(o, hash_key), c->hash, CR_HASH_LEN) == -1)
		return;
	c->valid_until_ms = until;
	cr_util_strlcpy(c->client.id, jstr(o, "id"), sizeof(c->client.id));
	cr_util_strlcpy(c->client.institution, jstr(o, "institution"),
	    sizeof(c->client.institution));
	cr_util_strlcpy(c->client.name, jstr(o, "name"),
	    sizeof(c->client.name));
	c->client.expires_ms = jms(o, "expires_ms", 0);
	if (json_is_string(json_object_get(o, "cert_sha256")))
		cr_util_strlcpy(c->client.cert_sha256, jstr(o, "cert_sha256"),
		    sizeof(c->client.cert_sha256));
	s->nclients++;
}

static int
load_clients(struct cr_registry_store *inner, struct snapshot *s)
{
	json_t *list, *o;
	int64_t exp, prev;
	size_t i;

	if (inner->ops->client_list(inner, &list) != CR_STORE_OK)
		return -1;
	/* At most two tokens a client. */
	s->clients = calloc(2 * json_array_size(list) + 1,
	    sizeof(*s->clients));
	if (s->clients == NULL) {
		json_decref(list);
		return -1;
	}
	json_array_foreach(list, i, o) {
		/* A revoked client has no valid token at all. */
		if (!json_is_null(json_object_get(o, "revoked_ms")))
			continue;
		exp = jms(o, "expires_ms", INT64_MAX);
		add_client(s, o, "token_hash", exp);
		if (json_is_string(json_object_get(o, "prev_token_hash"))) {
			prev = jms(o, "prev_valid_until_ms", 0);
			add_client(s, o, "prev_token_hash", prev < exp ? prev :
			    exp);
		}
	}
	json_decref(list);
	qsort(s->clients, s->nclients, sizeof(*s->clients), client_cmp);
	return 0;
}

static int
operator_cmp(const void *a, const void *b)
{
	return memcmp(((const struct snap_operator *)a)->hash,
	    ((const struct snap_operator *)b)->hash, CR_HASH_LEN);
}

static int
load_operators(struct cr_registry_store *inner, struct snapshot *s)
{
	json_t *list, *o;
	size_t i;

	if (inner->ops->operator_list(inner, &list) != CR_STORE_OK)
		return -1;
	s->operators = calloc(json_array_size(list) + 1,
	    sizeof(*s->operators));
	if (s->operators == NULL) {
		json_decref(list);
		return -1;
	}
	json_array_foreach(list, i, o) {
		struct snap_operator *p = &s->operators[s->noperators];

		if (!json_is_null(json_object_get(o, "revoked_ms")) ||
		    cr_util_unhex(jstr(o, "token_hash"), p->hash,
		    CR_HASH_LEN) == -1)
			continue;
		cr_util_strlcpy(p->op.id, jstr(o, "id"), sizeof(p->op.id));
		cr_util_strlcpy(p->op.name, jstr(o, "name"),
		    sizeof(p->op.name));
		cr_util_strlcpy(p->op.role, jstr(o, "role"),
		    sizeof(p->op.role));
		s->noperators++;
	}
	json_decref(list);
	qsort(s->operators, s->noperators, sizeof(*s->operators),
	    operator_cmp);
	return 0;
}

static int
load_services(struct cr_registry_store *inner, struct snapshot *s)
{
	json_t *list, *o;
	size_t i;

	if (inner->ops->service_list(inner, &list) != CR_STORE_OK)
		return -1;
	s->services = calloc(json_array_size(list) + 1, sizeof(*s->services));
	if (s->services == NULL) {
		json_decref(list);
		return -1;
	}
	json_array_foreach(list, i, o) {
		struct cr_service *v = &s->services[s->nservices++];

		cr_util_strlcpy(v->id, jstr(o, "id"), sizeof(v->id));
		cr_util_strlcpy(v->provider, jstr(o, "provider"),
		    sizeof(v->provider));
		cr_util_strlcpy(v->endpoint, jstr(o, "endpoint"),
		    sizeof(v->endpoint));
		cr_util_strlcpy(v->subject_kind, jstr(o, "subject_kind"),
		    sizeof(v->subject_kind));
		v->fields = json_incref(json_object_get(o, "fields"));
		v->params = json_incref(json_object_get(o, "params"));
		v->timeout_ms = (int)json_integer_value(json_object_get(o,
		    "timeout_ms"));
		cr_util_strlcpy(v->ca_file, jstr(o, "ca_file"),
		    sizeof(v->ca_file));
		cr_util_strlcpy(v->client_cert, jstr(o, "client_cert"),
		    sizeof(v->client_cert));
		cr_util_strlcpy(v->client_key, jstr(o, "client_key"),
		    sizeof(v->client_key));
	}
	json_decref(list);
	qsort(s->services, s->nservices, sizeof(*s->services), service_cmp);
	return 0;
}

static int
load_authz(struct cr_registry_store *inner, struct snapshot *s)
{
	json_t *list, *o;
	size_t i;

	if (inner->ops->authz_list(inner, NULL, &list) != CR_STORE_OK)
		return -1;
	s->authz = calloc(json_array_size(list) + 1, sizeof(*s->authz));
	if (s->authz == NULL) {
		json_decref(list);
		return -1;
	}
	json_array_foreach(list, i, o) {
		struct cr_authz *a = &s->authz[s->nauthz++];

		cr_util_strlcpy(a->id, jstr(o, "id"), sizeof(a->id));
		cr_util_strlcpy(a->consumer, jstr(o, "consumer"),
		    sizeof(a->consumer));
		cr_util_strlcpy(a->service, jstr(o, "service"),
		    sizeof(a->service));
		cr_util_strlcpy(a->purpose, jstr(o, "purpose"),
		    sizeof(a->purpose));
		cr_util_strlcpy(a->legal_basis, jstr(o, "legal_basis"),
		    sizeof(a->legal_basis));
		a->fields = json_incref(json_object_get(o, "fields"));
		a->capacities = json_incref(json_object_get(o, "capacities"));
		cr_util_strlcpy(a->valid_from, jstr(o, "valid_from"),
		    sizeof(a->valid_from));
		cr_util_strlcpy(a->valid_to, jstr(o, "valid_to"),
		    sizeof(a->valid_to));
	}
	json_decref(list);
	qsort(s->authz, s->nauthz, sizeof(*s->authz), authz_cmp);
	return 0;
}

/* Builds a snapshot of the inner store's registry; NULL on failure. */
static struct snapshot *
snapshot_build(struct cr_registry_store *inner)
{
	struct snapshot *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	if (inner->ops->registry_version(inner, &s->version) != CR_STORE_OK ||
	    load_clients(inner, s) == -1 || load_operators(inner, s) == -1 ||
	    load_services(inner, s) == -1 ||
	    load_authz(inner, s) == -1) {
		snapshot_release(s);
		return NULL;
	}
	return s;
}

/* Replaces the snapshot; on failure lookups pass through until one works. */
static void
cache_rebuild_locked(struct cache_store *c)
{
	struct snapshot *s, *old;

	if ((s = snapshot_build(c->ireg)) == NULL)
		log_warnx("store cache: cannot load the registry; reading "
		    "the database directly until it can");
	old = c->cur;
	c->cur = s;
	atomic_store(&c->cur_version, s != NULL ? s->version : UINT64_MAX);
	atomic_fetch_add(&c->gen, 1);
	snapshot_release(old);
}

static void
cache_rebuild(struct cache_store *c)
{
	pthread_mutex_lock(&c->mtx);
	cache_rebuild_locked(c);
	pthread_mutex_unlock(&c->mtx);
}

/* Rebuilds unless the snapshot is at the version the store has now. */
static void
cache_sync_version(struct cache_store *c)
{
	uint64_t v;

	if (c->ireg->ops->registry_version(c->ireg, &v) != CR_STORE_OK)
		return;
	if (atomic_load(&c->cur_version) == v)
		return;
	pthread_mutex_lock(&c->mtx);
	/* Another thread may have rebuilt it meanwhile. */
	if (c->cur == NULL || c->cur->version != v)
		cache_rebuild_locked(c);
	pthread_mutex_unlock(&c->mtx);
}

/* Rebuilds when another process changed the registry; at most so often. */
static void
cache_check_version(struct cache_store *c)
{
	long now = (long)cr_util_mono_ms(), due;

	due = atomic_load_explicit(&c->next_check_ms, memory_order_relaxed);
	if (now < due || !atomic_compare_exchange_strong(&c->next_check_ms,
	    &due, now + (long)c->refresh_ms))
		return;
	cache_sync_version(c);
}

static void
reader_free(void *p)
{
	struct reader *r = p;

	snapshot_release(r->snap);
	free(r);
}

/* This thread's current snapshot (borrowed), or NULL: pass through. */
static struct snapshot *
cache_snapshot(struct cache_store *c)
{
	struct reader *r;
	uint64_t gen;

	if ((r = pthread_getspecific(c->key)) == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL ||
		    pthread_setspecific(c->key, r) != 0) {
			free(r);
			return NULL;
		}
		r->gen = UINT64_MAX;
	}
	gen = atomic_load(&c->gen);
	if (r->gen != gen) {
		struct snapshot *old = r->snap;

		pthread_mutex_lock(&c->mtx);
		r->snap = c->cur;
		if (r->snap != NULL)
			atomic_fetch_add(&r->snap->refs, 1);
		r->gen = atomic_load(&c->gen);
		pthread_mutex_unlock(&c->mtx);
		snapshot_release(old);
	}
	return r->snap;
}

static int
cache_client_by_token(struct cr_registry_store *st, const uint8_t hash[CR_HASH_LEN],
    int64_t now_ms, struct cr_client *out)
{
	struct snapshot *s;
	struct snap_client key, *found;

	/* Credentials: another process's revocation counts at once. */
	cache_sync_version(CACHE(st));
	if ((s = cache_snapshot(CACHE(st))) == NULL)
		return INNER(st)->ops->client_by_token(INNER(st), hash, now_ms,
		    out);
	memcpy(key.hash, hash, CR_HASH_LEN);
	found = bsearch(&key, s->clients, s->nclients, sizeof(*s->clients),
	    client_cmp);
	if (found == NULL || now_ms >= found->valid_until_ms)
		return CR_STORE_NOTFOUND;
	*out = found->client;
	return CR_STORE_OK;
}

static int
cache_operator_by_token(struct cr_registry_store *st,
    const uint8_t hash[CR_HASH_LEN], struct cr_operator *out)
{
	struct snapshot *s;
	struct snap_operator key, *found;

	/* Credentials: another process's revocation counts at once. */
	cache_sync_version(CACHE(st));
	if ((s = cache_snapshot(CACHE(st))) == NULL)
		return INNER(st)->ops->operator_by_token(INNER(st), hash, out);
	memcpy(key.hash, hash, CR_HASH_LEN);
	found = bsearch(&key, s->operators, s->noperators,
	    sizeof(*s->operators), operator_cmp);
	if (found == NULL)
		return CR_STORE_NOTFOUND;
	*out = found->op;
	return CR_STORE_OK;
}

static int
cache_service_get(struct cr_registry_store *st, const char *id, struct cr_service *out)
{
	struct snapshot *s;
	struct cr_service *found;

	cache_check_version(CACHE(st));
	s = cache_snapshot(CACHE(st));
	if (s == NULL)
		return INNER(st)->ops->service_get(INNER(st), id, out);
	if (strlen(id) >= sizeof(out->id))
		return CR_STORE_NOTFOUND;
	found = bsearch(id, s->services, s->nservices, sizeof(*s->services),
	    service_key_cmp);
	if (found == NULL)
		return CR_STORE_NOTFOUND;
	*out = *found;
	json_incref(out->fields);
	json_incref(out->params);
	return CR_STORE_OK;
}

static int
cache_authz_find(struct cr_registry_store *st, const char *consumer,
    const char *service, const char *purpose, const char *date,
    struct cr_authz *out)
{
	struct snapshot *s;
	const struct cr_authz *best = NULL, *a;
	size_t lo = 0, hi, i;

	cache_check_version(CACHE(st));
	s = cache_snapshot(CACHE(st));
	if (s == NULL)
		return INNER(st)->ops->authz_find(INNER(st), consumer, service,
		    purpose, date, out);
	/* First entry of the (consumer, service, purpose) run. */
	hi = s->nauthz;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (authz_key_cmp(&s->authz[mid], consumer, service,
		    purpose) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* As the database does: of those valid on date, the latest start,
	   then the smallest id. */
	for (i = lo; i < s->nauthz; i++) {
		a = &s->authz[i];
		if (authz_key_cmp(a, consumer, service, purpose) != 0)
			break;
		if (!cr_period_contains(a->valid_from, a->valid_to, date))
			continue;
		if (best == NULL || strcmp(a->valid_from, best->valid_from) > 0 ||
		    (strcmp(a->valid_from, best->valid_from) == 0 &&
		    strcmp(a->id, best->id) < 0))
			best = a;
	}
	if (best == NULL)
		return CR_STORE_NOTFOUND;
	*out = *best;
	json_incref(out->fields);
	json_incref(out->capacities);
	return CR_STORE_OK;
}

/* Registry writes go through, then the snapshot is rebuilt. */
#define WRITE_THROUGH(name, params, args)				\
static int								\
cache_##name params							\
{									\
	int rc = INNER(st)->ops->name args;				\
									\
	if (rc == CR_STORE_OK)						\
		cache_rebuild(CACHE(st));				\
	return rc;							\
}
WRITE_THROUGH(institution_add, (struct cr_registry_store *st,
    const struct cr_institution *in), (INNER(st), in))
WRITE_THROUGH(client_add, (struct cr_registry_store *st, const struct cr_client *cl,
    const uint8_t hash[CR_HASH_LEN]), (INNER(st), cl, hash))
WRITE_THROUGH(client_revoke, (struct cr_registry_store *st,
    const char *institution, const char *id, int64_t now_ms),
    (INNER(st), institution, id, now_ms))
WRITE_THROUGH(client_rotate, (struct cr_registry_store *st,
    const char *institution, const char *id, const uint8_t hash[CR_HASH_LEN],
    int64_t until_ms), (INNER(st), institution, id, hash, until_ms))
WRITE_THROUGH(operator_add, (struct cr_registry_store *st,
    const struct cr_operator *op, const uint8_t hash[CR_HASH_LEN]),
    (INNER(st), op, hash))
WRITE_THROUGH(operator_revoke, (struct cr_registry_store *st, const char *id,
    int64_t now_ms), (INNER(st), id, now_ms))
WRITE_THROUGH(operator_rotate, (struct cr_registry_store *st, const char *id,
    const uint8_t hash[CR_HASH_LEN]), (INNER(st), id, hash))
WRITE_THROUGH(service_add, (struct cr_registry_store *st,
    const struct cr_service *svc), (INNER(st), svc))
WRITE_THROUGH(authz_add, (struct cr_registry_store *st, const struct cr_authz *a),
    (INNER(st), a))
WRITE_THROUGH(authz_delete, (struct cr_registry_store *st, const char *id),
    (INNER(st), id))
WRITE_THROUGH(authz_update, (struct cr_registry_store *st,
    const struct cr_authz *a), (INNER(st), a))
#undef WRITE_THROUGH

/* The rest of the registry is read from the inner store. */
#define PASS(name, params, args)					\
static int								\
cache_##name params							\
{									\
	return INNER(st)->ops->name args;				\
}
PASS(institution_get, (struct cr_registry_store *st, const char *id,
    struct cr_institution *out), (INNER(st), id, out))
PASS(institution_list, (struct cr_registry_store *st, json_t **out), (INNER(st), out))
PASS(client_list, (struct cr_registry_store *st, json_t **out), (INNER(st), out))
PASS(client_by_cert, (struct cr_registry_store *st, const char *sha256,
    struct cr_client *out), (INNER(st), sha256, out))
/* Last use is not in the snapshot. */
PASS(clients_touch, (struct cr_registry_store *st,
    const struct cr_client_use *u, size_t n), (INNER(st), u, n))
PASS(operator_list, (struct cr_registry_store *st, json_t **out),
    (INNER(st), out))
PASS(registry_version, (struct cr_registry_store *st, uint64_t *v), (INNER(st), v))
PASS(service_list, (struct cr_registry_store *st, json_t **out), (INNER(st), out))
PASS(authz_list, (struct cr_registry_store *st, const char *consumer, json_t **out),
    (INNER(st), consumer, out))
/* The catalogue is read by directory writes only, never by a consultation:
   not worth a place in the snapshot. */
PASS(capacity_add, (struct cr_registry_store *st, const struct cr_capacity *cap),
    (INNER(st), cap))
PASS(capacity_update, (struct cr_registry_store *st,
    const struct cr_capacity *cap), (INNER(st), cap))
PASS(capacity_get, (struct cr_registry_store *st, const char *id,
    struct cr_capacity *out), (INNER(st), id, out))
PASS(capacity_list, (struct cr_registry_store *st, json_t **out), (INNER(st), out))
#undef PASS

static void
cache_close(struct cr_store *st)
{
	struct cache_store *c = (struct cache_store *)st;
	struct reader *r;

	/* Other threads' readers go with their threads (key destructor). */
	if ((r = pthread_getspecific(c->key)) != NULL) {
		pthread_setspecific(c->key, NULL);
		reader_free(r);
	}
	pthread_key_delete(c->key);
	snapshot_release(c->cur);
	pthread_mutex_destroy(&c->mtx);
	cr_store_close(c->inner);
	free(c);
}

/* The inner store's probe, given the inner store (base is a copy). */
static int
cache_health(struct cr_store *st)
{
	struct cache_store *c = (struct cache_store *)st;

	return c->inner->health(c->inner);
}

static const struct cr_registry_ops cache_registry_ops = {
	.institution_add = cache_institution_add,
	.institution_get = cache_institution_get,
	.institution_list = cache_institution_list,
	.client_add = cache_client_add,
	.client_by_token = cache_client_by_token,
	.client_by_cert = cache_client_by_cert,
	.client_list = cache_client_list,
	.client_revoke = cache_client_revoke,
	.client_rotate = cache_client_rotate,
	.clients_touch = cache_clients_touch,
	.operator_add = cache_operator_add,
	.operator_by_token = cache_operator_by_token,
	.operator_list = cache_operator_list,
	.operator_revoke = cache_operator_revoke,
	.operator_rotate = cache_operator_rotate,
	.registry_version = cache_registry_version,
	.service_add = cache_service_add,
	.service_get = cache_service_get,
	.service_list = cache_service_list,
	.authz_add = cache_authz_add,
	.authz_delete = cache_authz_delete,
	.authz_update = cache_authz_update,
	.authz_list = cache_authz_list,
	.authz_find = cache_authz_find,
	.capacity_add = cache_capacity_add,
	.capacity_update = cache_capacity_update,
	.capacity_get = cache_capacity_get,
	.capacity_list = cache_capacity_list,
};


int
cr_store_cache_wrap(struct cr_store *inner, unsigned refresh_ms,
    struct cr_store **out)
{
	struct cache_store *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	if (pthread_key_create(&c->key, reader_free) != 0) {
		free(c);
		return -1;
	}
	pthread_mutex_init(&c->mtx, NULL);
	/* Only the registry is this cache's: the other concerns are the
	   inner store's own handles, called with no indirection. */
	c->base = *inner;
	c->base.name = "cache";
	c->base.close = cache_close;
	c->base.health = cache_health;
	c->registry.ops = &cache_registry_ops;
	c->base.registry = &c->registry;
	c->inner = inner;
	c->ireg = inner->registry;
	c->refresh_ms = refresh_ms > 0 ? refresh_ms : 1000;
	atomic_init(&c->gen, 0);
	atomic_init(&c->cur_version, UINT64_MAX);
	atomic_init(&c->next_check_ms, (long)cr_util_mono_ms() +
	    (long)c->refresh_ms);
	cache_rebuild(c);
	*out = &c->base;
	return 0;
}
