/*
 * util.c - small helpers shared by the qf-sim endpoints: header lookup,
 * whole-body responses (JSON, text, API-shaped errors) and formatted
 * strings on the heap.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

const char *sim_header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* The header as a whole non-negative number, or `fallback`. */
long sim_header_long(struct MHD_Connection *conn, const char *name,
                     long fallback)
{
    const char *text = sim_header(conn, name);
    char *end;
    long value;

    if (text == NULL)
        return fallback;
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0)
        return fallback;
    return value;
}

char *sim_strdup_printf(const char *format, ...)
{
    va_list args;
    char *text;
    int rc;

    va_start(args, format);
    rc = vasprintf(&text, format, args);
    va_end(args);
    return rc < 0 ? NULL : text;
}

enum MHD_Result sim_respond_text(struct MHD_Connection *conn,
                                 unsigned int status, const char *content_type,
                                 const char *text)
{
    struct MHD_Response *response;
    enum MHD_Result result;

    response = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                               MHD_RESPMEM_MUST_COPY);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            content_type);
    result = MHD_queue_response(conn, status, response);
    MHD_destroy_response(response);
    return result;
}

/* Send `json` (taken, may be NULL after a failed build) as the body. */
enum MHD_Result sim_respond_json(struct MHD_Connection *conn,
                                 unsigned int status, cJSON *json)
{
    char *text = json != NULL ? cJSON_PrintUnformatted(json) : NULL;
    enum MHD_Result result;

    cJSON_Delete(json);
    if (text == NULL)
        return MHD_NO;
    result = sim_respond_text(conn, status, "application/json", text);
    free(text);
    return result;
}

/* OpenAI: {"error":{message,type,param,code}}; Ollama: {"error":message}. */
enum MHD_Result sim_respond_error(struct sim_request *req, unsigned int status,
                                  const char *type, const char *code,
                                  const char *message)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *error;

    if (req->api == SIM_API_OLLAMA) {
        cJSON_AddStringToObject(body, "error", message);
        return sim_respond_json(req->conn, status, body);
    }
    error = cJSON_AddObjectToObject(body, "error");
    cJSON_AddStringToObject(error, "message", message);
    cJSON_AddStringToObject(error, "type", type);
    cJSON_AddNullToObject(error, "param");
    cJSON_AddStringToObject(error, "code", code);
    return sim_respond_json(req->conn, status, body);
}
