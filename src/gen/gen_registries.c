/*
 * crossroads gen: the institutions of the synthetic country, their
 * authentic sources (schemas, what each knows about a person), and the
 * files the hub and the adapters read: registry.json and one adapter
 * config per source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "gen.h"
#include "log.h"
#include "util.h"

const struct cr_gen_institution cr_gen_institutions[] = {
	{ "RN", "National Register", "population", NULL },
	{ "ONSS", "National Social Security Office", "employment",
	    "onss-contributions" },
	{ "ONEM", "National Employment Office", "unemployment",
	    "onem-benefits" },
	{ "SFP", "Federal Pension Service", "pensions", "sfp-pensions" },
	{ "FAMIFED", "Family Allowances Cadastre", "family-allowances", NULL },
	{ "DGPH", "Directorate-General Persons with Disabilities",
	    "disability", "dgph-allowances" },
	{ "DIV", "Vehicle Registration Service", "mobility", NULL },
	{ "CADASTRE", "General Administration of Patrimonial Documentation",
	    "property", NULL },
	{ "BORDER", "Border Control, Federal Police", "border-control", NULL },
	{ "MUT_CM", "Christian Mutual Health Fund", "health-insurance",
	    "cm-members" },
	{ "MUT_SOL", "Solidaris Mutual Health Fund", "health-insurance",
	    "solidaris-members" },
	{ "MUT_LIB", "Liberal Mutual Health Fund", "health-insurance",
	    "liberal-members" },
	{ "MUT_NEUT", "Neutral Mutual Health Fund", "health-insurance",
	    "neutral-members" },
	{ "CAPAC", "Auxiliary Fund for Unemployment Benefits", "unemployment",
	    "capac-payments" },
	{ "PI_CSC", "CSC Unemployment Payment Service", "unemployment",
	    "csc-payments" },
	{ "PI_FGTB", "FGTB Unemployment Payment Service", "unemployment",
	    "fgtb-payments" },
	{ "ONVA", "National Annual Holidays Office", "annual-holidays",
	    "onva-holidays" },
	{ "INAMI", "National Institute for Health and Disability Insurance",
	    "work-incapacity", "inami-incapacity" },
	{ "INASTI", "National Institute for the Social Security of the "
	    "Self-employed", "self-employed", "inasti-contributions" },
	{ "FEDRIS", "Federal Agency for Occupational Risks",
	    "occupational-risks", "fedris-claims" },
	{ "FAMIWAL", "FAMIWAL Family Allowance Fund", "family-allowances",
	    "famiwal-allowances" },
	{ "KIDSLIFE", "Kidslife Vlaanderen Family Allowance Fund",
	    "family-allowances", "kidslife-allowances" },
	{ "INFINO", "Infino Family Allowance Fund", "family-allowances",
	    "infino-allowances" },
	{ "CPAS_BXL", "Public Centre for Social Welfare of Brussels",
	    "social-assistance", "cpas-bxl-social" },
	{ "CPAS_LGE", "Public Centre for Social Welfare of Liege",
	    "social-assistance", "cpas-lge-social" },
	{ "OCMW_ANT", "Public Centre for Social Welfare of Antwerp",
	    "social-assistance", "ocmw-ant-social" },
	{ "OCMW_GNT", "Public Centre for Social Welfare of Ghent",
	    "social-assistance", "ocmw-gnt-social" },
};

/*
 * By sector where a sector's institutions all declare it (the CBSS sector
 * rule: every mutuality declares its insured), by institution where one
 * body alone does (ONEM registers the unemployed; its payment bodies, of
 * the same sector, declare benefit recipients only).
 */
const struct cr_gen_capacity cr_gen_capacities[] = {
	{ "employee", "Employee declared to social security", "ONSS", "" },
	{ "blue-collar-worker", "Blue-collar worker (annual holidays)", "",
	    "annual-holidays" },
	{ "unemployed", "Registered unemployed", "ONEM", "" },
	{ "benefit-recipient", "Recipient of unemployment benefits", "",
	    "unemployment" },
	{ "pensioner", "Pensioner", "", "pensions" },
	{ "career", "Pension career on file", "", "pensions" },
	{ "self-employed", "Self-employed worker", "", "self-employed" },
	{ "accident-victim", "Victim of an occupational accident", "",
	    "occupational-risks" },
	{ "work-incapacity", "Person in work incapacity", "INAMI",
	    "health-insurance" },
	{ "child", "Child entitled to family allowances", "",
	    "family-allowances" },
	{ "beneficiary", "Recipient of family allowances", "",
	    "family-allowances" },
	{ "insured", "Insured person (health insurance)", "",
	    "health-insurance" },
	{ "dependent", "Dependent of an insured person", "",
	    "health-insurance" },
	{ "disabled-person", "Person recognised as disabled", "",
	    "disability" },
	{ "integration-income", "Recipient of the integration income", "",
	    "social-assistance" },
	{ NULL, NULL, NULL, NULL }
};

int
cr_gen_sector_index(int inst)
{
	static const char *const sectors[] = { "population", "employment",
	    "unemployment", "pensions", "family-allowances", "disability",
	    "mobility", "property", "border-control", "health-insurance",
	    "annual-holidays", "work-incapacity", "self-employed",
	    "occupational-risks", "social-assistance" };
	int i;

	for (i = 0; i < (int)(sizeof(sectors) / sizeof(sectors[0])); i++)
		if (strcmp(sectors[i], cr_gen_institutions[inst].sector) == 0)
			return i;
	return CR_GEN_NSECTORS - 1;
}

/* --- authentic sources ---------------------------------------------------- */

static const struct cr_gen_service population_services[] = {
	{ "population.person", "/person", "person",
	    "family_name given_name sex birth_date nationality marital_status "
	    "address.street address.number address.postcode "
	    "address.municipality death_date household.subject household.role "
	    "household.since" },
	{ NULL, NULL, NULL, NULL }
};
static const struct cr_gen_service employment_services[] = {
	{ "employment.wages", "/wages", "person",
	    "employed contracts.contract contracts.employer "
	    "contracts.employer_name contracts.kind contracts.category "
	    "contracts.work_fraction contracts.start_date contracts.end_date "
	    "pay.month pay.gross pay.contract" },
	{ "employment.employer", "/employer", "enterprise",
	    "kbo name legal_form nace municipality employees" },
	{ NULL, NULL, NULL, NULL }
};
static const struct cr_gen_service unemployment_services[] = {
	{ "unemployment.benefits", "/benefits", "person",
	    "status claims.kind claims.start_date claims.end_date "
	    "claims.daily_amount claims.payment_institution payments.month "
	    "payments.amount" },
	{ NULL, NULL, NULL, NULL }
};
static const struct cr_gen_service pension_services[] = {
	{ "pensions.pension", "/pension", "person",
	    "kind scheme start_date monthly_amount" },
	{ NULL, NULL, NULL, NULL }
};
static const struct cr_gen_service family_services[] = {
	{ "family.allowances", "/allowances", "person",
	    "allowances as_child.beneficiary as_child.fund as_child.start_date "
	    "as_child.end_date as_child.monthly_amount as_beneficiary.child "
	    "as_beneficiary.fund as_beneficiary.start_date "
	    "as_beneficiary.end_date as_beneficiary.monthly_amount" },
	{ NULL, NULL, NULL, NULL }
};
static const struct cr_gen_service disability_services[] = {
	{ "disability.recognition", "/recognition", "person",
	    "decision_date points allowance monthly_amount" },
	{ NULL, NULL, NULL, NULL }
};
static const struct cr_gen_service vehicle_services[] = {
	{ "vehicles.owned", "/vehicles", "person", "count vehicles.plate "
	    "vehicles.make vehicles.model vehicles.fuel "
	    "vehicles.first_registration vehicles.value" },
	{ NULL, NULL, NULL, NULL }
};
static const struct cr_gen_service land_services[] = {
	{ "property.parcels", "/parcels", "person", "count parcels.parcel "
	    "parcels.share parcels.municipality parcels.kind parcels.area_m2 "
	    "parcels.cadastral_income parcels.value" },
	{ NULL, NULL, NULL, NULL }
};
static const struct cr_gen_service border_services[] = {
	{ "border.crossings", "/crossings", "person", "count crossings.date "
	    "crossings.direction crossings.border_post crossings.country" },
	{ NULL, NULL, NULL, NULL }
};

const struct cr_gen_source cr_gen_sources[] = {
	{ "population", "RN", population_services,
	  "CREATE TABLE address (id INTEGER PRIMARY KEY, street TEXT NOT NULL,"
	  " number INTEGER NOT NULL, postcode TEXT NOT NULL,"
	  " municipality TEXT NOT NULL);"
	  "CREATE TABLE household (id INTEGER PRIMARY KEY,"
	  " address_id INTEGER NOT NULL, kind TEXT NOT NULL,"
	  " since TEXT NOT NULL);"
	  "CREATE TABLE person (id TEXT NOT NULL, family_name TEXT NOT NULL,"
	  " given_name TEXT NOT NULL, sex TEXT NOT NULL,"
	  " birth_date TEXT NOT NULL, nationality TEXT NOT NULL,"
	  " marital_status TEXT NOT NULL, household_id INTEGER,"
	  " address TEXT, death_date TEXT);"
	  "CREATE TABLE member (household_id INTEGER NOT NULL,"
	  " person TEXT NOT NULL, role TEXT NOT NULL, since TEXT NOT NULL);"
	  "CREATE TABLE marriage (id INTEGER PRIMARY KEY, spouse1 TEXT NOT NULL,"
	  " spouse2 TEXT NOT NULL, date TEXT NOT NULL, end_date TEXT,"
	  " end_reason TEXT);"
	  "CREATE TABLE event (person TEXT NOT NULL, kind TEXT NOT NULL,"
	  " date TEXT NOT NULL);",
	  "CREATE UNIQUE INDEX person_id ON person(id);"
	  "CREATE INDEX member_household ON member(household_id);"
	  "CREATE INDEX member_person ON member(person);"
	  "CREATE INDEX marriage_spouse1 ON marriage(spouse1);"
	  "CREATE INDEX marriage_spouse2 ON marriage(spouse2);"
	  "CREATE INDEX event_person ON event(person);" },
	{ "employment", "ONSS", employment_services,
	  "CREATE TABLE employer (kbo TEXT NOT NULL, name TEXT NOT NULL,"
	  " legal_form TEXT NOT NULL, nace TEXT NOT NULL,"
	  " municipality TEXT NOT NULL, employees INTEGER NOT NULL);"
	  "CREATE TABLE contract (id INTEGER PRIMARY KEY, person TEXT NOT NULL,"
	  " employer TEXT NOT NULL, kind TEXT NOT NULL, category TEXT NOT NULL,"
	  " work_fraction REAL NOT NULL, start_date TEXT NOT NULL,"
	  " end_date TEXT);"
	  "CREATE TABLE pay (contract_id INTEGER NOT NULL, person TEXT NOT NULL,"
	  " month TEXT NOT NULL, gross REAL NOT NULL);"
	  "CREATE TABLE self_employed (person TEXT NOT NULL, kbo TEXT NOT NULL,"
	  " activity TEXT NOT NULL, start_date TEXT NOT NULL);",
	  "CREATE UNIQUE INDEX employer_kbo ON employer(kbo);"
	  "CREATE INDEX contract_person ON contract(person);"
	  "CREATE INDEX pay_person ON pay(person, month);"
	  "CREATE INDEX self_employed_person ON self_employed(person);" },
	{ "unemployment", "ONEM", unemployment_services,
	  "CREATE TABLE claim (id INTEGER PRIMARY KEY, person TEXT NOT NULL,"
	  " kind TEXT NOT NULL, start_date TEXT NOT NULL, end_date TEXT,"
	  " daily_amount REAL NOT NULL, payment_institution TEXT NOT NULL);"
	  "CREATE TABLE payment (claim_id INTEGER NOT NULL,"
	  " person TEXT NOT NULL, month TEXT NOT NULL, amount REAL NOT NULL);",
	  "CREATE INDEX claim_person ON claim(person);"
	  "CREATE INDEX payment_person ON payment(person, month);" },
	{ "pensions", "SFP", pension_services,
	  "CREATE TABLE pension (person TEXT NOT NULL, kind TEXT NOT NULL,"
	  " scheme TEXT NOT NULL, start_date TEXT NOT NULL,"
	  " monthly_amount REAL NOT NULL);",
	  "CREATE INDEX pension_person ON pension(person);" },
	{ "family", "FAMIFED", family_services,
	  "CREATE TABLE allowance (child TEXT NOT NULL,"
	  " beneficiary TEXT NOT NULL, fund TEXT NOT NULL,"
	  " start_date TEXT NOT NULL, end_date TEXT,"
	  " monthly_amount REAL NOT NULL);",
	  "CREATE INDEX allowance_child ON allowance(child);"
	  "CREATE INDEX allowance_beneficiary ON allowance(beneficiary);" },
	{ "disability", "DGPH", disability_services,
	  "CREATE TABLE recognition (person TEXT NOT NULL,"
	  " decision_date TEXT NOT NULL, points INTEGER NOT NULL,"
	  " allowance TEXT NOT NULL, monthly_amount REAL NOT NULL);",
	  "CREATE INDEX recognition_person ON recognition(person);" },
	{ "vehicles", "DIV", vehicle_services,
	  "CREATE TABLE vehicle (plate TEXT NOT NULL, owner TEXT NOT NULL,"
	  " make TEXT NOT NULL, model TEXT NOT NULL, fuel TEXT NOT NULL,"
	  " first_registration TEXT NOT NULL, value REAL NOT NULL);",
	  "CREATE UNIQUE INDEX vehicle_plate ON vehicle(plate);"
	  "CREATE INDEX vehicle_owner ON vehicle(owner);" },
	{ "land", "CADASTRE", land_services,
	  "CREATE TABLE parcel (parcel TEXT NOT NULL, owner TEXT NOT NULL,"
	  " share REAL NOT NULL, municipality TEXT NOT NULL,"
	  " kind TEXT NOT NULL, area_m2 INTEGER NOT NULL,"
	  " cadastral_income REAL NOT NULL, value REAL NOT NULL);",
	  "CREATE INDEX parcel_owner ON parcel(owner);"
	  "CREATE INDEX parcel_parcel ON parcel(parcel);" },
	{ "borders", "BORDER", border_services,
	  "CREATE TABLE crossing (person TEXT NOT NULL, date TEXT NOT NULL,"
	  " direction TEXT NOT NULL, border_post TEXT NOT NULL,"
	  " country TEXT NOT NULL);",
	  "CREATE INDEX crossing_person ON crossing(person, date);" },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* The insert statements of each source, in cr_gen.ins order. */
static const char *const inserts[CR_GEN_NSOURCES][CR_GEN_MAX_STMT] = {
	{ "INSERT INTO address VALUES (?,?,?,?,?)",
	  "INSERT INTO household VALUES (?,?,?,?)",
	  "INSERT INTO person VALUES (?,?,?,?,?,?,?,?,?,?)",
	  "INSERT INTO member VALUES (?,?,?,?)",
	  "INSERT INTO marriage VALUES (?,?,?,?,?,?)",
	  "INSERT INTO event VALUES (?,?,?)" },
	{ "INSERT INTO employer VALUES (?,?,?,?,?,?)",
	  "INSERT INTO contract VALUES (?,?,?,?,?,?,?,?)",
	  "INSERT INTO pay VALUES (?,?,?,?)",
	  "INSERT INTO self_employed VALUES (?,?,?,?)" },
	{ "INSERT INTO claim VALUES (?,?,?,?,?,?,?)",
	  "INSERT INTO payment VALUES (?,?,?,?)" },
	{ "INSERT INTO pension VALUES (?,?,?,?,?)" },
	{ "INSERT INTO allowance VALUES (?,?,?,?,?,?)" },
	{ "INSERT INTO recognition VALUES (?,?,?,?,?)" },
	{ "INSERT INTO vehicle VALUES (?,?,?,?,?,?,?)" },
	{ "INSERT INTO parcel VALUES (?,?,?,?,?,?,?,?)" },
	{ "INSERT INTO crossing VALUES (?,?,?,?,?)" },
};

int
cr_gen_prepare(struct cr_gen *g, int src)
{
	int i;

	for (i = 0; i < CR_GEN_MAX_STMT && inserts[src][i] != NULL; i++) {
		if (sqlite3_prepare_v2(g->db[src], inserts[src][i], -1,
		    &g->ins[src][i], NULL) != SQLITE_OK) {
			log_warnx("gen: %s: %s", inserts[src][i],
			    sqlite3_errmsg(g->db[src]));
			return -1;
		}
	}
	return 0;
}

void
cr_gen_finalize(struct cr_gen *g)
{
	int s, i;

	for (s = 0; s < CR_GEN_NSOURCES; s++)
		for (i = 0; i < CR_GEN_MAX_STMT; i++) {
			sqlite3_finalize(g->ins[s][i]);
			g->ins[s][i] = NULL;
		}
}

/* --- what the sources know about a person -------------------------------- */

#define YEAR		365
#define RECENT		(5 * YEAR)	/* sources keep five years of history */

static void
month_of(int32_t asof, int back, char out[CR_DATE_LEN + 1])
{
	char d[CR_DATE_LEN + 1];
	int y, m;

	cr_gen_date(asof, d);
	y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
	    (d[3] - '0');
	m = (d[5] - '0') * 10 + (d[6] - '0') - back;
	while (m < 1) {
		m += 12;
		y--;
	}
	snprintf(out, CR_DATE_LEN + 1, "%04u-%02u", (unsigned)y % 10000,
	    (unsigned)m % 100);
}

static int
kbo_of_employer(unsigned long e, char *out, size_t outlen)
{
	return cr_ident_gen_kbo(e, out, outlen);
}

/* Pay of the months up to the as-of date, for an open contract. */
static int
pay_rows(struct cr_gen *g, struct cr_gen_person *p, long long contract,
    int32_t start, long long monthly)
{
	char month[CR_DATE_LEN + 1], first[CR_DATE_LEN + 1];
	long long cents;
	int k;

	cr_gen_date(start, first);	/* "YYYY-MM" prefix compares */
	first[7] = '\0';
	for (k = CR_GEN_MONTHS - 1; k >= 0; k--) {
		month_of(g->asof, k, month);
		if (strcmp(month, first) < 0)
			continue;
		cents = monthly + monthly * cr_gen_range(&g->r, -20, 20) / 1000;
		if (cr_gen_insert(g->ins[CR_GEN_SRC_EMPLOYMENT][2], "lssc",
		    contract, p->id, month, cents) == -1)
			return -1;
		g->st->pay_rows++;
	}
	return 0;
}

static int
contract(struct cr_gen *g, struct cr_gen_person *p, int32_t from, int32_t to,
    int open)
{
	static const double fr_w[] = { 72, 12, 16 };
	static const int fr_pct[] = { 100, 80, 50 };
	char kbo[16], f[CR_DATE_LEN + 1], t[CR_DATE_LEN + 1];
	unsigned long e;
	double u;
	long long id, full;
	int pct;

	if (cr_gen_dir(g, p, CR_GI_ONSS, "employee", from, open ? -1 : to) ==
	    -1 || (p->blue_collar && cr_gen_dir(g, p, CR_GI_ONVA,
	    "blue-collar-worker", from, open ? -1 : to) == -1))
		return -1;
	if (!open && to < g->asof - RECENT)
		return 0;
	u = cr_gen_unit(&g->r);
	e = (unsigned long)((double)g->n_employers * u * u);
	if (e >= g->n_employers)
		e = g->n_employers - 1;
	if (kbo_of_employer(e, kbo, sizeof(kbo)) == -1)
		return -1;
	pct = fr_pct[cr_gen_pick(&g->r, fr_w, 3)];
	full = 200000 + 260000LL * cr_gen_range(&g->r, 0, 1000) / 1000 +
	    (p->blue_collar ? 0 : 40000) + (cr_gen_chance(&g->r, 0.12) ?
	    cr_gen_range(&g->r, 100000, 500000) : 0);
	id = ++g->ids[CR_GEN_ID_CONTRACT];
	cr_gen_date(from, f);
	cr_gen_date(to, t);
	if (cr_gen_insert(g->ins[CR_GEN_SRC_EMPLOYMENT][1], "lssssfsn", id,
	    p->id, kbo, open ? "permanent" : cr_gen_chance(&g->r, 0.7) ?
	    "permanent" : "fixed-term", p->blue_collar ? "blue-collar" :
	    "white-collar", pct / 100.0, f, open ? "" : t) == -1)
		return -1;
	if (!open)
		return 0;
	g->employees[e]++;
	p->monthly_cents = full * pct / 100;
	return pay_rows(g, p, id, from, p->monthly_cents);
}

static int
unemployment(struct cr_gen *g, struct cr_gen_person *p, int32_t from,
    int32_t to, int open)
{
	static const double pi_w[] = { 15, 45, 40 };
	static const int pis[] = { CR_GI_CAPAC, CR_GI_PI_CSC, CR_GI_PI_FGTB };
	char f[CR_DATE_LEN + 1], t[CR_DATE_LEN + 1], month[CR_DATE_LEN + 1];
	int pi = pis[cr_gen_pick(&g->r, pi_w, 3)], k;
	long long id, daily = cr_gen_range(&g->r, 4000, 7600);

	if (cr_gen_dir(g, p, CR_GI_ONEM, "unemployed", from, open ? -1 : to) ==
	    -1 || cr_gen_dir(g, p, pi, "benefit-recipient", from,
	    open ? -1 : to) == -1)
		return -1;
	if (!open && to < g->asof - RECENT)
		return 0;
	id = ++g->ids[CR_GEN_ID_CLAIM];
	cr_gen_date(from, f);
	cr_gen_date(to, t);
	if (cr_gen_insert(g->ins[CR_GEN_SRC_UNEMPLOYMENT][0], "lsssncs", id,
	    p->id, "full-unemployment", f, open ? "" : t, daily,
	    cr_gen_institutions[pi].id) == -1)
		return -1;
	for (k = CR_GEN_MONTHS - 1; open && k >= 0; k--) {
		if (g->asof - from < k * 30)
			continue;
		month_of(g->asof, k, month);
		if (cr_gen_insert(g->ins[CR_GEN_SRC_UNEMPLOYMENT][1], "lssc",
		    id, p->id, month, daily * cr_gen_range(&g->r, 20, 26)) == -1)
			return -1;
	}
	return 0;
}

static int
self_employed(struct cr_gen *g, struct cr_gen_person *p, int32_t from)
{
	static const char *const act[] = { "construction", "retail",
	    "consultancy", "hospitality", "health care", "agriculture",
	    "transport", "hairdressing", "it services", "legal services" };
	char kbo[16], f[CR_DATE_LEN + 1];

	if (cr_ident_gen_kbo(5000000UL + g->self_employed_kbo++, kbo,
	    sizeof(kbo)) == -1)
		return -1;
	cr_gen_date(from, f);
	p->monthly_cents = cr_gen_range(&g->r, 150000, 600000);
	return cr_gen_insert(g->ins[CR_GEN_SRC_EMPLOYMENT][3], "ssss", p->id,
	    kbo, act[cr_gen_range(&g->r, 0, 9)], f);
}

static int
pension(struct cr_gen *g, struct cr_gen_person *p, int32_t from, int career)
{
	char f[CR_DATE_LEN + 1];
	long long cents = career ? cr_gen_range(&g->r, 120000, 290000) :
	    cr_gen_range(&g->r, 90000, 140000);	/* minimum guaranteed */

	if (cr_gen_dir(g, p, CR_GI_SFP, "pensioner", from, -1) == -1)
		return -1;
	cr_gen_date(from, f);
	return cr_gen_insert(g->ins[CR_GEN_SRC_PENSIONS][0], "ssssc", p->id,
	    "retirement", career ? (cr_gen_chance(&g->r, 0.15) ?
	    "civil-servant" : "employee") : "income-guarantee", f, cents);
}

static int32_t
max32(int32_t a, int32_t b)
{
	return a > b ? a : b;
}

/* Decides what an adult does now; the career follows from it. */
static void
status(struct cr_gen *g, struct cr_gen_person *p)
{
	double pe;
	int a = p->age;

	p->blue_collar = cr_gen_chance(&g->r, 0.36);
	if (a >= 65 || p->dead) {
		p->pensioner = cr_gen_chance(&g->r, 0.97);
		p->disabled = cr_gen_chance(&g->r, 0.08);
		return;
	}
	if (a <= 24 && cr_gen_chance(&g->r, a <= 21 ? 0.6 : 0.3)) {
		p->student = 1;
		return;
	}
	pe = a < 25 ? 0.52 : a < 55 ? 0.785 : a < 60 ? 0.66 : 0.36;
	if (cr_gen_chance(&g->r, pe)) {
		p->employed = 1;
		p->self_employed = cr_gen_chance(&g->r, 0.14);
	} else if (cr_gen_chance(&g->r, a < 60 ? 0.19 : 0.06))
		p->unemployed = 1;
	else if (a >= 60 && cr_gen_chance(&g->r, 0.4))
		p->pensioner = 1;
	else if (cr_gen_chance(&g->r, 0.3))
		p->incapacity = 1;
	else if (cr_gen_chance(&g->r, 0.12))
		p->cpas = 1;
	p->disabled = cr_gen_chance(&g->r, p->employed ? 0.015 : 0.08);
}

static int
career(struct cr_gen *g, struct cr_gen_person *p)
{
	int32_t t, end, first, cend, retire = 0;
	int n = 0, open, gap;

	t = first = cr_gen_at_age(p->bdays, cr_gen_range(&g->r, 18, 24)) +
	    cr_gen_range(&g->r, 0, 364);
	if (p->pensioner) {
		retire = cr_gen_at_age(p->bdays, p->age >= 65 ?
		    cr_gen_range(&g->r, 60, 65) : p->age) +
		    cr_gen_range(&g->r, 0, 200);
		if (retire > g->asof)
			retire = g->asof - 30;
		end = retire - 1;
	} else if (p->employed)
		end = g->asof;
	else if (p->unemployed)
		end = g->asof - cr_gen_range(&g->r, 60, 700);
	else
		end = g->asof - cr_gen_range(&g->r, 180, 6000);
	if (p->student || end <= t + 30)
		end = t - 1;
	while (t < end && n++ < 40) {
		cend = t + (t - p->bdays < 30 * YEAR && cr_gen_chance(&g->r,
		    0.45) ? cr_gen_range(&g->r, 30, YEAR) :
		    cr_gen_range(&g->r, YEAR, 7 * YEAR));
		open = cend >= end && p->employed;
		if (cend >= end)
			cend = end;
		if (open && p->self_employed) {
			if (cr_gen_dir(g, p, CR_GI_INASTI, "self-employed", t,
			    -1) == -1)
				return -1;
			if (self_employed(g, p, t) == -1)
				return -1;
		} else if (contract(g, p, t, cend, open) == -1)
			return -1;
		if (cr_gen_chance(&g->r, 0.02) && cr_gen_dir(g, p,
		    CR_GI_FEDRIS, "accident-victim", t + 20, t + 200) == -1)
			return -1;
		gap = cr_gen_range(&g->r, 0, 300);
		if (cend < end && gap >= 60 && cr_gen_chance(&g->r, 0.4) &&
		    unemployment(g, p, cend + 1, cend + gap, 0) == -1)
			return -1;
		/* Within the contract, so that spells never share a start. */
		if (cend < end && cr_gen_chance(&g->r, 0.1) &&
		    cr_gen_dir(g, p, CR_GI_INAMI, "work-incapacity", max32(t,
		    cend - cr_gen_range(&g->r, 40, 200)), cend - 20) == -1)
			return -1;
		t = cend + 1 + gap;
	}
	if (end > first && cr_gen_dir(g, p, CR_GI_SFP, "career", first, -1) ==
	    -1)
		return -1;
	if (p->unemployed && unemployment(g, p, end + 1, -1, 1) == -1)
		return -1;
	if (p->incapacity && cr_gen_dir(g, p, CR_GI_INAMI, "work-incapacity",
	    end + 1, -1) == -1)
		return -1;
	if (p->pensioner && pension(g, p, retire, end > first) == -1)
		return -1;
	return 0;
}

static int
fund_of(struct cr_gen *g, int region)
{
	static const double w[3][3] = { { 45, 10, 45 }, { 75, 0, 25 },
	    { 0, 60, 40 } };
	static const int funds[] = { CR_GI_FAMIWAL, CR_GI_KIDSLIFE,
	    CR_GI_INFINO };

	return funds[cr_gen_pick(&g->r, w[region], 3)];
}

static int
mutuality_of(struct cr_gen *g, int region)
{
	static const double w[3][4] = { { 30, 35, 20, 15 }, { 30, 45, 15, 10 },
	    { 50, 20, 15, 15 } };

	return CR_GI_MUT_CM + cr_gen_pick(&g->r, w[region], 4);
}

/* A child receiving family allowances, paid to its parent. */
static int
child_allowance(struct cr_gen *g, struct cr_gen_person *c,
    struct cr_gen_person *parent)
{
	char f[CR_DATE_LEN + 1];
	int fund = fund_of(g, c->region);
	long long cents = cr_gen_range(&g->r, 17300, 28500);

	if (cr_gen_dir(g, c, fund, "child", c->bdays, -1) == -1 ||
	    cr_gen_dir(g, parent, fund, "beneficiary", c->bdays, -1) == -1)
		return -1;
	cr_gen_date(c->bdays, f);
	g->st->children_allowance++;
	return cr_gen_insert(g->ins[CR_GEN_SRC_FAMILY][0], "ssssnc", c->id,
	    parent->id, cr_gen_institutions[fund].id, f, "", cents);
}

static int
health_insurance(struct cr_gen *g, struct cr_gen_person *p,
    struct cr_gen_person *head)
{
	int32_t adult, moved;
	int old;

	if (p == head || p->role == CR_GEN_ROLE_OTHER)
		p->mutuality = mutuality_of(g, p->region);
	else
		p->mutuality = cr_gen_chance(&g->r, 0.85) ? head->mutuality :
		    mutuality_of(g, p->region);
	if (p->age < 25 && p->role == CR_GEN_ROLE_CHILD)
		return cr_gen_dir(g, p, p->mutuality, "dependent", p->bdays, -1);
	/* Insured in one's own right since the first job, or about 21. */
	adult = cr_gen_at_age(p->bdays, cr_gen_range(&g->r, 18, 24));
	if (cr_gen_dir(g, p, p->mutuality, "dependent", p->bdays, adult - 1)
	    == -1)
		return -1;
	if (!cr_gen_chance(&g->r, 0.3))
		return cr_gen_dir(g, p, p->mutuality, "insured", adult, -1);
	moved = adult + (int32_t)((g->asof - adult) * cr_gen_unit(&g->r));
	old = CR_GI_MUT_CM + (p->mutuality - CR_GI_MUT_CM + 1 +
	    cr_gen_range(&g->r, 0, 2)) % 4;
	if (cr_gen_dir(g, p, old, "insured", adult, moved - 1) == -1)
		return -1;
	return cr_gen_dir(g, p, p->mutuality, "insured", moved, -1);
}

static int
disability(struct cr_gen *g, struct cr_gen_person *p)
{
	char d[CR_DATE_LEN + 1];
	int32_t from = g->asof - cr_gen_range(&g->r, 60, 15 * YEAR);
	int points = cr_gen_range(&g->r, 7, 18);

	if (from < cr_gen_at_age(p->bdays, 18))
		from = cr_gen_at_age(p->bdays, 18);
	if (cr_gen_dir(g, p, CR_GI_DGPH, "disabled-person", from, -1) == -1)
		return -1;
	cr_gen_date(from, d);
	g->st->disabled += !p->dead;
	return cr_gen_insert(g->ins[CR_GEN_SRC_DISABILITY][0], "ssisc", p->id,
	    d, points, p->age >= 65 ? "assistance-to-elderly" :
	    "integration-allowance", (long long)points * 3500 +
	    cr_gen_range(&g->r, 0, 20000));
}

int
cr_gen_person_records(struct cr_gen *g, struct cr_gen_person *p,
    struct cr_gen_person *m, int n)
{
	struct cr_gen_stats *st = g->st;
	int32_t from;
	int i;

	if (p->frontier) {
		/* Lives abroad: a job here and the insurance that goes with
		   it, nothing else. */
		p->mutuality = mutuality_of(g, p->region);
		p->employed = 1;
		p->blue_collar = cr_gen_chance(&g->r, 0.5);
		if (cr_gen_dir(g, p, p->mutuality, "insured", cr_gen_at_age(
		    p->bdays, cr_gen_range(&g->r, 19, 24)), -1) == -1 ||
		    career(g, p) == -1)
			return -1;
		st->employed += p->age < 65;
		return 0;
	}
	if (health_insurance(g, p, &m[0]) == -1)
		return -1;
	if (p->role == CR_GEN_ROLE_CHILD && (p->age < 18 ||
	    (p->age <= 24 && cr_gen_chance(&g->r, 0.7)))) {
		p->student = p->age >= 18;
		/* Paid to the mother when she is there, as is usual. */
		for (i = 0; i < n - 1 && !m[i].female; i++)
			;
		return child_allowance(g, p, m[i].role == CR_GEN_ROLE_CHILD ?
		    &m[0] : &m[i]);
	}
	if (p->age < 18)
		return 0;
	/* Adults under 50 were children with allowances once. */
	if (p->age < 50 && cr_gen_dir(g, p, fund_of(g, p->region), "child",
	    p->bdays, cr_gen_at_age(p->bdays, 18) - 1) == -1)
		return -1;
	status(g, p);
	if (career(g, p) == -1)
		return -1;
	if (p->disabled && disability(g, p) == -1)
		return -1;
	if (p->cpas || (!p->employed && cr_gen_chance(&g->r, 0.04))) {
		from = g->asof - cr_gen_range(&g->r, 30, 6 * YEAR);
		if (cr_gen_dir(g, p, p->cpas_inst, "integration-income", from,
		    p->cpas ? -1 : from + cr_gen_range(&g->r, 90, 700)) == -1)
			return -1;
	}
	if (p->dead)
		return 0;
	if (p->age < 65) {
		st->employed += p->employed;
		st->self_employed += p->self_employed;
		st->unemployed += p->unemployed;
	}
	st->pensioners += p->pensioner;
	st->pensioners_65 += p->pensioner && p->age >= 65;
	st->social_assistance += p->cpas;
	return 0;
}

/* Employers are written last: their head counts are known only then. */
int
cr_gen_employers(struct cr_gen *g)
{
	static const char *const w1[] = { "Brabant", "Delta", "Noord",
	    "Ardenne", "Meuse", "Schelde", "Atlas", "Horizon", "Nova", "Iris",
	    "Kempen", "Sambre", "Lys", "Zenne", "Polder", "Hainaut" };
	static const char *const w2[] = { "Logistics", "Construct", "Foods",
	    "Care", "Retail", "Consulting", "Metals", "Chemicals", "Services",
	    "Transport", "Software", "Cleaning" };
	static const char *const nace[] = { "52100", "41201", "10710",
	    "87101", "47111", "70220", "24100", "20140", "81210", "49410",
	    "62010", "81220" };
	static const char *const forms[] = { "SRL", "SA", "BV", "NV", "ASBL" };
	static const char *const towns[] = { "Brussels", "Antwerpen", "Gent",
	    "Liege", "Charleroi", "Leuven", "Namur", "Brugge", "Mons",
	    "Hasselt", "Mechelen", "Kortrijk" };
	struct cr_gen_rng r;
	char kbo[16], name[96];
	unsigned long e;
	int a, b;

	for (e = 0; e < g->n_employers; e++) {
		/* Each employer from its own stream: order-independent. */
		cr_gen_rng_seed(&r, g->o->seed ^ (0x5bd1e995ULL * (e + 1)));
		a = cr_gen_range(&r, 0, 15);
		b = cr_gen_range(&r, 0, 11);
		snprintf(name, sizeof(name), "%s %s", w1[a], w2[b]);
		if (kbo_of_employer(e, kbo, sizeof(kbo)) == -1 ||
		    cr_gen_insert(g->ins[CR_GEN_SRC_EMPLOYMENT][0], "sssssl",
		    kbo, name, forms[cr_gen_range(&r, 0, 4)], nace[b],
		    towns[cr_gen_range(&r, 0, 11)],
		    (long long)g->employees[e]) == -1)
			return -1;
	}
	g->st->employers = g->n_employers;
	return 0;
}

/* One reference-directory record of p, clipped to the life of p and to
   the history kept (CR_GEN_HIST_START). */
int
cr_gen_dir(struct cr_gen *g, struct cr_gen_person *p, int inst,
    const char *capacity, int32_t from, int32_t to)
{
	char f[CR_DATE_LEN + 1], t[CR_DATE_LEN + 1];

	if (from < p->bdays)
		from = p->bdays;
	if (p->dead && (to < 0 || to > p->ddays))
		to = p->ddays;
	if (from > g->asof || (to >= 0 && (to < from || to < CR_GEN_HIST_START)))
		return 0;
	cr_gen_date(from, f);
	if (to >= 0)
		cr_gen_date(to, t);
	else
		t[0] = '\0';
	if (fprintf(g->dir, "%s,%s,%s,%s,%s\n", p->id, capacity, f, t,
	    cr_gen_institutions[inst].id) < 0) {
		log_warn("gen: directory.csv");
		return -1;
	}
	g->st->dir_records++;
	p->sectors |= 1U << cr_gen_sector_index(inst);
	return 0;
}
