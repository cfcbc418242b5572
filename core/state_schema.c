/*
 * state_schema.c - the SQL of each schema version: the 1.0.0 tables a new
 * store starts from, and the 1.0.0 <-> 1.1.0 step, which adds the trace
 * unit's responsible and timebox fields and artifact tags. Steps run inside
 * the transaction the migration manager opens. The 1.0.0 SQL only adds
 * what is missing, so a second process that creates the same new store
 * changes nothing.
 */
#include "state_internal.h"

static const char schema_1_0_0[] =
    "CREATE TABLE IF NOT EXISTS schema_info ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  version TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS project ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  name TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created TEXT NOT NULL,"
    "  modified TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  author TEXT NOT NULL DEFAULT '',"
    "  metadata TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE IF NOT EXISTS trace_units ("
    "  id TEXT PRIMARY KEY,"
    "  status TEXT NOT NULL,"
    "  owner TEXT NOT NULL DEFAULT '',"
    "  data TEXT NOT NULL DEFAULT '{}',"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  created TEXT NOT NULL,"
    "  modified TEXT NOT NULL,"
    "  snapshot TEXT);"
    "CREATE TABLE IF NOT EXISTS snapshots ("
    "  id TEXT PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created TEXT NOT NULL,"
    "  data TEXT NOT NULL);"
    /* Snapshots are immutable: updates fail; a replacing import deletes. */
    "CREATE TRIGGER IF NOT EXISTS snapshots_immutable"
    "  BEFORE UPDATE ON snapshots BEGIN"
    "  SELECT RAISE(ABORT, 'snapshots are immutable');"
    "END;"
    "CREATE TABLE IF NOT EXISTS artifacts ("
    "  id TEXT PRIMARY KEY,"
    "  type TEXT NOT NULL,"
    "  data TEXT NOT NULL,"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  created TEXT NOT NULL,"
    "  modified TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS history ("
    "  seq INTEGER PRIMARY KEY,"
    "  entity TEXT NOT NULL,"
    "  entity_id TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  time TEXT NOT NULL,"
    "  details TEXT NOT NULL DEFAULT '{}');"
    /* Imports record themselves here; export leaves this table out. */
    "CREATE TABLE IF NOT EXISTS import_log ("
    "  seq INTEGER PRIMARY KEY,"
    "  time TEXT NOT NULL,"
    "  mode TEXT NOT NULL,"
    "  checksum TEXT NOT NULL,"
    "  added INTEGER NOT NULL,"
    "  skipped INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO schema_info (id, version) VALUES (1, '1.0.0');";

qf_status qf_state_schema_create(sqlite3 *db, qf_error *err)
{
    return qf_state_sql_exec(db, schema_1_0_0, "creating schema 1.0.0", err);
}

qf_status qf_state_schema_up_1_1(sqlite3 *db, qf_error *err)
{
    return qf_state_sql_exec(
        db,
        "ALTER TABLE trace_units ADD COLUMN responsible TEXT NOT NULL "
        "DEFAULT '';"
        "ALTER TABLE trace_units ADD COLUMN timebox TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE artifacts ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';",
        "upgrading the schema to 1.1.0", err);
}

qf_status qf_state_schema_down_1_1(sqlite3 *db, qf_error *err)
{
    return qf_state_sql_exec(db,
                             "ALTER TABLE trace_units DROP COLUMN responsible;"
                             "ALTER TABLE trace_units DROP COLUMN timebox;"
                             "ALTER TABLE artifacts DROP COLUMN tags;",
                             "downgrading the schema to 1.0.0", err);
}
