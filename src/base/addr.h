/* Listening addresses as --listen and the config files write them. */
#ifndef CR_ADDR_H
#define CR_ADDR_H

#include <sys/socket.h>
#include <stddef.h>

/*
 * Parses HOST:PORT or [IPV6]:PORT: a numeric IPv4 host, or a numeric IPv6
 * host in brackets, and a decimal port from 0 to 65535 (0: any free port).
 * 0, or -1 with "bad listen address '...': expected ..." in err.
 */
int	cr_addr_parse(const char *spec, struct sockaddr_storage *ss,
	    socklen_t *sslen, char *err, size_t errlen);

#endif
