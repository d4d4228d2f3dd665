/*
 * The --listen syntax, parsed without the network library, so that a
 * setting in a config file (config.c, the adapter's) is refused where it
 * is read, with its line, before anything starts.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "util.h"

int
cr_addr_parse(const char *spec, struct sockaddr_storage *ss,
    socklen_t *sslen, char *err, size_t errlen)
{
	char host[NI_MAXHOST];
	const char *h, *port;
	struct addrinfo hints, *res = NULL;
	unsigned long long n;
	size_t hl;
	int v6 = spec[0] == '[';

	if (v6) {
		const char *rb = strchr(spec, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		h = spec + 1;
		hl = (size_t)(rb - h);
		port = rb + 2;
	} else {
		const char *colon = strrchr(spec, ':');

		if (colon == NULL)
			goto bad;
		h = spec;
		hl = (size_t)(colon - spec);
		port = colon + 1;
		/* An IPv6 host needs its brackets: "::1:80" is ambiguous. */
		if (memchr(h, ':', hl) != NULL)
			goto bad;
	}
	if (hl == 0 || hl >= sizeof(host) ||
	    cr_util_parse_ull(port, 0, 65535, &n) == -1)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = v6 ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL ||
	    res->ai_addrlen > sizeof(*ss)) {
		if (res != NULL)
			freeaddrinfo(res);
		goto bad;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	snprintf(err, errlen, "bad listen address '%s': expected HOST:PORT or "
	    "[IPV6]:PORT with a numeric host and a port from 0 to 65535, as "
	    "in 127.0.0.1:8080", spec);
	return -1;
}
