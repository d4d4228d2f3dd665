/*
 * crossroads gen: persons, households and what the authentic sources and
 * the reference directory know about them. One pass over households, each
 * written at once to every database and to directory.csv, so memory stays
 * bounded whatever the size of the country: what is kept per person is a
 * serial counter per birth date and sex, nothing else.
 *
 * Determinism: one xoshiro256** stream seeded from --seed, consumed in a
 * fixed order; no clock, no hash-table order; the databases are written by
 * the same statements in the same order, so their bytes match too.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gen.h"
#include "log.h"
#include "util.h"

/* --- persons and households --------------------------------------------- */

static const char *const given_m[] = {
	"Lucas", "Noah", "Louis", "Arthur", "Jules", "Adam", "Liam", "Victor",
	"Mohamed", "Thomas", "Pieter", "Jan", "Marc", "Luc", "Philippe",
	"Michel", "Patrick", "Dirk", "Koen", "Bart", "Willy", "Jean", "Ahmed",
	"Mehmet", "Nicolas", "Olivier", "Wout", "Finn", "Hugo", "Maxime"
};
static const char *const given_f[] = {
	"Olivia", "Emma", "Louise", "Mila", "Alice", "Juliette", "Elena",
	"Marie", "Anna", "Sofia", "Nina", "Fatima", "Lotte", "Sarah", "Julie",
	"Nathalie", "Martine", "Monique", "Christine", "An", "Els", "Inge",
	"Sophie", "Isabelle", "Chantal", "Nadia", "Leen", "Zeynep", "Lina",
	"Camille"
};
static const char *const family_names[] = {
	"Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems",
	"Claes", "Goossens", "Wouters", "De Smet", "Dubois", "Lambert",
	"Dupont", "Martin", "Simon", "Leclercq", "Laurent", "Renard",
	"Hermans", "Michiels", "Vermeulen", "Van den Broeck", "Desmet",
	"Lemaire", "Mathieu", "Benali", "El Amrani", "Yilmaz", "Kaya",
	"Rossi", "Nowak", "Popescu", "De Backer", "Pauwels", "Segers",
	"Cools", "Francois", "Denis", "Collard", "Declercq"
};
static const char *const streets[] = {
	"Rue de la Station", "Kerkstraat", "Stationsstraat", "Rue de l'Eglise",
	"Dorpstraat", "Molenstraat", "Avenue des Tilleuls", "Nieuwstraat",
	"Chaussee de Bruxelles", "Schoolstraat", "Rue du Moulin", "Veldstraat",
	"Rue Haute", "Beekstraat", "Avenue Louise", "Hoogstraat",
	"Rue des Ecoles", "Lindenlaan", "Rue de la Loi", "Grote Markt",
	"Boulevard Anspach", "Meir", "Rue Saint-Gilles", "Korenmarkt"
};

struct municipality {
	const char	*postcode, *name;
	int		 region, cpas;
	double		 weight;	/* thousands of inhabitants */
};

static const struct municipality municipalities[] = {
	{ "1000", "Brussels", 0, CR_GI_CPAS_BXL, 196 },
	{ "1030", "Schaerbeek", 0, CR_GI_CPAS_BXL, 131 },
	{ "1070", "Anderlecht", 0, CR_GI_CPAS_BXL, 121 },
	{ "1080", "Molenbeek-Saint-Jean", 0, CR_GI_CPAS_BXL, 97 },
	{ "1180", "Uccle", 0, CR_GI_CPAS_BXL, 84 },
	{ "2000", "Antwerpen", 2, CR_GI_OCMW_ANT, 530 },
	{ "2800", "Mechelen", 2, CR_GI_OCMW_ANT, 87 },
	{ "2300", "Turnhout", 2, CR_GI_OCMW_ANT, 46 },
	{ "9000", "Gent", 2, CR_GI_OCMW_GNT, 265 },
	{ "8000", "Brugge", 2, CR_GI_OCMW_GNT, 119 },
	{ "8500", "Kortrijk", 2, CR_GI_OCMW_GNT, 79 },
	{ "8400", "Oostende", 2, CR_GI_OCMW_GNT, 72 },
	{ "9300", "Aalst", 2, CR_GI_OCMW_GNT, 90 },
	{ "3000", "Leuven", 2, CR_GI_OCMW_ANT, 102 },
	{ "3500", "Hasselt", 2, CR_GI_OCMW_ANT, 79 },
	{ "3600", "Genk", 2, CR_GI_OCMW_ANT, 67 },
	{ "4000", "Liege", 1, CR_GI_CPAS_LGE, 197 },
	{ "4800", "Verviers", 1, CR_GI_CPAS_LGE, 55 },
	{ "6000", "Charleroi", 1, CR_GI_CPAS_LGE, 202 },
	{ "7000", "Mons", 1, CR_GI_CPAS_LGE, 96 },
	{ "5000", "Namur", 1, CR_GI_CPAS_LGE, 112 },
	{ "1300", "Wavre", 1, CR_GI_CPAS_BXL, 35 },
	{ "1400", "Nivelles", 1, CR_GI_CPAS_BXL, 29 },
	{ "6700", "Arlon", 1, CR_GI_CPAS_LGE, 31 },
	{ "7500", "Tournai", 1, CR_GI_CPAS_LGE, 69 },
};
#define NMUNI	(sizeof(municipalities) / sizeof(municipalities[0]))
#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))

static const char *const foreign_nat[] = {
	"FR", "NL", "IT", "MA", "RO", "PL", "ES", "PT", "DE", "TR", "BG", "CD"
};

enum { HH_SINGLE, HH_SINGLE_OLD, HH_COUPLE, HH_COUPLE_OLD, HH_FAMILY,
	HH_SINGLE_PARENT, HH_WITH_PARENT, HH_NTYPES };
static const double hh_weights[HH_NTYPES] = { 25, 13, 13, 12, 22, 7, 4 };
static const char *const hh_kinds[HH_NTYPES] = {
	"single", "single", "couple", "couple", "couple-with-children",
	"single-parent", "multi-generation"
};

#define MAX_MEMBERS	8

static int
young_age(struct cr_gen_rng *r)
{
	static const double w[] = { 22, 22, 20, 36 };
	static const int lo[] = { 20, 30, 40, 50 }, hi[] = { 29, 39, 49, 64 };
	int b = cr_gen_pick(r, w, 4);

	return cr_gen_range(r, lo[b], hi[b]);
}

static int
old_age(struct cr_gen_rng *r)
{
	static const double w[] = { 50, 35, 15 };
	static const int lo[] = { 65, 75, 85 }, hi[] = { 74, 84, 99 };
	int b = cr_gen_pick(r, w, 3);

	return cr_gen_range(r, lo[b], hi[b]);
}

static int
age_on(const char *birth, const char *date)
{
	int y = (date[0] - birth[0]) * 1000 + (date[1] - birth[1]) * 100 +
	    (date[2] - birth[2]) * 10 + (date[3] - birth[3]);

	return strcmp(date + 5, birth + 5) < 0 ? y - 1 : y;
}

/*
 * A person aged `age` on the as-of date (or at death, `died` days ago),
 * numbered in the National Register (bis 0) or in the BIS register, the
 * sex known (1) or not (2) when the number was given. A BIS number takes
 * its serial from the same counters (the man's for an unknown sex): its
 * month differs from an INSZ's, so the numbers stay distinct.
 */
static int
make_numbered(struct cr_gen *g, struct cr_gen_person *p, int age, int female,
    int32_t died_ago, int bis)
{
	char asof[CR_DATE_LEN + 1];
	unsigned max = cr_ident_gen_serials(g->o->scheme);
	int32_t ref = g->asof - died_ago, slot;
	int tries;

	memset(p, 0, sizeof(*p));
	p->female = female;
	p->bdays = ref - (int32_t)(age * 36525LL / 100) -
	    cr_gen_range(&g->r, 0, 364);
	for (tries = 0; ; tries++, p->bdays--) {
		slot = (p->bdays - CR_GEN_EPOCH_DAYS) * 2 +
		    (bis == 2 ? 0 : female);
		if (tries > 3650 || slot < 0 || slot >= CR_GEN_SERIAL_SLOTS) {
			log_warnx("gen: no identifier left near age %d", age);
			return -1;
		}
		if (g->serials[slot] < max)
			break;
	}
	cr_gen_date(p->bdays, p->birth);
	if ((bis ? cr_ident_gen_bis(p->birth, bis == 2 ? -1 : female,
	    g->serials[slot]++, p->id, sizeof(p->id)) :
	    cr_ident_gen_person(g->o->scheme, p->birth, female,
	    g->serials[slot]++, p->id, sizeof(p->id))) == -1) {
		log_warnx("gen: cannot number a person born %s", p->birth);
		return -1;
	}
	if (died_ago > 0) {
		p->dead = 1;
		p->ddays = ref;
		cr_gen_date(ref, p->death);
	}
	cr_gen_date(g->asof, asof);
	p->age = age_on(p->birth, p->dead ? p->death : asof);
	p->given = female ? given_f[cr_gen_range(&g->r, 0, NELEM(given_f) - 1)]
	    : given_m[cr_gen_range(&g->r, 0, NELEM(given_m) - 1)];
	p->family = family_names[cr_gen_range(&g->r, 0,
	    NELEM(family_names) - 1)];
	return 0;
}

static int
make_person(struct cr_gen *g, struct cr_gen_person *p, int age, int female,
    int32_t died_ago)
{
	return make_numbered(g, p, age, female, died_ago, 0);
}

static void
children_ages(struct cr_gen *g, const double *kw, int nk, int *ages, int *n)
{
	int k = cr_gen_pick(&g->r, kw, nk) + 1, i;

	ages[0] = cr_gen_chance(&g->r, 0.2) ? cr_gen_range(&g->r, 18, 25) :
	    cr_gen_range(&g->r, 0, 17);
	for (i = 1; i < k; i++) {
		ages[i] = ages[i - 1] - cr_gen_range(&g->r, 1, 4);
		if (ages[i] < 0)
			break;
	}
	*n = i;
}

static int
mother_age_at_first(struct cr_gen *g)
{
	if (cr_gen_chance(&g->r, 0.12))
		return cr_gen_range(&g->r, 19, 23);
	if (cr_gen_chance(&g->r, 0.1))
		return cr_gen_range(&g->r, 37, 42);
	return cr_gen_range(&g->r, 24, 36);
}

/* Builds the members of one household; *dead is the deceased spouse. */
static int
compose(struct cr_gen *g, int type, struct cr_gen_person *m, int *n,
    struct cr_gen_person *dead, int *has_dead)
{
	static const double fam_k[] = { 34, 43, 17, 6 };
	static const double sp_k[] = { 55, 35, 10 };
	int ages[4], nk = 0, i, a, b, fem;

	*n = 0;
	*has_dead = 0;
	switch (type) {
	case HH_SINGLE:
		if (make_person(g, &m[0], young_age(&g->r),
		    cr_gen_chance(&g->r, 0.48), 0) == -1)
			return -1;
		*n = 1;
		break;
	case HH_SINGLE_OLD:
		a = old_age(&g->r);
		fem = cr_gen_chance(&g->r, 0.68);
		if (make_person(g, &m[0], a, fem, 0) == -1)
			return -1;
		*n = 1;
		if (cr_gen_chance(&g->r, 0.55)) {
			if (make_person(g, dead, a + cr_gen_range(&g->r, -3, 4) -
			    1, !fem, cr_gen_range(&g->r, 30, 3650)) == -1)
				return -1;
			dead->family = m[0].family;
			*has_dead = 1;
		}
		break;
	case HH_COUPLE:
	case HH_COUPLE_OLD:
		a = type == HH_COUPLE ? young_age(&g->r) : old_age(&g->r);
		b = a + cr_gen_range(&g->r, -6, 3);
		if (b < 20)
			b = 20;
		if (make_person(g, &m[0], a, 0, 0) == -1 ||
		    make_person(g, &m[1], b, 1, 0) == -1)
			return -1;
		*n = 2;
		break;
	case HH_FAMILY:
	case HH_SINGLE_PARENT:
		if (type == HH_FAMILY)
			children_ages(g, fam_k, NELEM(fam_k), ages, &nk);
		else
			children_ages(g, sp_k, NELEM(sp_k), ages, &nk);
		a = ages[0] + mother_age_at_first(g);
		if (type == HH_FAMILY) {
			if (make_person(g, &m[0], a + cr_gen_range(&g->r, -2, 6),
			    0, 0) == -1 || make_person(g, &m[1], a, 1, 0) == -1)
				return -1;
			*n = 2;
		} else {
			fem = cr_gen_chance(&g->r, 0.82);
			if (make_person(g, &m[0], fem ? a : a + 2, fem, 0) == -1)
				return -1;
			*n = 1;
		}
		for (i = 0; i < nk; i++) {
			if (make_person(g, &m[*n], ages[i],
			    cr_gen_chance(&g->r, 0.49), 0) == -1)
				return -1;
			m[*n].family = m[0].family;
			m[*n].role = CR_GEN_ROLE_CHILD;
			(*n)++;
		}
		break;
	default:	/* an elderly parent lives with an adult child */
		a = cr_gen_range(&g->r, 78, 96);
		if (make_person(g, &m[0], a - cr_gen_range(&g->r, 25, 35),
		    cr_gen_chance(&g->r, 0.5), 0) == -1 ||
		    make_person(g, &m[1], a, cr_gen_chance(&g->r, 0.75), 0)
		    == -1)
			return -1;
		m[1].role = CR_GEN_ROLE_OTHER;
		*n = 2;
		break;
	}
	if (*n >= 2 && m[1].role == CR_GEN_ROLE_HEAD) {
		m[1].role = CR_GEN_ROLE_PARTNER;
		if (cr_gen_chance(&g->r, 0.6))
			m[1].family = m[0].family;
	}
	return 0;
}

static const char *
nationality(struct cr_gen *g)
{
	const char *own = strcmp(g->o->scheme->name, "ee-isikukood") == 0 ?
	    "EE" : strcmp(g->o->scheme->name, "tr-tckn") == 0 ? "TR" : "BE";

	if (cr_gen_chance(&g->r, 0.87))
		return own;
	return foreign_nat[cr_gen_range(&g->r, 0, NELEM(foreign_nat) - 1)];
}

static int
write_person(struct cr_gen *g, struct cr_gen_person *p, long long hh,
    const char *address, const char *marital, int32_t since)
{
	sqlite3_stmt **ins = g->ins[CR_GEN_SRC_POPULATION];
	char d[CR_DATE_LEN + 1];

	if (cr_gen_insert(ins[2], "sssssssLnn", p->id, p->family, p->given,
	    p->female ? "F" : "M", p->birth, nationality(g), marital,
	    p->dead ? 0LL : hh, p->dead ? "" : address, p->death) == -1 ||
	    cr_gen_insert(ins[5], "sss", p->id, "birth", p->birth) == -1)
		return -1;
	if (p->dead)
		return cr_gen_insert(ins[5], "sss", p->id, "death", p->death);
	cr_gen_date(since > p->bdays ? since : p->bdays, d);
	if (cr_gen_insert(ins[3], "lsss", hh, p->id, p->role ==
	    CR_GEN_ROLE_HEAD ? "head" : p->role == CR_GEN_ROLE_PARTNER ?
	    "partner" : p->role == CR_GEN_ROLE_CHILD ? "child" : "relative",
	    d) == -1)
		return -1;
	return since > p->bdays ?
	    cr_gen_insert(ins[5], "sss", p->id, "address-change", d) : 0;
}

static int
marry(struct cr_gen *g, struct cr_gen_person *a, struct cr_gen_person *b,
    const char **marital)
{
	sqlite3_stmt **ins = g->ins[CR_GEN_SRC_POPULATION];
	const struct cr_gen_person *y = a->bdays > b->bdays ? a : b;
	char d[CR_DATE_LEN + 1];
	int32_t when;

	when = cr_gen_at_age(y->bdays, cr_gen_range(&g->r, 21, 34)) +
	    cr_gen_range(&g->r, 0, 364);
	if (b->dead && when >= b->ddays)
		when = b->ddays - 365;
	if (when > g->asof - 30)
		when = g->asof - cr_gen_range(&g->r, 30, 700);
	cr_gen_date(when, d);
	*marital = b->dead ? "widowed" : "married";
	g->st->marriages++;
	if (cr_gen_insert(ins[4], "lsssnn", ++g->ids[CR_GEN_ID_MARRIAGE], a->id,
	    b->id, d, b->dead ? b->death : "", b->dead ? "death" : "") == -1 ||
	    cr_gen_insert(ins[5], "sss", a->id, "marriage", d) == -1)
		return -1;
	return cr_gen_insert(ins[5], "sss", b->id, "marriage", d);
}

static void
count_person(struct cr_gen *g, const struct cr_gen_person *p)
{
	struct cr_gen_stats *s = g->st;
	uint32_t x = p->sectors;

	s->persons++;
	if (p->dead) {
		s->deceased++;
		return;
	}
	s->living++;
	if (p->age < 18)
		s->age_0_17++;
	else if (p->age < 65)
		s->age_18_64++;
	else
		s->age_65++;
	for (; x != 0; x &= x - 1)
		s->sector_sum++;
}

/* Households followed by a cross-border worker (be-insz only). */
#define FRONTIER_SHARE	0.02

/* Where cross-border workers live, and the region they work in. */
static const struct {
	const char	*nationality, *street, *town;
	int		 region;
} abroad[] = {
	{ "FR", "Rue Nationale", "59000 Lille, France", 1 },
	{ "FR", "Grand Rue", "59100 Roubaix, France", 1 },
	{ "FR", "Rue du Theatre", "08000 Charleville-Mezieres, France", 1 },
	{ "NL", "Ginnekenweg", "4811 Breda, Netherlands", 2 },
	{ "NL", "Wycker Brugstraat", "6221 Maastricht, Netherlands", 2 },
	{ "DE", "Pontstrasse", "52062 Aachen, Germany", 1 },
	{ "LU", "Rue de l'Alzette", "4011 Esch-sur-Alzette, Luxembourg", 1 },
};

/*
 * Someone who lives abroad and works here: the National Register does
 * not hold them, so they are numbered in the BIS register (the month
 * + 40, or + 20 for the 15% whose sex was not known then), which the
 * population register's service answers for too (docs/synthetic-
 * country.md). No household, an address abroad, a job and health
 * insurance here.
 */
static int
frontier_worker(struct cr_gen *g)
{
	sqlite3_stmt **ins = g->ins[CR_GEN_SRC_POPULATION];
	struct cr_gen_person p;
	char address[160];
	int k, female;

	k = cr_gen_range(&g->r, 0, NELEM(abroad) - 1);
	female = cr_gen_chance(&g->r, 0.4);
	/* Old enough for a career to have started (at 18-24). */
	if (make_numbered(g, &p, cr_gen_range(&g->r, 25, 60), female, 0,
	    cr_gen_chance(&g->r, 0.15) ? 2 : 1) == -1)
		return -1;
	p.frontier = 1;
	p.role = CR_GEN_ROLE_HEAD;
	p.region = abroad[k].region;
	p.cpas_inst = CR_GI_CPAS_LGE;
	snprintf(address, sizeof(address), "%s %d, %s", abroad[k].street,
	    cr_gen_range(&g->r, 1, 120), abroad[k].town);
	if (cr_gen_person_records(g, &p, &p, 1) == -1 ||
	    cr_gen_insert(ins[2], "sssssssLnn", p.id, p.family, p.given,
	    p.female ? "F" : "M", p.birth, abroad[k].nationality, "single",
	    0LL, address, p.death) == -1)
		return -1;
	count_person(g, &p);
	g->st->bis++;
	return 0;
}

int
cr_gen_household(struct cr_gen *g)
{
	struct cr_gen_person m[MAX_MEMBERS], dead;
	const struct municipality *mu;
	const char *marital0 = "single", *marital1 = "single", *ms, *street;
	char address[160], since_s[CR_DATE_LEN + 1];
	double w[NMUNI];
	long long addr, hh;
	int32_t since;
	unsigned long left;
	int type, n, has_dead, i, number;
	size_t k;

	/* The last households must fit the number of persons asked for. */
	left = g->o->persons - g->st->persons;
	for (k = 0; ; k++) {
		type = k < 100 ? cr_gen_pick(&g->r, hh_weights, HH_NTYPES) :
		    HH_SINGLE;
		if (compose(g, type, m, &n, &dead, &has_dead) == -1)
			return -1;
		if (k >= 100)
			has_dead = 0;
		if ((unsigned long)(n + has_dead) <= left)
			break;
	}
	for (k = 0; k < NMUNI; k++)
		w[k] = municipalities[k].weight;
	mu = &municipalities[cr_gen_pick(&g->r, w, (int)NMUNI)];
	number = cr_gen_range(&g->r, 1, 180);
	addr = ++g->ids[CR_GEN_ID_ADDRESS];
	hh = ++g->ids[CR_GEN_ID_HOUSEHOLD];
	street = streets[cr_gen_range(&g->r, 0, NELEM(streets) - 1)];
	snprintf(address, sizeof(address), "%s %d, %s %s", street, number,
	    mu->postcode, mu->name);
	/* Moved in when the youngest adult was 20-30, at the latest. */
	since = cr_gen_at_age(m[n > 1 && m[1].role != CR_GEN_ROLE_CHILD &&
	    m[1].bdays > m[0].bdays ? 1 : 0].bdays, cr_gen_range(&g->r, 20, 30));
	if (since > g->asof - 30 || cr_gen_chance(&g->r, 0.3))
		since = g->asof - cr_gen_range(&g->r, 30, 3000);
	cr_gen_date(since, since_s);
	if (cr_gen_insert(g->ins[CR_GEN_SRC_POPULATION][0], "lsiss", addr,
	    street, number, mu->postcode, mu->name) == -1 ||
	    cr_gen_insert(g->ins[CR_GEN_SRC_POPULATION][1], "llss", hh,
	    addr, hh_kinds[type], since_s) == -1)
		return -1;
	if (has_dead && marry(g, &m[0], &dead, &marital0) == -1)
		return -1;
	if (n >= 2 && m[1].role == CR_GEN_ROLE_PARTNER &&
	    cr_gen_chance(&g->r, type == HH_COUPLE_OLD ? 0.88 : 0.66)) {
		if (marry(g, &m[0], &m[1], &marital0) == -1)
			return -1;
		marital1 = marital0;
	} else if (n >= 2 && m[1].role == CR_GEN_ROLE_PARTNER)
		marital0 = marital1 = "legal-cohabitation";
	for (i = 0; i < n; i++) {
		m[i].region = mu->region;
		m[i].cpas_inst = mu->cpas;
	}
	for (i = 0; i < n; i++)
		if (cr_gen_person_records(g, &m[i], m, n) == -1)
			return -1;
	if (cr_gen_household_records(g, m, n, mu->name) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		ms = i == 0 ? marital0 : i == 1 && m[1].role ==
		    CR_GEN_ROLE_PARTNER ? marital1 : m[i].age >= 18 &&
		    cr_gen_chance(&g->r, 0.12) ? "divorced" : "single";
		if (write_person(g, &m[i], hh, address, ms, since) == -1)
			return -1;
		count_person(g, &m[i]);
	}
	if (has_dead) {
		dead.region = mu->region;
		dead.cpas_inst = mu->cpas;
		if (cr_gen_person_records(g, &dead, &dead, 1) == -1 ||
		    write_person(g, &dead, 0, "", "married", since) == -1)
			return -1;
		count_person(g, &dead);
	}
	g->st->households++;
	g->st->hh_size[n < 6 ? n : 6]++;
	if (strcmp(g->o->scheme->name, "be-insz") == 0 &&
	    g->st->persons < g->o->persons &&
	    cr_gen_chance(&g->r, FRONTIER_SHARE))
		return frontier_worker(g);
	return 0;
}

/* --- household assets: vehicles, land; and trips abroad ------------------ */

static int
vehicles(struct cr_gen *g, struct cr_gen_person *m, int n)
{
	static const struct { const char *make, *model; int price; } cars[] = {
		{ "Volkswagen", "Golf", 32000 }, { "BMW", "3 Series", 48000 },
		{ "Peugeot", "208", 22000 }, { "Renault", "Clio", 20000 },
		{ "Toyota", "Yaris", 23000 }, { "Mercedes-Benz", "C-Class",
		52000 }, { "Audi", "A4", 47000 }, { "Skoda", "Octavia", 30000 },
		{ "Tesla", "Model 3", 45000 }, { "Dacia", "Sandero", 14000 },
		{ "Volvo", "XC40", 42000 }, { "Citroen", "C3", 19000 },
	};
	static const double nw[] = { 22, 52, 23, 3 };
	static const char *const fuels[] = { "petrol", "diesel", "electric",
	    "hybrid" };
	static const double fw[] = { 48, 30, 10, 12 };
	char plate[16], d[CR_DATE_LEN + 1];
	unsigned long long s, x;
	int k, nv, c, years, owner, adults = 0, i;
	long long value;

	for (i = 0; i < n; i++)
		adults += m[i].age >= 18;
	nv = cr_gen_pick(&g->r, nw, 4);
	if (m[0].cpas || m[0].age >= 85)
		nv = nv > 0 && cr_gen_chance(&g->r, 0.5) ? 1 : 0;
	for (k = 0; k < nv; k++) {
		owner = cr_gen_range(&g->r, 0, adults > 2 ? 1 : adults - 1);
		c = cr_gen_range(&g->r, 0, (int)(sizeof(cars) /
		    sizeof(cars[0])) - 1);
		years = cr_gen_range(&g->r, 0, 16);
		/* Plates 1-ABC-123 .. 9-ZZZ-999, scattered, never reused. */
		s = (unsigned long long)g->st->vehicles++;
		x = (s * 7919ULL + 12345ULL) % 158184000ULL;
		snprintf(plate, sizeof(plate), "%d-%c%c%c-%03d",
		    (int)(1 + x / 17576000ULL), 'A' + (int)(x / 676000 % 26),
		    'A' + (int)(x / 26000 % 26), 'A' + (int)(x / 1000 % 26),
		    (int)(x % 1000));
		cr_gen_date(g->asof - years * 365 - cr_gen_range(&g->r, 0, 364),
		    d);
		value = cars[c].price * 100LL;
		for (i = 0; i < years; i++)
			value = value * 85 / 100;
		if (cr_gen_insert(g->ins[CR_GEN_SRC_VEHICLES][0], "ssssssc",
		    plate, m[owner].id, cars[c].make, cars[c].model,
		    fuels[cr_gen_pick(&g->r, fw, 4)], d, value) == -1)
			return -1;
	}
	return 0;
}

static int
parcel(struct cr_gen *g, struct cr_gen_person *m, int owners,
    const char *municipality, const char *kind, long long value)
{
	char id[48];
	int i, area = strcmp(kind, "land") == 0 ?
	    cr_gen_range(&g->r, 500, 20000) : cr_gen_range(&g->r, 80, 900);
	unsigned long s = g->st->parcels++;

	snprintf(id, sizeof(id), "%05lu%c%04lu/%02lu", 10000 + s / 100000 %
	    90000, 'A' + (int)(s / 10000 % 10), s % 10000, s / 1000000 % 100);
	for (i = 0; i < owners; i++)
		if (cr_gen_insert(g->ins[CR_GEN_SRC_LAND][0], "ssfssicc", id,
		    m[i].id, 1.0 / owners, municipality, kind, area,
		    value * 4 / 1000, value) == -1)
			return -1;
	return 0;
}

static int
crossings(struct cr_gen *g, struct cr_gen_person *p)
{
	static const char *const posts[] = { "Brussels Airport",
	    "Charleroi Airport", "Liege Airport", "Antwerp Airport",
	    "Brussels-Midi Eurostar", "Port of Zeebrugge", "Ostend Airport" };
	static const char *const dest[] = { "GB", "US", "MA", "TR", "ES",
	    "TH", "AE", "CD", "CN", "CA", "SN", "IN" };
	char d[CR_DATE_LEN + 1];
	const char *post, *cc;
	int trips, k;
	int32_t out, back;

	if (!cr_gen_chance(&g->r, p->age < 18 ? 0.2 : 0.32))
		return 0;
	trips = cr_gen_range(&g->r, 1, 4);
	for (k = 0; k < trips; k++) {
		out = g->asof - cr_gen_range(&g->r, 1, 365);
		back = out + (cr_gen_chance(&g->r, 0.05) ?
		    cr_gen_range(&g->r, 30, 150) : cr_gen_range(&g->r, 2, 21));
		post = posts[cr_gen_range(&g->r, 0, 6)];
		cc = dest[cr_gen_range(&g->r, 0, 11)];
		cr_gen_date(out, d);
		if (cr_gen_insert(g->ins[CR_GEN_SRC_BORDERS][0], "sssss", p->id,
		    d, "exit", post, cc) == -1)
			return -1;
		g->st->crossings++;
		if (back > g->asof)
			continue;	/* still abroad */
		cr_gen_date(back, d);
		if (cr_gen_insert(g->ins[CR_GEN_SRC_BORDERS][0], "sssss", p->id,
		    d, "entry", post, cc) == -1)
			return -1;
		g->st->crossings++;
	}
	return 0;
}

int
cr_gen_household_records(struct cr_gen *g, struct cr_gen_person *m, int n,
    const char *municipality)
{
	int couple = n >= 2 && m[1].role == CR_GEN_ROLE_PARTNER, i;
	long long value = cr_gen_range(&g->r, 180000, 520000) * 100LL;

	if (vehicles(g, m, n) == -1)
		return -1;
	if (cr_gen_chance(&g->r, m[0].cpas ? 0.1 : couple || m[0].age >= 65 ?
	    0.75 : 0.45) && parcel(g, m, couple ? 2 : 1, municipality,
	    cr_gen_chance(&g->r, 0.3) ? "apartment" : "house", value) == -1)
		return -1;
	if (cr_gen_chance(&g->r, 0.09) && parcel(g, m, 1, municipality,
	    cr_gen_chance(&g->r, 0.5) ? "land" : "apartment",
	    cr_gen_range(&g->r, 40000, 300000) * 100LL) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (crossings(g, &m[i]) == -1)
			return -1;
	return 0;
}
