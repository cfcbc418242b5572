/*
 * test_state_export.c - YAML export and import: the checksum, a byte-exact
 * round trip, subsets, merge reports, rollback of a failed import, and the
 * errors for malformed YAML, a wrong format version and a bad checksum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "state_fixture.h"
#include "state_internal.h"

/* Line number (1-based) of the first occurrence of `needle` in text. */
static int line_of(const char *text, const char *needle)
{
    const char *hit = strstr(text, needle);
    int line = 1;

    ck_assert_msg(hit != NULL, "'%s' not in export", needle);
    for (const char *p = text; p < hit; p++)
        line += *p == '\n';
    return line;
}

/* Line number of the last occurrence of `needle` in text. */
static int last_line_of(const char *text, const char *needle)
{
    const char *hit = strstr(text, needle), *next;
    int line = 1;

    ck_assert_msg(hit != NULL, "'%s' not in export", needle);
    while ((next = strstr(hit + 1, needle)) != NULL)
        hit = next;
    for (const char *p = text; p < hit; p++)
        line += *p == '\n';
    return line;
}

/* Replace the first `from` with `to` in a malloc'd string. */
static char *replace(char *text, const char *from, const char *to)
{
    char *hit = strstr(text, from);
    size_t len = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(len);

    ck_assert_msg(hit != NULL, "'%s' not in export", from);
    snprintf(out, len, "%.*s%s%s", (int)(hit - text), text, to,
             hit + strlen(from));
    free(text);
    return out;
}

/* Recompute the checksum after an edit, as the exporter would. */
static void reseal(char *text)
{
    char *slot = strstr(text, "sha256:") + 7;
    char *body = strchr(slot, '\n') + 1;
    char hex[65];

    qf_state_sha256_hex(body, strlen(body), hex);
    memcpy(slot, hex, 64);
}

static qf_status import_text(qf_state *st, const char *text, int merge,
                             qf_state_import_report *report, qf_error *err)
{
    qf_state_doc *doc =
        qf_state_doc_parse((const uint8_t *)text, strlen(text), err);
    qf_status status;

    if (!doc)
        return err->status;
    status = qf_state_import(st, doc, merge, report, err);
    qf_state_doc_free(doc);
    return status;
}

START_TEST(export_checksum_covers_body)
{
    state_fixture fx;
    char *text, hex[65], expected[96];
    const char *body;

    fixture_open(&fx, "export-sum");
    fixture_populate(fx.st);
    text = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);
    ck_assert_int_eq(
        strncmp(text, "format_version: 1\nchecksum: \"sha256:", 36), 0);
    body = strchr(strchr(text, '\n') + 1, '\n') + 1;
    qf_state_sha256_hex(body, strlen(body), hex);
    snprintf(expected, sizeof(expected), "checksum: \"sha256:%s\"\n", hex);
    ck_assert_int_eq(
        strncmp(strchr(text, '\n') + 1, expected, strlen(expected)), 0);
    ck_assert_ptr_nonnull(strstr(body, "schema_version: \"1.1.0\"\n"));
    free(text);
    fixture_close(&fx);
}
END_TEST

START_TEST(roundtrip_is_byte_identical)
{
    state_fixture a, b;
    qf_error err;
    qf_state_import_report report;
    char *first, *second;

    qf_error_init(&err);
    fixture_open(&a, "export-a");
    fixture_open(&b, "export-b");
    fixture_populate(a.st);
    first = fixture_export(a.st, QF_STATE_INCLUDE_ALL);
    ck_assert_msg(import_text(b.st, first, 0, &report, &err) == QF_OK, "%s",
                  err.message);
    ck_assert_uint_eq(report.added, 1 + 2 + 1 + 3 + 8);
    ck_assert_uint_eq(report.skipped_count, 0);
    cJSON_Delete(report.skipped);
    second = fixture_export(b.st, QF_STATE_INCLUDE_ALL);
    ck_assert_str_eq(first, second);
    ck_assert_int_eq(fixture_query_int(b.st, "SELECT COUNT(*) FROM import_log"),
                     1);
    ck_assert_int_eq(fixture_query_int(b.st, "SELECT MAX(seq) FROM history"),
                     8);
    free(first);
    free(second);
    fixture_close(&a);
    fixture_close(&b);
}
END_TEST

START_TEST(subset_export_and_import)
{
    state_fixture a, b;
    qf_error err;
    char *text, *after;

    qf_error_init(&err);
    fixture_open(&a, "subset-a");
    fixture_open(&b, "subset-b");
    fixture_populate(a.st);
    text =
        fixture_export(a.st, QF_STATE_INCLUDE_TUS | QF_STATE_INCLUDE_SNAPSHOTS);
    ck_assert_ptr_nonnull(strstr(text, "\ntrace_units:\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nsnapshots:\n"));
    ck_assert_ptr_null(strstr(text, "\nartifacts:"));
    ck_assert_ptr_null(strstr(text, "\nproject:"));
    ck_assert_ptr_null(strstr(text, "\nhistory:"));

    /* Only the sections in the file are replaced. */
    ck_assert_int_eq(
        qf_state_artifact_put(b.st, "own-1", "quest", "{}", NULL, &err), QF_OK);
    ck_assert_int_eq(import_text(b.st, text, 0, NULL, &err), QF_OK);
    ck_assert_int_eq(
        fixture_query_int(b.st, "SELECT COUNT(*) FROM trace_units"), 2);
    ck_assert_int_eq(fixture_query_int(b.st, "SELECT COUNT(*) FROM artifacts"),
                     1);
    after =
        fixture_export(b.st, QF_STATE_INCLUDE_TUS | QF_STATE_INCLUDE_SNAPSHOTS);
    ck_assert_str_eq(text, after);
    free(text);
    free(after);
    fixture_close(&a);
    fixture_close(&b);
}
END_TEST

START_TEST(include_list_parsing)
{
    qf_error err;
    unsigned bits = 0;

    qf_error_init(&err);
    ck_assert_int_eq(
        qf_state_include_parse("tus,snapshots,artifacts", &bits, &err), QF_OK);
    ck_assert_uint_eq(bits, QF_STATE_INCLUDE_TUS | QF_STATE_INCLUDE_SNAPSHOTS |
                                QF_STATE_INCLUDE_ARTIFACTS);
    ck_assert_int_eq(qf_state_include_parse("tus,scenes", &bits, &err),
                     QF_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "invalid --include entry 'scenes'; expected a "
                     "comma-separated list of project, tus, snapshots, "
                     "artifacts, history");
}
END_TEST

/* Import `text` into a populated store, expect `message`, and check that
 * the store's export did not change. */
static void expect_rollback(const char *text, const char *message)
{
    state_fixture fx;
    qf_error err;
    char *before, *after;
    long long logs;

    qf_error_init(&err);
    fixture_open(&fx, "rollback");
    fixture_populate(fx.st);
    ck_assert_int_eq(
        qf_state_tu_create(fx.st, "TU-2026-12-09-ZZ09", NULL, NULL, &err),
        QF_OK);
    before = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);
    logs = fixture_query_int(fx.st, "SELECT COUNT(*) FROM import_log");

    ck_assert_int_ne(import_text(fx.st, text, 0, NULL, &err), QF_OK);
    ck_assert_str_eq(err.message, message);
    after = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);
    ck_assert_str_eq(before, after);
    ck_assert_int_eq(
        fixture_query_int(fx.st, "SELECT COUNT(*) FROM import_log"), logs);
    free(before);
    free(after);
    fixture_close(&fx);
}

START_TEST(import_rolls_back_bad_last_field)
{
    state_fixture src;
    char *text, message[256];

    fixture_open(&src, "rollback-src");
    fixture_populate(src.st);
    text = fixture_export(src.st, QF_STATE_INCLUDE_ALL);
    /* The last history row gets an impossible time. */
    text = replace(text, "time: \"2026-12-04T20:00:00.015Z\"",
                   "time: \"2026-12-04T25:00:00.015Z\"");
    reseal(text);
    snprintf(message, sizeof(message),
             "history row 8 (line %d): field 'time': invalid timestamp "
             "'2026-12-04T25:00:00.015Z'; expected YYYY-MM-DDTHH:MM:SS.mmmZ",
             line_of(text, "- seq: 8"));
    expect_rollback(text, message);
    free(text);
    fixture_close(&src);
}
END_TEST

START_TEST(import_rolls_back_duplicate_last_row)
{
    state_fixture src;
    char *text, message[256];

    fixture_open(&src, "rollback-dup");
    fixture_populate(src.st);
    text = fixture_export(src.st, QF_STATE_INCLUDE_ALL);
    /* The last history row reuses number 7: the database rejects it only
     * after every other row was written. */
    text = replace(text, "- seq: 8", "- seq: 7");
    reseal(text);
    snprintf(message, sizeof(message),
             "history row 7 (line %d): cannot store it: UNIQUE constraint "
             "failed: history.seq",
             line_of(text, "- seq: 7\n  entity: \"artifact\"\n  entity_id: "
                           "\"scene-1\""));
    expect_rollback(text, message);
    free(text);
    fixture_close(&src);
}
END_TEST

START_TEST(import_rolls_back_duplicate_snapshot)
{
    state_fixture src;
    qf_error err;
    char *text, *entry, message[256];
    size_t len;

    qf_error_init(&err);
    fixture_open(&src, "rollback-snap");
    fixture_populate(src.st);
    text = fixture_export(src.st,
                          QF_STATE_INCLUDE_TUS | QF_STATE_INCLUDE_SNAPSHOTS);
    entry = strdup(strstr(text, "- id: \"snap-1\""));
    len = strlen(text) + strlen(entry) + 1;
    text = realloc(text, len);
    memcpy(text + strlen(text), entry, strlen(entry) + 1);
    reseal(text);
    snprintf(message, sizeof(message),
             "snapshot snap-1 (line %d): cannot store it: UNIQUE constraint "
             "failed: snapshots.id",
             last_line_of(text, "- id: \"snap-1\""));
    expect_rollback(text, message);
    free(entry);
    free(text);
    fixture_close(&src);
}
END_TEST

START_TEST(merge_reports_skipped)
{
    state_fixture a, b;
    qf_error err;
    qf_state_import_report report;
    cJSON *tu = NULL;
    char *text, line[160];

    qf_error_init(&err);
    fixture_open(&a, "merge-a");
    fixture_open(&b, "merge-b");
    fixture_populate(a.st);
    text = fixture_export(a.st, QF_STATE_INCLUDE_ALL);
    b.clock.ms += 60000;
    ck_assert_int_eq(qf_state_project_init(b.st, "Other", NULL, NULL, &err),
                     QF_OK);
    ck_assert_int_eq(
        qf_state_tu_create(b.st, "TU-2026-12-04-SR01", "mine", NULL, &err),
        QF_OK);

    ck_assert_msg(import_text(b.st, text, 1, &report, &err) == QF_OK, "%s",
                  err.message);
    ck_assert_int_eq(cJSON_GetArraySize(report.skipped), 2);
    snprintf(line, sizeof(line), "project at line %d already exists",
             line_of(text, "  name: \"Lighthouse\""));
    ck_assert_str_eq(cJSON_GetArrayItem(report.skipped, 0)->valuestring, line);
    snprintf(line, sizeof(line),
             "trace unit TU-2026-12-04-SR01 (line %d) already exists",
             line_of(text, "- id: \"TU-2026-12-04-SR01\""));
    ck_assert_str_eq(cJSON_GetArrayItem(report.skipped, 1)->valuestring, line);
    ck_assert_uint_eq(report.skipped_count, 2);
    ck_assert_uint_eq(report.added, 1 + 1 + 3 + 8);
    cJSON_Delete(report.skipped);

    /* The existing trace unit is kept as it was; the missing one is added. */
    ck_assert_int_eq(qf_state_tu_get(b.st, "TU-2026-12-04-SR01", &tu, &err),
                     QF_OK);
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "owner")->valuestring, "mine");
    cJSON_Delete(tu);
    ck_assert_int_eq(qf_state_tu_get(b.st, "TU-2026-12-05-LW02", &tu, &err),
                     QF_OK);
    cJSON_Delete(tu);

    /* A second merge finds every history row and adds nothing. */
    ck_assert_int_eq(import_text(b.st, text, 1, &report, &err), QF_OK);
    ck_assert_uint_eq(report.added, 0);
    ck_assert_uint_eq(report.skipped_count, 1 + 2 + 1 + 3 + 8);
    cJSON_Delete(report.skipped);
    free(text);
    fixture_close(&a);
    fixture_close(&b);
}
END_TEST

START_TEST(malformed_yaml_names_line)
{
    state_fixture fx;
    qf_error err;
    const char *text = "format_version: 1\n"
                       "checksum: \"sha256:0000000000000000000000000000000000"
                       "000000000000000000000000000000\"\n"
                       "schema_version: \"1.1.0\"\n"
                       "trace_units:\n"
                       "- id: \"TU-2026-12-04-SR01\n"
                       "  status: hot-proposed\n";

    qf_error_init(&err);
    fixture_open(&fx, "malformed");
    ck_assert_int_eq(import_text(fx.st, text, 0, NULL, &err), QF_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "invalid YAML at line 7, column 1: found unexpected end "
                     "of stream while scanning a quoted scalar");
    ck_assert_ptr_null(qf_state_doc_parse(NULL, 0, &err));
    ck_assert_str_eq(err.message,
                     "line 1: expected a YAML document (the export is empty)");
    ck_assert_int_eq(import_text(fx.st, "", 0, NULL, &err), QF_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "line 1: expected a YAML document (the export is empty)");
    fixture_close(&fx);
}
END_TEST

START_TEST(wrong_format_version)
{
    state_fixture fx;
    qf_error err;
    char *text;

    qf_error_init(&err);
    fixture_open(&fx, "format");
    fixture_populate(fx.st);
    text = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);
    text = replace(text, "format_version: 1\n", "format_version: 2\n");
    ck_assert_int_eq(import_text(fx.st, text, 0, NULL, &err),
                     QF_ERR_UNSUPPORTED);
    ck_assert_str_eq(err.message, "line 1: unsupported export format version "
                                  "'2'; this qf reads format version 1");
    free(text);
    fixture_close(&fx);
}
END_TEST

START_TEST(bad_checksum_rejected)
{
    state_fixture fx;
    qf_error err;
    char *text;

    qf_error_init(&err);
    fixture_open(&fx, "checksum");
    fixture_populate(fx.st);
    text = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);
    text = replace(text, "\"Lighthouse\"", "\"Lightheuse\"");
    ck_assert_int_eq(import_text(fx.st, text, 0, NULL, &err), QF_ERR_INVALID);
    ck_assert_int_eq(strncmp(err.message,
                             "line 2: checksum mismatch: the header says "
                             "sha256:",
                             50),
                     0);
    ck_assert_ptr_nonnull(strstr(err.message, "the export was changed or "
                                              "truncated, so export it again"));
    free(text);
    fixture_close(&fx);
}
END_TEST

START_TEST(field_errors_name_entity_and_line)
{
    state_fixture fx;
    qf_error err;
    char *text, expected[300];

    qf_error_init(&err);
    fixture_open(&fx, "fields");
    fixture_populate(fx.st);
    text = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);
    text = replace(text, "  status: \"hot-proposed\"",
                   "  state: \"hot-proposed\"");
    reseal(text);
    ck_assert_int_eq(import_text(fx.st, text, 0, NULL, &err), QF_ERR_INVALID);
    snprintf(expected, sizeof(expected),
             "trace unit TU-2026-12-05-LW02 (line %d): unknown field 'state'",
             line_of(text, "- id: \"TU-2026-12-05-LW02\""));
    ck_assert_str_eq(err.message, expected);
    free(text);
    fixture_close(&fx);
}
END_TEST

START_TEST(export_rejects_invalid_utf8)
{
    state_fixture fx;
    qf_error err;
    char *text = NULL;
    size_t len = 0;

    qf_error_init(&err);
    fixture_open(&fx, "utf8");
    fixture_populate(fx.st);
    /* Written behind the store's back: the API rejects such text. */
    ck_assert_int_eq(sqlite3_exec(qf_state_db(fx.st),
                                  "UPDATE trace_units SET owner = "
                                  "CAST(x'ff41' AS TEXT) WHERE id = "
                                  "'TU-2026-12-05-LW02'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(
        qf_state_export(fx.st, QF_STATE_INCLUDE_ALL, &text, &len, &err),
        QF_ERR_INVALID);
    ck_assert_ptr_null(text);
    ck_assert_str_eq(err.message, "trace unit row 2 holds text that is not "
                                  "valid UTF-8; fix the row before exporting");
    fixture_close(&fx);
}
END_TEST

START_TEST(import_file_prefixes_path)
{
    state_fixture fx;
    qf_error err;
    char *path;

    qf_error_init(&err);
    fixture_open(&fx, "file");
    path = qf_test_write_file(fx.dir, "bad.yml", "format_version: 9\n");
    ck_assert_int_eq(qf_state_import_file(fx.st, path, 0, NULL, &err),
                     QF_ERR_UNSUPPORTED);
    ck_assert_int_eq(strncmp(err.message, path, strlen(path)), 0);
    ck_assert_int_eq(
        qf_state_export_file(fx.st, QF_STATE_INCLUDE_ALL, path, &err), QF_OK);
    ck_assert_int_eq(qf_state_import_file(fx.st, path, 0, NULL, &err), QF_OK);
    free(path);
    fixture_close(&fx);
}
END_TEST

static Suite *state_export_suite(void)
{
    Suite *s = suite_create("state_export");
    TCase *tc = tcase_create("export");

    tcase_add_test(tc, export_checksum_covers_body);
    tcase_add_test(tc, roundtrip_is_byte_identical);
    tcase_add_test(tc, subset_export_and_import);
    tcase_add_test(tc, include_list_parsing);
    tcase_add_test(tc, import_rolls_back_bad_last_field);
    tcase_add_test(tc, import_rolls_back_duplicate_last_row);
    tcase_add_test(tc, import_rolls_back_duplicate_snapshot);
    tcase_add_test(tc, merge_reports_skipped);
    tcase_add_test(tc, malformed_yaml_names_line);
    tcase_add_test(tc, wrong_format_version);
    tcase_add_test(tc, bad_checksum_rejected);
    tcase_add_test(tc, field_errors_name_entity_and_line);
    tcase_add_test(tc, export_rejects_invalid_utf8);
    tcase_add_test(tc, import_file_prefixes_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(state_export_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
