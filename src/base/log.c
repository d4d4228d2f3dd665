#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *log_progname = "crossroads";
static int log_verbose;

void
log_init(const char *progname, int verbose)
{
	if (progname != NULL)
		log_progname = progname;
	log_verbose = verbose;
}

static void
log_vemit(const char *level, int with_errno, int saved_errno, const char *fmt,
    va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One fprintf per line so that lines from several threads do not mix. */
	if (with_errno)
		fprintf(stderr, "%s: %s: %s: %s\n", log_progname, level, msg,
		    strerror(saved_errno));
	else
		fprintf(stderr, "%s: %s: %s\n", log_progname, level, msg);
}

void
log_warn(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit("warning", 1, saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("warning", 0, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("info", 0, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vemit("debug", 0, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit("fatal", 1, saved_errno, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("fatal", 0, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
