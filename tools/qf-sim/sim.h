/*
 * sim.h - the pieces of qf-sim, the local OpenAI and Ollama simulator, and
 * the types they pass between them. Every function runs on the connection
 * thread of the request it serves, unless its comment names another.
 */
#ifndef QF_SIM_H
#define QF_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

/* Faults, in the order of sim_fault_names in faults.c. */
enum sim_fault {
    SIM_FAULT_NONE,
    SIM_FAULT_429,
    SIM_FAULT_429_DATE,
    SIM_FAULT_429_MS,
    SIM_FAULT_500,
    SIM_FAULT_503,
    SIM_FAULT_DELAY,
    SIM_FAULT_MALFORMED,
    SIM_FAULT_CUT,
    SIM_FAULT_TINY,
    SIM_FAULT_BATCHED,
    SIM_FAULT_ERROR_MID_STREAM,
    SIM_FAULT_ERROR_OPENAI,
    SIM_FAULT_ERROR_STRING,
    SIM_FAULT_ERROR_OLLAMA,
    SIM_FAULT_ERROR_HTML,
    SIM_FAULT_401,
    SIM_FAULT_COUNT
};

/* Which API family a path belongs to; it decides the error body shape. */
enum sim_api { SIM_API_OPENAI, SIM_API_OLLAMA };

/* Server settings from the command line; read-only once serving starts. */
struct sim_config {
    int port;
    const char *key;      /* bearer key for /v1/ paths, or NULL */
    const char *log_path; /* request log, or NULL */
    enum sim_fault fault; /* fault for every request without the header */
    long fault_times;     /* 0: the fault never wears off */
    long delay_ms;        /* default for the delay fault */
};

/* One HTTP request, from its first byte until its response is sent. */
struct sim_request {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    char *body; /* upload bytes, NUL-terminated, malloc'd */
    size_t body_len;
    size_t body_cap;
    bool too_large; /* the body passed SIM_MAX_BODY and was dropped */
    cJSON *json;    /* parsed body, or NULL */
    enum sim_api api;
    enum sim_fault fault; /* the fault applied to this request */
};

#define SIM_MAX_BODY (8u * 1024u * 1024u)

/* Fixed timestamps keep every reply byte-for-byte reproducible. */
#define SIM_CREATED       1735689600L
#define SIM_CREATED_AT    "2025-01-01T00:00:00Z"
#define SIM_COMPLETION_ID "chatcmpl-qfsim"

extern const struct sim_config *sim_config;

/* server.c */
struct MHD_Daemon *sim_server_start(const struct sim_config *config,
                                    int *bound_port);
void sim_server_request_stop(void);
bool sim_server_stopping(void);

/* log.c: the --log request log; safe from any thread. */
int sim_log_open(const char *path);
void sim_log_request(const struct sim_request *req);
void sim_log_close(void);

/* faults.c */
int sim_fault_parse(const char *name, enum sim_fault *out);
const char *sim_fault_name(enum sim_fault fault);
int sim_fault_select(struct sim_request *req);
bool sim_fault_respond(struct sim_request *req, enum MHD_Result *result);
void sim_sleep_ms(long ms);

/* util.c: headers and plain responses */
long sim_header_long(struct MHD_Connection *conn, const char *name,
                     long fallback);
const char *sim_header(struct MHD_Connection *conn, const char *name);
enum MHD_Result sim_respond_text(struct MHD_Connection *conn,
                                 unsigned int status, const char *content_type,
                                 const char *text);
enum MHD_Result sim_respond_json(struct MHD_Connection *conn,
                                 unsigned int status, cJSON *json);
enum MHD_Result sim_respond_error(struct sim_request *req, unsigned int status,
                                  const char *type, const char *code,
                                  const char *message);
char *sim_strdup_printf(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/* reply.c: the deterministic reply and usage rules */
struct sim_reply {
    char **words; /* the words sent, malloc'd */
    size_t word_count;
    char *text;                /* the words joined by single spaces */
    const char *finish_reason; /* "stop" or "length" */
    long prompt_tokens;
    long completion_tokens;
    long cached_tokens; /* -1 when X-QF-Sim-Cached-Tokens is absent */
    bool usage;         /* false with X-QF-Sim-No-Usage: 1 */
};

int sim_reply_from_messages(struct sim_reply *reply, const cJSON *messages,
                            long cap);
int sim_reply_from_prompt(struct sim_reply *reply, const char *system,
                          const char *prompt, long cap);
void sim_reply_apply_headers(struct sim_reply *reply,
                             struct MHD_Connection *conn);
char *sim_reply_word_piece(const struct sim_reply *reply, size_t index);
void sim_reply_free(struct sim_reply *reply);

/* stream.c: response bodies written by a callback, with the stream faults */
struct sim_list {
    char **items;
    size_t count;
    size_t cap;
};

int sim_list_push(struct sim_list *list, char *owned);
int sim_list_push_json(struct sim_list *list, cJSON *json);
void sim_list_free(struct sim_list *list);

/* A stream before framing: payloads become "PREFIX payload SUFFIX". */
struct sim_stream_plan {
    const char *content_type;
    const char *prefix;
    const char *suffix;
    struct sim_list content; /* one payload per word */
    struct sim_list closing; /* finish, usage and done payloads */
    char *error_payload;     /* sent by error-mid-stream */
    const char *trailer;     /* "[DONE]" or NULL; never made malformed */
};

enum MHD_Result sim_stream_respond(struct sim_request *req,
                                   struct sim_stream_plan *plan);
void sim_stream_plan_free(struct sim_stream_plan *plan);
enum MHD_Result sim_body_respond(struct sim_request *req, cJSON *json);

/* openai.c, ollama.c, image.c */
enum MHD_Result sim_openai_chat(struct sim_request *req);
enum MHD_Result sim_openai_models(struct sim_request *req);
enum MHD_Result sim_openai_images(struct sim_request *req);
enum MHD_Result sim_ollama_chat(struct sim_request *req);
enum MHD_Result sim_ollama_generate(struct sim_request *req);
enum MHD_Result sim_ollama_tags(struct sim_request *req);
unsigned char *sim_image_png(const char *prompt, unsigned int index,
                             unsigned int width, unsigned int height,
                             size_t *png_len);

#endif /* QF_SIM_H */
