/*
 * fuzz_sse.c - libFuzzer target for the openai plugin's server-sent events
 * parser (plugins/openai/sse.c, compiled in). The input is parsed twice:
 * whole, and in pieces whose sizes come from its first byte. Both passes
 * must dispatch the same events with the same status, because a network
 * read may split the stream anywhere.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

#define MAX_EVENT 8192

/* FNV-1a over every event seen, in order. */
typedef struct digest {
    uint64_t hash;
    size_t events;
} digest;

static void mix(digest *d, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        d->hash = (d->hash ^ (unsigned char)text[i]) * 1099511628211ull;
    d->hash = (d->hash ^ 0x100) * 1099511628211ull;
}

static qf_status on_event(void *user, const qf_sse_event *event)
{
    digest *d = user;

    if (event->data[event->data_len] != '\0')
        abort(); /* data must be NUL-terminated at data_len */
    mix(d, event->event, strlen(event->event));
    mix(d, event->data, event->data_len);
    mix(d, event->id, strlen(event->id));
    d->events++;
    return QF_OK;
}

static qf_status parse(const uint8_t *data, size_t len, size_t step, digest *d)
{
    qf_sse_parser *parser = qf_sse_parser_create(MAX_EVENT);
    qf_status status = QF_OK;
    size_t n;

    memset(d, 0, sizeof(*d));
    d->hash = 1469598103934665603ull;
    if (parser == NULL)
        return QF_ERR_NOMEM;
    for (size_t at = 0; at < len && status == QF_OK; at += n) {
        n = len - at < step ? len - at : step;
        status =
            qf_sse_parser_feed(parser, (const char *)data + at, n, on_event, d);
    }
    if (status == QF_OK)
        status = qf_sse_parser_finish(parser, on_event, d);
    qf_sse_parser_destroy(parser);
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
    step = (size_t)(data[0] % 8) + 1;
    data++;
    len--;

    whole_status = parse(data, len, len ? len : 1, &whole);
    pieces_status = parse(data, len, step, &pieces);
    if (whole_status != pieces_status || whole.events != pieces.events ||
        whole.hash != pieces.hash)
        abort();
    return 0;
}
