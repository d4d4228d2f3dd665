/*
 * Read-only access to an institution's own database, for the no-code
 * source adapter (`crossroads source`). A backend is a table of function
 * pointers, like the hub's storage (store.h), so that PostgreSQL can slot
 * in beside SQLite without touching the adapter.
 *
 * Queries are written in the adapter's syntax: one SELECT with named
 * parameters ":name" or ":params.name". A backend rewrites them into its
 * own placeholders and binds values; it never splices a value into SQL.
 *
 * Threading: prepare() is for start-up only (one thread, before any
 * exec()). exec() is then safe from any thread concurrently; the SQLite
 * backend keeps a connection and its prepared statements per thread.
 */
#ifndef CR_SRCDB_H
#define CR_SRCDB_H

#include <stddef.h>
#include <jansson.h>

#define CR_SRCDB_OK		0
#define CR_SRCDB_ERR		(-1)
#define CR_SRCDB_TOO_MANY	1	/* more rows than maxrows */

/* What a prepared query takes and gives. */
struct cr_srcdb_shape {
	char	**params;	/* "subject", "params.year", "employer_id",
				   in order of first use; exec() args follow
				   this order */
	size_t	  nparams;
	char	**columns;	/* result column names, in order */
	size_t	  ncolumns;
};

struct cr_srcdb;

struct cr_srcdb_ops {
	const char *name;
	void	(*close)(struct cr_srcdb *);
	/*
	 * Checks that sql is exactly one read-only SELECT (or WITH ...
	 * SELECT) whose parameters all have the :name form, and that it
	 * prepares against the database. Returns its query id (>= 0) and
	 * fills shape (cr_srcdb_shape_free), or -1 with a message in err.
	 */
	int	(*prepare)(struct cr_srcdb *, const char *sql,
		    struct cr_srcdb_shape *shape, char *err, size_t errlen);
	/*
	 * Runs query qid with args[i] (JSON scalars: string, integer, real,
	 * true/false as 1/0, null) bound to shape.params[i]. *rows gets a new
	 * array of at most maxrows objects {column: value}; values keep their
	 * SQL types (integer, real, text, NULL as null, BLOB as base64).
	 * CR_SRCDB_OK, CR_SRCDB_TOO_MANY (there were more rows than maxrows;
	 * *rows holds the first maxrows, the caller decides), or CR_SRCDB_ERR
	 * (logged with log_warnx; *rows NULL).
	 */
	int	(*exec)(struct cr_srcdb *, int qid, json_t *const *args,
		    size_t nargs, size_t maxrows, json_t **rows);
};

struct cr_srcdb {
	const struct cr_srcdb_ops *ops;
};

/*
 * Opens the database at uri, read-only: "sqlite:PATH" or a plain PATH.
 * 0, or -1 with a message in err.
 */
int	cr_srcdb_open(const char *uri, struct cr_srcdb **out, char *err,
	    size_t errlen);
void	cr_srcdb_close(struct cr_srcdb *);
void	cr_srcdb_shape_free(struct cr_srcdb_shape *);

/*
 * SQLite backend (srcdb_sqlite.c, which also holds the shared functions
 * above until a second backend gives them a file of their own).
 */
int	cr_srcdb_sqlite_open(const char *path, struct cr_srcdb **out,
	    char *err, size_t errlen);

/*
 * Rewrites the adapter's :name parameters of sql into placeholders made of
 * mark and a 1-based number ("?1" for SQLite, "$1" for PostgreSQL; the
 * same name, the same number), skipping quoted strings, quoted identifiers
 * and comments. Other parameter forms (?, ?N, @x, $x) are refused. *out is
 * malloc'd; names as in cr_srcdb_shape.params (the caller frees each and
 * the array). 0, or -1 with a message in err. Shared by backends.
 */
int	cr_srcdb_rewrite(const char *sql, char mark, char **out, char ***names,
	    size_t *nnames, char *err, size_t errlen);

#endif
