/*
 * log.c - the --log request log: one JSON object per line and per request,
 * {"method","path","body","fault"}, appended and flushed under a mutex so
 * lines from parallel connections never interleave. Headers are never
 * written, so the Authorization bearer cannot reach the file.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

int sim_log_open(const char *path)
{
    log_file = fopen(path, "a");
    if (log_file == NULL) {
        fprintf(stderr,
                "qf-sim: failed to open the request log '%s': %s; check the "
                "folder exists and is writable\n",
                path, strerror(errno));
        return -1;
    }
    return 0;
}

static cJSON *log_line(const struct sim_request *req)
{
    cJSON *line = cJSON_CreateObject();
    cJSON *body = req->json != NULL ? cJSON_Duplicate(req->json, true)
                                    : cJSON_CreateNull();

    cJSON_AddStringToObject(line, "method", req->method);
    cJSON_AddStringToObject(line, "path", req->path);
    cJSON_AddItemToObject(line, "body", body);
    if (req->fault == SIM_FAULT_NONE)
        cJSON_AddNullToObject(line, "fault");
    else
        cJSON_AddStringToObject(line, "fault", sim_fault_name(req->fault));
    return line;
}

void sim_log_request(const struct sim_request *req)
{
    cJSON *line;
    char *text;

    if (log_file == NULL)
        return;
    line = log_line(req);
    text = line != NULL ? cJSON_PrintUnformatted(line) : NULL;
    cJSON_Delete(line);
    if (text == NULL) {
        fprintf(stderr, "qf-sim: out of memory writing the request log\n");
        return;
    }

    pthread_mutex_lock(&log_lock);
    fprintf(log_file, "%s\n", text);
    fflush(log_file);
    pthread_mutex_unlock(&log_lock);
    free(text);
}

void sim_log_close(void)
{
    if (log_file != NULL)
        fclose(log_file);
    log_file = NULL;
}
