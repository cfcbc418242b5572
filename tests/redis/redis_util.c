/*
 * redis_util.c - starts and stops a private redis-server for the Redis
 * suites: fork and exec with --save "" and --appendonly no, PING until it
 * replies, SIGTERM and waitpid to stop. Its output goes to /dev/null.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "redis_util.h"

/* A port that was free on 127.0.0.1 a moment ago; 0 on failure. */
static int free_port(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = 0;

    if (fd < 0)
        return 0;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

static pid_t spawn(int port, const char *const extra[])
{
    char port_text[16];
    const char *argv[40];
    int n = 0;
    pid_t pid;

    snprintf(port_text, sizeof(port_text), "%d", port);
    argv[n++] = QF_TEST_REDIS_SERVER;
    argv[n++] = "--port";
    argv[n++] = port_text;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int replies_to_ping(int port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *reply;
    int ok = 0;

    if (c == NULL || c->err != 0) {
        if (c != NULL)
            redisFree(c);
        return 0;
    }
    reply = redisCommand(c, "PING");
    /* PONG, or NOAUTH from a server started with --requirepass. */
    ok = reply != NULL && (reply->type == REDIS_REPLY_STATUS ||
                           reply->type == REDIS_REPLY_ERROR);
    freeReplyObject(reply);
    redisFree(c);
    return ok;
}

/* Wait up to ten seconds for PING; 0 when it replies, -1 when the server
 * exited (its port was taken) or never replied. */
static int wait_ready(qf_test_redis *r)
{
    struct timespec pause = {0, 20 * 1000 * 1000};

    for (int i = 0; i < 500; i++) {
        int status;

        if (replies_to_ping(r->port))
            return 0;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            r->pid = 0;
            return -1;
        }
        nanosleep(&pause, NULL);
    }
    qf_test_redis_stop(r);
    return -1;
}

int qf_test_redis_start(qf_test_redis *r, int port, const char *const extra[])
{
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = port != 0 ? port : free_port();
        if (r->port == 0)
            return -1;
        snprintf(r->url, sizeof(r->url), "redis://127.0.0.1:%d/0", r->port);
        r->pid = spawn(r->port, extra);
        if (r->pid < 0) {
            r->pid = 0;
            return -1;
        }
        if (wait_ready(r) == 0)
            return 0;
        if (port != 0 && attempt >= 2)
            return -1;
    }
    return -1;
}

void qf_test_redis_stop(qf_test_redis *r)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGTERM);
    while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    r->pid = 0;
}

redisContext *qf_test_redis_connect(const qf_test_redis *r)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);

    if (c != NULL && c->err != 0) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static redisReply *command_v(const qf_test_redis *r, const char *fmt,
                             va_list ap)
{
    redisContext *c = qf_test_redis_connect(r);
    redisReply *reply;

    if (c == NULL)
        return NULL;
    reply = redisvCommand(c, fmt, ap);
    redisFree(c);
    return reply;
}

redisReply *qf_test_redis_command(const qf_test_redis *r, const char *fmt, ...)
{
    redisReply *reply;
    va_list ap;

    va_start(ap, fmt);
    reply = command_v(r, fmt, ap);
    va_end(ap);
    return reply;
}

long long qf_test_redis_integer(const qf_test_redis *r, const char *fmt, ...)
{
    redisReply *reply;
    long long value = -1000000;
    va_list ap;

    va_start(ap, fmt);
    reply = command_v(r, fmt, ap);
    va_end(ap);
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
        value = reply->integer;
    freeReplyObject(reply);
    return value;
}
