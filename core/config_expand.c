/*
 * config_expand.c - reading configuration scalars: YAML 1.2 core schema
 * typing, ${VAR}, ${VAR:-default} and $$ expansion at read time, typed
 * reads, JSON conversion and the one error format
 * "FILE:LINE:COLUMN: KEY.PATH: what is wrong; what is expected".
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "config_secret.h"

/* --- Scalar typing --------------------------------------------------- */

static int all_chars(const char *s, const char *set)
{
    /* The analyzer reports s as uninitialized when it comes from a buffer
     * that buf_add grew with realloc; buf_add always NUL-terminates it. */
    // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult)
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if (strchr(set, *s) == NULL)
            return 0;
    }
    return 1;
}

static int is_one_of(const char *text, const char *const *words)
{
    for (; *words != NULL; words++) {
        if (strcmp(text, *words) == 0)
            return 1;
    }
    return 0;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_decimal_float(const char *s)
{
    int digits = 0;

    if (*s == '-' || *s == '+')
        s++;
    /* Same false positive as in all_chars: s is NUL-terminated. */
    while (isdigit((unsigned char)*s)) { /* NOLINT(clang-analyzer-core.*) */
        s++;
        digits++;
    }
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            s++;
            digits++;
        }
    }
    if (digits == 0)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!all_chars(s, "0123456789"))
            return 0;
        return 1;
    }
    return *s == '\0';
}

scalar_kind qf_config_scalar_kind(const char *text)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"true",  "True",  "TRUE", "false",
                                        "False", "FALSE", NULL};
    static const char *const specials[] = {
        ".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};
    const char *digits = text;

    if (is_one_of(text, nulls))
        return SCALAR_NULL;
    if (is_one_of(text, bools))
        return SCALAR_BOOL;
    if (*digits == '-' || *digits == '+')
        digits++;
    if (all_chars(digits, "0123456789"))
        return SCALAR_INT;
    if (strncmp(text, "0o", 2) == 0 && all_chars(text + 2, "01234567"))
        return SCALAR_INT;
    if (strncmp(text, "0x", 2) == 0 &&
        all_chars(text + 2, "0123456789abcdefABCDEF"))
        return SCALAR_INT;
    if (is_one_of(text, specials) || is_decimal_float(text))
        return SCALAR_FLOAT;
    return SCALAR_STRING;
}

/* --- Errors ---------------------------------------------------------- */

qf_status qf_cnode_fail(qf_error *err, qf_status status, const qf_cnode *node,
                        const char *fmt, ...)
{
    char message[QF_ERROR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    if (node == NULL)
        return qf_error_set(err, status, "%s", message);
    if (node->line > 0)
        return qf_error_set(err, status, "%s:%d:%d: %s: %s", node->file,
                            node->line, node->column,
                            node->key_path[0] ? node->key_path : "(top level)",
                            message);
    return qf_error_set(err, status, "%s: %s: %s", node->file,
                        node->key_path[0] ? node->key_path : "(top level)",
                        message);
}

const char *qf_cnode_type_phrase(const qf_cnode *node)
{
    switch (qf_cnode_type_of(node)) {
    case QF_CNODE_NULL: return "null";
    case QF_CNODE_SCALAR: return "a scalar";
    case QF_CNODE_MAP: return "a map";
    case QF_CNODE_LIST: return "a list";
    }
    return "unknown";
}

/* Last key of a node's path, for the secret check. */
static const char *last_key(const qf_cnode *node)
{
    const char *dot = strrchr(node->key_path, '.');

    return dot != NULL ? dot + 1 : node->key_path;
}

/* Key names only. A URL that carries a password (redis_url:
 * redis://:pw@host) and the values of a headers map are secrets found by
 * content and place instead, in config_secret.c. */
int qf_config_key_is_secret(const char *key)
{
    static const char *const words[] = {"api_key", "apikey", "password",
                                        "token",   "secret", "authorization",
                                        NULL};
    char lower[128];
    size_t len;

    if (key == NULL)
        return 0;
    len = strlen(key);
    if (len >= sizeof(lower))
        len = sizeof(lower) - 1;
    for (size_t i = 0; i < len; i++)
        lower[i] = key[i] == '-' ? '_' : (char)tolower((unsigned char)key[i]);
    lower[len] = '\0';

    for (size_t i = 0; words[i] != NULL; i++) {
        size_t wlen = strlen(words[i]);

        if (len >= wlen && strcmp(lower + len - wlen, words[i]) == 0)
            return 1;
    }
    return 0;
}

/* Whether a node's value must stay out of messages: a secret key name or
 * a value of a headers map. */
static int value_is_secret(const qf_cnode *node)
{
    return qf_config_key_is_secret(last_key(node)) || qf_cnode_in_headers(node);
}

/* --- Expansion -------------------------------------------------------- */

typedef struct strbuf {
    char *data;
    size_t len;
    size_t cap;
} strbuf;

static int buf_add(strbuf *buf, const char *s, size_t n)
{
    if (buf->len + n + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 32;
        char *data;

        while (cap < buf->len + n + 1)
            cap *= 2;
        data = realloc(buf->data, cap);
        if (data == NULL)
            return -1;
        buf->data = data;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, s, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return 0;
}

/* Index just past the '}' that closes the "${" at s[0], or 0 if none. */
static size_t closing_brace(const char *s, size_t len)
{
    int depth = 1;
    size_t i = 2;

    while (i < len) {
        if (s[i] == '$' && i + 1 < len &&
            (s[i + 1] == '{' || s[i + 1] == '$')) {
            depth += s[i + 1] == '{';
            i += 2;
        } else if (s[i] == '}' && --depth == 0) {
            return i + 1;
        } else {
            i++;
        }
    }
    return 0;
}

/* One expansion: the node read, the text built and, when a variable
 * without a default is unset, its name. */
typedef struct expansion {
    const qf_cnode *node;
    strbuf *out;
    qf_error *err;
    char unset[128];
} expansion;

static qf_status expand_text(expansion *ex, const char *s, size_t len);

static qf_status bad_reference(const qf_cnode *node, const char *ref,
                               size_t len, qf_error *err)
{
    /* The reference may be a secret written inside ${...} by mistake. */
    if (value_is_secret(node))
        return qf_cnode_fail(err, QF_ERR_CONFIG, node,
                             "the value holds an invalid variable reference; "
                             "expected ${NAME} or ${NAME:-default} with NAME "
                             "made of letters, digits and underscores, or $$ "
                             "for a dollar sign");
    return qf_cnode_fail(err, QF_ERR_CONFIG, node,
                         "\"%.*s\" is not a valid variable reference; expected "
                         "${NAME} or ${NAME:-default} with NAME made of "
                         "letters, digits and underscores, or $$ for a "
                         "dollar sign",
                         (int)len, ref);
}

/* Expand one "${...}" reference of total length `len` at `ref`. */
static qf_status expand_reference(expansion *ex, const char *ref, size_t len)
{
    const char *body = ref + 2;
    size_t body_len = len - 3, name_len = 0;
    char name[128];
    const char *value;

    while (name_len < body_len &&
           (isalnum((unsigned char)body[name_len]) || body[name_len] == '_'))
        name_len++;
    if (name_len == 0 || name_len >= sizeof(name) ||
        isdigit((unsigned char)body[0]) ||
        (name_len < body_len &&
         (body_len - name_len < 2 || strncmp(body + name_len, ":-", 2) != 0)))
        return bad_reference(ex->node, ref, len, ex->err);
    memcpy(name, body, name_len);
    name[name_len] = '\0';

    value = getenv(name);
    if (name_len < body_len) {
        if (value == NULL || value[0] == '\0')
            return expand_text(ex, body + name_len + 2,
                               body_len - name_len - 2);
    } else if (value == NULL) {
        memcpy(ex->unset, name, name_len + 1);
        return qf_cnode_fail(ex->err, QF_ERR_CONFIG, ex->node,
                             "environment variable %s is not set; set it or "
                             "write ${%s:-default}",
                             name, name);
    }
    if (buf_add(ex->out, value, strlen(value)) != 0)
        return qf_error_set(ex->err, QF_ERR_NOMEM, "out of memory expanding %s",
                            name);
    return QF_OK;
}

static qf_status expand_text(expansion *ex, const char *s, size_t len)
{
    strbuf *out = ex->out;
    size_t i = 0;

    while (i < len) {
        size_t run = i, end;
        qf_status st;

        while (run < len && s[run] != '$')
            run++;
        if (buf_add(out, s + i, run - i) != 0)
            goto nomem;
        i = run;
        if (i >= len)
            break;
        if (i + 1 < len && s[i + 1] == '$') {
            if (buf_add(out, "$", 1) != 0)
                goto nomem;
            i += 2;
            continue;
        }
        if (i + 1 >= len || s[i + 1] != '{') {
            if (buf_add(out, "$", 1) != 0)
                goto nomem;
            i++;
            continue;
        }
        end = closing_brace(s + i, len - i);
        if (end == 0)
            return qf_cnode_fail(ex->err, QF_ERR_CONFIG, ex->node,
                                 "a \"${\" has no closing \"}\"; expected "
                                 "${NAME} or ${NAME:-default}, or $$ for a "
                                 "dollar sign");
        st = expand_reference(ex, s + i, end);
        if (st != QF_OK)
            return st;
        i += end;
    }
    return QF_OK;

nomem:
    return qf_error_set(ex->err, QF_ERR_NOMEM, "out of memory expanding %s",
                        ex->node->key_path);
}

/* Expand the node's text; `unset` (128 bytes, may be NULL) receives the
 * name of an unset variable that made the expansion fail, else "". */
static qf_status expand_node(const qf_cnode *node, char **out, char *unset,
                             qf_error *err)
{
    strbuf buf = {0};
    expansion ex = {.node = node, .out = &buf, .err = err};
    qf_status st;

    *out = NULL;
    if (node->literal || strchr(node->text, '$') == NULL) {
        *out = strdup(node->text);
        return *out != NULL ? QF_OK
                            : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    }
    if (buf_add(&buf, "", 0) != 0)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    st = expand_text(&ex, node->text, strlen(node->text));
    if (unset != NULL)
        memcpy(unset, ex.unset, sizeof(ex.unset));
    if (st != QF_OK) {
        free(buf.data);
        return st;
    }
    *out = buf.data;
    return QF_OK;
}

qf_status qf_cnode_expand(const qf_cnode *node, char **out, qf_error *err)
{
    return expand_node(node, out, NULL, err);
}

/* --- Typed reads ------------------------------------------------------ */

static qf_status need_scalar(const qf_cnode *node, const char *expected,
                             qf_error *err)
{
    if (node == NULL)
        return qf_error_set(err, QF_ERR_CONFIG,
                            "configuration value is missing; expected %s",
                            expected);
    if (node->type != QF_CNODE_SCALAR)
        return qf_cnode_fail(err, QF_ERR_CONFIG, node,
                             "value is %s; expected %s",
                             qf_cnode_type_phrase(node), expected);
    return QF_OK;
}

qf_status qf_cnode_string(const qf_cnode *node, char **out, qf_error *err)
{
    qf_status st = need_scalar(node, "a string", err);

    *out = NULL;
    if (st != QF_OK)
        return st;
    return qf_cnode_expand(node, out, err);
}

qf_status qf_cnode_string_unset(const qf_cnode *node, char **out, char **unset,
                                qf_error *err)
{
    char name[128] = "";
    qf_status st = need_scalar(node, "a string", err);

    *out = NULL;
    *unset = NULL;
    if (st == QF_OK)
        st = expand_node(node, out, name, err);
    if (st != QF_OK && name[0] != '\0' && (*unset = strdup(name)) == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    return st;
}

/* The node's expanded text and its core schema kind. */
static qf_status read_typed(const qf_cnode *node, const char *expected,
                            char **text, scalar_kind *kind, qf_error *err)
{
    qf_status st = need_scalar(node, expected, err);

    if (st == QF_OK)
        st = qf_cnode_expand(node, text, err);
    if (st != QF_OK)
        return st;
    *kind = qf_config_scalar_kind(*text);
    return QF_OK;
}

static qf_status wrong_value(const qf_cnode *node, const char *text,
                             const char *expected, qf_error *err)
{
    char *redacted_text;
    qf_status st;

    if (value_is_secret(node))
        return qf_cnode_fail(err, QF_ERR_CONFIG, node,
                             "value is invalid; expected %s", expected);
    redacted_text = qf_config_redact_urls(text);
    if (redacted_text == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    st = qf_cnode_fail(err, QF_ERR_CONFIG, node,
                       "\"%s\" is invalid; expected %s", redacted_text,
                       expected);
    free(redacted_text);
    return st;
}

qf_status qf_cnode_int(const qf_cnode *node, int64_t *out, qf_error *err)
{
    const char *expected = "a whole number such as 30";
    char *text = NULL, *end = NULL;
    scalar_kind kind;
    long long value;
    qf_status st = read_typed(node, expected, &text, &kind, err);

    if (st != QF_OK)
        return st;
    errno = 0;
    if (strncmp(text, "0o", 2) == 0)
        value = strtoll(text + 2, &end, 8);
    else
        value = strtoll(text, &end, strncmp(text, "0x", 2) == 0 ? 16 : 10);
    if (kind != SCALAR_INT || errno != 0 || *end != '\0')
        st = wrong_value(node, text, expected, err);
    else
        *out = value;
    free(text);
    return st;
}

qf_status qf_cnode_double(const qf_cnode *node, double *out, qf_error *err)
{
    const char *expected = "a number such as 10 or 0.5";
    char *text = NULL;
    scalar_kind kind;
    qf_status st = read_typed(node, expected, &text, &kind, err);

    if (st != QF_OK)
        return st;
    if (kind == SCALAR_INT) {
        int64_t whole = 0;
        free(text);
        st = qf_cnode_int(node, &whole, err);
        if (st == QF_OK)
            *out = (double)whole;
        return st;
    }
    if (kind != SCALAR_FLOAT)
        st = wrong_value(node, text, expected, err);
    else if (strstr(text, "nan") || strstr(text, "NaN") || strstr(text, "NAN"))
        *out = NAN;
    else if (strstr(text, "inf") || strstr(text, "Inf") || strstr(text, "INF"))
        *out = text[0] == '-' ? -INFINITY : INFINITY;
    else
        *out = strtod(text, NULL);
    free(text);
    return st;
}

qf_status qf_cnode_bool(const qf_cnode *node, int *out, qf_error *err)
{
    const char *expected = "true or false";
    char *text = NULL;
    scalar_kind kind;
    qf_status st = read_typed(node, expected, &text, &kind, err);

    if (st != QF_OK)
        return st;
    if (kind != SCALAR_BOOL)
        st = wrong_value(node, text, expected, err);
    else
        *out = text[0] == 't' || text[0] == 'T';
    free(text);
    return st;
}
