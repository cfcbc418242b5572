/*
 * serve_settings.c - the `gateway:` block of the configuration: listen
 * address, limits and the access log path, with their defaults. Keys are
 * read by serve_auth.c. Values go through the configuration's typed reads,
 * so ${VAR} works and errors carry FILE:LINE:COLUMN.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve_internal.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"

int64_t serve_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int serve_host_is_loopback(const char *host)
{
    struct in_addr addr;

    if (inet_pton(AF_INET, host, &addr) != 1)
        return 0;
    return (ntohl(addr.s_addr) >> 24) == 127;
}

/* NOTE: IPv4 only; an IPv6 address such as [::1]:8080 is rejected. */
qf_status serve_listen_parse(const char *text, serve_settings *out,
                             qf_error *err)
{
    const char *colon = strrchr(text, ':');
    struct in_addr addr;
    char *end = NULL;
    long port;

    if (colon == NULL || colon == text ||
        (size_t)(colon - text) >= sizeof(out->host))
        goto bad;
    memcpy(out->host, text, (size_t)(colon - text));
    out->host[colon - text] = '\0';
    if (strcmp(out->host, "localhost") == 0)
        snprintf(out->host, sizeof(out->host), "127.0.0.1");
    if (inet_pton(AF_INET, out->host, &addr) != 1)
        goto bad;
    port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
        goto bad;
    out->port = (int)port;
    return QF_OK;

bad:
    return qf_error_set(err, QF_ERR_CONFIG,
                        "listen address \"%s\" is invalid; expected IPV4:PORT "
                        "such as 127.0.0.1:8080 (port 0 picks a free one)",
                        text);
}

/* An integer of the gateway block that must be positive, or its default. */
static qf_status read_positive(const qf_cnode *block, const char *key,
                               int64_t fallback, int64_t *out, qf_error *err)
{
    const qf_cnode *node = qf_cnode_get(block, key);

    *out = fallback;
    if (node == NULL)
        return QF_OK;
    if (qf_cnode_int(node, out, err) != QF_OK)
        return err->status;
    if (*out <= 0)
        return qf_error_set(err, QF_ERR_CONFIG,
                            "%s:%d:%d: gateway.%s: %lld is not positive; "
                            "expected a whole number above 0",
                            qf_cnode_file(node), qf_cnode_line(node),
                            qf_cnode_column(node), key, (long long)*out);
    return QF_OK;
}

static qf_status read_listen(const qf_cnode *block, serve_settings *out,
                             qf_error *err)
{
    const qf_cnode *node = qf_cnode_get(block, "listen");
    char *text = NULL;
    qf_status status;

    if (node == NULL)
        return serve_listen_parse(DEFAULT_LISTEN, out, err);
    if (qf_cnode_string(node, &text, err) != QF_OK)
        return err->status;
    status = serve_listen_parse(text, out, err);
    if (status != QF_OK)
        qf_error_prefix(err, "%s:%d:%d: gateway.listen", qf_cnode_file(node),
                        qf_cnode_line(node), qf_cnode_column(node));
    free(text);
    return status;
}

qf_status serve_settings_parse(const qf_config *cfg, serve_settings *out,
                               qf_error *err)
{
    const qf_cnode *block = qf_cnode_get(qf_config_root(cfg), "gateway");
    const qf_cnode *log_path;
    qf_status status;

    memset(out, 0, sizeof(*out));
    if (block != NULL && qf_cnode_type_of(block) != QF_CNODE_MAP)
        return qf_error_set(err, QF_ERR_CONFIG,
                            "%s:%d:%d: gateway: is %s; expected a map with "
                            "listen, keys, max_body_bytes and the other "
                            "gateway settings",
                            qf_cnode_file(block), qf_cnode_line(block),
                            qf_cnode_column(block), "not a map");
    status = read_listen(block, out, err);
    if (status == QF_OK)
        status = read_positive(block, "max_body_bytes", 1048576,
                               &out->max_body_bytes, err);
    if (status == QF_OK)
        status = read_positive(block, "header_timeout_seconds", 10,
                               &out->header_timeout_seconds, err);
    if (status == QF_OK)
        status = read_positive(block, "request_timeout_seconds", 300,
                               &out->request_timeout_seconds, err);
    if (status == QF_OK)
        status = read_positive(block, "max_connections", 256,
                               &out->max_connections, err);

    log_path = qf_cnode_get(block, "access_log");
    if (status == QF_OK && log_path != NULL)
        status = qf_cnode_string(log_path, &out->access_log, err);
    return status;
}

void serve_settings_clear(serve_settings *settings)
{
    free(settings->access_log);
    settings->access_log = NULL;
}
