/*
 * fuzz_cache_entry.c - libFuzzer target for the cache readers: the
 * file_cache entry parser (plugins/file_cache/fc_entry.c) and the cache
 * middleware's record parser (plugins/cache/cache_record.c), both compiled
 * in. The entry is parsed as given, then again with a correct checksum
 * written over bytes 8..40, so the fields behind the checksum are reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "cache_record.h"
#include "fc_entry.h"

static void sha256(const void *data, size_t len, uint8_t out[32])
{
    SHA256(data, len, out);
}

/* A parsed entry must describe bytes inside the buffer it came from. */
static void parse_entry(const uint8_t *buf, size_t len)
{
    qf_fc_entry entry;
    const char *reason = NULL;

    if (qf_fc_entry_parse(buf, len, NULL, sha256, &entry, &reason) != QF_OK) {
        if (reason == NULL)
            abort();
        return;
    }
    if (entry.value_len > len || entry.value < buf ||
        entry.value + entry.value_len > buf + len ||
        strlen(entry.key) != QF_FC_KEY_LEN)
        abort();
}

static void parse_record(const uint8_t *buf, size_t len)
{
    qf_cache_record rec;
    const char *reason = NULL;

    memset(&rec, 0, sizeof(rec));
    if (qf_cache_record_parse(buf, len, &rec, &reason) != QF_OK) {
        if (reason == NULL)
            abort();
    }
    for (size_t i = 0; i < rec.image_count; i++) {
        if (rec.images[i].bytes < buf ||
            rec.images[i].bytes + rec.images[i].len > buf + len)
            abort();
    }
    qf_cache_record_clear(&rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t *copy;

    parse_entry(data, len);
    parse_record(data, len);
    if (len < 40)
        return 0;

    copy = malloc(len);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, len);
    sha256(copy + 40, len - 40, copy + 8);
    parse_entry(copy, len);
    free(copy);
    return 0;
}
