/*
 * simhttp.c - the libcurl client behind the qf-sim suites. Each write
 * callback appends to the body and counts one piece, so the tiny fault's
 * piecewise delivery is visible to a test.
 */
#include "simhttp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct growing {
    char **data;
    size_t *len;
    int *calls;
};

static size_t append(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct growing *target = userdata;
    size_t n = size * nmemb;
    char *grown = realloc(*target->data, *target->len + n + 1);

    if (grown == NULL)
        return 0;
    memcpy(grown + *target->len, ptr, n);
    *target->len += n;
    grown[*target->len] = '\0';
    *target->data = grown;
    if (target->calls != NULL)
        (*target->calls)++;
    return n;
}

static struct curl_slist *header_list(const char *const headers[])
{
    struct curl_slist *list = NULL;

    /* An empty Expect keeps curl from waiting for 100-continue. */
    list = curl_slist_append(list, "Expect:");
    list = curl_slist_append(list, "Content-Type: application/json");
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    return list;
}

void sim_http_send(CURL *curl, const qf_test_sim *sim, const char *method,
                   const char *path, const char *const headers[],
                   const char *body, struct sim_http *out)
{
    CURL *handle = curl != NULL ? curl : curl_easy_init();
    struct growing body_sink = {&out->body, &out->body_len, &out->writes};
    struct growing header_sink = {&out->headers, &out->headers_len, NULL};
    struct curl_slist *list = header_list(headers);
    char url[256];

    memset(out, 0, sizeof(*out));
    out->body = calloc(1, 1);
    out->headers = calloc(1, 1);
    snprintf(url, sizeof(url), "%s%s", sim->base_url, path);

    curl_easy_setopt(handle, CURLOPT_URL, url);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body_sink);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, append);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &header_sink);
    curl_easy_setopt(handle, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    if (body != NULL)
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body);
    else
        curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    /* A reused handle keeps its options, so always set or clear this. */
    curl_easy_setopt(
        handle, CURLOPT_CUSTOMREQUEST,
        strcmp(method, body != NULL ? "POST" : "GET") == 0 ? NULL : method);

    out->code = curl_easy_perform(handle);
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    if (curl == NULL)
        curl_easy_cleanup(handle);
}

char *sim_http_header(const struct sim_http *res, const char *name)
{
    size_t name_len = strlen(name);
    const char *line = res->headers;

    while (line != NULL && *line != '\0') {
        const char *end = strstr(line, "\r\n");
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);

        if (len > name_len && line[name_len] == ':' &&
            strncasecmp(line, name, name_len) == 0) {
            const char *value = line + name_len + 1;

            while (*value == ' ')
                value++;
            return strndup(value, len - (size_t)(value - line));
        }
        line = end != NULL ? end + 2 : NULL;
    }
    return NULL;
}

void sim_http_free(struct sim_http *res)
{
    free(res->body);
    free(res->headers);
    memset(res, 0, sizeof(*res));
}
