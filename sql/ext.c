/*
 * ext.c - the loadable extension, libdnnprov_sqlite.so: any SQLite (the
 * sqlite3 shell's .load, Python's sqlite3, ...) gets the dnnprov module
 * and its functions; `select dnnprov_attach('/path/to/index')` then
 * creates the tables.  Built from the sql/ sources with
 * DP_SQLITE_EXTENSION, so every SQLite call goes to the host's SQLite.
 */
#include "sql/sql.h"

SQLITE_EXTENSION_INIT1

/* The entry point SQLite derives from the file name (lib, dnnprov_sqlite,
 * .so: "dnnprovsqlite"); the generic one too, for loaders that ask for it. */
__attribute__((visibility("default"))) int sqlite3_dnnprovsqlite_init(sqlite3 *db, char **err,
									const sqlite3_api_routines *api);
__attribute__((visibility("default"))) int sqlite3_extension_init(sqlite3 *db, char **err,
								   const sqlite3_api_routines *api);

int sqlite3_dnnprovsqlite_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
	SQLITE_EXTENSION_INIT2(api);
	int rc = dp_sql_register(db, NULL);
	if (rc) {
		*err = sqlite3_mprintf("dnnprov: %s", dnnprov_errmsg());
		return SQLITE_ERROR;
	}
	return SQLITE_OK;
}

int sqlite3_extension_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
	return sqlite3_dnnprovsqlite_init(db, err, api);
}
