/*
 * state_format.c - the sections of an export document: for each section
 * its YAML key, table, columns and the kind of value each column holds.
 * Export and import both walk this table, so a field added here travels
 * through both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const state_column project_columns[] = {
    {"name", STATE_COL_TEXT, NULL},     {"description", STATE_COL_TEXT, ""},
    {"created", STATE_COL_TIME, NULL},  {"modified", STATE_COL_TIME, NULL},
    {"version", STATE_COL_TEXT, NULL},  {"author", STATE_COL_TEXT, ""},
    {"metadata", STATE_COL_JSON, "{}"},
};

static const state_column tu_columns[] = {
    {"id", STATE_COL_TU_ID, NULL},      {"status", STATE_COL_STATUS, NULL},
    {"owner", STATE_COL_TEXT, ""},      {"responsible", STATE_COL_TEXT, ""},
    {"timebox", STATE_COL_TEXT, ""},    {"data", STATE_COL_JSON, "{}"},
    {"metadata", STATE_COL_JSON, "{}"}, {"created", STATE_COL_TIME, NULL},
    {"modified", STATE_COL_TIME, NULL}, {"snapshot", STATE_COL_NULLABLE, NULL},
};

static const state_column snapshot_columns[] = {
    {"id", STATE_COL_TEXT, NULL},
    {"description", STATE_COL_TEXT, ""},
    {"created", STATE_COL_TIME, NULL},
    {"data", STATE_COL_JSON, NULL},
};

static const state_column artifact_columns[] = {
    {"id", STATE_COL_TEXT, NULL},       {"type", STATE_COL_TEXT, NULL},
    {"data", STATE_COL_JSON, NULL},     {"metadata", STATE_COL_JSON, "{}"},
    {"tags", STATE_COL_JSON, "[]"},     {"created", STATE_COL_TIME, NULL},
    {"modified", STATE_COL_TIME, NULL},
};

static const state_column history_columns[] = {
    {"seq", STATE_COL_INT, NULL},        {"entity", STATE_COL_TEXT, NULL},
    {"entity_id", STATE_COL_TEXT, NULL}, {"action", STATE_COL_TEXT, NULL},
    {"time", STATE_COL_TIME, NULL},      {"details", STATE_COL_JSON, "{}"},
};

const state_section qf_state_sections[STATE_SECTION_COUNT] = {
    {"project", "project", "project", QF_STATE_INCLUDE_PROJECT, 1,
     project_columns, COUNT(project_columns)},
    {"trace_units", "trace unit", "trace_units", QF_STATE_INCLUDE_TUS, 0,
     tu_columns, COUNT(tu_columns)},
    {"snapshots", "snapshot", "snapshots", QF_STATE_INCLUDE_SNAPSHOTS, 0,
     snapshot_columns, COUNT(snapshot_columns)},
    {"artifacts", "artifact", "artifacts", QF_STATE_INCLUDE_ARTIFACTS, 0,
     artifact_columns, COUNT(artifact_columns)},
    {"history", "history row", "history", QF_STATE_INCLUDE_HISTORY, 0,
     history_columns, COUNT(history_columns)},
};

static int int_valid(const char *text)
{
    char *end = NULL;

    if (!*text)
        return 0;
    strtoll(text, &end, 10);
    return *end == '\0';
}

static int json_valid(const char *text)
{
    cJSON *value = cJSON_Parse(text);
    int ok = value != NULL;

    cJSON_Delete(value);
    return ok;
}

qf_status qf_state_column_check(const state_column *col, const char *value,
                                int is_null, qf_error *err)
{
    if (is_null) {
        if (col->kind == STATE_COL_NULLABLE)
            return QF_OK;
        return qf_error_set(err, QF_ERR_INVALID,
                            "field '%s' is null; it needs a value", col->name);
    }
    switch (col->kind) {
    case STATE_COL_INT:
        if (!int_valid(value))
            return qf_error_set(err, QF_ERR_INVALID,
                                "field '%s': '%s' is not an integer", col->name,
                                value);
        break;
    case STATE_COL_JSON:
        if (!json_valid(value))
            return qf_error_set(err, QF_ERR_INVALID,
                                "field '%s' is not valid JSON", col->name);
        break;
    case STATE_COL_TIME:
        if (!qf_state_time_valid(value))
            return qf_error_set(err, QF_ERR_INVALID,
                                "field '%s': invalid timestamp '%s'; expected "
                                "YYYY-MM-DDTHH:MM:SS.mmmZ",
                                col->name, value);
        break;
    case STATE_COL_TU_ID: return qf_state_tu_id_validate(value, err);
    case STATE_COL_STATUS:
        if (!qf_state_status_known(value))
            return qf_error_set(err, QF_ERR_INVALID,
                                "field '%s': unknown status '%s'", col->name,
                                value);
        break;
    default: break;
    }
    return QF_OK;
}

const state_field *qf_state_record_field(const state_record *rec,
                                         const char *key)
{
    for (size_t i = 0; i < rec->count; i++) {
        if (strcmp(rec->fields[i].key, key) == 0)
            return &rec->fields[i];
    }
    return NULL;
}

qf_status qf_state_include_parse(const char *list, unsigned *out, qf_error *err)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"project", QF_STATE_INCLUDE_PROJECT},
        {"tus", QF_STATE_INCLUDE_TUS},
        {"snapshots", QF_STATE_INCLUDE_SNAPSHOTS},
        {"artifacts", QF_STATE_INCLUDE_ARTIFACTS},
        {"history", QF_STATE_INCLUDE_HISTORY},
    };
    const char *p = list;

    *out = 0;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        unsigned bit = 0;

        for (size_t i = 0; i < COUNT(names); i++) {
            if (strlen(names[i].name) == len &&
                strncmp(p, names[i].name, len) == 0)
                bit = names[i].bit;
        }
        if (!bit)
            return qf_error_set(err, QF_ERR_INVALID,
                                "invalid --include entry '%.*s'; expected a "
                                "comma-separated list of project, tus, "
                                "snapshots, artifacts, history",
                                (int)len, p);
        *out |= bit;
        p += len + (p[len] == ',');
    }
    if (!*out)
        return qf_error_set(err, QF_ERR_INVALID,
                            "--include is empty; name at least one of "
                            "project, tus, snapshots, artifacts, history");
    return QF_OK;
}
