/*
 * Batches of verifications (POST /v1/batches, docs/batches.md): a list of
 * subjects verified in the background against one bundle, for one
 * purpose, as the client that created the batch.
 *
 * The subjects are stored before the batch is accepted; one runner thread
 * takes them in line order, keeps at most `concurrency` verifications in
 * flight per batch (each an ordinary cr_verify_start(), so the same
 * checks and the same exchange log as POST /v1/verify), and writes the
 * results in small grouped transactions. After a restart the lines
 * without a result are verified again; a line never gets two results.
 */
#ifndef CR_BATCH_H
#define CR_BATCH_H

#include <stddef.h>

#include "hub.h"

struct cr_batch_runner;

/*
 * Starts the runner and resumes the batches left queued or running by
 * the previous process. 0 or -1 (logged).
 */
int	cr_batch_runner_start(struct cr_hub *, unsigned concurrency,
	    struct cr_batch_runner **out);
/* A batch was accepted (stored, status "queued"): run it. */
void	cr_batch_runner_add(struct cr_batch_runner *, const char *id);
/*
 * Starts nothing more, waits for the verifications in flight (at most a
 * bundle's deadline), writes their results and stops. NULL is a no-op.
 */
void	cr_batch_runner_stop(struct cr_batch_runner *);

/*
 * Parses a batch body in place (NUL-terminated, len bytes): NDJSON, one
 * {"subject":"..."} a line (other members ignored, blank lines skipped),
 * or with csv set, CSV whose header names a "subject" column (',' or ';'
 * separated, RFC 4180 quotes). *subjects is a malloc'd array of n
 * pointers into body, in order. 0, or -1 with a message naming the line
 * at fault in err.
 */
int	cr_batch_parse(char *body, size_t len, int csv, char ***subjects,
	    size_t *n, char *err, size_t errlen);

#endif
