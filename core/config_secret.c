/*
 * config_secret.c - finding and redacting secrets by content and place:
 * the userinfo of URLs inside string values, and the values of `headers`
 * maps. A URL is any "scheme://" with a scheme of letters, digits, '+',
 * '-' and '.', and its userinfo is what comes before an '@' (see
 * config_secret.h for where the userinfo ends).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "config_secret.h"

/* True when "://" at `sep` follows a URL scheme that starts at text. */
static int follows_scheme(const char *text, const char *sep)
{
    const char *start = sep;

    while (start > text &&
           (isalnum((unsigned char)start[-1]) || start[-1] == '+' ||
            start[-1] == '-' || start[-1] == '.'))
        start--;
    return start < sep && isalpha((unsigned char)*start);
}

/* Length of the userinfo that starts at `auth` (just past "://"), up to
 * and without its '@', or -1 when the URL has none. */
static long userinfo_length(const char *auth)
{
    const char *at = NULL;
    const char *next_url = strstr(auth, "://");

    for (const char *p = auth; *p != '\0' && !isspace((unsigned char)*p); p++) {
        if (next_url != NULL && p >= next_url)
            break;
        if (*p == '@')
            at = p;
    }
    return at != NULL ? (long)(at - auth) : -1;
}

/* The next URL with userinfo at or after `from`: sets *auth to the start
 * of its userinfo and returns the userinfo's length, or -1 when none. */
static long next_userinfo(const char *text, const char *from, const char **auth)
{
    for (const char *sep = strstr(from, "://"); sep != NULL;
         sep = strstr(sep + 3, "://")) {
        long len;

        if (!follows_scheme(text, sep))
            continue;
        len = userinfo_length(sep + 3);
        if (len >= 0) {
            *auth = sep + 3;
            return len;
        }
    }
    return -1;
}

int qf_config_has_url_userinfo(const char *text)
{
    const char *auth = NULL;

    return text != NULL && next_userinfo(text, text, &auth) >= 0;
}

char *qf_config_redact_urls(const char *text)
{
    size_t len = strlen(text), used = 0;
    /* A URL with userinfo takes at least 5 bytes (x://@) and grows by
     * at most 3 (the stars), so twice the length is always enough. */
    char *out = malloc(2 * len + 4);
    const char *from = text, *auth = NULL;
    long info;

    if (out == NULL)
        return NULL;
    while ((info = next_userinfo(text, from, &auth)) >= 0) {
        memcpy(out + used, from, (size_t)(auth - from));
        used += (size_t)(auth - from);
        memcpy(out + used, "***", 3);
        used += 3;
        from = auth + info;
    }
    memcpy(out + used, from, strlen(from) + 1);
    return out;
}

int qf_cnode_in_headers(const qf_cnode *node)
{
    const char *path = node != NULL ? node->key_path : NULL;

    if (path == NULL)
        return 0;
    for (const char *p = strstr(path, "headers."); p != NULL;
         p = strstr(p + 1, "headers.")) {
        if (p == path || p[-1] == '.')
            return 1;
    }
    return 0;
}
