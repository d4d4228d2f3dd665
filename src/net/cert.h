/*
 * X.509 certificates as the hub identifies clients by them: the SHA-256
 * of a certificate's DER encoding (its fingerprint, as `openssl x509
 * -fingerprint -sha256` prints it, without the colons), from the PEM an
 * operator registers or from the DER a TLS peer presented.
 */
#ifndef CR_CERT_H
#define CR_CERT_H

#include <stddef.h>
#include <stdint.h>

#define CR_CERT_SHA256_LEN	32
#define CR_CERT_PEM_MAX		(64 * 1024)	/* one certificate, as text */

/*
 * pem[0..len) must hold exactly one PEM certificate ("-----BEGIN
 * CERTIFICATE-----"), that GnuTLS parses, and nothing but white space
 * around it. 0 with its fingerprint in out, or -1 with why in err (text
 * of our own, never the input's bytes).
 */
int	cr_cert_sha256_pem(const char *pem, size_t len,
	    uint8_t out[CR_CERT_SHA256_LEN], char *err, size_t errlen);
/* The fingerprint of a DER certificate, as it is: 0 or -1. */
int	cr_cert_sha256_der(const uint8_t *der, size_t len,
	    uint8_t out[CR_CERT_SHA256_LEN]);

#endif
