/*
 * faults.c - fault selection and the faults that take effect before any
 * endpoint runs: 429 variants, 5xx, error bodies and delay. The stream faults
 * (malformed, cut, tiny, batched, error-mid-stream) only mark the request
 * here and take effect in stream.c. A per-name counter, shared by all
 * connections, lets a fault wear off after its first N requests.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static const char *const fault_names[SIM_FAULT_COUNT] = {
    [SIM_FAULT_NONE] = "none",
    [SIM_FAULT_429] = "429",
    [SIM_FAULT_429_DATE] = "429-date",
    [SIM_FAULT_429_MS] = "429-ms",
    [SIM_FAULT_500] = "500",
    [SIM_FAULT_503] = "503",
    [SIM_FAULT_DELAY] = "delay",
    [SIM_FAULT_MALFORMED] = "malformed",
    [SIM_FAULT_CUT] = "cut",
    [SIM_FAULT_TINY] = "tiny",
    [SIM_FAULT_BATCHED] = "batched",
    [SIM_FAULT_ERROR_MID_STREAM] = "error-mid-stream",
    [SIM_FAULT_ERROR_OPENAI] = "error-openai",
    [SIM_FAULT_ERROR_STRING] = "error-string",
    [SIM_FAULT_ERROR_OLLAMA] = "error-ollama",
    [SIM_FAULT_ERROR_HTML] = "error-html",
    [SIM_FAULT_401] = "401",
};

static long fault_hits[SIM_FAULT_COUNT];
static pthread_mutex_t hits_lock = PTHREAD_MUTEX_INITIALIZER;

static const char html_page[] =
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>502 Bad Gateway</h1><p>qf-sim error-html fault: the "
    "upstream answered with this page instead of JSON.</p></body></html>\n";

int sim_fault_parse(const char *name, enum sim_fault *out)
{
    for (int i = 0; i < SIM_FAULT_COUNT; i++) {
        if (strcmp(fault_names[i], name) == 0) {
            *out = (enum sim_fault)i;
            return 0;
        }
    }
    return -1;
}

const char *sim_fault_name(enum sim_fault fault)
{
    return fault_names[fault];
}

/* Count one more request carrying `fault`; true while it still applies. */
static bool fault_still_applies(enum sim_fault fault, long times)
{
    long hits;

    pthread_mutex_lock(&hits_lock);
    hits = ++fault_hits[fault];
    pthread_mutex_unlock(&hits_lock);
    return times == 0 || hits <= times;
}

/* Set req->fault from X-QF-Sim-Fault or --fault; -1 on an unknown name. */
int sim_fault_select(struct sim_request *req)
{
    const char *name = sim_header(req->conn, "X-QF-Sim-Fault");
    enum sim_fault fault = sim_config->fault;
    long times;

    req->fault = SIM_FAULT_NONE;
    if (name != NULL && sim_fault_parse(name, &fault) != 0)
        return -1;
    if (fault == SIM_FAULT_NONE)
        return 0;

    times = sim_header_long(req->conn, "X-QF-Sim-Fault-Times",
                            sim_config->fault_times);
    if (fault_still_applies(fault, times))
        req->fault = fault;
    return 0;
}

/* Sleep in short slices so a stopping server does not wait out a delay. */
void sim_sleep_ms(long ms)
{
    struct timespec slice = {0, 10 * 1000 * 1000};

    for (long waited = 0; waited < ms && !sim_server_stopping(); waited += 10) {
        if (ms - waited < 10)
            slice.tv_nsec = (ms - waited) * 1000 * 1000;
        nanosleep(&slice, NULL);
    }
}

static enum MHD_Result respond_with_header(struct sim_request *req,
                                           const char *header,
                                           const char *value)
{
    const char *message = "Rate limit reached for requests (qf-sim 429 "
                          "fault). Retry after the time the server sent.";
    char *body;
    struct MHD_Response *response;
    enum MHD_Result result;

    if (req->api == SIM_API_OLLAMA)
        body = sim_strdup_printf("{\"error\":\"%s\"}", message);
    else
        body = sim_strdup_printf(
            "{\"error\":{\"message\":\"%s\",\"type\":\"requests\","
            "\"param\":null,\"code\":\"rate_limit_exceeded\"}}",
            message);
    if (body == NULL)
        return MHD_NO;
    response = MHD_create_response_from_buffer(strlen(body), body,
                                               MHD_RESPMEM_MUST_FREE);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    MHD_add_response_header(response, header, value);
    result =
        MHD_queue_response(req->conn, MHD_HTTP_TOO_MANY_REQUESTS, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result respond_429(struct sim_request *req)
{
    long seconds = sim_header_long(req->conn, "X-QF-Sim-Retry-After", 1);
    long ms = sim_header_long(req->conn, "X-QF-Sim-Retry-After", 1000);
    char value[64];
    struct tm when;
    time_t at;

    if (req->fault == SIM_FAULT_429_MS) {
        snprintf(value, sizeof(value), "%ld", ms);
        return respond_with_header(req, "retry-after-ms", value);
    }
    if (req->fault == SIM_FAULT_429) {
        snprintf(value, sizeof(value), "%ld", seconds);
        return respond_with_header(req, MHD_HTTP_HEADER_RETRY_AFTER, value);
    }
    at = time(NULL) + seconds;
    gmtime_r(&at, &when);
    strftime(value, sizeof(value), "%a, %d %b %Y %H:%M:%S GMT", &when);
    return respond_with_header(req, MHD_HTTP_HEADER_RETRY_AFTER, value);
}

/* The error-* and 401 faults, whose body shape is fixed by the fault. */
static enum MHD_Result respond_error_fault(struct sim_request *req)
{
    switch (req->fault) {
    case SIM_FAULT_ERROR_OPENAI:
        req->api = SIM_API_OPENAI;
        return sim_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                 "invalid_request_error", "sim_error_openai",
                                 "qf-sim error-openai fault: the request "
                                 "was rejected");
    case SIM_FAULT_ERROR_STRING:
        return sim_respond_text(req->conn, MHD_HTTP_BAD_REQUEST,
                                "application/json",
                                "{\"error\":\"a bare string\"}");
    case SIM_FAULT_ERROR_OLLAMA:
        req->api = SIM_API_OLLAMA;
        return sim_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                 NULL,
                                 "qf-sim error-ollama fault: the model "
                                 "runner stopped unexpectedly");
    case SIM_FAULT_ERROR_HTML:
        return sim_respond_text(req->conn, MHD_HTTP_BAD_GATEWAY, "text/html",
                                html_page);
    default:
        req->api = SIM_API_OPENAI;
        return sim_respond_error(req, MHD_HTTP_UNAUTHORIZED,
                                 "invalid_request_error", "invalid_api_key",
                                 "Incorrect API key provided (qf-sim 401 "
                                 "fault).");
    }
}

/* Send the response of a fault that replaces the reply; false lets the
 * endpoint run. */
bool sim_fault_respond(struct sim_request *req, enum MHD_Result *result)
{
    switch (req->fault) {
    case SIM_FAULT_429:
    case SIM_FAULT_429_DATE:
    case SIM_FAULT_429_MS: *result = respond_429(req); return true;
    case SIM_FAULT_500:
        *result = sim_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                    "server_error", "sim_500",
                                    "qf-sim 500 fault: internal server error");
        return true;
    case SIM_FAULT_503:
        *result = sim_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                                    "server_error", "sim_503",
                                    "qf-sim 503 fault: the server is "
                                    "overloaded, retry later");
        return true;
    case SIM_FAULT_DELAY:
        sim_sleep_ms(sim_header_long(req->conn, "X-QF-Sim-Delay-Ms",
                                     sim_config->delay_ms));
        return false;
    case SIM_FAULT_ERROR_OPENAI:
    case SIM_FAULT_ERROR_STRING:
    case SIM_FAULT_ERROR_OLLAMA:
    case SIM_FAULT_ERROR_HTML:
    case SIM_FAULT_401: *result = respond_error_fault(req); return true;
    default: return false;
    }
}
