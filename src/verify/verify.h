/*
 * A verification (POST /v1/verify/{bundle}): every service of a bundle
 * consulted for a subject and, on request, for every member of the
 * subject's household, all in parallel and under one deadline; then the
 * bundle's rules over what came back (docs/verification.md).
 *
 * Each sub-consultation is an ordinary cr_consult_start(): the same
 * checks, the same minimization, the same exchange-log entry, durable
 * before its result is counted. A source that has not answered when the
 * deadline passes is reported as "timeout" at once; its consultation
 * still completes (and is logged) later, and is then dropped.
 *
 * Independent of HTTP, so that batches reuse it.
 */
#ifndef CR_VERIFY_H
#define CR_VERIFY_H

#include <jansson.h>

#include "bundle.h"
#include "hub.h"

struct cr_verify_req {
	const char	*consumer;	/* institution of the client */
	const char	*client_id;
	const char	*end_user;	/* "" or NULL: none */
	const char	*request_id;	/* shared by every sub-consultation */
	const char	*subject;	/* the applicant */
	const char	*purpose;
	const char	*reference_date;	/* NULL: today */
	int		 household;	/* also every member of the household */
};

struct cr_verification;
struct cr_verifier;

/*
 * The verifier: the thread that keeps the verifications' deadlines and
 * starts household members' consultations. The hub starts one
 * (hub->verifier) before anything verifies; 0 or -1.
 */
int	cr_verifier_start(struct cr_verifier **);

/*
 * Stops verifying, first of the hub's parts at shutdown: a verification
 * started from now on is answered at once, every result "error"
 * UNAVAILABLE; those in flight get up to wait_ms to complete, then what
 * is still missing is answered so (cr_verify_aborted() is then true).
 * Their consultations still in flight complete later and are dropped.
 * When it returns, this module starts nothing more and no deadline
 * fires. The structure stays valid until cr_verifier_free(), called once
 * nothing can call cr_verify_start() any more.
 */
void	cr_verifier_stop(struct cr_verifier *, unsigned wait_ms);
void	cr_verifier_free(struct cr_verifier *);

/*
 * Called exactly once, from any thread (maybe before cr_verify_start
 * returns), when every result is in or the deadline has passed; v is
 * NULL when the verification could not start (out of memory). The callee
 * owns a reference to v: cr_verify_answer() it, then cr_verify_release().
 * Must not block.
 */
typedef void (*cr_verify_done_fn)(void *arg, struct cr_verification *v);

/*
 * Takes ownership of bundle. Copies what it needs from *r. Uses
 * hub->verifier; without one (NULL) it answers as when stopping.
 */
void	cr_verify_start(struct cr_hub *, struct cr_bundle *bundle,
	    const struct cr_verify_req *r, cr_verify_done_fn done, void *arg);

/*
 * The answer, once done was called: {"request_id","bundle","subject",
 * "household","complete","members":[...],"flags":[...],
 * "undetermined":[...]} (new reference; NULL when out of memory).
 */
json_t	*cr_verify_answer(struct cr_verification *);

void	cr_verify_release(struct cr_verification *);

/*
 * 1 when the verification was cut short by cr_verifier_stop() (what it
 * had not received is UNAVAILABLE), so that a batch line can be verified
 * again at the next start rather than keep this result.
 */
int	cr_verify_aborted(const struct cr_verification *);

#endif
