/*
 * A consultation whose exchange-log entry cannot be written: the consumer
 * gets 500 and nothing of the source's answer, because nothing leaves the
 * hub that is not in the log (issue 9).
 *
 * Every part is the real one: the SQLite store in a mkdtemp directory, the
 * exchange-log writer, the HTTP source transport calling a source served
 * in process by libmicrohttpd. The log write fails for real: a trigger,
 * created behind the hub's back through another SQLite connection, aborts
 * every insert into the log, as a store turned read-only would.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sqlite3.h>

#include "consult.h"
#include "store_fixture.h"
#include "xlog.h"

/* What the source knows, and the hub must not let out unlogged. */
#define SECRET	"Secret-Name-7731"
#define SUBJECT	"85073003328"

static struct MHD_Daemon	*src_daemon;
static uint16_t			 src_port;
static atomic_int		 src_calls;

static enum MHD_Result
src_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	static char answer[] = "{\"data\":{\"name\":\"" SECRET "\","
	    "\"address\":\"Rue de la Loi 16\"}}";
	static int first;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (*con_cls == NULL) {
		*con_cls = &first;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		*upload_size = 0;
		return MHD_YES;
	}
	atomic_fetch_add(&src_calls, 1);
	resp = MHD_create_response_from_buffer(strlen(answer), answer,
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int
group_setup(void **state)
{
	struct sockaddr_in sin;
	const union MHD_DaemonInfo *info;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	src_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, NULL, NULL,
	    src_handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_END);
	if (src_daemon == NULL ||
	    (info = MHD_get_daemon_info(src_daemon,
	    MHD_DAEMON_INFO_BIND_PORT)) == NULL || info->port == 0)
		return -1;
	src_port = info->port;
	return 0;
}

static int
group_teardown(void **state)
{
	MHD_stop_daemon(src_daemon);
	return 0;
}

/* The hub's parts a consultation uses, on the fixture's store. */
struct hubfx {
	struct fx	*f;
	struct cr_hub	 hub;
};

static int
hub_setup(void **state)
{
	struct hubfx *h;
	struct cr_service svc;
	struct cr_authz a;

	if ((h = calloc(1, sizeof(*h))) == NULL || setup((void **)&h->f) != 0)
		return -1;
	h->hub.store = h->f->st;
	h->hub.person_scheme = cr_ident_default_person();
	h->hub.enterprise_scheme = cr_ident_default_enterprise();
	add_inst(h->f->st, "RN", "population");
	add_inst(h->f->st, "ONEM", "unemployment");
	memset(&svc, 0, sizeof(svc));
	cr_util_strlcpy(svc.id, "population.person", sizeof(svc.id));
	cr_util_strlcpy(svc.provider, "RN", sizeof(svc.provider));
	snprintf(svc.endpoint, sizeof(svc.endpoint),
	    "http://127.0.0.1:%u/person", (unsigned)src_port);
	cr_util_strlcpy(svc.subject_kind, "person", sizeof(svc.subject_kind));
	svc.fields = json_pack("[s,s]", "name", "address");
	svc.timeout_ms = 5000;
	assert_int_equal(h->f->st->registry->ops->service_add(h->f->st->registry, &svc),
	    CR_STORE_OK);
	cr_service_clear(&svc);
	memset(&a, 0, sizeof(a));
	cr_util_uuid(a.id);
	cr_util_strlcpy(a.consumer, "ONEM", sizeof(a.consumer));
	cr_util_strlcpy(a.service, "population.person", sizeof(a.service));
	cr_util_strlcpy(a.purpose, "benefit", sizeof(a.purpose));
	cr_util_strlcpy(a.legal_basis, "Law 1", sizeof(a.legal_basis));
	a.fields = json_pack("[s]", "name");
	a.capacities = json_array();
	cr_util_strlcpy(a.valid_from, "2020-01-01", sizeof(a.valid_from));
	assert_int_equal(h->f->st->registry->ops->authz_add(h->f->st->registry, &a), CR_STORE_OK);
	cr_authz_clear(&a);
	assert_int_equal(cr_xlog_start(h->f->st, NULL, &h->hub.xlog), 0);
	assert_int_equal(cr_source_http_start(NULL, &h->hub.sources), 0);
	*state = h;
	return 0;
}

static int
hub_teardown(void **state)
{
	struct hubfx *h = *state;
	void *f = h->f;

	h->hub.sources->ops->stop(h->hub.sources);
	cr_xlog_stop(h->hub.xlog);
	teardown(&f);
	free(h);
	return 0;
}

/* Waits for the one completion of a consultation. */
struct wait {
	pthread_mutex_t			 mtx;
	pthread_cond_t			 cond;
	int				 calls;
	struct cr_consult_result	*res;
};

static void
wait_done(void *arg, struct cr_consult_result *res)
{
	struct wait *w = arg;

	pthread_mutex_lock(&w->mtx);
	w->calls++;
	w->res = res;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
}

static struct cr_consult_result *
consult(struct cr_hub *hub, const char *request_id, int answer)
{
	struct cr_consult_req r;
	struct wait w;

	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mtx, NULL);
	pthread_cond_init(&w.cond, NULL);
	memset(&r, 0, sizeof(r));
	r.who = CR_PRINCIPAL_CLIENT;
	r.consumer = "ONEM";
	r.client_id = "client-1";
	r.service = "population.person";
	r.subject = SUBJECT;
	r.purpose = "benefit";
	r.request_id = request_id;
	r.answer = answer;
	cr_consult_start(hub, &r, wait_done, &w);
	pthread_mutex_lock(&w.mtx);
	while (w.calls == 0)
		pthread_cond_wait(&w.cond, &w.mtx);
	pthread_mutex_unlock(&w.mtx);
	assert_int_equal(w.calls, 1);
	pthread_mutex_destroy(&w.mtx);
	pthread_cond_destroy(&w.cond);
	assert_non_null(w.res);
	return w.res;
}

static void
sql(const char *db, const char *text)
{
	sqlite3 *h;
	char *err = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 10000);
	if (sqlite3_exec(h, text, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", text, err);
	sqlite3_close(h);
}

/* Log entries of SUBJECT with this request id. */
static size_t
logged(struct cr_store *st, const char *request_id)
{
	struct cr_xlog_entry e[16];
	struct cr_xlog_filter f;
	size_t n = 16, i, k = 0;

	memset(&f, 0, sizeof(f));
	f.subject = SUBJECT;
	f.limit = 16;
	assert_int_equal(st->xlog->ops->xlog_query(st->xlog, &f, e, &n), CR_STORE_OK);
	for (i = 0; i < n; i++)
		if (strcmp(e[i].request_id, request_id) == 0)
			k++;
	return k;
}

static void
test_log_write_fails(void **state)
{
	struct hubfx *h = *state;
	struct cr_consult_result *res;
	int answer, calls;

	/* The same consultation with a working log: granted, the data out. */
	res = consult(&h->hub, "req-ok", 1);
	assert_int_equal(res->status, 200);
	assert_non_null(res->data);
	assert_string_equal(json_string_value(json_object_get(res->data,
	    "name")), SECRET);
	assert_non_null(res->body);
	assert_non_null(strstr(res->body, SECRET));
	cr_consult_result_free(res);
	assert_int_equal(logged(h->f->st, "req-ok"), 1);

	sql(h->f->path, "CREATE TRIGGER no_log BEFORE INSERT ON xlog "
	    "BEGIN SELECT RAISE(ABORT, 'the log cannot be written'); END");
	/* The HTTP answer (1) and the result a verification reads (0). */
	for (answer = 1; answer >= 0; answer--) {
		calls = atomic_load(&src_calls);
		res = consult(&h->hub, answer ? "req-fail-http" :
		    "req-fail-verify", answer);
		/* The source answered: its data was there to leak. */
		assert_int_equal(atomic_load(&src_calls), calls + 1);
		assert_int_equal(res->status, 500);
		assert_string_equal(res->error_code, "INTERNAL");
		assert_null(res->data);
		assert_null(strstr(res->message, SECRET));
		if (answer) {
			assert_non_null(res->body);
			assert_null(strstr(res->body, SECRET));
			assert_non_null(strstr(res->body,
			    "\"code\":\"INTERNAL\""));
			assert_non_null(strstr(res->body,
			    "\"request_id\":\"req-fail-http\""));
		} else
			assert_null(res->body);
		cr_consult_result_free(res);
	}
	assert_int_equal(logged(h->f->st, "req-fail-http"), 0);
	assert_int_equal(logged(h->f->st, "req-fail-verify"), 0);

	/* Writable again: the chain goes on from what is stored. */
	sql(h->f->path, "DROP TRIGGER no_log");
	res = consult(&h->hub, "req-after", 1);
	assert_int_equal(res->status, 200);
	cr_consult_result_free(res);
	assert_int_equal(logged(h->f->st, "req-after"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_log_write_fails,
		    hub_setup, hub_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
