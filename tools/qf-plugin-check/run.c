/*
 * run.c - runs each check in a forked child with a time limit. The child
 * writes findings and phase markers to a pipe as tab-separated lines; the
 * parent collects them, and turns a child killed by a signal or past its
 * time limit into a finding naming the hook that was running.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "run.h"

#define LINE_MAX_BYTES 4096

/* --- Child side ----------------------------------------------------- */

/* Write `text` with tabs and newlines turned into spaces. */
static size_t put_field(char *buf, size_t at, size_t cap, const char *text)
{
    for (; text != NULL && *text != '\0' && at + 2 < cap; text++)
        buf[at++] =
            (*text == '\t' || *text == '\n' || *text == '\r') ? ' ' : *text;
    buf[at++] = '\t';
    return at;
}

static void send_line(qf_check_out *out, const char *const fields[], size_t n)
{
    char buf[LINE_MAX_BYTES];
    size_t at = 0;
    ssize_t w;

    for (size_t i = 0; i < n; i++)
        at = put_field(buf, at, sizeof(buf), fields[i]);
    buf[at - 1] = '\n';
    for (size_t done = 0; done < at; done += (size_t)w) {
        w = write(out->fd, buf + done, at - done);
        if (w < 0 && errno == EINTR)
            w = 0;
        else if (w < 0)
            return;
    }
}

static const char *status_word(qf_check_status status)
{
    return status == QF_CHECK_PASS   ? "pass"
           : status == QF_CHECK_WARN ? "warn"
                                     : "fail";
}

void qf_check_report(qf_check_out *out, qf_check_status status,
                     const char *check, const char *fix, const char *fmt, ...)
{
    char message[LINE_MAX_BYTES / 2];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    send_line(out,
              (const char *const[]){"F", status_word(status), check, message,
                                    fix != NULL ? fix : ""},
              5);
}

void qf_check_phase(qf_check_out *out, const char *fmt, ...)
{
    char phase[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(phase, sizeof(phase), fmt, ap);
    va_end(ap);
    send_line(out, (const char *const[]){"P", phase}, 2);
}

void qf_check_report_error(qf_check_out *out, qf_check_status status,
                           const char *check, const char *message,
                           const char *fallback_fix)
{
    const char *sep = strstr(message, "; ");

    if (sep == NULL) {
        qf_check_report(out, status, check, fallback_fix, "%s", message);
        return;
    }
    qf_check_report(out, status, check, sep + 2, "%.*s", (int)(sep - message),
                    message);
}

/* --- Parent side ---------------------------------------------------- */

static int findings_add(qf_check_findings *list, const char *status,
                        const char *check, const char *message, const char *fix)
{
    qf_check_finding *grown;
    qf_check_finding *f;

    grown = realloc(list->items, (list->count + 1) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    list->items = grown;
    f = &grown[list->count];
    f->status = strcmp(status, "pass") == 0   ? QF_CHECK_PASS
                : strcmp(status, "warn") == 0 ? QF_CHECK_WARN
                                              : QF_CHECK_FAIL;
    f->check = strdup(check);
    f->message = strdup(message);
    f->fix = strdup(fix);
    if (f->check == NULL || f->message == NULL || f->fix == NULL) {
        free(f->check);
        free(f->message);
        free(f->fix);
        return -1;
    }
    list->count++;
    return 0;
}

void qf_check_findings_free(qf_check_findings *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].check);
        free(list->items[i].message);
        free(list->items[i].fix);
    }
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* Split one line into up to 5 tab-separated fields, in place. */
static size_t split_fields(char *line, char *fields[5])
{
    size_t n = 0;

    fields[n++] = line;
    for (char *p = line; *p != '\0' && n < 5; p++) {
        if (*p == '\t') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    }
    return n;
}

static void parse_line(qf_check_findings *list, char *line, char *phase,
                       size_t phase_cap)
{
    char *f[5];
    size_t n = split_fields(line, f);

    if (n == 2 && strcmp(f[0], "P") == 0)
        snprintf(phase, phase_cap, "%s", f[1]);
    else if (n == 5 && strcmp(f[0], "F") == 0)
        findings_add(list, f[1], f[2], f[3], f[4]);
}

/* Buffer of what the child wrote, split into lines as they complete. */
typedef struct reader {
    char buf[LINE_MAX_BYTES * 2];
    size_t len;
    char phase[256];
} reader;

static int read_some(int fd, reader *r, qf_check_findings *list)
{
    ssize_t n = read(fd, r->buf + r->len, sizeof(r->buf) - r->len - 1);
    char *nl;

    if (n <= 0)
        return n < 0 && errno == EINTR ? 1 : 0;
    r->len += (size_t)n;
    r->buf[r->len] = '\0';
    while ((nl = memchr(r->buf, '\n', r->len)) != NULL) {
        size_t used = (size_t)(nl - r->buf) + 1;

        *nl = '\0';
        parse_line(list, r->buf, r->phase, sizeof(r->phase));
        memmove(r->buf, r->buf + used, r->len - used);
        r->len -= used;
    }
    if (r->len == sizeof(r->buf) - 1)
        r->len = 0; /* an over-long line is dropped */
    return 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read until EOF or the deadline; returns 0 at EOF, -1 past the deadline. */
static int collect(int fd, int timeout_s, reader *r, qf_check_findings *list)
{
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    struct pollfd p = {fd, POLLIN, 0};

    for (;;) {
        int64_t left = deadline - now_ms();
        int ready;

        if (left <= 0)
            return -1;
        ready = poll(&p, 1, (int)left);
        if (ready < 0 && errno != EINTR)
            return 0;
        if (ready > 0 && read_some(fd, r, list) == 0)
            return 0;
    }
}

static void child_run(qf_check_fn fn, const qf_check_options *opts, int fd)
{
    qf_check_out out = {fd};
    int code;

    /* Fault signals kill the child outright, also under a sanitizer
     * runtime that installs its own handlers, so the parent sees them. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    signal(SIGFPE, SIG_DFL);
    signal(SIGILL, SIG_DFL);
    code = fn(opts, &out);
    qf_check_phase(&out, "the child's exit after the check");
    close(fd);
    _exit(code == 0 ? 0 : 3);
}

static void report_abnormal(qf_check_findings *list, const char *check,
                            const reader *r, int timed_out, int wstatus,
                            int timeout_s)
{
    char message[512];
    const char *phase = r->phase[0] != '\0' ? r->phase : "loading the plugin";

    if (timed_out)
        snprintf(message, sizeof(message),
                 "did not return within %d s during %s", timeout_s, phase);
    else if (WIFSIGNALED(wstatus) && sigabbrev_np(WTERMSIG(wstatus)) != NULL)
        snprintf(message, sizeof(message), "crashed with SIG%s during %s",
                 sigabbrev_np(WTERMSIG(wstatus)), phase);
    else if (WIFSIGNALED(wstatus))
        snprintf(message, sizeof(message), "crashed with signal %d during %s",
                 WTERMSIG(wstatus), phase);
    else
        snprintf(message, sizeof(message),
                 "exited the process with status %d during %s",
                 WEXITSTATUS(wstatus), phase);
    findings_add(list, "fail", check, message,
                 timed_out ? "make the hook return: never block without a "
                             "time limit, use host->sleep_ms for waits"
                           : "run the plugin under a debugger or with "
                             "-fsanitize=address against this case and "
                             "fix the fault");
}

int qf_check_run(const char *check, qf_check_fn fn,
                 const qf_check_options *opts, qf_check_findings *list)
{
    int fds[2];
    pid_t pid;
    reader r = {{0}, 0, {0}};
    int timed_out, wstatus = 0;

    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_run(fn, opts, fds[1]);
    }
    close(fds[1]);

    timed_out = collect(fds[0], opts->timeout_s, &r, list) != 0;
    if (timed_out)
        kill(pid, SIGKILL);
    close(fds[0]);
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;

    if (timed_out || WIFSIGNALED(wstatus) ||
        (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0 &&
         WEXITSTATUS(wstatus) != 3)) {
        report_abnormal(list, check, &r, timed_out, wstatus, opts->timeout_s);
        return -1;
    }
    return WEXITSTATUS(wstatus) == 0 ? 0 : 1;
}
