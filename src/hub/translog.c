/*
 * Signed tree heads published over the exchange log (translog.h). One
 * thread signs and stores heads; the log writer only tells it, after a
 * commit, when `every` entries have gone by since the last head.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "metrics.h"
#include "translog.h"
#include "util.h"

#define DEFAULT_INTERVAL_MS	1000
#define DEFAULT_EVERY		10000
#define FILE_MAX		4096	/* a head or key file */

struct cr_translog {
	uint8_t			 sk[CR_STH_SK_LEN];
	uint8_t			 pk[CR_STH_PK_LEN];
	char			 key_file[PATH_MAX];
	char			 head_file[PATH_MAX];
	unsigned		 interval_ms;
	uint64_t		 every;
	struct cr_store		*store;
	struct cr_xlog		*xlog;

	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;		/* monotonic */
	pthread_t		 thread;
	int			 running;
	int			 stopping;	/* under mtx */
	int			 kicked;	/* under mtx */
	int			 have_head;	/* under mtx */
	struct cr_tree_head	 head;		/* under mtx */
	_Atomic uint64_t	 published;	/* tree size of head */
};

/* The whole of a small file, NUL-terminated. 0, or -1 with errno. */
static int
read_small(const char *path, char *buf, size_t size, size_t *len,
    struct stat *sb)
{
	ssize_t n;
	size_t off = 0;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (sb != NULL && fstat(fd, sb) == -1)
		goto fail;
	while (off < size - 1 && (n = read(fd, buf + off, size - 1 - off)) !=
	    0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (off == size - 1) {
		errno = EFBIG;
		goto fail;
	}
	close(fd);
	buf[off] = '\0';
	*len = off;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Syncs the directory that holds path, so that a rename is durable. */
static int
sync_dir(const char *path)
{
	char dir[PATH_MAX], *s;
	int fd, rc;

	if (cr_util_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return -1;
	if ((s = strrchr(dir, '/')) == NULL)
		cr_util_strlcpy(dir, ".", sizeof(dir));
	else if (s == dir)
		dir[1] = '\0';
	else
		*s = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
cr_translog_key_file(const char *path, int create, uint8_t sk[CR_STH_SK_LEN],
    uint8_t pk[CR_STH_PK_LEN], char *err, size_t errlen)
{
	uint8_t seed[CR_STH_SEED_LEN];
	char buf[FILE_MAX], hex[2 * CR_STH_SEED_LEN + 2];
	struct stat sb;
	size_t len;
	int fd;

	if (read_small(path, buf, sizeof(buf), &len, &sb) == 0) {
		if (sb.st_mode & 077) {
			snprintf(err, errlen, "%s: group or others may read "
			    "it (mode %04o): chmod 600", path,
			    (unsigned)(sb.st_mode & 07777));
			sodium_memzero(buf, sizeof(buf));
			return -1;
		}
		if (cr_util_unhex(cr_util_trim(buf), seed, sizeof(seed)) ==
		    -1) {
			snprintf(err, errlen, "%s: expected 64 hex digits (an "
			    "Ed25519 seed)", path);
			sodium_memzero(buf, sizeof(buf));
			return -1;
		}
		sodium_memzero(buf, sizeof(buf));
		crypto_sign_seed_keypair(pk, sk, seed);
		sodium_memzero(seed, sizeof(seed));
		return 0;
	}
	if (errno != ENOENT || !create) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	randombytes_buf(seed, sizeof(seed));
	cr_util_hex(seed, sizeof(seed), hex);
	hex[2 * CR_STH_SEED_LEN] = '\n';
	/* O_EXCL: two hubs starting at once never overwrite a key. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1 || write_all(fd, hex, 2 * CR_STH_SEED_LEN + 1) == -1 ||
	    fsync(fd) == -1) {
		snprintf(err, errlen, "%s: cannot create: %s", path,
		    strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(path);
		}
		sodium_memzero(hex, sizeof(hex));
		return -1;
	}
	close(fd);
	sync_dir(path);
	sodium_memzero(hex, sizeof(hex));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
	log_info("log key: created %s", path);
	return 0;
}

int
cr_translog_head_read(const char *path, struct cr_tree_head *out,
    int *missing, char *err, size_t errlen)
{
	char buf[FILE_MAX], why[256];
	size_t len;

	*missing = 0;
	if (read_small(path, buf, sizeof(buf), &len, NULL) == -1) {
		*missing = errno == ENOENT;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (cr_sth_parse(buf, len, out, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: not a tree head: %s", path, why);
		return -1;
	}
	return 0;
}

int
cr_translog_head_write(const char *path, const struct cr_tree_head *h,
    char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8], *text = NULL;
	json_t *j;
	int fd = -1, rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >=
	    sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((j = cr_sth_json(h)) == NULL || (text = json_dumps(j,
	    JSON_COMPACT)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) ==
	    -1 || write_all(fd, text, strlen(text)) == -1 ||
	    write_all(fd, "\n", 1) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) == -1 || sync_dir(path) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1) {
		close(fd);
		unlink(tmp);
	}
	free(text);
	json_decref(j);
	return rc;
}

int
cr_translog_open(const struct cr_translog_config *cfg,
    struct cr_translog **out)
{
	struct cr_translog *t;
	char err[PATH_MAX + 128];
	int e;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("log key: calloc");
		return -1;
	}
	if (cr_util_strlcpy(t->key_file, cfg->key_file, sizeof(t->key_file))
	    >= sizeof(t->key_file) || cr_util_strlcpy(t->head_file,
	    cfg->head_file, sizeof(t->head_file)) >= sizeof(t->head_file)) {
		log_warnx("log key: path too long");
		free(t);
		return -1;
	}
	t->interval_ms = cfg->interval_ms ? cfg->interval_ms :
	    DEFAULT_INTERVAL_MS;
	t->every = cfg->every ? cfg->every : DEFAULT_EVERY;
	if (cr_translog_key_file(t->key_file, 1, t->sk, t->pk, err,
	    sizeof(err)) == -1) {
		log_warnx("log key: %s", err);
		free(t);
		return -1;
	}
	if ((e = pthread_mutex_init(&t->mtx, NULL)) != 0 ||
	    (e = cr_util_cond_init_mono(&t->cond)) != 0) {
		errno = e;
		log_warn("translog: init");
		sodium_memzero(t->sk, sizeof(t->sk));
		free(t);
		return -1;
	}
	*out = t;
	return 0;
}

int
cr_translog_check(struct cr_translog *t, struct cr_store *st)
{
	struct cr_tree_head h;
	char err[PATH_MAX + 128], why[256];
	const char *from = t->head_file;
	uint64_t count = 0, bad = 0;
	int missing, rc;

	if (cr_translog_head_read(t->head_file, &h, &missing, err,
	    sizeof(err)) == -1) {
		if (!missing) {
			log_warnx("saved head: %s", err);
			return -1;
		}
		/* Weaker: the database's own newest head. */
		rc = st->xlog->ops->head_get(st->xlog, 0, &h);
		if (rc == CR_STORE_ERR)
			return -2;
		if (rc == CR_STORE_NOTFOUND) {
			log_info("saved head: none at %s: a first one is "
			    "written now", t->head_file);
			return 0;
		}
		log_warnx("saved head: none at %s: checking the log against "
		    "the newest head in the database only", t->head_file);
		from = "the database's newest head";
	}
	if (cr_sth_verify(&h, t->pk) == -1) {
		log_warnx("saved head: %s (tree size %" PRIu64 ") is not "
		    "signed by this hub's key %s", from, h.tree_size,
		    t->key_file);
		return -1;
	}
	rc = cr_xlog_verify_head(st, &h, &count, &bad, why, sizeof(why));
	if (rc == -2) {
		log_warnx("saved head: %s", why);
		return -2;
	}
	if (rc == -1) {
		log_warnx("the exchange log does not extend %s (tree size %"
		    PRIu64 "): entry %" PRIu64 ": %s", from, h.tree_size, bad,
		    why);
		return -1;
	}
	log_info("the exchange log (%" PRIu64 " entries) extends %s (tree "
	    "size %" PRIu64 ")", count, from, h.tree_size);
	return 0;
}

/* Signs and stores a head of the committed tree, if it grew. */
static void
publish(struct cr_translog *t, int force)
{
	struct cr_tree_head h;
	char err[PATH_MAX + 128];
	int64_t now;

	memset(&h, 0, sizeof(h));
	cr_xlog_tree(t->xlog, &h.tree_size, h.root);
	pthread_mutex_lock(&t->mtx);
	if (t->have_head && !force && h.tree_size == t->head.tree_size) {
		pthread_mutex_unlock(&t->mtx);
		return;
	}
	/* Never earlier than the head before, whatever the clock did. */
	now = cr_util_wall_ms();
	h.timestamp_ms = t->have_head && now < t->head.timestamp_ms ?
	    t->head.timestamp_ms : now;
	pthread_mutex_unlock(&t->mtx);
	cr_sth_sign(&h, t->sk);
	if (t->store->xlog->ops->head_put(t->store->xlog, &h) != CR_STORE_OK) {
		log_warnx("translog: cannot store the head of tree size %"
		    PRIu64, h.tree_size);
		cr_metrics_log_head(0, h.tree_size, h.timestamp_ms);
		return;
	}
	cr_metrics_log_head(1, h.tree_size, h.timestamp_ms);
	if (cr_translog_head_write(t->head_file, &h, err, sizeof(err)) == -1)
		log_warnx("translog: saved head: %s", err);
	pthread_mutex_lock(&t->mtx);
	t->head = h;
	t->have_head = 1;
	pthread_mutex_unlock(&t->mtx);
	atomic_store(&t->published, h.tree_size);
}

/* On the log writer's thread: a counter check, a signal now and then. */
static void
committed(void *arg, uint64_t size)
{
	struct cr_translog *t = arg;

	if (size - atomic_load(&t->published) < t->every)
		return;
	pthread_mutex_lock(&t->mtx);
	t->kicked = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->mtx);
}

static void *
publisher(void *arg)
{
	struct cr_translog *t = arg;
	struct timespec ts;
	double due;

	pthread_mutex_lock(&t->mtx);
	due = cr_util_mono_ms() + t->interval_ms;
	while (!t->stopping) {
		cr_util_ms_timespec(due, &ts);
		while (!t->stopping && !t->kicked &&
		    cr_util_mono_ms() < due)
			pthread_cond_timedwait(&t->cond, &t->mtx, &ts);
		if (t->stopping)
			break;
		t->kicked = 0;
		pthread_mutex_unlock(&t->mtx);
		publish(t, 0);
		pthread_mutex_lock(&t->mtx);
		due = cr_util_mono_ms() + t->interval_ms;
	}
	pthread_mutex_unlock(&t->mtx);
	return NULL;
}

int
cr_translog_start(struct cr_translog *t, struct cr_store *st,
    struct cr_xlog *x)
{
	struct cr_tree_head last;
	uint8_t root[CR_HASH_LEN];
	uint64_t size;
	int e;

	t->store = st;
	t->xlog = x;
	/* The newest stored head, when it is of this very tree: kept. */
	cr_xlog_tree(x, &size, root);
	if (st->xlog->ops->head_get(st->xlog, size, &last) == CR_STORE_OK &&
	    sodium_memcmp(last.root, root, CR_HASH_LEN) == 0 &&
	    cr_sth_verify(&last, t->pk) == 0) {
		char err[PATH_MAX + 128];

		t->head = last;
		t->have_head = 1;
		atomic_store(&t->published, size);
		if (cr_translog_head_write(t->head_file, &last, err,
		    sizeof(err)) == -1) {
			log_warnx("translog: saved head: %s", err);
			return -1;
		}
	} else {
		publish(t, 1);
		if (!t->have_head)
			return -1;
	}
	cr_xlog_on_commit(x, committed, t);
	if ((e = pthread_create(&t->thread, NULL, publisher, t)) != 0) {
		errno = e;
		log_warn("translog: pthread_create");
		cr_xlog_on_commit(x, NULL, NULL);
		return -1;
	}
	pthread_setname_np(t->thread, "cr-heads");
	t->running = 1;
	return 0;
}

void
cr_translog_stop(struct cr_translog *t)
{
	if (t == NULL || !t->running)
		return;
	pthread_mutex_lock(&t->mtx);
	t->stopping = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->mtx);
	pthread_join(t->thread, NULL);
	t->running = 0;
	cr_xlog_on_commit(t->xlog, NULL, NULL);
	publish(t, 0);
}

void
cr_translog_free(struct cr_translog *t)
{
	if (t == NULL)
		return;
	cr_translog_stop(t);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->mtx);
	sodium_memzero(t->sk, sizeof(t->sk));
	free(t);
}

int
cr_translog_head(struct cr_translog *t, struct cr_tree_head *out)
{
	int rc = -1;

	pthread_mutex_lock(&t->mtx);
	if (t->have_head) {
		*out = t->head;
		rc = 0;
	}
	pthread_mutex_unlock(&t->mtx);
	return rc;
}

void
cr_translog_public_key(const struct cr_translog *t, uint8_t pk[CR_STH_PK_LEN])
{
	memcpy(pk, t->pk, CR_STH_PK_LEN);
}
