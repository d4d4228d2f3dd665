/*
 * What a transport checks in a request before it sends anything: the
 * request id and the caller's header lines go into the HTTP request as
 * they are, so nothing in them may end a line (header injection).
 * Independent of any transport, so that each one (and a fuzz target)
 * applies the same rules.
 */
#include <string.h>

#include "source.h"

int
cr_source_request_id_ok(const char *id)
{
	size_t n;

	for (n = 0; id[n] != '\0'; n++) {
		/* A CR or LF would let a caller inject headers. */
		if ((unsigned char)id[n] < 0x20 || id[n] == 0x7f)
			return 0;
	}
	return n <= CR_SOURCE_REQID_MAX;
}

/* RFC 9110 token characters, the only ones a header name may hold. */
static int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A "Name: value" line that cannot inject anything; its length or 0. */
static size_t
hdr_ok(const char *line)
{
	size_t n, name;

	for (name = 0; tchar((unsigned char)line[name]); name++)
		;
	if (name == 0 || line[name] != ':')
		return 0;
	for (n = name; line[n] != '\0'; n++) {
		/* A CR or LF would end the line: header injection. */
		if (((unsigned char)line[n] < 0x20 && line[n] != '\t') ||
		    line[n] == 0x7f)
			return 0;
		if (n >= CR_SOURCE_HEADER_MAX)
			return 0;
	}
	return n;
}

const char *
cr_source_headers_check(const char *const *hdrs, size_t *count, size_t *bytes)
{
	size_t i, len;

	*count = *bytes = 0;
	if (hdrs == NULL)
		return NULL;
	for (i = 0; hdrs[i] != NULL; i++) {
		if (i >= CR_SOURCE_MAX_HEADERS)
			return "invalid request: too many headers";
		if ((len = hdr_ok(hdrs[i])) == 0)
			return "invalid request: bad header line";
		*bytes += len + 1;
	}
	*count = i;
	return NULL;
}
