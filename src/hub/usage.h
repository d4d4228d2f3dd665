/*
 * When each client application was last authenticated, recorded without
 * a write on the request path: the HTTP front notes a use in memory
 * (cr_usage_note), a thread of its own writes what changed every
 * flush_ms in one transaction (registry->clients_touch), and once more
 * when stopped. A use is kept to the second; what GET .../clients shows
 * from the store is at most flush_ms behind, and this process's own
 * uses are overlaid (cr_usage_last).
 */
#ifndef CR_USAGE_H
#define CR_USAGE_H

#include <stdint.h>

#include "store.h"

struct cr_usage;

/* Starts the flusher on st (borrowed; outlives the usage). 0 or -1. */
int	cr_usage_start(struct cr_store *st, unsigned flush_ms,
	    struct cr_usage **out);
/* Notes a use of client_id now. Any thread; takes a lock at most once a
   second per thread and client. */
void	cr_usage_note(struct cr_usage *, const char *client_id);
/* The last use of client_id that this process noted (Unix ms, to the
   second), or 0. */
int64_t	cr_usage_last(struct cr_usage *, const char *client_id);
/* Writes what is left, stops the thread and frees. NULL is fine. */
void	cr_usage_stop(struct cr_usage *);

#endif
