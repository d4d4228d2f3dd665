/*
 * The webhook engine's memory: what it knows of each subscription and of
 * each (subscription, subject) pair, and when it must look at the outbox
 * again. Engine thread only (delivery.c); see the design comment there.
 */
#ifndef CR_DELIVERY_STATE_H
#define CR_DELIVERY_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define CR_DLV_NBUCKETS		16384
#define CR_DLV_HEAP_MAX		65536

struct subinfo {
	uint64_t		 pass;
	int			 rc;		/* subscription_get */
	int			 azrc;		/* cr_events_sub_authz */
	struct cr_subscription	 sub;
	struct cr_authz		 az;
};

/* A subscription ('S') or a (subscription, subject) pair ('P'). */
struct ent {
	struct ent	*next;
	struct subinfo	*si;		/* sub: NULL until it sends */
	size_t		 nmem;		/* rows in memory */
	size_t		 ninflight;
	uint64_t	 hold_seq;	/* pair: 0 = no hold */
	int64_t		 hold_until;
	double		 cursor;	/* sub: overflow spread up to here;
					   fractional: a fast subscriber takes
					   several rows a millisecond */
	double		 ema_ms;	/* sub: how long it takes to answer */
	double		 gap_ms;	/* sub: time between two answers */
	double		 last_done;	/* sub: mono ms of the last answer */
	char		 key[];
};

struct cr_dlv_map {
	struct ent	*buckets[CR_DLV_NBUCKETS];
};

/* Min-heap of wake-up times (Unix ms); t holds CR_DLV_HEAP_MAX. */
struct cr_dlv_heap {
	int64_t		*t;
	size_t		 n;
};

/* The entry of a subscription (kind 'S', subject NULL) or of a pair ('P');
   created when create is set and it is missing (NULL when out of
   memory). Owned by the map. */
struct ent	*cr_dlv_ent_get(struct cr_dlv_map *, char kind, const char *sub,
		    const char *subject, int create);
/* Frees the entries that remember nothing useful at now (all of them when
   all is set). */
void		 cr_dlv_ent_gc(struct cr_dlv_map *, int64_t now, int all);
/* Adds a wake-up time; when the heap is full the one-second poll still
   finds the row. */
void		 cr_dlv_heap_push(struct cr_dlv_heap *, int64_t t);
/* Drops the times up to now. */
void		 cr_dlv_heap_pop_until(struct cr_dlv_heap *, int64_t now);

#endif
