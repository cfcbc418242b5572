/*
 * fuzz_ndjson.c - libFuzzer target for the ollama plugin's NDJSON reader
 * (plugins/ollama/ndjson.c, compiled in). The input is read whole and then
 * in pieces sized by its first byte; both reads must report the same
 * status, message and frames, and every frame must be a JSON object.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"

#define MAX_LINE 8192

typedef struct digest {
    uint64_t hash;
    size_t frames;
} digest;

static qf_status on_frame(void *user, const cJSON *frame)
{
    digest *d = user;
    char *text;

    if (!cJSON_IsObject(frame))
        abort(); /* the reader promises objects only */
    text = cJSON_PrintUnformatted(frame);
    if (text == NULL)
        return QF_ERR_NOMEM;
    for (size_t i = 0; text[i] != '\0'; i++)
        d->hash = (d->hash ^ (unsigned char)text[i]) * 1099511628211ull;
    d->hash = (d->hash ^ 0x100) * 1099511628211ull;
    d->frames++;
    cJSON_free(text);
    return QF_OK;
}

static qf_status read_input(const uint8_t *data, size_t len, size_t step,
                            digest *d, char *message, size_t message_size)
{
    qf_ndjson reader;
    qf_status status = QF_OK;
    size_t n;

    memset(d, 0, sizeof(*d));
    d->hash = 1469598103934665603ull;
    qf_ndjson_init(&reader, MAX_LINE, on_frame, d);
    for (size_t at = 0; at < len && status == QF_OK; at += n) {
        n = len - at < step ? len - at : step;
        status = qf_ndjson_feed(&reader, (const char *)data + at, n);
    }
    if (status == QF_OK)
        status = qf_ndjson_finish(&reader);
    snprintf(message, message_size, "%s", qf_ndjson_message(&reader));
    qf_ndjson_deinit(&reader);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    digest whole, pieces;
    char whole_message[512], pieces_message[512];
    qf_status whole_status, pieces_status;
    size_t step;

    if (len == 0)
        return 0;
    step = (size_t)(data[0] % 7) + 1;
    data++;
    len--;

    whole_status = read_input(data, len, len ? len : 1, &whole, whole_message,
                              sizeof(whole_message));
    pieces_status = read_input(data, len, step, &pieces, pieces_message,
                               sizeof(pieces_message));
    if (whole_status != pieces_status || whole.frames != pieces.frames ||
        whole.hash != pieces.hash || strcmp(whole_message, pieces_message) != 0)
        abort();
    return 0;
}
