/*
 * The demo's certificate authority (cmd.h): a CA made afresh at each
 * start, the server certificates of the hub and of the sources for
 * 127.0.0.1 and localhost, and the hub's client certificate, which the
 * sources require. ECDSA P-256, valid for 30 days.
 * Nothing of it is fit for anything but the demo: the CA's key lies next
 * to what it signs.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "cmd.h"
#include "util.h"

#define PKI_DAYS	30

enum kind { CA, SERVER, CLIENT };

/* Writes data to dir/name with mode. 0 or -1 (logged). */
static int
write_pem(const char *dir, const char *name, const gnutls_datum_t *d,
    mode_t mode)
{
	char path[PATH_MAX];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	n = write(fd, d->data, d->size);
	if (close(fd) == -1 || n != (ssize_t)d->size) {
		log_warnx("%s: cannot write", path);
		return -1;
	}
	return 0;
}

/* A certificate for key named cn, signed by ca (self-signed when NULL). */
static int
make_cert(enum kind kind, const char *cn, gnutls_x509_privkey_t key,
    gnutls_x509_crt_t ca, gnutls_x509_privkey_t ca_key,
    gnutls_x509_crt_t *out)
{
	static const unsigned char localhost4[4] = { 127, 0, 0, 1 };
	unsigned char serial[16], id[64];
	size_t idlen = sizeof(id);
	time_t now = time(NULL);
	gnutls_x509_crt_t c;
	int rc;

	if (gnutls_x509_crt_init(&c) < 0)
		return -1;
	gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f;	/* a positive number */
	rc = gnutls_x509_crt_set_version(c, 3);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_serial(c, serial, sizeof(serial));
	/* An hour back: clocks of the machines that check it may lag. */
	if (rc >= 0)
		rc = gnutls_x509_crt_set_activation_time(c, now - 3600);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_expiration_time(c,
		    now + PKI_DAYS * 86400);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_dn_by_oid(c,
		    GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn));
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key(c, key);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_basic_constraints(c, kind == CA, -1);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_usage(c, kind == CA ?
		    GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN :
		    GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (rc >= 0 && kind != CA)
		rc = gnutls_x509_crt_set_key_purpose_oid(c, kind == SERVER ?
		    GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT, 0);
	if (rc >= 0 && kind == SERVER)
		rc = gnutls_x509_crt_set_subject_alt_name(c,
		    GNUTLS_SAN_IPADDRESS, localhost4, sizeof(localhost4),
		    GNUTLS_FSAN_APPEND);
	if (rc >= 0 && kind == SERVER)
		rc = gnutls_x509_crt_set_subject_alt_name(c,
		    GNUTLS_SAN_DNSNAME, "localhost", 9, GNUTLS_FSAN_APPEND);
	if (rc >= 0)
		rc = gnutls_x509_crt_get_key_id(c, 0, id, &idlen);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_subject_key_id(c, id, idlen);
	if (rc >= 0 && ca != NULL) {
		idlen = sizeof(id);
		rc = gnutls_x509_crt_get_subject_key_id(ca, id, &idlen, NULL);
		if (rc >= 0)
			rc = gnutls_x509_crt_set_authority_key_id(c, id,
			    idlen);
	}
	if (rc >= 0)
		rc = gnutls_x509_crt_sign2(c, ca != NULL ? ca : c,
		    ca_key != NULL ? ca_key : key, GNUTLS_DIG_SHA256, 0);
	if (rc < 0) {
		log_warnx("demo CA: %s: %s", cn, gnutls_strerror(rc));
		gnutls_x509_crt_deinit(c);
		return -1;
	}
	*out = c;
	return 0;
}

/* A key and its certificate, written to dir/name.key and dir/name.pem. */
static int
issue(const char *dir, const char *name, enum kind kind, const char *cn,
    gnutls_x509_crt_t ca, gnutls_x509_privkey_t ca_key,
    gnutls_x509_crt_t *crt_out, gnutls_x509_privkey_t *key_out)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = { NULL, 0 };
	char file[64];
	int rc = -1;

	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
		log_warnx("demo CA: cannot make a key");
		goto out;
	}
	if (make_cert(kind, cn, key, ca, ca_key, &crt) == -1)
		goto out;
	snprintf(file, sizeof(file), "%s.key", name);
	if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) < 0 ||
	    write_pem(dir, file, &d, 0600) == -1)
		goto out;
	gnutls_free(d.data);
	d.data = NULL;
	snprintf(file, sizeof(file), "%s.pem", name);
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0 ||
	    write_pem(dir, file, &d, 0644) == -1)
		goto out;
	rc = 0;
out:
	gnutls_free(d.data);
	if (rc == 0 && crt_out != NULL) {
		*crt_out = crt;
		*key_out = key;
		return 0;
	}
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return rc;
}

int
cr_cmd_demo_pki(const char *dir)
{
	gnutls_x509_crt_t ca = NULL;
	gnutls_x509_privkey_t ca_key = NULL;
	int rc = -1;

	if (cr_util_mkdirs(dir) == -1) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if (issue(dir, "ca", CA, "Crossroads demo CA", NULL, NULL, &ca,
	    &ca_key) == -1 ||
	    issue(dir, "hub", SERVER, "127.0.0.1", ca, ca_key, NULL,
	    NULL) == -1 ||
	    issue(dir, "source", SERVER, "127.0.0.1", ca, ca_key, NULL,
	    NULL) == -1 ||
	    issue(dir, "hub-client", CLIENT, "crossroads-hub", ca, ca_key,
	    NULL, NULL) == -1)
		goto out;
	rc = 0;
out:
	if (ca != NULL)
		gnutls_x509_crt_deinit(ca);
	if (ca_key != NULL)
		gnutls_x509_privkey_deinit(ca_key);
	return rc;
}
