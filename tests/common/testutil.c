/*
 * testutil.c - temporary folders, files, child processes and qf-sim for the
 * test suites. Children run with a time limit so a hung tool fails its test
 * instead of the whole run.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

char *qf_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char path[4096];

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(path, sizeof(path), "%s/qf-%s-XXXXXX", base, tag);
    if (mkdtemp(path) == NULL)
        return NULL;
    return strdup(path);
}

void qf_test_rmtree(const char *path)
{
    char *argv[] = {"/bin/rm", "-rf", (char *)path, NULL};
    qf_test_run run;

    if (path == NULL)
        return;
    if (qf_test_run_argv(argv, NULL, NULL, 60, &run) == 0)
        qf_test_run_free(&run);
}

char *qf_test_write_file(const char *dir, const char *name, const char *text)
{
    char *path;
    FILE *f;
    int fd;

    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return NULL;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

char *qf_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, used = 0, n;

    if (f == NULL)
        return NULL;
    do {
        if (cap - used < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap + 1);
        }
        n = fread(buf + used, 1, cap - used, f);
        used += n;
    } while (n > 0);
    fclose(f);
    buf[used] = '\0';
    if (len != NULL)
        *len = used;
    return buf;
}

char *qf_test_build_path(const char *rel)
{
    char *path;

    if (asprintf(&path, "%s/%s", QF_TEST_BUILD_DIR, rel) < 0)
        return NULL;
    return path;
}

char *qf_test_source_path(const char *rel)
{
    char *path;

    if (asprintf(&path, "%s/%s", QF_TEST_SOURCE_DIR, rel) < 0)
        return NULL;
    return path;
}

/* Drain both pipes until EOF or the deadline; returns 0 at EOF. */
static int drain(int out_fd, int err_fd, char **out, char **err,
                 time_t deadline)
{
    size_t cap[2] = {4096, 4096}, used[2] = {0, 0};
    char *buf[2] = {malloc(4096), malloc(4096)};
    struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int open_count = 2;

    while (open_count > 0) {
        int left = (int)(deadline - time(NULL));

        if (left <= 0)
            break;
        if (poll(fds, 2, left * 1000) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            ssize_t n;

            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            if (cap[i] - used[i] < 2048) {
                cap[i] *= 2;
                buf[i] = realloc(buf[i], cap[i]);
            }
            n = read(fds[i].fd, buf[i] + used[i], cap[i] - used[i] - 1);
            if (n <= 0) {
                fds[i].fd = -1;
                open_count--;
            } else {
                used[i] += (size_t)n;
            }
        }
    }
    buf[0][used[0]] = '\0';
    buf[1][used[1]] = '\0';
    *out = buf[0];
    *err = buf[1];
    return open_count == 0 ? 0 : -1;
}

int qf_test_run_argv(char *const argv[], char *const env[], const char *cwd,
                     int timeout_s, qf_test_run *out)
{
    int out_pipe[2], err_pipe[2], status = 0;
    pid_t pid;

    memset(out, 0, sizeof(*out));
    if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);

        dup2(devnull, 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(out_pipe[0]);
        close(err_pipe[0]);
        if (cwd != NULL && chdir(cwd) != 0)
            _exit(126);
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv(env[i]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);

    if (drain(out_pipe[0], err_pipe[0], &out->out, &out->err,
              time(NULL) + timeout_s) != 0)
        kill(pid, SIGKILL);
    close(out_pipe[0]);
    close(err_pipe[0]);
    waitpid(pid, &status, 0);
    out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return 0;
}

void qf_test_run_free(qf_test_run *run)
{
    free(run->out);
    free(run->err);
    run->out = run->err = NULL;
}

int qf_test_sim_start(qf_test_sim *sim, const char *const extra_args[])
{
    char *argv[32];
    char *sim_path = qf_test_build_path("bin/qf-sim");
    int pipe_fd[2], argc = 0;
    char line[256];
    size_t used = 0;

    memset(sim, 0, sizeof(*sim));
    argv[argc++] = sim_path;
    argv[argc++] = "--port";
    argv[argc++] = "0";
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && argc < 31;
         i++)
        argv[argc++] = (char *)extra_args[i];
    argv[argc] = NULL;

    if (pipe(pipe_fd) != 0)
        return -1;
    sim->pid = fork();
    if (sim->pid == 0) {
        /* A failed Check test exits without teardown; take qf-sim along. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(pipe_fd[1], 1);
        close(pipe_fd[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipe_fd[1]);
    free(sim_path);

    /* The first line is "qf-sim listening on http://127.0.0.1:PORT". */
    while (used < sizeof(line) - 1) {
        struct pollfd pfd = {pipe_fd[0], POLLIN, 0};
        ssize_t n;

        if (poll(&pfd, 1, 10000) <= 0)
            break;
        n = read(pipe_fd[0], line + used, 1);
        if (n <= 0 || line[used] == '\n')
            break;
        used++;
    }
    line[used] = '\0';
    close(pipe_fd[0]);

    const char *url = strstr(line, "http://127.0.0.1:");
    if (url == NULL) {
        qf_test_sim_stop(sim);
        return -1;
    }
    sim->port = (int)strtol(url + strlen("http://127.0.0.1:"), NULL, 10);
    snprintf(sim->base_url, sizeof(sim->base_url), "http://127.0.0.1:%d",
             sim->port);
    return 0;
}

void qf_test_sim_stop(qf_test_sim *sim)
{
    int status;

    if (sim->pid <= 0)
        return;
    kill(sim->pid, SIGTERM);
    waitpid(sim->pid, &status, 0);
    sim->pid = 0;
}
