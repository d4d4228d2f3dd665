/*
 * One consultation: the contract's checks in order (authenticated, subject
 * valid, service known, authorization, integration), the call to the
 * source, data minimization, and the exchange-log entry, durable before
 * the caller hears the outcome. Used by POST /v1/consult and, per member
 * and service, by verifications, so that nothing bypasses the checks or
 * the log.
 */
#ifndef CR_CONSULT_H
#define CR_CONSULT_H

#include <stdint.h>
#include <jansson.h>

#include "hub.h"

struct cr_consult_req {
	enum cr_principal_kind	 who;
	const char		*unauthenticated;	/* who is NONE: the
							   401's message */
	const char		*consumer;	/* institution of the client */
	const char		*client_id;
	const char		*service;
	const char		*subject;	/* as sent */
	const char		*purpose;
	const char		*reference_date;	/* NULL: today */
	const char		*end_user;	/* "" or NULL: none */
	const char		*request_id;
	const json_t		*params;	/* NULL: {} */
	const char		*bad_request;	/* non-NULL: the request was
						   invalid, this says why */
	int			 bad_status;	/* with bad_request: 400, or
						   413 for an oversized body */
	long			 timeout_ms;	/* > 0: at most this long for
						   the source (a verification's
						   time left); 0: the service's */
	int			 answer;	/* 1: build res->body, the
						   consumer's HTTP answer */
};

struct cr_consult_result {
	int		 status;		/* HTTP status */
	char		 error_code[32];	/* "" on success */
	char		 message[256];
	json_t		*data;			/* granted fields, or NULL */
	char		 service[CR_KEY_MAX];
	char		 provider[CR_NAME_MAX];
	char		 subject[CR_SUBJECT_MAX];	/* normalized */
	uint64_t	 log_seq;		/* 0: not logged */
	uint8_t		 log_hash[CR_HASH_LEN];	/* its hash */
	/*
	 * With req.answer: the answer as sent (success or error body), built
	 * before the log entry is written so that the entry's status is the
	 * one sent; NULL (status 500) only when out of memory. Owned.
	 */
	char		*body;
	size_t		 body_len;
};

/*
 * Called exactly once, after the log entry is durable: usually on the
 * exchange-log writer thread, so it must not block. The callee owns res
 * and frees it with cr_consult_result_free.
 */
typedef void (*cr_consult_done_fn)(void *arg, struct cr_consult_result *res);

/* Copies what it needs from *r; done may run before this returns. */
void	cr_consult_start(struct cr_hub *, const struct cr_consult_req *r,
	    cr_consult_done_fn done, void *arg);
void	cr_consult_result_free(struct cr_consult_result *);

/*
 * What a consumer gets of a source's 200 answer (body, len bytes): its
 * "data" object minimized to what granted grants of what declared declares
 * (cr_authz_minimize, which counts what is undeclared into *drift, which
 * may be NULL). 0 with *out (a new reference), or -1 when the answer is
 * not a JSON object with an object "data", or on allocation failure.
 */
struct cr_authz_drift;
int	cr_consult_answer_data(const json_t *declared, const json_t *granted,
	    const char *body, size_t len, json_t **out,
	    struct cr_authz_drift *drift);

#endif
