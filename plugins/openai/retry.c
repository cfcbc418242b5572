/*
 * retry.c - how long to wait before a retry: the exponential backoff bound
 * and the wait a server requests with Retry-After (delta seconds or an HTTP
 * date) or retry-after-ms. The caller draws the jitter and applies the cap.
 */
#include "openai_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Parse a non-negative decimal number (fraction allowed) into
 * milliseconds; returns -1 when `text` is not one. */
static int64_t parse_number_ms(const char *text, double scale)
{
    char *end = NULL;

    while (*text == ' ' || *text == '\t')
        text++;
    if (*text < '0' || *text > '9')
        return -1;

    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text)
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0')
        return -1;

    double ms = value * scale;
    if (ms > 1e15)
        ms = 1e15;
    return (int64_t)(ms + 0.999); /* a partial millisecond counts as one */
}

int64_t qf_openai_retry_after_parse(const char *retry_after,
                                    const char *retry_after_ms, int64_t now_ms)
{
    int64_t from_seconds = -1;
    int64_t from_ms = -1;

    if (retry_after) {
        from_seconds = parse_number_ms(retry_after, 1000.0);
        if (from_seconds < 0) {
            time_t when = curl_getdate(retry_after, NULL);
            if (when != (time_t)-1) {
                int64_t delta = (int64_t)when * 1000 - now_ms;
                from_seconds = delta > 0 ? delta : 0;
            }
        }
    }
    if (retry_after_ms)
        from_ms = parse_number_ms(retry_after_ms, 1.0);

    return from_seconds > from_ms ? from_seconds : from_ms;
}

int64_t qf_openai_backoff_bound_ms(int retry)
{
    const int64_t limit = INT64_C(1) << 40; /* about 35 years */
    int64_t bound = QF_OPENAI_BACKOFF_BASE_MS;

    for (int i = 1; i < retry && bound < limit; i++)
        bound *= 2;
    return bound < limit ? bound : limit;
}
