/*
 * Fuzz target for webhook answers (delivery.c, docs/events.md): what the
 * transport reports of one POST to a subscriber, written as a first line
 * "ok STATUS", "timeout" or "unavailable", then the transport's detail
 * (curl's message, any text, cut to the transport's 159 bytes as
 * source_http.c cuts it). cr_delivery_answer decides as the engine does.
 * Checks:
 * - delivered exactly on a 2xx answer;
 * - otherwise the delivery's last_error says why ("HTTP 503",
 *   "timeout: ...", "unavailable: ..."), fits last_error, and is valid
 *   UTF-8 whenever the detail was, so that dead letters list as JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "fuzz.h"
#include "source.h"
#include "store.h"
#include "util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_delivery d;
	struct cr_source_result res;
	const char *text = (const char *)data, *nl, *prefix;
	char *first, why[sizeof(d.last_error)];
	unsigned long long status = 0;
	size_t n;
	int delivered;

	memset(&res, 0, sizeof(res));
	nl = memchr(text, '\n', size);
	n = nl != NULL ? (size_t)(nl - text) : size;
	first = fuzz_strndup(text, n);
	if (strncmp(first, "ok ", 3) == 0 &&
	    cr_util_parse_ull(first + 3, 0, 999, &status) == 0) {
		res.error = CR_SOURCE_OK;
		res.http_status = (long)status;
	} else if (strcmp(first, "timeout") == 0)
		res.error = CR_SOURCE_TIMEOUT;
	else if (strcmp(first, "unavailable") == 0)
		res.error = CR_SOURCE_UNAVAILABLE;
	else {
		free(first);
		return 0;
	}
	free(first);
	if (nl != NULL) {
		char *detail = fuzz_strndup(nl + 1, size - n - 1);

		cr_util_strlcpy(res.detail, detail, sizeof(res.detail));
		free(detail);
	}

	memset(why, 'x', sizeof(why));
	delivered = cr_delivery_answer(res.error, res.http_status, res.detail,
	    why, sizeof(why));
	FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	FUZZ_CHECK(delivered == (res.error == CR_SOURCE_OK &&
	    res.http_status >= 200 && res.http_status < 300));
	if (delivered) {
		FUZZ_CHECK(why[0] == '\0');
		return 0;
	}
	prefix = res.error == CR_SOURCE_OK ? "HTTP " : res.error ==
	    CR_SOURCE_TIMEOUT ? "timeout: " : "unavailable: ";
	FUZZ_CHECK(strncmp(why, prefix, strlen(prefix)) == 0);
	if (res.error == CR_SOURCE_OK)
		FUZZ_CHECK(strtol(why + 5, NULL, 10) == res.http_status);
	else
		FUZZ_CHECK(strncmp(why + strlen(prefix), res.detail,
		    strlen(why) - strlen(prefix)) == 0);
	/* The detail as sent was text: what is kept of it is too. */
	if (nl != NULL && fuzz_utf8(nl + 1, size - n - 1) &&
	    memchr(nl + 1, '\0', size - n - 1) == NULL)
		fuzz_check_msg(why);
	return 0;
}
