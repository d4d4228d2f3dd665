/*
 * Fuzz target for the certificates an operator registers for a client
 * (cert.c: cr_cert_sha256_pem, POST /v1/institutions/{id}/clients
 * "certificate"). Checks:
 * - a refusal says why, in a message fit for a JSON error body;
 * - an accepted input is one PEM certificate: its fingerprint is the
 *   SHA-256 of the DER its base64 holds (what a TLS peer sends), the same
 *   with white space around it, and a second certificate after it is
 *   refused (one client, one certificate).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "cert.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t fp[CR_CERT_SHA256_LEN], again[CR_CERT_SHA256_LEN];
	uint8_t want[CR_CERT_SHA256_LEN];
	gnutls_datum_t in, der = { NULL, 0 };
	char err[128], *buf;
	size_t blen;

	err[0] = '\0';
	if (cr_cert_sha256_pem((const char *)data, len, fp, err,
	    sizeof(err)) == -1) {
		fuzz_check_msg(err);
		return 0;
	}
	/* The DER of the block, decoded independently of the parser. */
	in.data = (unsigned char *)(uintptr_t)data;
	in.size = (unsigned)len;
	FUZZ_CHECK(gnutls_pem_base64_decode2("CERTIFICATE", &in, &der) == 0);
	FUZZ_CHECK(gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size,
	    want) == 0);
	FUZZ_CHECK(memcmp(fp, want, sizeof(fp)) == 0);
	FUZZ_CHECK(cr_cert_sha256_der(der.data, der.size, again) == 0);
	FUZZ_CHECK(memcmp(fp, again, sizeof(fp)) == 0);
	gnutls_free(der.data);

	/* " \n" + input + "\n" + input: the input alone with white space is
	   the same certificate; twice, it is refused. */
	blen = 2 * len + 3;
	FUZZ_CHECK((buf = malloc(blen)) != NULL);
	memcpy(buf, " \n", 2);
	memcpy(buf + 2, data, len);
	buf[2 + len] = '\n';
	if (len + 3 <= CR_CERT_PEM_MAX) {
		FUZZ_CHECK(cr_cert_sha256_pem(buf, len + 3, again, err,
		    sizeof(err)) == 0);
		FUZZ_CHECK(memcmp(fp, again, sizeof(fp)) == 0);
	}
	memcpy(buf + len + 3, data, len);
	FUZZ_CHECK(cr_cert_sha256_pem(buf, blen, again, err,
	    sizeof(err)) == -1);
	fuzz_check_msg(err);
	free(buf);
	return 0;
}
