/*
 * fuzz_state_import.c - libFuzzer target for the state importer's parser,
 * qf_state_doc_parse, which reads an export document from bytes and checks
 * its format version, checksum and field values without a database. Each
 * input is parsed as given, then again with its line-2 checksum replaced by
 * the SHA-256 of the bytes after line 2, so the sections behind the checksum
 * check are reached.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "error.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void parse(const uint8_t *data, size_t len)
{
    qf_state_doc *doc;
    qf_error err;

    qf_error_init(&err);
    doc = qf_state_doc_parse(data, len, &err);
    if (doc == NULL && err.message[0] == '\0')
        abort(); /* every rejection must come with a message */
    qf_state_doc_free(doc);
}

/* Offset just past the second '\n', or 0 when there is none. */
static size_t body_offset(const uint8_t *data, size_t len)
{
    int lines = 0;

    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' && ++lines == 2)
            return i + 1;
    }
    return 0;
}

/* Write the true checksum over the 64 characters after "sha256:" when they
 * sit before the end of line 2; returns 1 when it did. */
static int fix_checksum(uint8_t *data, size_t len)
{
    size_t body = body_offset(data, len);
    uint8_t digest[SHA256_DIGEST_LENGTH];
    char hex[65];
    uint8_t *at;

    if (body == 0)
        return 0;
    at = memmem(data, body, "sha256:", 7);
    if (at == NULL || (size_t)(at - data) + 7 + 64 >= body)
        return 0;
    SHA256(data + body, len - body, digest);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    memcpy(at + 7, hex, 64);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t *copy;

    parse(data, len);

    copy = malloc(len ? len : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, len);
    if (fix_checksum(copy, len))
        parse(copy, len);
    free(copy);
    return 0;
}
