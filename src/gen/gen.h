/*
 * crossroads gen: a synthetic country. Households of persons with valid
 * identifiers, and the authentic sources that know them (one SQLite
 * database each), the hub's registry file (institutions, demo clients,
 * services, authorizations) and its reference directory (CSV).
 *
 * Everything derives from the seed through our own PRNG, in a fixed order,
 * so that the same arguments give the same bytes.
 */
#ifndef CR_GEN_H
#define CR_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "date.h"
#include "ident.h"

#define CR_GEN_DEFAULT_PERSONS	100000UL
#define CR_GEN_MAX_PERSONS	20000000UL
#define CR_GEN_DEFAULT_PORT	9101
#define CR_GEN_DEFAULT_AS_OF	"2026-09-30"

struct cr_gen_opts {
	const char			*out_dir;
	unsigned long			 persons;	/* in the register,
							   deceased included */
	uint64_t			 seed;
	const struct cr_ident_scheme	*scheme;	/* person scheme */
	unsigned			 base_port;
	char				 as_of[CR_DATE_LEN + 1]; /* "today" of
							   the country */
	int				 progress;	/* lines on stderr */
};

/* What was generated, for the summary and the tests' shape checks. */
struct cr_gen_stats {
	unsigned long		persons, living, deceased, households;
	unsigned long		hh_size[7];	/* [1]..[5], [6] = 6 and more */
	unsigned long		age_0_17, age_18_64, age_65;	/* living */
	unsigned long		employed, self_employed, unemployed;	/* 18-64 */
	unsigned long		pensioners, pensioners_65;
	unsigned long		children_allowance, disabled, social_assistance;
	unsigned long		employers, vehicles, parcels, crossings;
	unsigned long		marriages;
	unsigned long		bis;		/* cross-border workers, with
						   BIS numbers (be-insz) */
	unsigned long long	dir_records, sector_sum;  /* over the living */
	unsigned long long	pay_rows;
};

/* Writes the country into opts->out_dir (created if needed). 0 or -1. */
int	cr_gen_run(const struct cr_gen_opts *, struct cr_gen_stats *);

/* The authentic sources: one database and one adapter each. */
struct cr_gen_service {
	const char	*id;		/* "population.person" */
	const char	*path;		/* "/person" */
	const char	*subject_kind;	/* "person" or "enterprise" */
	const char	*fields;	/* space-separated paths: exactly what
					   its adapter answers (authz.h) */
};

struct cr_gen_source {
	const char			*name;		/* "population" */
	const char			*provider;	/* institution id */
	const struct cr_gen_service	*services;	/* NULL-id ended */
	const char			*schema;	/* tables (SQL) */
	const char			*indexes;	/* made at the end */
};

/* Index of each source in cr_gen_sources (and port offset). */
enum {
	CR_GEN_SRC_POPULATION, CR_GEN_SRC_EMPLOYMENT, CR_GEN_SRC_UNEMPLOYMENT,
	CR_GEN_SRC_PENSIONS, CR_GEN_SRC_FAMILY, CR_GEN_SRC_DISABILITY,
	CR_GEN_SRC_VEHICLES, CR_GEN_SRC_LAND, CR_GEN_SRC_BORDERS,
	CR_GEN_NSOURCES
};

struct cr_gen_institution {
	const char	*id;
	const char	*name;
	const char	*sector;
	const char	*client;	/* demo client application, or NULL */
};

/* Index of each institution in cr_gen_institutions. */
enum {
	CR_GI_RN, CR_GI_ONSS, CR_GI_ONEM, CR_GI_SFP, CR_GI_FAMIFED, CR_GI_DGPH,
	CR_GI_DIV, CR_GI_CADASTRE, CR_GI_BORDER,
	CR_GI_MUT_CM, CR_GI_MUT_SOL, CR_GI_MUT_LIB, CR_GI_MUT_NEUT,
	CR_GI_CAPAC, CR_GI_PI_CSC, CR_GI_PI_FGTB, CR_GI_ONVA, CR_GI_INAMI,
	CR_GI_INASTI, CR_GI_FEDRIS, CR_GI_FAMIWAL, CR_GI_KIDSLIFE, CR_GI_INFINO,
	CR_GI_CPAS_BXL, CR_GI_CPAS_LGE, CR_GI_OCMW_ANT, CR_GI_OCMW_GNT,
	CR_GEN_NINSTITUTIONS
};

extern const struct cr_gen_institution cr_gen_institutions[];

/*
 * The capacity catalogue of the country: every capacity the directory
 * file uses, with the institutions and sectors that may declare it
 * (space-separated). Ends with a NULL id.
 */
struct cr_gen_capacity {
	const char	*id;
	const char	*name;
	const char	*institutions;
	const char	*sectors;
};

extern const struct cr_gen_capacity cr_gen_capacities[];

/* Distinct sector of an institution, 0..CR_GEN_NSECTORS-1. */
#define CR_GEN_NSECTORS	16
int	cr_gen_sector_index(int institution);

/* In port order: source i listens on base_port + i. NULL-name ended. */
extern const struct cr_gen_source cr_gen_sources[];

/* gen_registries.c: registry.json and the adapters' configuration files. */
int	cr_gen_write_registry(const struct cr_gen_opts *);
int	cr_gen_write_adapter_configs(const struct cr_gen_opts *);

/* A demo token "crt_" + 64 hex, from the seed and the client's name. */
void	cr_gen_token(uint64_t seed, const char *institution, const char *name,
	    char out[4 + 64 + 1]);

/*
 * Internal to gen.c, gen_registries.c and cmd_gen.c.
 */

struct cr_gen_rng {
	uint64_t	s[4];
};

void	 cr_gen_rng_seed(struct cr_gen_rng *, uint64_t seed);
uint64_t cr_gen_rng_next(struct cr_gen_rng *);
double	 cr_gen_unit(struct cr_gen_rng *);		/* [0, 1) */
int	 cr_gen_range(struct cr_gen_rng *, int lo, int hi);	/* inclusive */
int	 cr_gen_chance(struct cr_gen_rng *, double p);
int	 cr_gen_pick(struct cr_gen_rng *, const double *weights, int n);

/* Birth dates 1900-01-01 .. 2099-12-31, two sexes. */
#define CR_GEN_EPOCH_DAYS	(-25567)	/* 1900-01-01 */
#define CR_GEN_SERIAL_SLOTS	(73049 * 2)
#define CR_GEN_MAX_STMT		6
#define CR_GEN_MONTHS		6	/* of pay and benefit payments */

struct cr_gen {
	const struct cr_gen_opts *o;
	struct cr_gen_stats	*st;
	struct cr_gen_rng	 r;
	int32_t			 asof;		/* days */
	uint16_t		*serials;	/* per birth date and sex */
	uint32_t		*employees;	/* per employer */
	unsigned long		 n_employers;
	sqlite3			*db[CR_GEN_NSOURCES];
	sqlite3_stmt		*ins[CR_GEN_NSOURCES][CR_GEN_MAX_STMT];
	FILE			*dir;
	long long		 ids[8];	/* row id counters */
	unsigned long		 self_employed_kbo;
	double			 last_ms;
	int			 ok;
};

/* Row id counters in cr_gen.ids. */
enum { CR_GEN_ID_ADDRESS, CR_GEN_ID_HOUSEHOLD, CR_GEN_ID_CONTRACT,
	CR_GEN_ID_MARRIAGE, CR_GEN_ID_CLAIM };

/* One person of the household being generated. */
struct cr_gen_person {
	char		 id[CR_SUBJECT_MAX];
	char		 birth[CR_DATE_LEN + 1];
	char		 death[CR_DATE_LEN + 1];	/* "" when living */
	int32_t		 bdays, ddays;		/* ddays: death, or 0 */
	int		 dead, female, age, role;
	int		 mutuality;		/* institution */
	int		 employed, self_employed, unemployed, pensioner;
	int		 student, disabled, cpas, incapacity, blue_collar;
	int		 region;		/* 0 BXL, 1 WAL, 2 VLA */
	int		 frontier;		/* lives abroad, works here */
	int		 cpas_inst;
	long long	 monthly_cents;		/* current gross pay */
	uint32_t	 sectors;		/* bit per directory sector */
	const char	*given, *family;
};

enum { CR_GEN_ROLE_HEAD, CR_GEN_ROLE_PARTNER, CR_GEN_ROLE_CHILD,
	CR_GEN_ROLE_OTHER };

/* gen_util.c */
int	cr_gen_exec(sqlite3 *, const char *sql);
int	cr_gen_insert(sqlite3_stmt *, const char *fmt, ...);
void	cr_gen_date(int32_t days, char out[CR_DATE_LEN + 1]);
int32_t	cr_gen_at_age(int32_t birth, int years);

#define CR_GEN_HIST_START	9131	/* 1995-01-01: directory history kept
					   since */
/* A directory record; to < 0 means open. Clipped to life and history
   (gen_registries.c). */
int	cr_gen_dir(struct cr_gen *, struct cr_gen_person *, int institution,
	    const char *capacity, int32_t from, int32_t to);

int	cr_gen_prepare(struct cr_gen *, int source);	/* gen_registries.c */
void	cr_gen_finalize(struct cr_gen *);
int	cr_gen_household(struct cr_gen *);		/* gen.c */
/* Everything but the population register about one adult or child. */
int	cr_gen_person_records(struct cr_gen *, struct cr_gen_person *,
	    struct cr_gen_person *members, int n);
int	cr_gen_household_records(struct cr_gen *, struct cr_gen_person *,
	    int n, const char *municipality);
int	cr_gen_employers(struct cr_gen *);

#endif
