/*
 * stream.c - response bodies written through a libmicrohttpd content
 * reader callback, which is where the stream faults live. A body is a list
 * of framed events, and the callback returns one event per call. With tiny
 * it returns 1 to 3 bytes per call, and batched joins the events into one.
 * For cut it returns MHD_CONTENT_READER_END_WITH_ERROR, which closes the
 * connection before the terminal event or the Content-Length bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

/* Events a cut or error-mid-stream stream sends before it stops. */
#define EVENTS_BEFORE_FAULT 2

struct stream_state {
    struct sim_list events; /* framed, sent in order */
    size_t index;           /* event being sent */
    size_t offset;          /* bytes of it already sent */
    bool tiny;              /* write 1 to 3 bytes per call */
    unsigned int pieces;    /* tiny pieces written so far */
    bool abort_at_end;      /* close the connection instead of ending */
};

int sim_list_push(struct sim_list *list, char *owned)
{
    char **grown;

    if (owned == NULL)
        return -1;
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;

        grown = realloc(list->items, cap * sizeof(*grown));
        if (grown == NULL) {
            free(owned);
            return -1;
        }
        list->items = grown;
        list->cap = cap;
    }
    list->items[list->count++] = owned;
    return 0;
}

/* Print `json` (taken) unformatted and push the text. */
int sim_list_push_json(struct sim_list *list, cJSON *json)
{
    char *text = json != NULL ? cJSON_PrintUnformatted(json) : NULL;

    cJSON_Delete(json);
    return sim_list_push(list, text);
}

void sim_list_free(struct sim_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

void sim_stream_plan_free(struct sim_stream_plan *plan)
{
    sim_list_free(&plan->content);
    sim_list_free(&plan->closing);
    free(plan->error_payload);
    plan->error_payload = NULL;
}

static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_state *state = cls;
    const char *event;
    size_t left, n;

    while (state->index < state->events.count &&
           state->events.items[state->index][0] == '\0')
        state->index++;
    if (state->index >= state->events.count)
        return state->abort_at_end ? MHD_CONTENT_READER_END_WITH_ERROR
                                   : MHD_CONTENT_READER_END_OF_STREAM;
    event = state->events.items[state->index];
    left = strlen(event) - state->offset;
    n = left < max ? left : max;
    if (state->tiny) {
        struct timespec pause = {0, 200 * 1000};
        size_t piece = 1 + state->pieces++ % 3;

        /* The pause makes each piece its own TCP segment on loopback. */
        n = n < piece ? n : piece;
        nanosleep(&pause, NULL);
    }

    memcpy(buf, event + state->offset, n);
    state->offset += n;
    if (state->offset == strlen(event)) {
        state->index++;
        state->offset = 0;
    }
    return (ssize_t)n;
}

static void free_state(void *cls)
{
    struct stream_state *state = cls;

    sim_list_free(&state->events);
    free(state);
}

/* Join every event into one, for the batched fault. */
static int join_events(struct sim_list *events)
{
    size_t total = 1, used = 0;
    char *joined;

    for (size_t i = 0; i < events->count; i++)
        total += strlen(events->items[i]);
    joined = malloc(total);
    if (joined == NULL)
        return -1;
    for (size_t i = 0; i < events->count; i++) {
        size_t len = strlen(events->items[i]);

        memcpy(joined + used, events->items[i], len);
        used += len;
    }
    joined[used] = '\0';
    sim_list_free(events);
    return sim_list_push(events, joined);
}

/* Queue a callback response over `state` (taken); size may be unknown. */
static enum MHD_Result queue_state(struct sim_request *req,
                                   struct stream_state *state, uint64_t size,
                                   const char *content_type)
{
    struct MHD_Response *response;
    enum MHD_Result result;

    if (req->fault == SIM_FAULT_TINY)
        state->tiny = true;
    response = MHD_create_response_from_callback(size, 4096, read_events, state,
                                                 free_state);
    if (response == NULL) {
        free_state(state);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            content_type);
    if (strcmp(content_type, "text/event-stream") == 0)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "no-cache");
    result = MHD_queue_response(req->conn, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return result;
}

/* Frame `payload`; malformed keeps only its first half, so no JSON parser
 * accepts it. */
static int push_framed(struct sim_list *events,
                       const struct sim_stream_plan *plan, const char *payload,
                       bool malformed)
{
    int len = (int)strlen(payload);

    if (malformed)
        len /= 2;
    return sim_list_push(events, sim_strdup_printf("%s%.*s%s", plan->prefix,
                                                   len, payload, plan->suffix));
}

static int frame_events(struct stream_state *state,
                        const struct sim_stream_plan *plan,
                        enum sim_fault fault)
{
    bool malformed = fault == SIM_FAULT_MALFORMED;
    bool stops_early =
        fault == SIM_FAULT_CUT || fault == SIM_FAULT_ERROR_MID_STREAM;
    size_t content = plan->content.count;
    int rc = 0;

    if (stops_early && content > EVENTS_BEFORE_FAULT)
        content = EVENTS_BEFORE_FAULT;
    for (size_t i = 0; i < content && rc == 0; i++)
        rc = push_framed(&state->events, plan, plan->content.items[i],
                         malformed);
    if (fault == SIM_FAULT_ERROR_MID_STREAM && rc == 0)
        return push_framed(&state->events, plan, plan->error_payload, false);
    if (stops_early)
        return rc;
    for (size_t i = 0; i < plan->closing.count && rc == 0; i++)
        rc = push_framed(&state->events, plan, plan->closing.items[i],
                         malformed);
    if (plan->trailer != NULL && rc == 0)
        rc = push_framed(&state->events, plan, plan->trailer, false);
    return rc;
}

/* Send a stream plan with the request's fault applied; frees the plan. */
enum MHD_Result sim_stream_respond(struct sim_request *req,
                                   struct sim_stream_plan *plan)
{
    struct stream_state *state = calloc(1, sizeof(*state));
    int rc;

    if (state == NULL) {
        sim_stream_plan_free(plan);
        return MHD_NO;
    }
    rc = frame_events(state, plan, req->fault);
    if (rc == 0 && req->fault == SIM_FAULT_BATCHED)
        rc = join_events(&state->events);
    state->abort_at_end = req->fault == SIM_FAULT_CUT;
    sim_stream_plan_free(plan);
    if (rc != 0) {
        free_state(state);
        return MHD_NO;
    }
    return queue_state(req, state, MHD_SIZE_UNKNOWN, plan->content_type);
}

/* Send `json` (taken) as a 200 body: malformed sends its first half, cut
 * announces the whole length and closes after half, tiny writes pieces. */
enum MHD_Result sim_body_respond(struct sim_request *req, cJSON *json)
{
    char *text = json != NULL ? cJSON_PrintUnformatted(json) : NULL;
    struct stream_state *state = calloc(1, sizeof(*state));
    size_t len = text != NULL ? strlen(text) : 0;
    uint64_t size = len;

    cJSON_Delete(json);
    if (text == NULL || state == NULL) {
        free(text);
        free(state);
        return MHD_NO;
    }
    if (req->fault == SIM_FAULT_MALFORMED || req->fault == SIM_FAULT_CUT)
        text[len / 2] = '\0';
    if (req->fault == SIM_FAULT_MALFORMED)
        size = len / 2;
    state->abort_at_end = req->fault == SIM_FAULT_CUT;
    if (sim_list_push(&state->events, text) != 0) {
        free_state(state);
        return MHD_NO;
    }
    return queue_state(req, state, size, "application/json");
}
