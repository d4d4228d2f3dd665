/*
 * The running hub: what `crossroads serve` wires together and every
 * request handler reads. Built once at start-up (cmd_serve.c), read-only
 * afterwards except for the atomic counters.
 */
#ifndef CR_HUB_H
#define CR_HUB_H

#include <stdatomic.h>
#include <stddef.h>

#include "config.h"
#include "ident.h"
#include "source.h"
#include "store.h"
#include "xlog.h"

#define CR_TOKEN_MAX	128

/* Who is calling: resolved from the bearer token by the HTTP front. */
enum cr_principal_kind {
	CR_PRINCIPAL_NONE = 0,		/* no or unknown token */
	CR_PRINCIPAL_OPERATOR,
	CR_PRINCIPAL_CLIENT,
};

struct cr_events;
struct cr_delivery_engine;
struct cr_batch_runner;
struct cr_verifier;
struct cr_translog;
struct cr_unauth;
struct cr_client_rate;
struct cr_usage;

struct cr_hub {
	struct cr_config		 cfg;
	struct cr_store			*store;
	struct cr_xlog			*xlog;
	struct cr_translog		*translog;	/* translog.h:
							   signed heads */
	struct cr_source_transport	*sources;
	struct cr_events		*events;	/* events.h */
	struct cr_delivery_engine	*deliveries;	/* delivery.h; NULL
							   until started */
	const struct cr_ident_scheme	*person_scheme;
	const struct cr_ident_scheme	*enterprise_scheme;
	char				 admin_token[CR_TOKEN_MAX];
	size_t				 admin_token_len;	/* 0: none */
	atomic_int			 ready;		/* /healthz */
	atomic_int			 draining;	/* since SIGTERM */
	/* /readyz: the storage probe's last result and when it ran
	   (cr_util_mono_ms; 0: never), and whether one is running. */
	atomic_int			 storage_ok;
	atomic_long			 storage_at_ms;
	atomic_int			 storage_probing;
	struct cr_batch_runner		*batches;	/* batch.h; NULL
							   until started */
	struct cr_verifier		*verifier;	/* verify.h; NULL
							   until started */
	struct cr_unauth		*unauth;	/* unauth.h */
	struct cr_client_rate		*client_rate;	/* client_rate.h;
							   NULL: no limit */
	struct cr_usage			*usage;		/* usage.h: clients'
							   last use; NULL:
							   not recorded */
};

#endif
