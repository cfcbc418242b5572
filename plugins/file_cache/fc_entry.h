/*
 * fc_entry.h - the on-disk format of one file_cache entry.
 *
 * Layout, integers little-endian:
 *   0   magic "QFCE"                 4 bytes
 *   4   format version (1)           u16
 *   6   header size (128)            u16
 *   8   SHA-256 of bytes 40..end     32 bytes
 *   40  created, ms since the epoch  i64
 *   48  expires, ms since the epoch  i64 (0: never)
 *   56  value length                 u64
 *   64  key, 64 lowercase hex chars  64 bytes
 *   128 value
 * The checksum covers everything after itself, so a truncated, extended or
 * flipped file fails the check. Both functions are pure: no I/O, no globals.
 */
#ifndef QF_FC_ENTRY_H
#define QF_FC_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "qf/abi.h"

#define QF_FC_ENTRY_VERSION 1
#define QF_FC_HEADER_SIZE   128
#define QF_FC_KEY_LEN       64

/* SHA-256 of one buffer, as host->sha256 computes it. */
typedef void (*qf_fc_sha256_fn)(const void *data, size_t len, uint8_t out[32]);

/* One parsed entry. `value` points into the buffer given to the parser. */
typedef struct qf_fc_entry {
    uint32_t version;
    int64_t created_ms;
    int64_t expires_ms; /* 0 when the entry never expires */
    char key[QF_FC_KEY_LEN + 1];
    const uint8_t *value;
    size_t value_len;
} qf_fc_entry;

/* Size of the file holding a value of `value_len` bytes. */
size_t qf_fc_entry_size(size_t value_len);

/*
 * Write an entry into `out`, which has room for qf_fc_entry_size(value_len)
 * bytes. `key` is 64 hex characters. Returns QF_ERR_INVALID for a key of
 * another length.
 */
qf_status qf_fc_entry_write(uint8_t *out, const char *key, int64_t created_ms,
                            int64_t expires_ms, const void *value,
                            size_t value_len, qf_fc_sha256_fn sha256);

/*
 * Parse `len` bytes of an entry file into *out. `expected_key` (may be
 * NULL) must equal the stored key. Returns QF_OK, or QF_ERR_PROTOCOL with a
 * static description in *reason ("truncated", "checksum mismatch", ...).
 * Any byte string is a valid input: nothing is read past `len`.
 */
qf_status qf_fc_entry_parse(const uint8_t *buf, size_t len,
                            const char *expected_key, qf_fc_sha256_fn sha256,
                            qf_fc_entry *out, const char **reason);

#endif /* QF_FC_ENTRY_H */
