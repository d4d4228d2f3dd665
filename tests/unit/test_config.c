/*
 * The config file of `crossroads serve` (config.c): a file that cannot be
 * read is an error, not an empty config; the same text read from a file
 * and from memory gives the same settings.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static const char text[] = "# a comment\nlisten = 127.0.0.1:0\n"
    "threads = 3\naccess_log = off\n";

/* A directory opens with fopen(): its first read fails (EISDIR). */
static void
test_unreadable(void **state)
{
	struct cr_config c;
	char dir[] = "/tmp/cr-test-config-XXXXXX", err[512];

	(void)state;
	assert_non_null(mkdtemp(dir));
	cr_config_defaults(&c);
	assert_int_equal(cr_config_load(&c, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "read error"));
	rmdir(dir);
}

static void
test_file_and_text(void **state)
{
	struct cr_config a, b;
	char path[] = "/tmp/cr-test-config-XXXXXX", err[512];
	FILE *f;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(f = fdopen(fd, "w"));
	fputs(text, f);
	fclose(f);
	cr_config_defaults(&a);
	cr_config_defaults(&b);
	assert_int_equal(cr_config_load(&a, path, err, sizeof(err)), 0);
	assert_int_equal(cr_config_parse(&b, "mem", text, strlen(text), err,
	    sizeof(err)), 0);
	assert_string_equal(a.listen, "127.0.0.1:0");
	assert_int_equal(a.threads, 3);
	assert_int_equal(a.access_log, 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(cr_config_parse(&b, "mem", "threads = 999\n", 14,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "mem:1: threads: expected a whole number "
	    "from 0 to 256");
	unlink(path);
}

/* TLS keys: a flag's spelling works too; what goes together is checked;
   a client CA makes client certificates optional unless said. */
static void
test_tls(void **state)
{
	static const char t[] = "tls-cert = /c.pem\ntls_key = /k.pem\n"
	    "tls_client_ca = /ca.pem\n";
	struct cr_config c;
	char err[512];

	(void)state;
	cr_config_defaults(&c);
	assert_int_equal(cr_config_parse(&c, "mem", t, strlen(t), err,
	    sizeof(err)), 0);
	assert_string_equal(c.tls_cert, "/c.pem");
	assert_int_equal(c.tls_client_auth, -1);
	assert_int_equal(cr_config_check_tls(&c, err, sizeof(err)), 0);
	assert_int_equal(c.tls_client_auth, CR_TLS_CLIENT_OPTIONAL);
	assert_int_equal(cr_config_set(&c, "tls_client_auth", "require", err,
	    sizeof(err)), 0);
	assert_int_equal(c.tls_client_auth, CR_TLS_CLIENT_REQUIRE);
	assert_int_equal(cr_config_set(&c, "tls_client_auth", "maybe", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "expected none, optional or require");
	c.tls_key[0] = '\0';
	assert_int_equal(cr_config_check_tls(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "tls_cert and tls_key go together");
	cr_config_defaults(&c);
	assert_int_equal(cr_config_check_tls(&c, err, sizeof(err)), 0);
	assert_int_equal(c.tls_client_auth, CR_TLS_CLIENT_NONE);
	c.tls_require_token = 1;
	assert_int_equal(cr_config_check_tls(&c, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_file_and_text),
		cmocka_unit_test(test_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
