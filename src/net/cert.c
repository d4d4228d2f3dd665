/* Certificate fingerprints (cert.h). */
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "cert.h"

#define PEM_BEGIN	"-----BEGIN CERTIFICATE-----"
#define PEM_END		"-----END CERTIFICATE-----"

/* Where needle first occurs in s[0..len), or NULL. */
static const char *
find(const char *s, size_t len, const char *needle)
{
	return memmem(s, len, needle, strlen(needle));
}

static int
only_space(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		    s[i] != '\n')
			return 0;
	return 1;
}

int
cr_cert_sha256_der(const uint8_t *der, size_t len,
    uint8_t out[CR_CERT_SHA256_LEN])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, out) == 0 ?
	    0 : -1;
}

int
cr_cert_sha256_pem(const char *pem, size_t len,
    uint8_t out[CR_CERT_SHA256_LEN], char *err, size_t errlen)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in, der = { NULL, 0 };
	const char *b, *e;
	size_t elen = strlen(PEM_END);
	int rc = -1;

	if (len == 0 || len > CR_CERT_PEM_MAX || memchr(pem, '\0', len)) {
		snprintf(err, errlen, "a certificate is PEM text of at most "
		    "%d bytes", CR_CERT_PEM_MAX);
		return -1;
	}
	/*
	 * Exactly one block and nothing else: GnuTLS would take the first
	 * of several, and a chain or a private key pasted by mistake must
	 * not register a certificate nobody meant.
	 */
	if ((b = find(pem, len, PEM_BEGIN)) == NULL ||
	    (e = find(b, len - (size_t)(b - pem), PEM_END)) == NULL) {
		snprintf(err, errlen, "expected a PEM certificate "
		    "(" PEM_BEGIN ")");
		return -1;
	}
	e += elen;
	if (!only_space(pem, (size_t)(b - pem)) ||
	    !only_space(e, len - (size_t)(e - pem))) {
		snprintf(err, errlen, "expected one PEM certificate and "
		    "nothing else");
		return -1;
	}
	in.data = (unsigned char *)(uintptr_t)b;
	in.size = (unsigned)(e - b);
	if (gnutls_x509_crt_init(&crt) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0) {
		snprintf(err, errlen, "the certificate cannot be parsed");
		goto out;
	}
	/* The DER as GnuTLS read it, which is what a peer sends. */
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0 ||
	    cr_cert_sha256_der(der.data, der.size, out) == -1) {
		snprintf(err, errlen, "the certificate cannot be encoded");
		goto out;
	}
	rc = 0;
out:
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
	return rc;
}
