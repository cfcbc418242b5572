/*
 * fc_entry.c - encoding and parsing of one file_cache entry file.
 *
 * A fixed 128-byte header (magic, version, checksum, times, length, key)
 * precedes the value; see fc_entry.h for the layout. Parsing checks every
 * field against the buffer length before reading it, then the checksum.
 */
#include <string.h>

#include "fc_entry.h"

#define OFF_VERSION     4
#define OFF_HEADER_SIZE 6
#define OFF_CHECKSUM    8
#define OFF_CREATED     40
#define OFF_EXPIRES     48
#define OFF_LENGTH      56
#define OFF_KEY         64

static const uint8_t magic[4] = {'Q', 'F', 'C', 'E'};

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int key_is_valid(const char *key, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = key[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

size_t qf_fc_entry_size(size_t value_len)
{
    return QF_FC_HEADER_SIZE + value_len;
}

qf_status qf_fc_entry_write(uint8_t *out, const char *key, int64_t created_ms,
                            int64_t expires_ms, const void *value,
                            size_t value_len, qf_fc_sha256_fn sha256)
{
    size_t total = qf_fc_entry_size(value_len);

    if (key == NULL || strlen(key) != QF_FC_KEY_LEN ||
        !key_is_valid(key, QF_FC_KEY_LEN))
        return QF_ERR_INVALID;

    memset(out, 0, QF_FC_HEADER_SIZE);
    memcpy(out, magic, sizeof(magic));
    put_u16(out + OFF_VERSION, QF_FC_ENTRY_VERSION);
    put_u16(out + OFF_HEADER_SIZE, QF_FC_HEADER_SIZE);
    put_u64(out + OFF_CREATED, (uint64_t)created_ms);
    put_u64(out + OFF_EXPIRES, (uint64_t)expires_ms);
    put_u64(out + OFF_LENGTH, (uint64_t)value_len);
    memcpy(out + OFF_KEY, key, QF_FC_KEY_LEN);
    if (value_len > 0)
        memcpy(out + QF_FC_HEADER_SIZE, value, value_len);

    sha256(out + OFF_CREATED, total - OFF_CREATED, out + OFF_CHECKSUM);
    return QF_OK;
}

/* Check the fixed header fields; the checksum is checked by the caller. */
static const char *check_header(const uint8_t *buf, size_t len,
                                uint64_t *value_len)
{
    if (len < QF_FC_HEADER_SIZE)
        return "truncated header";
    if (memcmp(buf, magic, sizeof(magic)) != 0)
        return "bad magic";
    if (get_u16(buf + OFF_VERSION) != QF_FC_ENTRY_VERSION)
        return "unsupported format version";
    if (get_u16(buf + OFF_HEADER_SIZE) != QF_FC_HEADER_SIZE)
        return "unexpected header size";

    *value_len = get_u64(buf + OFF_LENGTH);
    if (*value_len != (uint64_t)(len - QF_FC_HEADER_SIZE))
        return *value_len > (uint64_t)(len - QF_FC_HEADER_SIZE)
                   ? "truncated value"
                   : "trailing bytes after the value";
    if (!key_is_valid((const char *)buf + OFF_KEY, QF_FC_KEY_LEN))
        return "invalid key";
    return NULL;
}

qf_status qf_fc_entry_parse(const uint8_t *buf, size_t len,
                            const char *expected_key, qf_fc_sha256_fn sha256,
                            qf_fc_entry *out, const char **reason)
{
    uint64_t value_len = 0;
    uint8_t digest[32];
    const char *problem;

    problem = check_header(buf, len, &value_len);
    if (problem != NULL)
        goto fail;

    sha256(buf + OFF_CREATED, len - OFF_CREATED, digest);
    if (memcmp(digest, buf + OFF_CHECKSUM, sizeof(digest)) != 0) {
        problem = "checksum mismatch";
        goto fail;
    }
    if (expected_key != NULL &&
        memcmp(expected_key, buf + OFF_KEY, QF_FC_KEY_LEN) != 0) {
        problem = "key mismatch";
        goto fail;
    }

    out->version = QF_FC_ENTRY_VERSION;
    out->created_ms = (int64_t)get_u64(buf + OFF_CREATED);
    out->expires_ms = (int64_t)get_u64(buf + OFF_EXPIRES);
    memcpy(out->key, buf + OFF_KEY, QF_FC_KEY_LEN);
    out->key[QF_FC_KEY_LEN] = '\0';
    out->value = buf + QF_FC_HEADER_SIZE;
    out->value_len = (size_t)value_len;
    return QF_OK;

fail:
    if (reason != NULL)
        *reason = problem;
    return QF_ERR_PROTOCOL;
}
