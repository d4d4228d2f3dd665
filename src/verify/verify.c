/*
 * Verifications: fan-out of consultations, household discovery, one
 * deadline, aggregation (verify.h).
 *
 * The applicant's services are all consulted at once; when the bundle
 * has a household service, its answer names the other members, whose
 * consultations start as soon as it arrives. Results land in a table
 * (member x service) under the verification's mutex; the verification
 * completes when nothing is pending or when the deadline passes, and
 * whatever is still missing then is a timeout.
 *
 * Consultation callbacks run on the exchange-log writer thread, which
 * must not wait; starting a household's consultations there would put
 * a few dozen authorization checks (directory reads) in its way. So the
 * verifier's thread does that, and keeps the deadlines: a list of every
 * verification not yet complete, sorted by deadline, a condition
 * variable on the monotonic clock. The hub owns the verifier and stops
 * it before anything a verification uses (the batch runner, the source
 * transport, the exchange log, HTTP): what is still pending then is
 * answered at once, and nothing of this module calls into the hub after
 * cr_verifier_stop() has returned.
 *
 * Lifetime: a reference for the completion (handed to done's callee), one
 * for each consultation in flight, one while on the deadline list, one
 * while a household job is queued. A consultation answering after the
 * deadline (or the stop) thus finds the verification alive, sees it
 * finished, frees its result and lets go.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consult.h"
#include "date.h"
#include "log.h"
#include "util.h"
#include "verify.h"

struct cr_verification {
	atomic_int		 refs;
	pthread_mutex_t		 mtx;
	struct cr_hub		*hub;
	struct cr_bundle	*bundle;
	char			 consumer[CR_NAME_MAX];
	char			 client_id[40];
	char			 end_user[128];
	char			 request_id[64];
	char			 purpose[CR_KEY_MAX];
	char			 refdate[CR_DATE_LEN + 1];
	int			 has_refdate;
	int			 household;
	int			 hh_index;	/* of the household service */
	char			 members[CR_BUNDLE_MAX_MEMBERS][CR_SUBJECT_MAX];
	size_t			 nmembers;
	/* NULL while pending. */
	json_t		*results[CR_BUNDLE_MAX_MEMBERS][CR_BUNDLE_MAX_SERVICES];
	size_t			 pending;	/* consultations + guards */
	int			 finished;
	char			 hh_problem[256];	/* "": household known */
	double			 deadline;	/* cr_util_mono_ms() */
	int			 aborted;	/* finished by the stop */
	cr_verify_done_fn	 done;
	void			*arg;
	struct cr_verifier	*vf;
	/* Protected by vf->mtx. */
	struct cr_verification	*tnext, *jnext;
	int			 in_timer;
};

struct sub {
	struct cr_verification	*v;
	size_t			 member, svc;
};

/* The verifier's thread: deadlines and household jobs. */
struct cr_verifier {
	pthread_t		 thread;
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;		/* the thread waits on it */
	pthread_cond_t		 idle;		/* the stop waits on it */
	/* Protected by mtx. */
	struct cr_verification	*timers;	/* by deadline: every one
						   not yet complete */
	struct cr_verification	*jobs, **jtail;
	unsigned		 starting;	/* cr_verify_start()s still
						   starting consultations */
	int			 stopping;	/* no new verification */
	int			 closed;	/* no new job; thread exits */
};

static void	verify_phase2(struct cr_verification *);
static void	verify_expire(struct cr_verification *);
static void	complete(struct cr_verification *);
static void	finish_locked(struct cr_verification *, int);

static void
ver_ref(struct cr_verification *v)
{
	atomic_fetch_add(&v->refs, 1);
}

void
cr_verify_release(struct cr_verification *v)
{
	size_t m, s;

	if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (m = 0; m < CR_BUNDLE_MAX_MEMBERS; m++)
		for (s = 0; s < CR_BUNDLE_MAX_SERVICES; s++)
			json_decref(v->results[m][s]);
	cr_bundle_free(v->bundle);
	pthread_mutex_destroy(&v->mtx);
	free(v);
}

/*
 * The thread.
 */

static void *
vf_main(void *arg)
{
	struct cr_verifier *vf = arg;
	struct cr_verification *jobs, *expired, *v, **pp;
	struct timespec ts;
	double now;

	for (;;) {
		pthread_mutex_lock(&vf->mtx);
		for (;;) {
			now = cr_util_mono_ms();
			if (vf->closed || vf->jobs != NULL ||
			    (vf->timers != NULL && vf->timers->deadline <= now))
				break;
			if (vf->timers == NULL) {
				pthread_cond_wait(&vf->cond, &vf->mtx);
				continue;
			}
			cr_util_ms_timespec(vf->timers->deadline, &ts);
			pthread_cond_timedwait(&vf->cond, &vf->mtx, &ts);
		}
		if (vf->closed) {
			/* The stop drops the queued jobs. */
			pthread_mutex_unlock(&vf->mtx);
			break;
		}
		jobs = vf->jobs;
		vf->jobs = NULL;
		vf->jtail = &vf->jobs;
		expired = NULL;
		pp = &expired;
		while (vf->timers != NULL && vf->timers->deadline <= now) {
			v = vf->timers;
			vf->timers = v->tnext;
			v->in_timer = 0;
			v->tnext = NULL;
			*pp = v;
			pp = &v->tnext;
		}
		if (vf->timers == NULL)
			pthread_cond_broadcast(&vf->idle);
		pthread_mutex_unlock(&vf->mtx);
		while ((v = jobs) != NULL) {
			jobs = v->jnext;
			v->jnext = NULL;
			verify_phase2(v);
			cr_verify_release(v);
		}
		while ((v = expired) != NULL) {
			expired = v->tnext;
			v->tnext = NULL;
			verify_expire(v);
			cr_verify_release(v);
		}
	}
	return NULL;
}

int
cr_verifier_start(struct cr_verifier **out)
{
	struct cr_verifier *vf;
	int err;

	*out = NULL;
	if ((vf = calloc(1, sizeof(*vf))) == NULL) {
		log_warn("verify: calloc");
		return -1;
	}
	vf->jtail = &vf->jobs;
	pthread_mutex_init(&vf->mtx, NULL);
	cr_util_cond_init_mono(&vf->cond);
	cr_util_cond_init_mono(&vf->idle);
	if ((err = pthread_create(&vf->thread, NULL, vf_main, vf)) != 0) {
		errno = err;
		log_warn("verify: pthread_create");
		pthread_cond_destroy(&vf->idle);
		pthread_cond_destroy(&vf->cond);
		pthread_mutex_destroy(&vf->mtx);
		free(vf);
		return -1;
	}
	pthread_setname_np(vf->thread, "cr-verify");
	*out = vf;
	return 0;
}

void
cr_verifier_stop(struct cr_verifier *vf, unsigned wait_ms)
{
	struct cr_verification *jobs, *v;
	struct timespec ts;
	double until;
	int fin;

	if (vf == NULL)
		return;
	until = cr_util_mono_ms() + (double)wait_ms;
	pthread_mutex_lock(&vf->mtx);
	vf->stopping = 1;
	cr_util_ms_timespec(until, &ts);
	while (vf->timers != NULL && cr_util_mono_ms() < until)
		pthread_cond_timedwait(&vf->idle, &vf->mtx, &ts);
	vf->closed = 1;
	pthread_cond_signal(&vf->cond);
	pthread_mutex_unlock(&vf->mtx);
	pthread_join(vf->thread, NULL);

	/* Household jobs not run: their verifications are failed below. */
	pthread_mutex_lock(&vf->mtx);
	jobs = vf->jobs;
	vf->jobs = NULL;
	vf->jtail = &vf->jobs;
	pthread_mutex_unlock(&vf->mtx);
	while ((v = jobs) != NULL) {
		jobs = v->jnext;
		v->jnext = NULL;
		cr_verify_release(v);
	}

	/*
	 * What is still pending is answered now. One that another thread
	 * has just finished is completed by that thread: wait for it to
	 * leave the list. Then wait for every cr_verify_start() still
	 * starting consultations, so that none starts after this returns.
	 */
	pthread_mutex_lock(&vf->mtx);
	while ((v = vf->timers) != NULL) {
		ver_ref(v);
		pthread_mutex_unlock(&vf->mtx);
		pthread_mutex_lock(&v->mtx);
		fin = !v->finished;
		if (fin)
			finish_locked(v, 1);
		pthread_mutex_unlock(&v->mtx);
		if (fin)
			complete(v);
		pthread_mutex_lock(&vf->mtx);
		while (v->in_timer)
			pthread_cond_wait(&vf->idle, &vf->mtx);
		pthread_mutex_unlock(&vf->mtx);
		cr_verify_release(v);
		pthread_mutex_lock(&vf->mtx);
	}
	while (vf->starting > 0)
		pthread_cond_wait(&vf->idle, &vf->mtx);
	pthread_mutex_unlock(&vf->mtx);
}

void
cr_verifier_free(struct cr_verifier *vf)
{
	if (vf == NULL)
		return;
	pthread_cond_destroy(&vf->idle);
	pthread_cond_destroy(&vf->cond);
	pthread_mutex_destroy(&vf->mtx);
	free(vf);
}

/*
 * Puts v on the deadline list (a reference goes with it) and counts its
 * start; 0, or -1 when the verifier is stopping (v is then answered at
 * once).
 */
static int
timer_add(struct cr_verification *v)
{
	struct cr_verifier *vf = v->vf;
	struct cr_verification **pp;

	if (vf == NULL)
		return -1;
	pthread_mutex_lock(&vf->mtx);
	if (vf->stopping) {
		pthread_mutex_unlock(&vf->mtx);
		return -1;
	}
	ver_ref(v);
	for (pp = &vf->timers; *pp != NULL && (*pp)->deadline <= v->deadline;
	    pp = &(*pp)->tnext)
		;
	v->tnext = *pp;
	*pp = v;
	v->in_timer = 1;
	vf->starting++;
	pthread_cond_signal(&vf->cond);
	pthread_mutex_unlock(&vf->mtx);
	return 0;
}

/* cr_verify_start() has started every consultation of the applicant. */
static void
started(struct cr_verifier *vf)
{
	pthread_mutex_lock(&vf->mtx);
	if (--vf->starting == 0)
		pthread_cond_broadcast(&vf->idle);
	pthread_mutex_unlock(&vf->mtx);
}

static void
timer_cancel(struct cr_verification *v)
{
	struct cr_verifier *vf = v->vf;
	struct cr_verification **pp;
	int found = 0;

	if (vf == NULL)
		return;
	pthread_mutex_lock(&vf->mtx);
	if (v->in_timer) {
		for (pp = &vf->timers; *pp != NULL; pp = &(*pp)->tnext)
			if (*pp == v) {
				*pp = v->tnext;
				break;
			}
		v->in_timer = 0;
		v->tnext = NULL;
		found = 1;
		/* The stop may wait for this one, or for an empty list. */
		pthread_cond_broadcast(&vf->idle);
	}
	pthread_mutex_unlock(&vf->mtx);
	if (found)
		cr_verify_release(v);
}

/*
 * Queues the household's consultations for the thread; 0, or -1 when
 * the verifier is closing (it then fails v itself).
 */
static int
job_add(struct cr_verification *v)
{
	struct cr_verifier *vf = v->vf;

	pthread_mutex_lock(&vf->mtx);
	if (vf->closed) {
		pthread_mutex_unlock(&vf->mtx);
		return -1;
	}
	ver_ref(v);
	v->jnext = NULL;
	*vf->jtail = v;
	vf->jtail = &v->jnext;
	pthread_cond_signal(&vf->cond);
	pthread_mutex_unlock(&vf->mtx);
	return 0;
}

/*
 * Results.
 */

static json_t *
result_error(const char *status, const char *code, const char *message)
{
	return json_pack("{s:s,s:{s:s,s:s}}", "status", status, "error",
	    "code", code, "message", message);
}

/* The result of a consultation as the answer shows it; steals its data. */
static json_t *
result_json(struct cr_consult_result *res)
{
	const char *status;
	json_t *j;

	if (res == NULL)
		return result_error("error", "INTERNAL", "out of memory");
	if (res->status == 200) {
		j = json_pack("{s:s,s:o}", "status", "ok", "data",
		    res->data != NULL ? res->data : json_object());
		res->data = NULL;
		return j;
	}
	if (strcmp(res->error_code, "NO_DATA") == 0)
		status = "no_data";
	else if (res->status == 401 || res->status == 403)
		status = "denied";
	else if (strcmp(res->error_code, "SOURCE_TIMEOUT") == 0)
		status = "timeout";
	else
		status = "error";
	return result_error(status, res->error_code, res->message);
}

static const char *
status_of(const json_t *res)
{
	const char *s = json_string_value(json_object_get(res, "status"));

	return s != NULL ? s : "error";
}

/*
 * Marks what is missing as timed out (the deadline) or unavailable (the
 * hub is stopping); the caller then completes. Locked.
 */
static void
finish_locked(struct cr_verification *v, int stopping)
{
	char msg[128];
	const char *status, *code;
	size_t m, s;
	int hh_missing;

	v->finished = 1;
	v->aborted = stopping;
	if (stopping) {
		status = "error";
		code = "UNAVAILABLE";
		snprintf(msg, sizeof(msg), "the hub is shutting down");
	} else {
		status = "timeout";
		code = "SOURCE_TIMEOUT";
		snprintf(msg, sizeof(msg), "no answer within the bundle's "
		    "deadline of %ld ms", v->bundle->deadline_ms);
	}
	hh_missing = v->household && v->results[0][v->hh_index] == NULL;
	for (m = 0; m < v->nmembers; m++)
		for (s = 0; s < v->bundle->nservices; s++)
			if (v->results[m][s] == NULL)
				v->results[m][s] = result_error(status, code,
				    msg);
	if (hh_missing && v->hh_problem[0] == '\0')
		snprintf(v->hh_problem, sizeof(v->hh_problem), stopping ?
		    "%s: error (UNAVAILABLE)" : "%s: timeout",
		    v->bundle->services[v->hh_index]);
}

static void
complete(struct cr_verification *v)
{
	timer_cancel(v);
	/* The completion's reference goes to the callee. */
	v->done(v->arg, v);
}

/* One fewer pending; completes when it was the last. Unlocks. */
static void
pending_done_unlock(struct cr_verification *v)
{
	int fin = 0;

	if (--v->pending == 0 && !v->finished) {
		finish_locked(v, 0);
		fin = 1;
	}
	pthread_mutex_unlock(&v->mtx);
	if (fin)
		complete(v);
}

/* Household members from the applicant's household answer. Locked. */
static int
household_found(struct cr_verification *v, const json_t *res)
{
	const char *subjects[CR_BUNDLE_MAX_MEMBERS * 2];
	const char *svc = v->bundle->services[v->hh_index], *st, *code;
	char norm[CR_SUBJECT_MAX];
	size_t i, j, n;

	st = status_of(res);
	if (strcmp(st, "ok") != 0) {
		code = json_string_value(json_object_get(json_object_get(res,
		    "error"), "code"));
		snprintf(v->hh_problem, sizeof(v->hh_problem), "%s: %s (%s)",
		    svc, st, code != NULL ? code : "?");
		return 0;
	}
	n = cr_bundle_members(v->bundle, json_object_get(res, "data"),
	    subjects, sizeof(subjects) / sizeof(subjects[0]));
	if (n == 0) {
		snprintf(v->hh_problem, sizeof(v->hh_problem), "the answer of "
		    "%s names no members at %s", svc,
		    v->bundle->household_members);
		return 0;
	}
	for (i = 0; i < n; i++) {
		/* An invalid one is consulted (and refused) as text: a source
		   may name anything, and the answer quotes it. */
		if (cr_ident_normalize(v->hub->person_scheme, subjects[i], norm,
		    sizeof(norm)) == -1)
			cr_util_utf8_copy(norm, sizeof(norm), subjects[i]);
		for (j = 0; j < v->nmembers; j++)
			if (strcmp(v->members[j], norm) == 0)
				break;
		if (j < v->nmembers)
			continue;
		if (v->nmembers == CR_BUNDLE_MAX_MEMBERS) {
			snprintf(v->hh_problem, sizeof(v->hh_problem), "the "
			    "household has more than %d members; the others "
			    "were not consulted", CR_BUNDLE_MAX_MEMBERS);
			break;
		}
		cr_util_strlcpy(v->members[v->nmembers++], norm,
		    sizeof(v->members[0]));
	}
	return v->nmembers > 1;
}

static void
sub_done(void *arg, struct cr_consult_result *res)
{
	struct sub *sb = arg;
	struct cr_verification *v = sb->v;
	json_t *j;
	int more = 0;

	j = result_json(res);
	cr_consult_result_free(res);
	pthread_mutex_lock(&v->mtx);
	if (v->finished) {
		pthread_mutex_unlock(&v->mtx);
		json_decref(j);
		goto out;
	}
	if (j == NULL)
		j = result_error("error", "INTERNAL", "out of memory");
	v->results[sb->member][sb->svc] = j;
	if (v->household && sb->member == 0 && (int)sb->svc == v->hh_index &&
	    j != NULL && household_found(v, j)) {
		/* Counted until the job has started the members' ones. */
		v->pending++;
		more = 1;
	}
	if (more && job_add(v) == -1) {
		/* The verifier is closing: answered now, as it would be. */
		finish_locked(v, 1);
		pthread_mutex_unlock(&v->mtx);
		complete(v);
		goto out;
	}
	pending_done_unlock(v);
out:
	free(sb);
	cr_verify_release(v);
}

/* Starts one consultation; its pending count is already taken. */
static void
sub_start(struct cr_verification *v, size_t member, size_t svc)
{
	struct cr_consult_req r;
	struct sub *sb;
	double left;

	if ((sb = calloc(1, sizeof(*sb))) == NULL) {
		pthread_mutex_lock(&v->mtx);
		if (v->results[member][svc] == NULL)
			v->results[member][svc] = result_error("error",
			    "INTERNAL", "out of memory");
		pending_done_unlock(v);
		return;
	}
	sb->v = v;
	sb->member = member;
	sb->svc = svc;
	ver_ref(v);
	memset(&r, 0, sizeof(r));
	r.who = CR_PRINCIPAL_CLIENT;
	r.consumer = v->consumer;
	r.client_id = v->client_id;
	r.service = v->bundle->services[svc];
	r.subject = v->members[member];
	r.purpose = v->purpose;
	r.reference_date = v->has_refdate ? v->refdate : NULL;
	r.end_user = v->end_user;
	r.request_id = v->request_id;
	left = v->deadline - cr_util_mono_ms();
	r.timeout_ms = left > 0 ? (long)left + 1 : 1;
	cr_consult_start(v->hub, &r, sub_done, sb);
}

/* The household members' consultations (the applicant's are running). */
static void
verify_phase2(struct cr_verification *v)
{
	size_t m, s, first, n;

	pthread_mutex_lock(&v->mtx);
	if (v->finished) {
		pending_done_unlock(v);
		return;
	}
	/* The members known now; household_found() ran once. */
	first = 1;
	n = v->nmembers;
	v->pending += (n - first) * v->bundle->nservices;
	pthread_mutex_unlock(&v->mtx);
	for (m = first; m < n; m++)
		for (s = 0; s < v->bundle->nservices; s++)
			sub_start(v, m, s);
	pthread_mutex_lock(&v->mtx);
	pending_done_unlock(v);
}

static void
verify_expire(struct cr_verification *v)
{
	int fin = 0;

	pthread_mutex_lock(&v->mtx);
	if (!v->finished) {
		finish_locked(v, 0);
		fin = 1;
	}
	pthread_mutex_unlock(&v->mtx);
	if (fin)
		complete(v);
}

void
cr_verify_start(struct cr_hub *hub, struct cr_bundle *bundle,
    const struct cr_verify_req *r, cr_verify_done_fn done, void *arg)
{
	struct cr_verification *v;
	struct cr_verifier *vf;
	size_t s;

	if ((v = calloc(1, sizeof(*v))) == NULL) {
		cr_bundle_free(bundle);
		done(arg, NULL);
		return;
	}
	atomic_init(&v->refs, 1);
	pthread_mutex_init(&v->mtx, NULL);
	v->hub = hub;
	v->bundle = bundle;
	v->done = done;
	v->arg = arg;
	cr_util_strlcpy(v->consumer, r->consumer ? r->consumer : "",
	    sizeof(v->consumer));
	cr_util_strlcpy(v->client_id, r->client_id ? r->client_id : "",
	    sizeof(v->client_id));
	cr_util_strlcpy(v->end_user, r->end_user ? r->end_user : "",
	    sizeof(v->end_user));
	cr_util_strlcpy(v->request_id, r->request_id ? r->request_id : "",
	    sizeof(v->request_id));
	cr_util_strlcpy(v->purpose, r->purpose ? r->purpose : "",
	    sizeof(v->purpose));
	if (r->reference_date != NULL) {
		cr_util_strlcpy(v->refdate, r->reference_date,
		    sizeof(v->refdate));
		v->has_refdate = 1;
	} else
		cr_date_today(v->refdate);
	v->hh_index = bundle->household_service != NULL ?
	    cr_bundle_service_index(bundle, bundle->household_service) : -1;
	v->household = r->household && v->hh_index >= 0;
	if (!r->household)
		snprintf(v->hh_problem, sizeof(v->hh_problem), "the "
		    "verification was made without \"household\": true");
	else if (v->hh_index < 0)
		snprintf(v->hh_problem, sizeof(v->hh_problem), "the bundle "
		    "names no household service");
	cr_util_strlcpy(v->members[0], r->subject, sizeof(v->members[0]));
	v->nmembers = 1;
	v->deadline = cr_util_mono_ms() + (double)bundle->deadline_ms;

	v->vf = vf = hub->verifier;
	if (timer_add(v) == -1) {
		/* Stopping: nothing is consulted. */
		pthread_mutex_lock(&v->mtx);
		finish_locked(v, 1);
		pthread_mutex_unlock(&v->mtx);
		v->done(v->arg, v);
		return;
	}
	/* A guard: nothing completes before every consultation started. */
	v->pending = 1 + bundle->nservices;
	for (s = 0; s < bundle->nservices; s++)
		sub_start(v, 0, s);
	pthread_mutex_lock(&v->mtx);
	pending_done_unlock(v);
	/* v may be gone already. */
	started(vf);
}

int
cr_verify_aborted(const struct cr_verification *v)
{
	return v->aborted;
}

json_t *
cr_verify_answer(struct cr_verification *v)
{
	json_t *ans = NULL, *members, *flags, *und, *res, *mem;
	const char *st;
	size_t m, s;
	int complete_ = 1;

	members = json_array();
	flags = json_array();
	und = json_array();
	if (members == NULL || flags == NULL || und == NULL)
		goto out;
	for (m = 0; m < v->nmembers; m++) {
		if ((res = json_object()) == NULL ||
		    (mem = json_pack("{s:s,s:o}", "subject", v->members[m],
		    "results", res)) == NULL ||
		    json_array_append_new(members, mem) == -1)
			goto out;
		for (s = 0; s < v->bundle->nservices; s++) {
			st = status_of(v->results[m][s]);
			if (strcmp(st, "ok") != 0 && strcmp(st, "no_data") != 0)
				complete_ = 0;
			/* A copy: late threads never share its counts. */
			if (json_object_set_new(res, v->bundle->services[s],
			    json_deep_copy(v->results[m][s])) == -1)
				goto out;
		}
	}
	if (v->hh_problem[0] != '\0' && v->household)
		complete_ = 0;
	if (cr_bundle_evaluate(v->bundle, members, v->hh_problem[0] != '\0' ?
	    v->hh_problem : NULL, v->refdate, flags, und) == -1)
		goto out;
	ans = json_pack("{s:s,s:s,s:s,s:b,s:b,s:O,s:O,s:O}",
	    "request_id", v->request_id, "bundle", v->bundle->id,
	    "subject", v->members[0], "household", v->household,
	    "complete", complete_, "members", members, "flags", flags,
	    "undetermined", und);
	if (ans != NULL && v->household && v->hh_problem[0] != '\0')
		json_object_set_new(ans, "household_problem",
		    json_string(v->hh_problem));
out:
	json_decref(members);
	json_decref(flags);
	json_decref(und);
	return ans;
}
