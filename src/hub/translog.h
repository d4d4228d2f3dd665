/*
 * The exchange log as a transparency log (docs/exchange-log.md): the
 * hub's Ed25519 key, the signed tree heads it publishes over the Merkle
 * tree of the entries (every interval_ms or every `every` entries,
 * whichever comes first, on a thread of its own so that the group commit
 * only pays for a counter check), the heads table, and the last head saved
 * in a file apart from the database, which the start-up check holds the
 * log to: a truncated or rewritten log is refused.
 */
#ifndef CR_TRANSLOG_H
#define CR_TRANSLOG_H

#include <stdint.h>

#include "sth.h"
#include "store.h"
#include "xlog.h"

struct cr_translog;

struct cr_translog_config {
	const char	*key_file;	/* the hub's key: created (0600)
					   when missing */
	const char	*head_file;	/* the last signed head, written
					   atomically after each publish */
	unsigned	 interval_ms;	/* 0: 1000 */
	uint64_t	 every;		/* entries; 0: 10000 */
};

/*
 * Loads (or creates) the key. A key file that group or others may read,
 * or that is not 64 hex digits, is refused. 0 or -1 (logged).
 */
int	cr_translog_open(const struct cr_translog_config *,
	    struct cr_translog **out);
/*
 * The start-up check, before the log writer starts: the saved head
 * (the head file; when there is none, the newest head in the store) must
 * be signed by this hub's key, and the log must extend it (every entry
 * chained and hashed, the tree of the first tree_size entries with its
 * root). 0 when it does or there is no head; -1 when not (logged, saying
 * what is wrong); -2 when the store cannot be read.
 */
int	cr_translog_check(struct cr_translog *, struct cr_store *);
/* Publishes a head of the log now, then every interval or `every`
   entries. 0 or -1 (logged). */
int	cr_translog_start(struct cr_translog *, struct cr_store *,
	    struct cr_xlog *);
/* Stops publishing, after a last head over everything committed. */
void	cr_translog_stop(struct cr_translog *);
void	cr_translog_free(struct cr_translog *);

/* The newest head published; -1 before the first. Any thread. */
int	cr_translog_head(struct cr_translog *, struct cr_tree_head *out);
void	cr_translog_public_key(const struct cr_translog *,
	    uint8_t pk[CR_STH_PK_LEN]);

/*
 * Head files (`log verify --head`, the witness): reads and parses one
 * (*missing = 1 and -1 when it does not exist); writes one atomically
 * (a temporary file, fsync, rename, fsync of the directory). 0 or -1 with
 * err set.
 */
int	cr_translog_head_read(const char *path, struct cr_tree_head *out,
	    int *missing, char *err, size_t errlen);
int	cr_translog_head_write(const char *path,
	    const struct cr_tree_head *h, char *err, size_t errlen);
/* Reads an Ed25519 key file (64 hex digits: the seed), creating it with
   a new key when missing and create is set. 0 or -1 with err set. */
int	cr_translog_key_file(const char *path, int create,
	    uint8_t sk[CR_STH_SK_LEN], uint8_t pk[CR_STH_PK_LEN],
	    char *err, size_t errlen);

#endif
