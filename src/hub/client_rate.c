/* Per-client token buckets (client_rate.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_rate.h"
#include "ratelimit.h"
#include "util.h"

#define SHARDS	64
#define CHAINS	64

struct client_bucket {
	struct client_bucket	*next;
	char			 id[64];
	struct cr_rate		 rate;		/* resolved once */
	struct cr_bucket	 bucket;
};

struct shard {
	pthread_rwlock_t	 lk;
	struct client_bucket	*chains[CHAINS];
};

struct cr_client_rate {
	const struct cr_config	*cfg;
	struct shard		 shards[SHARDS];
};

static uint32_t
id_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

int
cr_client_rate_new(const struct cr_config *cfg, struct cr_client_rate **out)
{
	struct cr_client_rate *cr;
	size_t i;
	int any = cfg->client_rate.per_second > 0;

	*out = NULL;
	for (i = 0; i < cfg->nrate_overrides; i++)
		if (cfg->rate_overrides[i].rate.per_second > 0)
			any = 1;
	if (!any)
		return 0;
	if ((cr = calloc(1, sizeof(*cr))) == NULL)
		return -1;
	cr->cfg = cfg;
	for (i = 0; i < SHARDS; i++)
		pthread_rwlock_init(&cr->shards[i].lk, NULL);
	*out = cr;
	return 0;
}

static struct client_bucket *
find(struct client_bucket *b, const char *id)
{
	for (; b != NULL; b = b->next)
		if (strcmp(b->id, id) == 0)
			return b;
	return NULL;
}

int
cr_client_rate_take(struct cr_client_rate *cr, const char *client_id,
    const char *institution, unsigned *retry_after)
{
	struct client_bucket *b, **chain;
	struct shard *sh;
	uint32_t h;
	int64_t retry_us;

	*retry_after = 0;
	if (cr == NULL || client_id == NULL)
		return 0;
	h = id_hash(client_id);
	sh = &cr->shards[h % SHARDS];
	chain = &sh->chains[(h / SHARDS) % CHAINS];
	pthread_rwlock_rdlock(&sh->lk);
	b = find(*chain, client_id);
	pthread_rwlock_unlock(&sh->lk);
	if (b == NULL) {
		pthread_rwlock_wrlock(&sh->lk);
		if ((b = find(*chain, client_id)) == NULL &&
		    (b = calloc(1, sizeof(*b))) != NULL) {
			cr_util_strlcpy(b->id, client_id, sizeof(b->id));
			b->rate = *cr_config_client_rate(cr->cfg, client_id,
			    institution);
			cr_bucket_init(&b->bucket);
			b->next = *chain;
			*chain = b;
		}
		pthread_rwlock_unlock(&sh->lk);
		/* Out of memory: not limited rather than refused. */
		if (b == NULL)
			return 0;
	}
	/* Buckets are never freed before the table: no lock needed. */
	if (cr_bucket_take(&b->bucket, &b->rate,
	    (int64_t)(cr_util_mono_ms() * 1000), &retry_us) == 0)
		return 0;
	*retry_after = cr_rate_retry_after(retry_us);
	return -1;
}

void
cr_client_rate_free(struct cr_client_rate *cr)
{
	struct client_bucket *b, *next;
	size_t i, j;

	if (cr == NULL)
		return;
	for (i = 0; i < SHARDS; i++) {
		for (j = 0; j < CHAINS; j++)
			for (b = cr->shards[i].chains[j]; b != NULL; b = next) {
				next = b->next;
				free(b);
			}
		pthread_rwlock_destroy(&cr->shards[i].lk);
	}
	free(cr);
}
