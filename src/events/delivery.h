/*
 * Webhook delivery of routed events (deliveries of subscriptions with a
 * URL): a thread takes due deliveries from the store's durable outbox,
 * POSTs them through its own HTTP transport (source.h) signed with the
 * subscription's secret, and records the outcome: delivered, retried
 * later with exponential backoff and jitter, or dead-lettered after the
 * retry limit. In order per subscription and subject; a slow or dead
 * subscriber never delays the others. Every delivered or dead-lettered
 * delivery is written to the exchange log.
 */
#ifndef CR_DELIVERY_H
#define CR_DELIVERY_H

#include <stddef.h>

#include "source.h"

struct cr_hub;
struct cr_delivery_engine;

struct cr_delivery_config {
	int	 max_attempts;		/* then dead-lettered; 0 = 8 */
	long	 base_backoff_ms;	/* first retry delay; 0 = 500 */
	long	 max_backoff_ms;	/* 0 = 300000 */
	long	 timeout_ms;		/* per POST; 0 = 5000 */
	size_t	 max_in_flight;		/* per subscription; 0 = 64 */
	/* https:// webhooks (source.h): the CA their certificates chain to
	   (NULL: the system's), the hub's certificate and key (NULL: none).
	   Borrowed for the engine's life. */
	const char *ca_file;
	const char *client_cert;
	const char *client_key;
};

/* Starts the engine on hub->store and hub->xlog. 0 or -1. */
int	cr_delivery_start(struct cr_hub *, const struct cr_delivery_config *,
	    struct cr_delivery_engine **out);
/* New deliveries may be due (after a publish or a redelivery). Cheap,
   callable from any thread. */
void	cr_delivery_notify(struct cr_delivery_engine *);
/* Stops taking work, lets in-flight POSTs finish or fail, joins, frees. */
void	cr_delivery_stop(struct cr_delivery_engine *);

/*
 * What the answer to one POST means, as the transport reported it (err,
 * the HTTP status, its detail): 1 when the subscriber took the delivery
 * (2xx); else 0 with why set to the delivery's last_error ("HTTP 503",
 * "timeout: ...", "unavailable: ..."), cut to whylen bytes of whole
 * characters.
 */
int	cr_delivery_answer(enum cr_source_error err, long status,
	    const char *detail, char *why, size_t whylen);

#endif
