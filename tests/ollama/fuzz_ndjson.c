/*
 * fuzz_ndjson.c - libFuzzer target for the ollama plugin's NDJSON reader.
 * The input is read twice: whole, and in pieces whose sizes come from the
 * first byte. Both reads must give the same status and the same frames,
 * which checks that read boundaries never change what the reader sees.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"

#define MAX_LINE 4096

/* A hash of every frame seen, in order: equal hashes mean equal frames. */
typedef struct digest {
    uint64_t hash;
    size_t frames;
} digest;

static qf_status fold(void *user, const cJSON *frame)
{
    digest *d = user;
    char *text = cJSON_PrintUnformatted(frame);
    size_t i;

    if (text == NULL)
        return QF_ERR_NOMEM;
    for (i = 0; text[i] != '\0'; i++)
        d->hash = (d->hash ^ (unsigned char)text[i]) * 1099511628211ull;
    d->hash = (d->hash ^ 0xff) * 1099511628211ull;
    d->frames++;
    cJSON_free(text);
    return QF_OK;
}

static qf_status read_all(const uint8_t *data, size_t len, size_t step,
                          digest *d)
{
    qf_ndjson reader;
    qf_status status = QF_OK;
    size_t at, n;

    memset(d, 0, sizeof(*d));
    d->hash = 1469598103934665603ull;
    qf_ndjson_init(&reader, MAX_LINE, fold, d);
    for (at = 0; at < len && status == QF_OK; at += n) {
        n = len - at < step ? len - at : step;
        status = qf_ndjson_feed(&reader, (const char *)data + at, n);
    }
    if (status == QF_OK)
        status = qf_ndjson_finish(&reader);
    qf_ndjson_deinit(&reader);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    digest whole, pieces;
    qf_status whole_status, pieces_status;
    size_t step;

    if (len == 0)
        return 0;
    step = (size_t)(data[0] % 16) + 1;
    data++;
    len--;

    whole_status = read_all(data, len, len ? len : 1, &whole);
    pieces_status = read_all(data, len, step, &pieces);
    if (whole_status != pieces_status || whole.frames != pieces.frames ||
        whole.hash != pieces.hash)
        abort();
    return 0;
}
