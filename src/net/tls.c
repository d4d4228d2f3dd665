/* HTTPS for the listener (tls.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define CHAIN_MAX	16		/* certificates in the cert file */
#define PEM_FILE_MAX	(1024 * 1024)

/* One loading of the certificate file and the key file. */
struct gen {
	struct gen		*older;
	gnutls_pcert_st		 pcert[CHAIN_MAX];
	unsigned		 npcert;
	gnutls_privkey_t	 key;
};

struct cr_tls {
	char			*cert_path, *key_path;
	int			 client_auth;
	char			*ca_pem;	/* MHD reads it at start */
	_Atomic(struct gen *)	 current;	/* the newest; older after */
	pthread_mutex_t		 reload;	/* one reload at a time */
};

/* The TLS listener of this process, for the certificate callback. */
static _Atomic(struct cr_tls *) tls_active;

/* The whole file, NUL-terminated, into *out (malloc'd). 0 or -1 (why in
   err). */
static int
read_file(const char *path, char **out, size_t *len, char *err,
    size_t errlen)
{
	FILE *f;
	char *buf = NULL, chunk[8192];
	size_t n, blen = 0, cap = 0;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (cr_util_buf_append(&buf, &blen, &cap, PEM_FILE_MAX,
		    chunk, n) == -1) {
			snprintf(err, errlen, "larger than %d bytes",
			    PEM_FILE_MAX);
			goto fail;
		}
	if (ferror(f)) {
		snprintf(err, errlen, "read error: %s", strerror(errno));
		goto fail;
	}
	if (cr_util_buf_append(&buf, &blen, &cap, PEM_FILE_MAX + 1, "", 1)
	    == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	fclose(f);
	*out = buf;
	*len = blen - 1;
	return 0;
fail:
	fclose(f);
	free(buf);
	return -1;
}

static void
gen_free(struct gen *g)
{
	unsigned i;

	if (g == NULL)
		return;
	for (i = 0; i < g->npcert; i++)
		gnutls_pcert_deinit(&g->pcert[i]);
	if (g->key != NULL)
		gnutls_privkey_deinit(g->key);
	free(g);
}

/* 1 when key is the private key of cert's public key. */
static int
key_matches(gnutls_privkey_t key, gnutls_pubkey_t cert)
{
	gnutls_pubkey_t pub = NULL;
	unsigned char a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);
	int ok = 0;

	if (gnutls_pubkey_init(&pub) < 0)
		return 0;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a,
	    &alen) == 0 &&
	    gnutls_pubkey_get_key_id(cert, GNUTLS_KEYID_USE_SHA256, b,
	    &blen) == 0)
		ok = alen == blen && memcmp(a, b, alen) == 0;
	gnutls_pubkey_deinit(pub);
	return ok;
}

/* Loads the certificate and key files; NULL with what is wrong logged. */
static struct gen *
gen_load(const struct cr_tls *t)
{
	struct gen *g;
	gnutls_datum_t d;
	char *text = NULL, err[256];
	size_t len;
	int rc;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		log_warnx("TLS: out of memory");
		return NULL;
	}
	if (read_file(t->cert_path, &text, &len, err, sizeof(err)) == -1) {
		log_warnx("TLS: cannot read the certificate %s: %s",
		    t->cert_path, err);
		goto fail;
	}
	d.data = (unsigned char *)text;
	d.size = (unsigned)len;
	g->npcert = CHAIN_MAX;
	if ((rc = gnutls_pcert_list_import_x509_raw(g->pcert, &g->npcert, &d,
	    GNUTLS_X509_FMT_PEM, 0)) < 0 || g->npcert == 0) {
		log_warnx("TLS: the certificate %s: %s", t->cert_path,
		    rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
		g->npcert = 0;
		goto fail;
	}
	free(text);
	if (read_file(t->key_path, &text, &len, err, sizeof(err)) == -1) {
		log_warnx("TLS: cannot read the key %s: %s", t->key_path, err);
		goto fail;
	}
	d.data = (unsigned char *)text;
	d.size = (unsigned)len;
	if (gnutls_privkey_init(&g->key) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(g->key, &d,
	    GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		log_warnx("TLS: the key %s: %s", t->key_path, g->key == NULL ?
		    "out of memory" : gnutls_strerror(rc));
		goto fail;
	}
	/* Else every handshake would fail, long after the start. */
	if (!key_matches(g->key, g->pcert[0].pubkey)) {
		log_warnx("TLS: the key %s is not the key of the certificate "
		    "%s", t->key_path, t->cert_path);
		goto fail;
	}
	explicit_bzero(text, len);
	free(text);
	return g;
fail:
	if (text != NULL)
		explicit_bzero(text, len);
	free(text);
	gen_free(g);
	return NULL;
}

int
cr_tls_open(const struct cr_tls_config *c, struct cr_tls **out)
{
	struct cr_tls *t;
	struct gen *g;
	char err[256];
	size_t len;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->cert_path = strdup(c->cert)) == NULL ||
	    (t->key_path = strdup(c->key)) == NULL) {
		log_warnx("TLS: out of memory");
		goto fail;
	}
	pthread_mutex_init(&t->reload, NULL);
	t->client_auth = c->client_auth;
	if (c->client_auth != CR_TLS_CLIENT_NONE) {
		if (c->client_ca == NULL || *c->client_ca == '\0') {
			log_warnx("TLS: client certificates need a client CA");
			goto fail;
		}
		if (read_file(c->client_ca, &t->ca_pem, &len, err,
		    sizeof(err)) == -1) {
			log_warnx("TLS: cannot read the client CA %s: %s",
			    c->client_ca, err);
			goto fail;
		}
		if (strstr(t->ca_pem, "-----BEGIN CERTIFICATE-----") == NULL) {
			log_warnx("TLS: the client CA %s holds no PEM "
			    "certificate", c->client_ca);
			goto fail;
		}
	}
	if ((g = gen_load(t)) == NULL)
		goto fail;
	atomic_store(&t->current, g);
	*out = t;
	return 0;
fail:
	cr_tls_free(t);
	return -1;
}

int
cr_tls_reload(struct cr_tls *t)
{
	struct gen *g;

	pthread_mutex_lock(&t->reload);
	if ((g = gen_load(t)) == NULL) {
		pthread_mutex_unlock(&t->reload);
		log_warnx("TLS: reload failed: the certificate in use is kept");
		return -1;
	}
	g->older = atomic_load(&t->current);
	/* Release: a handshake that sees g sees it whole. */
	atomic_store_explicit(&t->current, g, memory_order_release);
	pthread_mutex_unlock(&t->reload);
	log_info("TLS: certificate %s reloaded", t->cert_path);
	return 0;
}

void
cr_tls_free(struct cr_tls *t)
{
	struct gen *g, *older;
	struct cr_tls *self;

	if (t == NULL)
		return;
	self = t;
	atomic_compare_exchange_strong(&tls_active, &self, NULL);
	for (g = atomic_load(&t->current); g != NULL; g = older) {
		older = g->older;
		gen_free(g);
	}
	free(t->ca_pem);
	free(t->cert_path);
	free(t->key_path);
	free(t);
}

/* GnuTLS asks which certificate to present: the current one. */
static int
tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca,
    int nreq, const gnutls_pk_algorithm_t *pk, int npk,
    gnutls_pcert_st **pcert, unsigned int *npcert, gnutls_privkey_t *key)
{
	struct cr_tls *t = atomic_load(&tls_active);
	struct gen *g;

	if (t == NULL || (g = atomic_load_explicit(&t->current,
	    memory_order_acquire)) == NULL)
		return -1;
	*pcert = g->pcert;
	*npcert = g->npcert;
	*key = g->key;
	return 0;
}

size_t
cr_tls_mhd_options(struct cr_tls *t, struct MHD_OptionItem *o)
{
	size_t n = 0;

	atomic_store(&tls_active, t);
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
	    (void *)(uintptr_t)CR_TLS_PRIORITIES };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
	    (void *)tls_retrieve };
	/* The trust list of the daemon's credentials: the handshake's
	   verification (verify_peer) checks client certificates with it. */
	if (t->ca_pem != NULL)
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST,
		    0, t->ca_pem };
	o[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return n;
}

/*
 * During the handshake, once the client's certificate is in: 0 to go on,
 * else the handshake fails. No certificate is for `require` to refuse
 * (GnuTLS does); one that is there must verify.
 */
static int
verify_peer(gnutls_session_t session)
{
	gnutls_typed_vdata_st purpose = { GNUTLS_DT_KEY_PURPOSE_OID,
	    (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT, 0 };
	gnutls_datum_t why = { NULL, 0 };
	unsigned status = 0, n = 0;

	if (gnutls_certificate_get_peers(session, &n) == NULL || n == 0)
		return 0;
	if (gnutls_certificate_verify_peers(session, &purpose, 1,
	    &status) < 0)
		status = GNUTLS_CERT_INVALID;
	if (status == 0)
		return 0;
	if (gnutls_certificate_verification_status_print(status,
	    GNUTLS_CRT_X509, &why, 0) == 0)
		log_warnx("TLS: client certificate refused: %s", why.data);
	else
		log_warnx("TLS: client certificate refused");
	gnutls_free(why.data);
	return -1;
}

void
cr_tls_connection_started(struct cr_tls *t, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s;

	if (t->client_auth == CR_TLS_CLIENT_NONE ||
	    (ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION)) == NULL ||
	    (s = (gnutls_session_t)ci->tls_session) == NULL)
		return;
	/* MHD asks for a certificate (GNUTLS_CERT_REQUEST) since it has a
	   trust list; require makes it a condition of the handshake. */
	if (t->client_auth == CR_TLS_CLIENT_REQUIRE)
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_function(s, verify_peer);
}

int
cr_tls_peer_sha256(struct MHD_Connection *conn,
    uint8_t out[CR_CERT_SHA256_LEN])
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *certs;
	unsigned n = 0;

	if ((ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION)) == NULL ||
	    ci->tls_session == NULL)
		return 0;
	certs = gnutls_certificate_get_peers(
	    (gnutls_session_t)ci->tls_session, &n);
	if (certs == NULL || n == 0)
		return 0;
	return cr_cert_sha256_der(certs[0].data, certs[0].size, out) == 0 ?
	    1 : -1;
}
