/*
 * state_parse.c - read an export document from bytes with libyaml's event
 * parser into records of string fields, each with its line. Steps: check
 * the header (format_version, then checksum), read every section, verify
 * the checksum over the bytes after the checksum line, then check each
 * field against its column. No database is touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "state_internal.h"

typedef struct reader {
    yaml_parser_t parser;
    yaml_event_t ev;
    int has_event;
    qf_error *err;
} reader;

static size_t line_of(const yaml_event_t *ev)
{
    return ev->start_mark.line + 1;
}

static qf_status next(reader *r)
{
    if (r->has_event)
        yaml_event_delete(&r->ev);
    r->has_event = 0;
    if (!yaml_parser_parse(&r->parser, &r->ev))
        return qf_error_set(r->err, QF_ERR_INVALID,
                            "invalid YAML at line %zu, column %zu: %s%s%s",
                            r->parser.problem_mark.line + 1,
                            r->parser.problem_mark.column + 1,
                            r->parser.problem ? r->parser.problem : "error",
                            r->parser.context ? " " : "",
                            r->parser.context ? r->parser.context : "");
    r->has_event = 1;
    return QF_OK;
}

static qf_status expect(reader *r, yaml_event_type_t type, const char *what)
{
    qf_status status = next(r);

    if (status == QF_OK && r->ev.type != type)
        status = qf_error_set(r->err, QF_ERR_INVALID, "line %zu: expected %s",
                              line_of(&r->ev), what);
    return status;
}

static const char *scalar_text(const reader *r)
{
    return (const char *)r->ev.data.scalar.value;
}

/* True when the current scalar is a YAML null (plain null, ~ or empty). */
static int scalar_is_null(const reader *r)
{
    const char *text = scalar_text(r);

    return r->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (strcmp(text, "null") == 0 || strcmp(text, "~") == 0 ||
            strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0 ||
            text[0] == '\0');
}

static qf_status add_field(reader *r, state_record *rec, char *key, size_t line)
{
    state_field *field;

    if (rec->count == rec->cap) {
        size_t cap = rec->cap ? rec->cap * 2 : 8;
        state_field *grown = realloc(rec->fields, cap * sizeof(*grown));

        if (!grown)
            return qf_error_set(r->err, QF_ERR_NOMEM, "out of memory");
        rec->fields = grown;
        rec->cap = cap;
    }
    field = &rec->fields[rec->count];
    field->key = key;
    field->line = line;
    field->value = scalar_is_null(r) ? NULL : strdup(scalar_text(r));
    if (!scalar_is_null(r) && !field->value)
        return qf_error_set(r->err, QF_ERR_NOMEM, "out of memory");
    rec->count++;
    return QF_OK;
}

/* Read one mapping of scalar fields; the MAPPING_START is current. */
static qf_status read_record(reader *r, const state_section *sec,
                             state_record *rec)
{
    qf_status status;

    rec->line = line_of(&r->ev);
    for (;;) {
        char *key;
        size_t line;

        if ((status = next(r)) != QF_OK)
            return status;
        if (r->ev.type == YAML_MAPPING_END_EVENT)
            return QF_OK;
        if (r->ev.type != YAML_SCALAR_EVENT)
            return qf_error_set(r->err, QF_ERR_INVALID,
                                "line %zu: expected a field name in a %s",
                                line_of(&r->ev), sec->entity);
        if (qf_state_record_field(rec, scalar_text(r)))
            return qf_error_set(r->err, QF_ERR_INVALID,
                                "line %zu: field '%s' appears twice in a %s",
                                line_of(&r->ev), scalar_text(r), sec->entity);
        key = strdup(scalar_text(r));
        line = line_of(&r->ev);
        if (!key)
            return qf_error_set(r->err, QF_ERR_NOMEM, "out of memory");
        status = next(r);
        if (status == QF_OK && r->ev.type != YAML_SCALAR_EVENT)
            status = qf_error_set(r->err, QF_ERR_INVALID,
                                  "line %zu: field '%s' of a %s must be a "
                                  "single value, not a list or mapping",
                                  line, key, sec->entity);
        if (status == QF_OK)
            status = add_field(r, rec, key, line);
        if (status != QF_OK) {
            free(key);
            return status;
        }
    }
}

static qf_status push_record(reader *r, const state_section *sec,
                             state_records *list)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        state_record *grown = realloc(list->items, cap * sizeof(*grown));

        if (!grown)
            return qf_error_set(r->err, QF_ERR_NOMEM, "out of memory");
        list->items = grown;
        list->cap = cap;
    }
    memset(&list->items[list->count], 0, sizeof(state_record));
    list->count++;
    return read_record(r, sec, &list->items[list->count - 1]);
}

/* Read a section's value: null, one mapping (project) or a sequence. */
static qf_status read_section(reader *r, const state_section *sec,
                              state_records *list)
{
    qf_status status = next(r);

    list->present = 1;
    if (status != QF_OK)
        return status;
    if (r->ev.type == YAML_SCALAR_EVENT && scalar_is_null(r))
        return QF_OK;
    if (sec->single && r->ev.type == YAML_MAPPING_START_EVENT)
        return push_record(r, sec, list);
    if (sec->single || r->ev.type != YAML_SEQUENCE_START_EVENT)
        return qf_error_set(r->err, QF_ERR_INVALID,
                            "line %zu: section '%s' must be %s",
                            line_of(&r->ev), sec->key,
                            sec->single ? "a mapping or null" : "a list");
    while ((status = next(r)) == QF_OK &&
           r->ev.type == YAML_MAPPING_START_EVENT) {
        status = push_record(r, sec, list);
        if (status != QF_OK)
            return status;
    }
    if (status == QF_OK && r->ev.type != YAML_SEQUENCE_END_EVENT)
        status = qf_error_set(r->err, QF_ERR_INVALID,
                              "line %zu: each entry of '%s' must be a mapping",
                              line_of(&r->ev), sec->key);
    return status;
}

static qf_status read_format_version(reader *r)
{
    qf_status status = expect(r, YAML_SCALAR_EVENT, "the key format_version");
    char want[16];

    if (status == QF_OK && strcmp(scalar_text(r), "format_version") != 0)
        status = qf_error_set(r->err, QF_ERR_INVALID,
                              "line %zu: expected format_version as the first "
                              "key, found '%s'; this is not a state export",
                              line_of(&r->ev), scalar_text(r));
    if (status == QF_OK)
        status = expect(r, YAML_SCALAR_EVENT, "a format version number");
    snprintf(want, sizeof(want), "%d", QF_STATE_FORMAT_VERSION);
    if (status == QF_OK && strcmp(scalar_text(r), want) != 0)
        status = qf_error_set(r->err, QF_ERR_UNSUPPORTED,
                              "line %zu: unsupported export format version "
                              "'%s'; this qf reads format version %s",
                              line_of(&r->ev), scalar_text(r), want);
    return status;
}

static int is_hex64(const char *text)
{
    if (strlen(text) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++) {
        if (!((text[i] >= '0' && text[i] <= '9') ||
              (text[i] >= 'a' && text[i] <= 'f')))
            return 0;
    }
    return 1;
}

/* Read the checksum; *body_at receives the offset after its line. */
static qf_status read_checksum(reader *r, qf_state_doc *doc,
                               const uint8_t *data, size_t len, size_t *body_at)
{
    qf_status status = expect(r, YAML_SCALAR_EVENT, "the key checksum");
    size_t at;

    if (status == QF_OK && strcmp(scalar_text(r), "checksum") != 0)
        status = qf_error_set(r->err, QF_ERR_INVALID,
                              "line %zu: expected checksum as the second key, "
                              "found '%s'",
                              line_of(&r->ev), scalar_text(r));
    if (status == QF_OK)
        status = expect(r, YAML_SCALAR_EVENT, "a checksum value");
    if (status != QF_OK)
        return status;
    if (strncmp(scalar_text(r), "sha256:", 7) != 0 ||
        !is_hex64(scalar_text(r) + 7))
        return qf_error_set(r->err, QF_ERR_INVALID,
                            "line %zu: invalid checksum '%s'; expected "
                            "sha256: and 64 lowercase hex digits",
                            line_of(&r->ev), scalar_text(r));
    memcpy(doc->checksum, scalar_text(r) + 7, 65);
    for (at = r->ev.end_mark.index; at < len && data[at] != '\n'; at++)
        ;
    *body_at = at < len ? at + 1 : len;
    return QF_OK;
}

static int section_index(const char *key)
{
    for (int i = 0; i < STATE_SECTION_COUNT; i++) {
        if (strcmp(qf_state_sections[i].key, key) == 0)
            return i;
    }
    return -1;
}

static qf_status read_key(reader *r, qf_state_doc *doc)
{
    const char *key = scalar_text(r);
    size_t line = line_of(&r->ev);
    int index = section_index(key);
    qf_status status;

    if (strcmp(key, "schema_version") == 0) {
        status = expect(r, YAML_SCALAR_EVENT, "a schema version");
        if (status == QF_OK)
            snprintf(doc->schema_version, sizeof(doc->schema_version), "%s",
                     scalar_text(r));
        return status;
    }
    if (index < 0)
        return qf_error_set(r->err, QF_ERR_INVALID,
                            "line %zu: unknown key '%s'; expected "
                            "schema_version, project, trace_units, snapshots, "
                            "artifacts or history",
                            line, key);
    if (doc->sections[index].present)
        return qf_error_set(r->err, QF_ERR_INVALID,
                            "line %zu: section '%s' appears twice", line, key);
    return read_section(r, &qf_state_sections[index], &doc->sections[index]);
}

static qf_status read_body(reader *r, qf_state_doc *doc)
{
    qf_status status;

    while ((status = next(r)) == QF_OK && r->ev.type == YAML_SCALAR_EVENT) {
        status = read_key(r, doc);
        if (status != QF_OK)
            return status;
    }
    if (status == QF_OK && r->ev.type != YAML_MAPPING_END_EVENT)
        status = qf_error_set(r->err, QF_ERR_INVALID,
                              "line %zu: expected a key at the top level",
                              line_of(&r->ev));
    if (status == QF_OK)
        status = expect(r, YAML_DOCUMENT_END_EVENT, "the end of the document");
    if (status == QF_OK)
        status = expect(r, YAML_STREAM_END_EVENT,
                        "the end of the export (it holds one YAML document)");
    return status;
}

static qf_status verify_checksum(const qf_state_doc *doc, const uint8_t *data,
                                 size_t len, size_t body_at, qf_error *err)
{
    char actual[65];

    qf_state_sha256_hex(data + body_at, len - body_at, actual);
    if (strcmp(actual, doc->checksum) == 0)
        return QF_OK;
    return qf_error_set(err, QF_ERR_INVALID,
                        "line 2: checksum mismatch: the header says sha256:%s "
                        "but the body after line 2 hashes to sha256:%s; the "
                        "export was changed or truncated, so export it again",
                        doc->checksum, actual);
}

/* Name a record in messages: "trace unit TU-... (line 12)". */
static void record_label(const state_section *sec, const state_record *rec,
                         char *out, size_t size)
{
    const state_field *id = qf_state_record_field(rec, sec->columns[0].name);

    if (id && id->value && !sec->single)
        snprintf(out, size, "%s %.80s (line %zu)", sec->entity, id->value,
                 rec->line);
    else
        snprintf(out, size, "%s at line %zu", sec->entity, rec->line);
}

static const state_column *find_column(const state_section *sec,
                                       const char *name)
{
    for (size_t i = 0; i < sec->ncolumns; i++) {
        if (strcmp(sec->columns[i].name, name) == 0)
            return &sec->columns[i];
    }
    return NULL;
}

static qf_status check_record(const state_section *sec, const state_record *rec,
                              qf_error *err)
{
    char label[160];
    qf_status status = QF_OK;

    record_label(sec, rec, label, sizeof(label));
    for (size_t i = 0; status == QF_OK && i < rec->count; i++) {
        const state_field *f = &rec->fields[i];
        const state_column *col = find_column(sec, f->key);

        if (!col)
            status =
                qf_error_set(err, QF_ERR_INVALID, "unknown field '%s'", f->key);
        else
            status =
                qf_state_column_check(col, f->value, f->value == NULL, err);
    }
    for (size_t i = 0; status == QF_OK && i < sec->ncolumns; i++) {
        const state_column *col = &sec->columns[i];

        if (!col->fallback && col->kind != STATE_COL_NULLABLE &&
            !qf_state_record_field(rec, col->name))
            status = qf_error_set(err, QF_ERR_INVALID, "missing field '%s'",
                                  col->name);
    }
    if (status != QF_OK)
        qf_error_prefix(err, "%s", label);
    return status;
}

static qf_status check_fields(const qf_state_doc *doc, qf_error *err)
{
    for (size_t s = 0; s < STATE_SECTION_COUNT; s++) {
        for (size_t i = 0; i < doc->sections[s].count; i++) {
            qf_status status = check_record(&qf_state_sections[s],
                                            &doc->sections[s].items[i], err);

            if (status != QF_OK)
                return status;
        }
    }
    return QF_OK;
}

static qf_status read_document(reader *r, qf_state_doc *doc,
                               const uint8_t *data, size_t len)
{
    size_t body_at = 0;
    qf_status status = expect(r, YAML_STREAM_START_EVENT, "a YAML stream");

    if (status == QF_OK)
        status = expect(r, YAML_DOCUMENT_START_EVENT,
                        "a YAML document (the export is empty)");
    if (status == QF_OK)
        status = expect(r, YAML_MAPPING_START_EVENT,
                        "a mapping at the top of the export");
    if (status == QF_OK)
        status = read_format_version(r);
    if (status == QF_OK)
        status = read_checksum(r, doc, data, len, &body_at);
    if (status == QF_OK)
        status = read_body(r, doc);
    if (status == QF_OK)
        status = verify_checksum(doc, data, len, body_at, r->err);
    if (status == QF_OK)
        status = check_fields(doc, r->err);
    return status;
}

qf_state_doc *qf_state_doc_parse(const uint8_t *data, size_t len, qf_error *err)
{
    qf_state_doc *doc = calloc(1, sizeof(*doc));
    reader r = {.err = err};
    qf_status status;

    if (!doc) {
        qf_error_set(err, QF_ERR_NOMEM, "out of memory reading an export");
        return NULL;
    }
    if (!data) {
        data = (const uint8_t *)""; /* libyaml asserts on a NULL input */
        len = 0;
    }
    yaml_parser_initialize(&r.parser);
    yaml_parser_set_input_string(&r.parser, data, len);
    status = read_document(&r, doc, data, len);
    if (r.has_event)
        yaml_event_delete(&r.ev);
    yaml_parser_delete(&r.parser);
    if (status != QF_OK) {
        qf_state_doc_free(doc);
        return NULL;
    }
    return doc;
}

void qf_state_doc_free(qf_state_doc *doc)
{
    if (!doc)
        return;
    for (size_t s = 0; s < STATE_SECTION_COUNT; s++) {
        state_records *list = &doc->sections[s];

        for (size_t i = 0; i < list->count; i++) {
            for (size_t f = 0; f < list->items[i].count; f++) {
                free(list->items[i].fields[f].key);
                free(list->items[i].fields[f].value);
            }
            free(list->items[i].fields);
        }
        free(list->items);
    }
    free(doc);
}
