/*
 * state_schema.c - the SQL of each schema version: the 1.0.0 tables a new
 * store starts from, and the 1.0.0 <-> 1.1.0 step, which adds the trace
 * unit's responsible and timebox fields and artifact tags. Steps run inside
 * the transaction the migration manager opens.
 */
#include "state_internal.h"

static const char schema_1_0_0[] =
    "CREATE TABLE schema_info ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  version TEXT NOT NULL);"
    "CREATE TABLE project ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  name TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created TEXT NOT NULL,"
    "  modified TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  author TEXT NOT NULL DEFAULT '',"
    "  metadata TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE trace_units ("
    "  id TEXT PRIMARY KEY,"
    "  status TEXT NOT NULL,"
    "  owner TEXT NOT NULL DEFAULT '',"
    "  data TEXT NOT NULL DEFAULT '{}',"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  created TEXT NOT NULL,"
    "  modified TEXT NOT NULL,"
    "  snapshot TEXT);"
    "CREATE TABLE snapshots ("
    "  id TEXT PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created TEXT NOT NULL,"
    "  data TEXT NOT NULL);"
    /* Snapshots are immutable: updates fail; a replacing import deletes. */
    "CREATE TRIGGER snapshots_immutable BEFORE UPDATE ON snapshots BEGIN"
    "  SELECT RAISE(ABORT, 'snapshots are immutable');"
    "END;"
    "CREATE TABLE artifacts ("
    "  id TEXT PRIMARY KEY,"
    "  type TEXT NOT NULL,"
    "  data TEXT NOT NULL,"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  created TEXT NOT NULL,"
    "  modified TEXT NOT NULL);"
    "CREATE TABLE history ("
    "  seq INTEGER PRIMARY KEY,"
    "  entity TEXT NOT NULL,"
    "  entity_id TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  time TEXT NOT NULL,"
    "  details TEXT NOT NULL DEFAULT '{}');"
    /* Imports record themselves here; export leaves this table out. */
    "CREATE TABLE import_log ("
    "  seq INTEGER PRIMARY KEY,"
    "  time TEXT NOT NULL,"
    "  mode TEXT NOT NULL,"
    "  checksum TEXT NOT NULL,"
    "  added INTEGER NOT NULL,"
    "  skipped INTEGER NOT NULL);"
    "INSERT INTO schema_info (id, version) VALUES (1, '1.0.0');";

qf_status qf_state_schema_create(sqlite3 *db, qf_error *err)
{
    qf_status status;

    status = qf_state_sql_exec(db, "BEGIN IMMEDIATE", "starting schema 1.0.0",
                               err);
    if (status != QF_OK)
        return status;
    status = qf_state_sql_exec(db, schema_1_0_0, "creating schema 1.0.0", err);
    if (status != QF_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return status;
    }
    return qf_state_sql_exec(db, "COMMIT", "committing schema 1.0.0", err);
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
