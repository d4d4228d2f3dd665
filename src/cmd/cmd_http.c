/*
 * The commands' HTTP client (crossroads batch run, crossroads demo): one
 * blocking libcurl request to the hub or a child process, its answer kept
 * in memory up to a limit or written to a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cmd.h"
#include "util.h"

static const char *http_cacert, *http_cert, *http_key;

void
cr_cmd_http_cacert(const char *path)
{
	http_cacert = path;
}

void
cr_cmd_http_cert(const char *cert, const char *key)
{
	http_cert = cert;
	http_key = key;
}

/* An environment variable's value, NULL when unset or empty. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct cr_cmd_answer *a = arg;
	size_t n = size * nmemb;

	if (a->out != NULL) {
		if (fwrite(p, 1, n, a->out) != n) {
			a->failed = 1;
			return 0;
		}
		return n;
	}
	if (cr_util_buf_append(&a->buf, &a->len, &a->cap, CR_CMD_ANSWER_MAX,
	    p, n) == -1) {
		a->failed = 1;
		return 0;
	}
	return n;
}

int
cr_cmd_http(const char *method, const char *url, const char *token,
    const char *ctype, const char *body, size_t len, long timeout_ms,
    struct cr_cmd_answer *a, long *status)
{
	struct curl_slist *h = NULL;
	char auth[512], ct[128];
	CURL *c;
	CURLcode rc;

	*status = 0;
	free(a->buf);
	a->buf = NULL;
	a->len = a->cap = 0;
	a->failed = 0;
	if ((c = curl_easy_init()) == NULL)
		return -1;
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (ctype != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		h = curl_slist_append(h, ct);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	/* https://: always verified; against this CA only when given. */
	if (http_cacert != NULL || env("CROSSROADS_CACERT") != NULL) {
		curl_easy_setopt(c, CURLOPT_CAINFO, http_cacert != NULL ?
		    http_cacert : env("CROSSROADS_CACERT"));
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	if (http_cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, http_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, http_key);
	} else if (env("CROSSROADS_CERT") != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, env("CROSSROADS_CERT"));
		curl_easy_setopt(c, CURLOPT_SSLKEY, env("CROSSROADS_KEY"));
	}
	if (timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body != NULL ? len : 0));
	}
	if ((rc = curl_easy_perform(c)) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK && !a->failed)
		return -1;
	return a->failed ? -1 : 0;
}

void
cr_cmd_answer_free(struct cr_cmd_answer *a)
{
	free(a->buf);
	a->buf = NULL;
	a->len = a->cap = 0;
}
