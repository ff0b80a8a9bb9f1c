/*
 * sqlite.h - SQLite's API as the sql/ files see it.  Built into the
 * `dnnprov` command they call libsqlite3 directly; built into the loadable
 * extension (DP_SQLITE_EXTENSION) every call goes through the table of
 * functions the loading SQLite hands to the extension's entry point, so
 * the extension uses the host's SQLite and never a second copy.
 */
#ifndef DNNPROV_SQL_SQLITE_H
#define DNNPROV_SQL_SQLITE_H

#ifdef DP_SQLITE_EXTENSION
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

#endif
