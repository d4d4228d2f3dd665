/*
 * The source adapter's config file and query mapping: every feature
 * parses, every mistake names its line, only single read-only SELECTs are
 * accepted, and lookups bind :subject, :params.NAME and main-row columns.
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
#include <jansson.h>
#include <sqlite3.h>

#include "adapter.h"
#include "config.h"
#include "srcdb.h"

static char dir[64];
static char conf[128];
static char dbpath[128];

static const char schema[] =
    "CREATE TABLE person(id TEXT PRIMARY KEY, name TEXT, birth_date TEXT,"
    " height REAL, children INTEGER, death_date TEXT, employer_id INTEGER,"
    " note TEXT);"
    "CREATE TABLE household(person TEXT, member TEXT, relation TEXT);"
    "CREATE TABLE employer(id INTEGER PRIMARY KEY, name TEXT, kbo TEXT);"
    "CREATE TABLE income(person TEXT, year INTEGER, amount REAL);"
    "INSERT INTO person VALUES('85073003328', 'Jan Peeters', '1985-07-30',"
    " 1.75, 2, NULL, 7, '#1');"
    "INSERT INTO person VALUES('17073003384', 'An Peeters', '2017-07-30',"
    " 1.1, 0, NULL, NULL, NULL);"
    "INSERT INTO household VALUES('85073003328', '85073003328', 'self'),"
    " ('85073003328', '17073003384', 'child');"
    "INSERT INTO employer VALUES(7, 'Acme SA', '0203201340');"
    "INSERT INTO income VALUES('85073003328', 2020, 31000.5),"
    " ('85073003328', 2021, 32000);";

static int
setup(void **state)
{
	sqlite3 *db;

	snprintf(dir, sizeof(dir), "/tmp/cr-adapter-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/source.conf", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/pop.db", dir);
	if (sqlite3_open(dbpath, &db) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	sqlite3_close(db);
	return 0;
}

static int
teardown(void **state)
{
	unlink(conf);
	unlink(dbpath);
	rmdir(dir);
	return 0;
}

/* Writes text as the config file and loads it. */
static int
load(const char *text, struct cr_adapter_config *cfg, char *err,
    size_t errlen)
{
	FILE *f;

	if ((f = fopen(conf, "w")) == NULL)
		fail_msg("cannot write %s", conf);
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	return cr_adapter_config_load(cfg, conf, err, errlen);
}

/* The config must fail at line with a message containing what. */
static void
expect_error(const char *text, int line, const char *what)
{
	struct cr_adapter_config cfg;
	char err[1024], prefix[256];

	if (load(text, &cfg, err, sizeof(err)) == 0)
		fail_msg("config loaded, expected an error at line %d:\n%s",
		    line, text);
	cr_adapter_config_free(&cfg);
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", conf, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", conf);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, what) == NULL)
		fail_msg("expected \"%s...%s...\", got \"%s\"", prefix, what,
		    err);
}

#define HEAD	"database = pop.db\n[service s]\npath = /p\n"

static const char full[] =
    "# A complete example\n"
    "listen = 127.0.0.1:0\n"
    "database = sqlite:pop.db   # relative to this file\n"
    "threads = 2\n"
    "connection_limit = 64\n"
    "body_limit = 4096\n"
    "max_rows = 10\n"
    "\n"
    "[service population.person]\n"
    "path = /person\n"
    "query = SELECT name, birth_date, height, children, death_date, \\\n"
    "          employer_id, note \\\n"
    "        FROM person WHERE id = :subject AND note IS NOT '# no'\n"
    "list household = SELECT member AS subject, relation FROM household \\\n"
    "    WHERE person = :subject ORDER BY member\n"
    "object employer = SELECT name, kbo FROM employer WHERE id = :employer_id\n"
    "[service finance.income]\n"
    "path = /income\n"
    "query = SELECT year, amount FROM income \\\n"
    "    WHERE person = :subject AND year = :params.year\n";

static void
test_full_config(void **state)
{
	struct cr_adapter_config cfg;
	const struct cr_adapter_service *s;
	const struct cr_adapter_query *q;
	char err[1024], want[256];

	if (load(full, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(cfg.listen, "127.0.0.1:0");
	snprintf(want, sizeof(want), "sqlite:%s/pop.db", dir);
	assert_string_equal(cfg.database, want);
	assert_int_equal(cfg.threads, 2);
	assert_int_equal(cfg.connection_limit, 64);
	assert_int_equal(cfg.body_limit, 4096);
	assert_int_equal(cfg.max_rows, 10);
	assert_int_equal(cfg.nservices, 2);

	s = cr_adapter_service_by_path(&cfg, "/person");
	assert_non_null(s);
	assert_string_equal(s->name, "population.person");
	assert_int_equal(s->line, 9);
	assert_int_equal(s->nqueries, 3);
	q = &s->queries[0];
	assert_int_equal(q->kind, CR_AQ_MAIN);
	assert_int_equal(q->line, 11);
	/* The continued lines are joined; '#' inside a string stays. */
	assert_non_null(strstr(q->sql, "employer_id, note FROM person"));
	assert_non_null(strstr(q->sql, "'# no'"));
	assert_int_equal(q->shape.ncolumns, 7);
	assert_string_equal(q->shape.columns[6], "note");
	assert_int_equal(q->nargs, 1);
	assert_int_equal(q->args[0].kind, CR_AA_SUBJECT);
	q = &s->queries[1];
	assert_int_equal(q->kind, CR_AQ_LIST);
	assert_string_equal(q->name, "household");
	assert_int_equal(q->line, 14);
	q = &s->queries[2];
	assert_int_equal(q->kind, CR_AQ_OBJECT);
	assert_string_equal(q->name, "employer");
	assert_int_equal(q->nargs, 1);
	assert_int_equal(q->args[0].kind, CR_AA_COLUMN);
	assert_string_equal(q->args[0].name, "employer_id");

	s = cr_adapter_service_by_path(&cfg, "/income");
	assert_non_null(s);
	q = &s->queries[0];
	assert_int_equal(q->nargs, 2);
	assert_int_equal(q->args[0].kind, CR_AA_SUBJECT);
	assert_int_equal(q->args[1].kind, CR_AA_PARAM);
	assert_string_equal(q->args[1].name, "year");
	assert_null(cr_adapter_service_by_path(&cfg, "/nothing"));
	cr_adapter_config_free(&cfg);
}

static void
test_defaults_and_query_order(void **state)
{
	struct cr_adapter_config cfg;
	char err[1024];

	/* A nested query may come before the main one. */
	if (load("database = " "pop.db\n[service s]\n"
	    "list h = SELECT relation FROM household WHERE person = :subject\n"
	    "query = SELECT name FROM person WHERE id = :subject\n"
	    "path = /p\n", &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(cfg.listen, "127.0.0.1:9001");
	assert_int_equal(cfg.max_rows, 1000);
	assert_int_equal(cfg.services[0].queries[0].kind, CR_AQ_MAIN);
	assert_int_equal(cfg.services[0].queries[1].kind, CR_AQ_LIST);
	cr_adapter_config_free(&cfg);
}

/* TLS keys, before and after the database: kept whole, relative to the
   file, freed with the rest (ASan and LeakSanitizer check the frees). */
static void
test_tls_keys(void **state)
{
	static const char text[] = "tls_cert = cert.pem\n"
	    "tls_key = /abs/key.pem\ndatabase = pop.db\n"
	    "tls_client_ca = ca.pem\ntls_client_auth = require\n"
	    "[service s]\npath = /p\nquery = SELECT 1\n";
	struct cr_adapter_config cfg;
	char err[1024];

	(void)state;
	assert_int_equal(cr_adapter_config_parse(&cfg, "/etc/cr/src.conf",
	    text, strlen(text), err, sizeof(err)), 0);
	assert_string_equal(cfg.tls_cert, "/etc/cr/cert.pem");
	assert_string_equal(cfg.tls_key, "/abs/key.pem");
	assert_string_equal(cfg.tls_client_ca, "/etc/cr/ca.pem");
	assert_int_equal(cfg.tls_client_auth, CR_TLS_CLIENT_REQUIRE);
	cr_adapter_config_free(&cfg);
}

static void
test_errors_name_the_line(void **state)
{
	expect_error("listen = 127.0.0.1:0\nfoo = 1\n", 2, "unknown key 'foo'");
	expect_error("listen = localhost:80\n", 1, "bad listen address");
	expect_error("listen = 127.0.0.1\n", 1, "bad listen address");
	expect_error("listen = 127.0.0.1:70000\n", 1, "bad listen address");
	expect_error("threads = many\n", 1, "expected a whole number");
	expect_error("max_rows = 0\n", 1, "expected a whole number");
	expect_error("\n\njust words\n", 3, "expected 'key = value'");
	expect_error("threads =\n", 1, "missing value");
	expect_error("[database]\n", 1, "unknown section");
	expect_error("[service bad name!]\n", 1, "bad service name");
	expect_error("database = pop.db\ndatabase = pop.db\n", 2,
	    "set twice");
	expect_error(HEAD "query = SELECT 1 AS x\n"
	    "[service s]\n", 5, "duplicate service 's' (first at line 2)");
	expect_error(HEAD "query = SELECT 1 AS x\n[service t]\npath = /p\n"
	    "query = SELECT 1 AS x\n", 6, "already the path of service 's'");
	expect_error(HEAD "path = /q\n", 4, "duplicate key 'path'");
	expect_error(HEAD "query = SELECT 1 AS x\nquery = SELECT 2 AS x\n", 5,
	    "duplicate key 'query' (first at line 4)");
	expect_error(HEAD "query = SELECT 1 AS x\nlist a = SELECT 1 AS y\n"
	    "object a = SELECT 2 AS y\n", 6, "duplicate nested query 'a'");
	expect_error(HEAD "query = SELECT 1 AS x\nthreads = 2\n", 5,
	    "is a global setting");
	expect_error(HEAD "table x = SELECT 1\n", 4, "unknown key 'table x'");
	expect_error(HEAD "list 9x = SELECT 1\n", 4, "bad name '9x'");
	expect_error("database = pop.db\n[service s]\npath = person\n", 3,
	    "is not a path");
	expect_error("database = pop.db\n[service s]\npath = /healthz\n"
	    "query = SELECT 1 AS x\n", 3, "reserved");
	/* Missing things are reported at the service's header. */
	expect_error("database = pop.db\n\n[service s]\npath = /p\n"
	    "list a = SELECT 1 AS y\n", 3, "missing 'query");
	expect_error("database = pop.db\n[service s]\n"
	    "query = SELECT 1 AS x\n", 2, "missing 'path");
	expect_error("database = pop.db\n", 0, "no [service NAME] section");
	expect_error("[service s]\npath = /p\nquery = SELECT 1 AS x\n", 0,
	    "no 'database");
	expect_error("database = missing.db\n[service s]\npath = /p\n"
	    "query = SELECT 1 AS x\n", 1, "cannot open");
	expect_error("database = source.conf\n[service s]\npath = /p\n"
	    "query = SELECT 1 AS x\n", 1, "database");
	/* Queries are checked against the database. */
	expect_error(HEAD "query = SELECT nosuch FROM person WHERE id = "
	    ":subject\n", 4, "does not prepare: no such column: nosuch");
	expect_error(HEAD "query = SELECT name FROM nosuch\n", 4,
	    "does not prepare");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = "
	    ":subject\n"
	    "object e = SELECT name FROM employer WHERE id = :boss\n", 5,
	    "parameter ':boss' is not supported");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = :id\n",
	    4, "parameter ':id' is not supported");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = "
	    ":params\n", 4, "':params' must be followed by '.NAME'");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = "
	    ":a.b\n", 4, "only :params.NAME may contain a dot");
	expect_error(HEAD "query = SELECT name, id AS name FROM person\n", 4,
	    "column 'name' appears twice");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = "
	    ":subject\n"
	    "list name = SELECT 1 AS x\n", 5, "already a column");
	/* The same row for everyone is a mistake. */
	expect_error(HEAD "query = SELECT name FROM person LIMIT 1\n", 4,
	    "service 's': the main query does not use :subject");
	expect_error(HEAD "query = \\\n  SELECT name \\\n  FROM nosuch\n", 4,
	    "does not prepare");
}

static void
test_only_single_select(void **state)
{
	expect_error(HEAD "query = DELETE FROM person WHERE id = :subject\n",
	    4, "only a read-only SELECT");
	expect_error(HEAD "query = INSERT INTO person(id) VALUES(:subject) "
	    "RETURNING id\n", 4, "only a read-only SELECT");
	expect_error(HEAD "query = UPDATE person SET name = 'x' RETURNING "
	    "name\n", 4, "only a read-only SELECT");
	expect_error(HEAD "query = PRAGMA table_info(person)\n", 4,
	    "only a read-only SELECT");
	expect_error(HEAD "query = EXPLAIN SELECT name FROM person\n", 4,
	    "only a read-only SELECT");
	expect_error(HEAD "query = VALUES(1)\n", 4, "only a read-only SELECT");
	expect_error(HEAD "query = ATTACH 'x.db' AS x\n", 4,
	    "only a read-only SELECT");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = "
	    ":subject; DROP TABLE person\n", 4, "only one statement");
	expect_error(HEAD "query = SELECT name FROM person; SELECT 1\n", 4,
	    "only one statement");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = ?\n", 4,
	    "use the named form");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = ?1\n", 4,
	    "use the named form");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = @id\n",
	    4, "use the named form");
	expect_error(HEAD "query = SELECT name FROM person WHERE id = $id\n",
	    4, "use the named form");
	expect_error(HEAD "query = WITH d AS (DELETE FROM person) SELECT 1\n",
	    4, "does not prepare");
}

static void
test_trailing_semicolon_ok(void **state)
{
	struct cr_adapter_config cfg;
	char err[1024];

	if (load(HEAD "query = WITH p AS (SELECT name FROM person WHERE id = "
	    ":subject) SELECT name FROM p; -- done\n", &cfg, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	cr_adapter_config_free(&cfg);
}

static void
test_rewrite(void **state)
{
	char *out, **names, err[256];
	size_t n, i;

	assert_int_equal(cr_srcdb_rewrite("SELECT ':subject', \":x\", [:y], "
	    "`:z` -- :c\n/* :d */ FROM t WHERE a = :subject AND b = "
	    ":params.year OR c = :subject AND d = :col_1", '?', &out, &names,
	    &n, err, sizeof(err)), 0);
	assert_string_equal(out, "SELECT ':subject', \":x\", [:y], `:z` -- "
	    ":c\n/* :d */ FROM t WHERE a = ?1 AND b = ?2 OR c = ?1 AND d = ?3");
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "subject");
	assert_string_equal(names[1], "params.year");
	assert_string_equal(names[2], "col_1");
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(out);
	/* An escaped quote does not end the string. */
	assert_int_equal(cr_srcdb_rewrite("SELECT 'it''s :x' WHERE a$b = :y",
	    '$', &out, &names, &n, err, sizeof(err)), 0);
	assert_string_equal(out, "SELECT 'it''s :x' WHERE a$b = $1");
	assert_int_equal(n, 1);
	free(names[0]);
	free(names);
	free(out);
	assert_int_equal(cr_srcdb_rewrite("SELECT 1 WHERE a = ?", '?', &out,
	    &names, &n, err, sizeof(err)), -1);
	assert_null(out);
	assert_null(names);
}

/* Lookups ------------------------------------------------------------------ */

static json_t *
params_of(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void
test_lookup_mapping(void **state)
{
	struct cr_adapter_config cfg;
	const struct cr_adapter_service *s;
	json_t *data = NULL, *p, *e;
	char err[1024], *dump;

	if (load(full, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	s = cr_adapter_service_by_path(&cfg, "/person");
	assert_int_equal(cr_adapter_lookup(&cfg, s, "85073003328", NULL,
	    &data, err, sizeof(err)), 200);
	dump = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(dump, "{\"birth_date\":\"1985-07-30\","
	    "\"children\":2,\"death_date\":null,\"employer\":{\"kbo\":"
	    "\"0203201340\",\"name\":\"Acme SA\"},\"employer_id\":7,"
	    "\"height\":1.75,\"household\":[{\"relation\":\"child\","
	    "\"subject\":\"17073003384\"},{\"relation\":\"self\",\"subject\":"
	    "\"85073003328\"}],\"name\":\"Jan Peeters\",\"note\":\"#1\"}");
	free(dump);
	json_decref(data);

	/* No employer: null; no household: []. */
	assert_int_equal(cr_adapter_lookup(&cfg, s, "17073003384", NULL,
	    &data, err, sizeof(err)), 200);
	assert_true(json_is_null(json_object_get(data, "employer")));
	assert_int_equal(json_array_size(json_object_get(data, "household")),
	    0);
	json_decref(data);

	/* Unknown subjects and injection attempts find nothing. */
	assert_int_equal(cr_adapter_lookup(&cfg, s, "00000000000", NULL,
	    &data, err, sizeof(err)), 404);
	assert_null(data);
	assert_int_equal(cr_adapter_lookup(&cfg, s, "x' OR '1'='1", NULL,
	    &data, err, sizeof(err)), 404);

	s = cr_adapter_service_by_path(&cfg, "/income");
	p = params_of("{\"year\": 2021}");
	assert_int_equal(cr_adapter_lookup(&cfg, s, "85073003328", p, &data,
	    err, sizeof(err)), 200);
	assert_int_equal(json_integer_value(json_object_get(data, "year")),
	    2021);
	assert_true(json_is_real(json_object_get(data, "amount")));
	json_decref(data);
	json_decref(p);
	/* A string is compared with the INTEGER column's affinity. */
	p = params_of("{\"year\": \"2020\", \"other\": [1]}");
	assert_int_equal(cr_adapter_lookup(&cfg, s, "85073003328", p, &data,
	    err, sizeof(err)), 200);
	e = json_object_get(data, "amount");
	assert_true(json_real_value(e) == 31000.5);
	json_decref(data);
	json_decref(p);
	p = params_of("{\"year\": \"2020 OR 1=1\"}");
	assert_int_equal(cr_adapter_lookup(&cfg, s, "85073003328", p, &data,
	    err, sizeof(err)), 404);
	json_decref(p);
	assert_int_equal(cr_adapter_lookup(&cfg, s, "85073003328", NULL,
	    &data, err, sizeof(err)), 400);
	assert_string_equal(err, "missing params.year");
	p = params_of("{\"year\": {\"a\": 1}}");
	assert_int_equal(cr_adapter_lookup(&cfg, s, "85073003328", p, &data,
	    err, sizeof(err)), 400);
	assert_non_null(strstr(err, "params.year"));
	json_decref(p);
	cr_adapter_config_free(&cfg);
}

static void
test_lookup_max_rows(void **state)
{
	struct cr_adapter_config cfg;
	json_t *data = NULL;
	char err[1024];

	if (load("database = pop.db\nmax_rows = 1\n[service s]\npath = /p\n"
	    "query = SELECT name FROM person WHERE id = :subject\n"
	    "list h = SELECT member FROM household WHERE person = :subject\n",
	    &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	/* Two rows, one allowed: an error rather than a cut list. */
	assert_int_equal(cr_adapter_lookup(&cfg, &cfg.services[0],
	    "85073003328", NULL, &data, err, sizeof(err)), 500);
	assert_null(data);
	assert_non_null(strstr(err, "max_rows"));
	cr_adapter_config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults_and_query_order),
		cmocka_unit_test(test_tls_keys),
		cmocka_unit_test(test_errors_name_the_line),
		cmocka_unit_test(test_only_single_select),
		cmocka_unit_test(test_trailing_semicolon_ok),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_lookup_mapping),
		cmocka_unit_test(test_lookup_max_rows),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
