/*
 * crossroads gen --out DIR [--persons N] [--seed S] [--scheme NAME]
 *     [--base-port P] [--as-of DATE]
 * Writes a synthetic country (see docs/synthetic-country.md): the
 * databases of its authentic sources, an adapter config for each,
 * registry.json for `crossroads registry import`, directory.csv for
 * `crossroads directory import`, and summary.json.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cmd.h"
#include "gen.h"
#include "log.h"
#include "util.h"

/* --- the run ------------------------------------------------------------- */

static int
open_db(struct cr_gen *g, int i)
{
	const struct cr_gen_source *src = &cr_gen_sources[i];
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s.db", g->o->out_dir, src->name);
	/* A leftover file would change the bytes: start from nothing. */
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("gen: %s", path);
		return -1;
	}
	if (sqlite3_open(path, &g->db[i]) != SQLITE_OK) {
		log_warnx("gen: %s: %s", path, sqlite3_errmsg(g->db[i]));
		return -1;
	}
	if (cr_gen_exec(g->db[i], "PRAGMA page_size=4096;"
	    "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
	    "PRAGMA cache_size=-16384; PRAGMA locking_mode=EXCLUSIVE;") == -1 ||
	    cr_gen_exec(g->db[i], src->schema) == -1 ||
	    cr_gen_exec(g->db[i], "BEGIN") == -1)
		return -1;
	return 0;
}

static int
close_db(struct cr_gen *g, int i)
{
	int rc = 0;

	if (g->db[i] == NULL)
		return 0;
	if (g->ok && (cr_gen_exec(g->db[i], "COMMIT") == -1 ||
	    cr_gen_exec(g->db[i], cr_gen_sources[i].indexes) == -1 ||
	    cr_gen_exec(g->db[i], "ANALYZE") == -1))
		rc = -1;
	if (sqlite3_close_v2(g->db[i]) != SQLITE_OK)
		rc = -1;
	g->db[i] = NULL;
	return rc;
}

/* Commits every so often so that the page cache does not grow unbounded. */
static int
checkpoint(struct cr_gen *g)
{
	int i;

	for (i = 0; i < CR_GEN_NSOURCES; i++)
		if (cr_gen_exec(g->db[i], "COMMIT; BEGIN") == -1)
			return -1;
	return 0;
}

static int
write_summary(struct cr_gen *g)
{
	const struct cr_gen_stats *s = g->st;
	char path[1024];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/summary.json", g->o->out_dir);
	if ((f = fopen(path, "w")) == NULL) {
		log_warn("gen: %s", path);
		return -1;
	}
	fprintf(f, "{\n  \"seed\": %llu,\n  \"scheme\": \"%s\",\n"
	    "  \"as_of\": \"%s\",\n  \"persons\": %lu,\n  \"living\": %lu,\n"
	    "  \"deceased\": %lu,\n  \"households\": %lu,\n"
	    "  \"household_sizes\": [%lu, %lu, %lu, %lu, %lu, %lu],\n"
	    "  \"age_0_17\": %lu,\n  \"age_18_64\": %lu,\n  \"age_65\": %lu,\n"
	    "  \"employed_18_64\": %lu,\n  \"self_employed_18_64\": %lu,\n"
	    "  \"unemployed_18_64\": %lu,\n  \"pensioners\": %lu,\n"
	    "  \"pensioners_65\": %lu,\n  \"children_allowance\": %lu,\n"
	    "  \"disabled\": %lu,\n  \"social_assistance\": %lu,\n"
	    "  \"marriages\": %lu,\n  \"bis_numbers\": %lu,\n"
	    "  \"employers\": %lu,\n"
	    "  \"vehicles\": %lu,\n  \"parcels\": %lu,\n"
	    "  \"border_crossings\": %lu,\n  \"pay_rows\": %llu,\n"
	    "  \"directory_records\": %llu,\n"
	    "  \"directory_records_per_person\": %.2f,\n"
	    "  \"sectors_per_living_person\": %.2f\n}\n",
	    (unsigned long long)g->o->seed, g->o->scheme->name, g->o->as_of,
	    s->persons, s->living, s->deceased, s->households, s->hh_size[1],
	    s->hh_size[2], s->hh_size[3], s->hh_size[4], s->hh_size[5],
	    s->hh_size[6], s->age_0_17, s->age_18_64, s->age_65, s->employed,
	    s->self_employed, s->unemployed, s->pensioners, s->pensioners_65,
	    s->children_allowance, s->disabled, s->social_assistance,
	    s->marriages, s->bis, s->employers, s->vehicles, s->parcels, s->crossings,
	    s->pay_rows, s->dir_records,
	    s->persons ? (double)s->dir_records / (double)s->persons : 0.0,
	    s->living ? (double)s->sector_sum / (double)s->living : 0.0);
	rc = ferror(f) ? -1 : 0;
	if (fclose(f) != 0 || rc == -1) {
		log_warn("gen: %s", path);
		return -1;
	}
	return 0;
}

static void
progress(struct cr_gen *g, int final)
{
	double now = cr_util_mono_ms();

	if (!g->o->progress || (!final && now - g->last_ms < 1000))
		return;
	g->last_ms = now;
	fprintf(stderr, "\rgen: %lu/%lu persons, %llu directory records%s",
	    g->st->persons, g->o->persons, g->st->dir_records,
	    final ? "\n" : "");
}

int
cr_gen_run(const struct cr_gen_opts *o, struct cr_gen_stats *st)
{
	struct cr_gen *g;
	char path[1024];
	int i, rc = -1;
	unsigned long next_commit = 200000;

	memset(st, 0, sizeof(*st));
	if (o->scheme == NULL || cr_ident_gen_serials(o->scheme) == 0 ||
	    cr_date_valid(o->as_of) == -1 || o->persons == 0 ||
	    o->persons > CR_GEN_MAX_PERSONS) {
		log_warnx("gen: bad options");
		return -1;
	}
	if (mkdir(o->out_dir, 0755) == -1 && errno != EEXIST) {
		log_warn("gen: %s", o->out_dir);
		return -1;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return -1;
	g->o = o;
	g->st = st;
	cr_gen_rng_seed(&g->r, o->seed);
	cr_date_to_days(o->as_of, &g->asof);
	g->n_employers = o->persons / 30 + 20;
	g->serials = calloc(CR_GEN_SERIAL_SLOTS, sizeof(*g->serials));
	g->employees = calloc(g->n_employers, sizeof(*g->employees));
	if (g->serials == NULL || g->employees == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/directory.csv", o->out_dir);
	if ((g->dir = fopen(path, "w")) == NULL) {
		log_warn("gen: %s", path);
		goto out;
	}
	fputs("subject,capacity,from,to,institution\n", g->dir);
	for (i = 0; i < CR_GEN_NSOURCES; i++)
		if (open_db(g, i) == -1 || cr_gen_prepare(g, i) == -1)
			goto out;
	g->last_ms = cr_util_mono_ms();
	while (st->persons < o->persons) {
		if (cr_gen_household(g) == -1)
			goto out;
		if (st->persons >= next_commit) {
			if (checkpoint(g) == -1)
				goto out;
			next_commit += 200000;
		}
		progress(g, 0);
	}
	if (cr_gen_employers(g) == -1)
		goto out;
	progress(g, 1);
	if (fflush(g->dir) != 0 || ferror(g->dir)) {
		log_warn("gen: directory.csv");
		goto out;
	}
	g->ok = 1;
	rc = 0;
out:
	cr_gen_finalize(g);
	for (i = 0; i < CR_GEN_NSOURCES; i++)
		if (close_db(g, i) == -1)
			rc = -1;
	if (g->dir != NULL && fclose(g->dir) != 0)
		rc = -1;
	if (rc == 0 && (cr_gen_write_registry(o) == -1 ||
	    cr_gen_write_adapter_configs(o) == -1 || write_summary(g) == -1))
		rc = -1;
	free(g->serials);
	free(g->employees);
	free(g);
	return rc;
}


/* --- registry.json ----------------------------------------------------- */

struct gen_authz {
	const char	*service, *purpose, *legal_basis;
	const char	*fields;	/* space-separated; NULL: all */
	const char	*capacities;	/* space-separated; "" none */
};

#define PERSON_ID	"family_name given_name birth_date death_date"
#define WAGES_ID	"employed contracts pay"

static const struct gen_authz cpas_authz[] = {
	{ "population.person", "social-assistance-intake",
	  "Organic Law on CPAS of 8 July 1976, art. 60", PERSON_ID
	  " address household", "" },
	{ "population.person", "social-assistance", "ISC deliberation 05/007",
	  NULL, "integration-income" },
	{ "employment.wages", "social-assistance", "ISC deliberation 05/007",
	  NULL, "integration-income" },
	{ "unemployment.benefits", "social-assistance",
	  "ISC deliberation 05/007", NULL, "integration-income" },
	{ "pensions.pension", "social-assistance", "ISC deliberation 05/007",
	  NULL, "integration-income" },
	{ "family.allowances", "social-assistance", "ISC deliberation 05/007",
	  NULL, "integration-income" },
	{ "vehicles.owned", "social-assistance", "ISC deliberation 12/082",
	  NULL, "integration-income" },
	{ "property.parcels", "social-assistance", "ISC deliberation 12/082",
	  NULL, "integration-income" },
	{ "border.crossings", "social-assistance", "ISC deliberation 19/150",
	  NULL, "integration-income" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz onem_authz[] = {
	{ "population.person", "jobseeker-identification",
	  "Royal Decree of 25 November 1991, art. 133", PERSON_ID, "" },
	{ "population.person", "unemployment-benefit",
	  "ISC deliberation 09/016", PERSON_ID " address marital_status "
	  "household", "unemployed" },
	{ "employment.wages", "unemployment-benefit",
	  "ISC deliberation 10/043", WAGES_ID, "unemployed" },
	{ "border.crossings", "unemployment-benefit",
	  "ISC deliberation 21/088", NULL, "unemployed" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz payer_authz[] = {
	{ "population.person", "unemployment-benefit-payment",
	  "ISC deliberation 09/016", PERSON_ID " address household",
	  "benefit-recipient" },
	{ "employment.wages", "unemployment-benefit-payment",
	  "ISC deliberation 10/043", "employed pay", "benefit-recipient" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz fund_authz[] = {
	{ "population.person", "family-allowance", "ISC deliberation 19/022",
	  PERSON_ID " address household marital_status", "child beneficiary" },
	{ "employment.wages", "family-allowance", "ISC deliberation 19/023",
	  "employed pay", "beneficiary" },
	{ "unemployment.benefits", "family-allowance",
	  "ISC deliberation 19/023", NULL, "beneficiary" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz mut_authz[] = {
	{ "population.person", "health-insurance", "ISC deliberation 08/041",
	  PERSON_ID " address household", "insured dependent" },
	{ "employment.wages", "health-insurance", "ISC deliberation 08/042",
	  WAGES_ID, "insured" },
	{ "disability.recognition", "health-insurance",
	  "ISC deliberation 16/071", NULL, "insured dependent" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz sfp_authz[] = {
	{ "population.person", "pension", "ISC deliberation 14/076",
	  PERSON_ID " address marital_status household", "pensioner career" },
	{ "employment.wages", "pension", "ISC deliberation 14/077", WAGES_ID,
	  "career" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz dgph_authz[] = {
	{ "population.person", "disability-allowance",
	  "ISC deliberation 11/052", PERSON_ID " address household",
	  "disabled-person" },
	{ "pensions.pension", "disability-allowance",
	  "ISC deliberation 11/052", NULL, "disabled-person" },
	{ "employment.wages", "disability-allowance",
	  "ISC deliberation 11/052", "employed pay", "disabled-person" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz inami_authz[] = {
	{ "population.person", "work-incapacity", "ISC deliberation 13/126",
	  PERSON_ID " address", "work-incapacity" },
	{ "employment.wages", "work-incapacity", "ISC deliberation 13/126",
	  WAGES_ID, "work-incapacity" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz onss_authz[] = {
	{ "population.person", "social-security-contributions",
	  "ISC deliberation 02/110", PERSON_ID " address", "employee" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz onva_authz[] = {
	{ "population.person", "annual-holidays", "ISC deliberation 07/033",
	  PERSON_ID " address", "blue-collar-worker" },
	{ "employment.wages", "annual-holidays", "ISC deliberation 07/033",
	  WAGES_ID, "blue-collar-worker" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz inasti_authz[] = {
	{ "population.person", "self-employed-contributions",
	  "ISC deliberation 06/058", PERSON_ID " address", "self-employed" },
	{ "employment.employer", "self-employed-contributions",
	  "ISC deliberation 06/058", NULL, "" },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct gen_authz fedris_authz[] = {
	{ "population.person", "occupational-accident",
	  "ISC deliberation 17/094", PERSON_ID " address", "accident-victim" },
	{ "employment.wages", "occupational-accident",
	  "ISC deliberation 17/094", WAGES_ID, "accident-victim" },
	{ "employment.employer", "occupational-accident",
	  "ISC deliberation 17/094", NULL, "" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct gen_authz *
authz_of(int inst)
{
	switch (inst) {
	case CR_GI_ONSS:	return onss_authz;
	case CR_GI_ONEM:	return onem_authz;
	case CR_GI_SFP:		return sfp_authz;
	case CR_GI_DGPH:	return dgph_authz;
	case CR_GI_ONVA:	return onva_authz;
	case CR_GI_INAMI:	return inami_authz;
	case CR_GI_INASTI:	return inasti_authz;
	case CR_GI_FEDRIS:	return fedris_authz;
	case CR_GI_CAPAC: case CR_GI_PI_CSC: case CR_GI_PI_FGTB:
		return payer_authz;
	case CR_GI_FAMIWAL: case CR_GI_KIDSLIFE: case CR_GI_INFINO:
		return fund_authz;
	case CR_GI_CPAS_BXL: case CR_GI_CPAS_LGE: case CR_GI_OCMW_ANT:
	case CR_GI_OCMW_GNT:
		return cpas_authz;
	default:
		if (inst >= CR_GI_MUT_CM && inst <= CR_GI_MUT_NEUT)
			return mut_authz;
		return NULL;
	}
}

static json_t *
words(const char *s)
{
	json_t *a = json_array();
	size_t n;

	while (a != NULL && *s != '\0') {
		n = strcspn(s, " ");
		if (n > 0)
			json_array_append_new(a, json_stringn(s, n));
		s += n;
		s += strspn(s, " ");
	}
	return a;
}

static const char *
service_fields(const char *id)
{
	const struct cr_gen_service *sv;
	int i;

	for (i = 0; cr_gen_sources[i].name != NULL; i++)
		for (sv = cr_gen_sources[i].services; sv->id != NULL; sv++)
			if (strcmp(sv->id, id) == 0)
				return sv->fields;
	return "";
}

void
cr_gen_token(uint64_t seed, const char *institution, const char *name,
    char out[4 + 64 + 1])
{
	uint8_t h[32];
	char msg[256];

	/* Demo tokens: anyone with the seed can recompute them. */
	snprintf(msg, sizeof(msg), "crossroads-gen-token %llu %s %s",
	    (unsigned long long)seed, institution, name);
	crypto_generichash(h, sizeof(h), (const unsigned char *)msg,
	    strlen(msg), NULL, 0);
	memcpy(out, "crt_", 4);
	cr_util_hex(h, sizeof(h), out + 4);
}

int
cr_gen_write_registry(const struct cr_gen_opts *o)
{
	const struct cr_gen_institution *in;
	const struct cr_gen_service *sv;
	const struct gen_authz *a;
	const struct cr_gen_capacity *c;
	json_t *doc, *insts, *clients, *svcs, *authz, *caps;
	char path[1024], url[300], token[4 + 64 + 1];
	int i, rc = -1;

	doc = json_object();
	insts = json_array();
	clients = json_array();
	svcs = json_array();
	authz = json_array();
	caps = json_array();
	json_object_set_new(doc, "institutions", insts);
	json_object_set_new(doc, "clients", clients);
	json_object_set_new(doc, "services", svcs);
	json_object_set_new(doc, "authorizations", authz);
	json_object_set_new(doc, "capacities", caps);
	for (c = cr_gen_capacities; c->id != NULL; c++)
		json_array_append_new(caps, json_pack("{s:s,s:s,s:o,s:o}",
		    "id", c->id, "name", c->name, "institutions",
		    words(c->institutions), "sectors", words(c->sectors)));
	for (i = 0; i < CR_GEN_NINSTITUTIONS; i++) {
		in = &cr_gen_institutions[i];
		json_array_append_new(insts, json_pack("{s:s,s:s,s:s}", "id",
		    in->id, "name", in->name, "sector", in->sector));
		if (in->client == NULL)
			continue;
		cr_gen_token(o->seed, in->id, in->client, token);
		json_array_append_new(clients, json_pack("{s:s,s:s,s:s}",
		    "institution", in->id, "name", in->client, "token", token));
	}
	for (i = 0; cr_gen_sources[i].name != NULL; i++)
		for (sv = cr_gen_sources[i].services; sv->id != NULL; sv++) {
			snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
			    o->base_port + (unsigned)i, sv->path);
			/* None of the adapters' queries takes :params.NAME:
			   the services declare no params. */
			json_array_append_new(svcs, json_pack("{s:s,s:s,s:s,"
			    "s:s,s:o,s:[],s:i}", "id", sv->id, "provider",
			    cr_gen_sources[i].provider, "endpoint", url,
			    "subject_kind", sv->subject_kind, "fields",
			    words(sv->fields), "params", "timeout_ms", 2000));
		}
	for (i = 0; i < CR_GEN_NINSTITUTIONS; i++)
		for (a = authz_of(i); a != NULL && a->service != NULL; a++)
			json_array_append_new(authz, json_pack("{s:s,s:s,s:s,"
			    "s:s,s:o,s:o,s:s,s:n}", "consumer",
			    cr_gen_institutions[i].id, "service", a->service,
			    "purpose", a->purpose, "legal_basis",
			    a->legal_basis, "fields", words(a->fields ?
			    a->fields : service_fields(a->service)),
			    "capacities", words(a->capacities), "valid_from",
			    "2020-01-01", "valid_to"));
	snprintf(path, sizeof(path), "%s/registry.json", o->out_dir);
	if (json_dump_file(doc, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER)
	    == -1)
		log_warn("gen: %s", path);
	else
		rc = 0;
	json_decref(doc);
	return rc;
}

/* --- adapter configs (docs/source-adapter.md) ---------------------------- */

struct gen_query {
	const char	*service;
	const char	*lines;		/* the section after [service NAME] */
};

static const struct gen_query queries[] = {
	{ "population.person",
	  "query = SELECT family_name, given_name, sex, birth_date, "
	  "nationality, marital_status, death_date \\\n"
	  "    FROM person WHERE id = :subject\n"
	  "object address = SELECT a.street, a.number, a.postcode, "
	  "a.municipality \\\n    FROM person p JOIN household h ON h.id = "
	  "p.household_id \\\n    JOIN address a ON a.id = h.address_id "
	  "WHERE p.id = :subject\n"
	  "list household = SELECT m.person AS subject, m.role, m.since \\\n"
	  "    FROM person p JOIN member m ON m.household_id = p.household_id "
	  "\\\n    WHERE p.id = :subject ORDER BY m.person\n" },
	{ "employment.wages",
	  "query = SELECT max(end_date IS NULL) AS employed \\\n"
	  "    FROM contract WHERE person = :subject GROUP BY person\n"
	  "list contracts = SELECT c.id AS contract, c.employer, e.name AS "
	  "employer_name, \\\n    c.kind, c.category, c.work_fraction, "
	  "c.start_date, c.end_date \\\n    FROM contract c JOIN employer e ON "
	  "e.kbo = c.employer \\\n    WHERE c.person = :subject ORDER BY "
	  "c.start_date\n"
	  "list pay = SELECT month, gross, contract_id AS contract FROM pay \\\n"
	  "    WHERE person = :subject ORDER BY month, contract_id\n" },
	{ "employment.employer",
	  "query = SELECT kbo, name, legal_form, nace, municipality, employees "
	  "\\\n    FROM employer WHERE kbo = :subject\n" },
	{ "unemployment.benefits",
	  "query = SELECT CASE WHEN max(end_date IS NULL) "
	  "\\\n    THEN 'receiving' ELSE 'ended' END AS status \\\n"
	  "    FROM claim WHERE person = :subject GROUP BY person\n"
	  "list claims = SELECT kind, start_date, end_date, daily_amount, "
	  "payment_institution \\\n    FROM claim WHERE person = :subject "
	  "ORDER BY start_date\n"
	  "list payments = SELECT month, amount FROM payment WHERE person = "
	  ":subject \\\n    ORDER BY month\n" },
	{ "pensions.pension",
	  "query = SELECT kind, scheme, start_date, monthly_amount FROM pension "
	  "\\\n    WHERE person = :subject\n" },
	{ "family.allowances",
	  "query = SELECT (SELECT count(*) FROM allowance WHERE child = "
	  ":subject) \\\n    + (SELECT count(*) FROM allowance WHERE "
	  "beneficiary = :subject) AS allowances \\\n"
	  "    WHERE EXISTS (SELECT 1 FROM allowance WHERE child = :subject) "
	  "\\\n    OR EXISTS (SELECT 1 FROM allowance WHERE beneficiary = "
	  ":subject)\n"
	  "object as_child = SELECT beneficiary, fund, start_date, end_date, "
	  "monthly_amount \\\n    FROM allowance WHERE child = :subject\n"
	  "list as_beneficiary = SELECT child, fund, start_date, end_date, "
	  "monthly_amount \\\n    FROM allowance WHERE beneficiary = :subject "
	  "ORDER BY child\n" },
	{ "disability.recognition",
	  "query = SELECT decision_date, points, allowance, monthly_amount "
	  "\\\n    FROM recognition WHERE person = :subject\n" },
	{ "vehicles.owned",
	  "query = SELECT count(*) AS count FROM vehicle "
	  "\\\n    WHERE owner = :subject GROUP BY owner\n"
	  "list vehicles = SELECT plate, make, model, fuel, first_registration, "
	  "value \\\n    FROM vehicle WHERE owner = :subject ORDER BY plate\n" },
	{ "property.parcels",
	  "query = SELECT count(*) AS count FROM parcel "
	  "\\\n    WHERE owner = :subject GROUP BY owner\n"
	  "list parcels = SELECT parcel, share, municipality, kind, area_m2, "
	  "\\\n    cadastral_income, value FROM parcel WHERE owner = :subject "
	  "ORDER BY parcel\n" },
	{ "border.crossings",
	  "query = SELECT count(*) AS count FROM crossing "
	  "\\\n    WHERE person = :subject GROUP BY person\n"
	  "list crossings = SELECT date, direction, border_post, country "
	  "\\\n    FROM crossing WHERE person = :subject ORDER BY date, "
	  "direction\n" },
	{ NULL, NULL }
};

static const char *
queries_of(const char *service)
{
	const struct gen_query *q;

	for (q = queries; q->service != NULL; q++)
		if (strcmp(q->service, service) == 0)
			return q->lines;
	return NULL;
}

static const char *
provider_name(const char *id)
{
	int i;

	for (i = 0; i < CR_GEN_NINSTITUTIONS; i++)
		if (strcmp(cr_gen_institutions[i].id, id) == 0)
			return cr_gen_institutions[i].name;
	return id;
}

int
cr_gen_write_adapter_configs(const struct cr_gen_opts *o)
{
	const struct cr_gen_source *src;
	const struct cr_gen_service *sv;
	const char *q;
	char path[1024];
	FILE *f;
	int i, rc;

	for (i = 0; cr_gen_sources[i].name != NULL; i++) {
		src = &cr_gen_sources[i];
		snprintf(path, sizeof(path), "%s/%s.conf", o->out_dir,
		    src->name);
		if ((f = fopen(path, "w")) == NULL) {
			log_warn("gen: %s", path);
			return -1;
		}
		fprintf(f, "# %s: authentic source of %s (crossroads gen, "
		    "seed %llu).\n# crossroads source --config %s.conf\n"
		    "listen = 127.0.0.1:%u\ndatabase = sqlite:%s.db\n"
		    "max_rows = 1000\n", src->name,
		    provider_name(src->provider), (unsigned long long)o->seed,
		    src->name, o->base_port + (unsigned)i, src->name);
		for (sv = src->services; sv->id != NULL; sv++) {
			if ((q = queries_of(sv->id)) == NULL)
				continue;
			fprintf(f, "\n[service %s]\npath = %s\n%s", sv->id,
			    sv->path, q);
		}
		rc = ferror(f) ? -1 : 0;
		if (fclose(f) != 0 || rc == -1) {
			log_warn("gen: %s", path);
			return -1;
		}
	}
	return 0;
}

/* --- the command ----------------------------------------------------------- */

static const struct cr_cmd_opt gen_opts[] = {
	{ "out", 'o', "DIR", "where the registries and hub files go" },
	{ "persons", 'n', "N", "how many persons to generate" },
	{ "seed", 's', "S", "random seed: the same seed, the same country" },
	{ "scheme", 'S', "SCHEME",
	    "identifiers: be-insz (default), ee-isikukood or tr-tckn" },
	{ "base-port", 'p', "P", "first port of the sources' configs" },
	{ "as-of", 'a', "YYYY-MM-DD", "the country's date (default "
	    CR_GEN_DEFAULT_AS_OF ")" },
	{ "quiet", 'q', NULL, "no progress on stderr" },
	{ NULL, 0, NULL, NULL }
};

static const struct cr_cmd gen_cmd = {
	"gen", "--out DIR [--persons N] [--seed S] [--scheme SCHEME]\n"
	    "           [--base-port P] [--as-of YYYY-MM-DD] [-q]",
	"generate a synthetic country", gen_opts,
	"One SQLite database per authentic source with its adapter config,\n"
	"the hub's registry and reference directory\n"
	"(docs/synthetic-country.md).\n"
};

int
cr_cmd_gen(int argc, char **argv)
{
	struct cr_gen_opts o;
	struct cr_gen_stats st;
	unsigned long long v;
	double t0;
	int ch;

	memset(&o, 0, sizeof(o));
	o.persons = CR_GEN_DEFAULT_PERSONS;
	o.seed = 1;
	o.scheme = cr_ident_default_person();
	o.base_port = CR_GEN_DEFAULT_PORT;
	o.progress = 1;
	cr_util_strlcpy(o.as_of, CR_GEN_DEFAULT_AS_OF, sizeof(o.as_of));
	if (cr_cmd_help_asked(&gen_cmd, argc, argv))
		return 0;
	while ((ch = cr_cmd_getopt(&gen_cmd, argc, argv)) != -1) {
		switch (ch) {
		case 'o':
			o.out_dir = optarg;
			break;
		case 'n':
			if (cr_util_parse_ull(optarg, 1, CR_GEN_MAX_PERSONS,
			    &v) == -1)
				return cr_cmd_usage_error(&gen_cmd,
				    "--persons: expected 1 to %lu",
				    CR_GEN_MAX_PERSONS);
			o.persons = (unsigned long)v;
			break;
		case 's':
			if (cr_util_parse_ull(optarg, 0, UINT64_MAX, &v) == -1)
				return cr_cmd_usage_error(&gen_cmd, "--seed: "
				    "expected a whole number");
			o.seed = v;
			break;
		case 'S':
			o.scheme = cr_ident_find(optarg);
			if (o.scheme == NULL ||
			    cr_ident_gen_serials(o.scheme) == 0)
				return cr_cmd_usage_error(&gen_cmd,
				    "--scheme: expected be-insz, ee-isikukood "
				    "or tr-tckn");
			break;
		case 'p':
			if (cr_util_parse_ull(optarg, 1, 65535 -
			    CR_GEN_NSOURCES, &v) == -1)
				return cr_cmd_usage_error(&gen_cmd,
				    "--base-port: expected 1 to %d",
				    65535 - CR_GEN_NSOURCES);
			o.base_port = (unsigned)v;
			break;
		case 'a':
			if (cr_date_valid(optarg) == -1)
				return cr_cmd_usage_error(&gen_cmd, "--as-of: "
				    "expected YYYY-MM-DD");
			cr_util_strlcpy(o.as_of, optarg, sizeof(o.as_of));
			break;
		case 'q':
			o.progress = 0;
			break;
		default:
			return 2;
		}
	}
	if (o.out_dir == NULL)
		return cr_cmd_usage_error(&gen_cmd, "missing --out");
	if (cr_cmd_no_operands(&gen_cmd, argc, argv) != 0)
		return 2;
	if (sodium_init() < 0) {
		fprintf(stderr, "crossroads: libsodium failed to start\n");
		return 1;
	}
	t0 = cr_util_mono_ms();
	if (cr_gen_run(&o, &st) == -1) {
		fprintf(stderr, "crossroads: gen failed\n");
		return 1;
	}
	if (o.progress)
		fprintf(stderr, "gen: %lu persons (%lu living) in %lu "
		    "households, %llu directory records, %.1f s; see "
		    "%s/summary.json\n", st.persons, st.living, st.households,
		    st.dir_records, (cr_util_mono_ms() - t0) / 1e3, o.out_dir);
	return 0;
}
