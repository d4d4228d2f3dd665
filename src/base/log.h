/*
 * Diagnostic logging to stderr (not the exchange log: see xlog.h).
 * log_warn appends strerror(errno); the x variants do not.
 * fatal/fatalx exit(1) and are for start-up errors only.
 */
#ifndef CR_LOG_H
#define CR_LOG_H

#define CR_PRINTF(a, b) __attribute__((format(printf, a, b)))

void	log_init(const char *progname, int verbose);
void	log_warn(const char *, ...) CR_PRINTF(1, 2);
void	log_warnx(const char *, ...) CR_PRINTF(1, 2);
void	log_info(const char *, ...) CR_PRINTF(1, 2);
void	log_debug(const char *, ...) CR_PRINTF(1, 2);
_Noreturn void fatal(const char *, ...) CR_PRINTF(1, 2);
_Noreturn void fatalx(const char *, ...) CR_PRINTF(1, 2);

#endif
