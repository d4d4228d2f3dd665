/*
 * The webhook engine's memory (delivery.c): entries per subscription and
 * per (subscription, subject) pair in a hash map, and a min-heap of the
 * times at which moved rows fall due. Used by the engine thread only, so
 * nothing here locks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery_state.h"


static size_t
key_make(char *out, size_t outlen, char kind, const char *sub,
    const char *subject)
{
	return (size_t)snprintf(out, outlen, "%c%s\n%s", kind, sub,
	    subject != NULL ? subject : "");
}

static uint32_t
key_hash(const char *k)
{
	uint32_t h = 2166136261u;

	for (; *k != '\0'; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h;
}

struct ent *
cr_dlv_ent_get(struct cr_dlv_map *m, char kind, const char *sub,
    const char *subject, int create)
{
	char key[2 + sizeof(((struct cr_delivery *)0)->subscription) +
	    CR_SUBJECT_MAX];
	struct ent *n;
	size_t len;
	uint32_t b;

	len = key_make(key, sizeof(key), kind, sub, subject);
	b = key_hash(key) % CR_DLV_NBUCKETS;
	for (n = m->buckets[b]; n != NULL; n = n->next)
		if (strcmp(n->key, key) == 0)
			return n;
	if (!create || (n = calloc(1, sizeof(*n) + len + 1)) == NULL)
		return NULL;
	memcpy(n->key, key, len + 1);
	/*
	 * A first guess of how long a subscriber takes to answer: a short one,
	 * since rows spread with it stay spread even once it is measured (a
	 * slow subscriber only has its first rows moved again a few times).
	 */
	n->ema_ms = 20;
	n->next = m->buckets[b];
	m->buckets[b] = n;
	return n;
}

static void
ent_free(struct ent *n)
{
	if (n->si != NULL) {
		cr_subscription_clear(&n->si->sub);
		cr_authz_clear(&n->si->az);
		free(n->si);
	}
	free(n);
}

/* Drops entries that remember nothing useful any more. */
void
cr_dlv_ent_gc(struct cr_dlv_map *m, int64_t now, int all)
{
	struct ent **pp, *n;
	size_t b;

	for (b = 0; b < CR_DLV_NBUCKETS; b++) {
		pp = &m->buckets[b];
		while ((n = *pp) != NULL) {
			if (all || (n->nmem == 0 && n->hold_until <= now &&
			    n->cursor <= (double)now)) {
				*pp = n->next;
				ent_free(n);
			} else
				pp = &n->next;
		}
	}
}

void
cr_dlv_heap_push(struct cr_dlv_heap *h, int64_t t)
{
	size_t i, p;
	int64_t tmp;

	if (h->n >= CR_DLV_HEAP_MAX)
		return;		/* the one-second poll still finds it */
	i = h->n++;
	h->t[i] = t;
	while (i > 0 && h->t[p = (i - 1) / 2] > h->t[i]) {
		tmp = h->t[p];
		h->t[p] = h->t[i];
		h->t[i] = tmp;
		i = p;
	}
}

void
cr_dlv_heap_pop_until(struct cr_dlv_heap *h, int64_t now)
{
	size_t i, l, m;
	int64_t tmp;

	while (h->n > 0 && h->t[0] <= now) {
		h->t[0] = h->t[--h->n];
		for (i = 0;; i = m) {
			l = 2 * i + 1;
			m = i;
			if (l < h->n && h->t[l] < h->t[m])
				m = l;
			if (l + 1 < h->n && h->t[l + 1] < h->t[m])
				m = l + 1;
			if (m == i)
				break;
			tmp = h->t[m];
			h->t[m] = h->t[i];
			h->t[i] = tmp;
		}
	}
}
