/*
 * reply.c - the deterministic reply and usage rules shared by the OpenAI
 * and Ollama endpoints. The reply is "Echo: " plus the last user message,
 * split into words at spaces. prompt_tokens is the byte length of every
 * message content divided by 4, rounded up. completion_tokens is the
 * number of words sent, and a max_tokens style cap can lower it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Bytes of a message's content: a string, or the text of its parts. */
static size_t content_bytes(const cJSON *content)
{
    const cJSON *part;
    size_t bytes = 0;

    if (cJSON_IsString(content))
        return strlen(content->valuestring);
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");

        if (cJSON_IsString(text))
            bytes += strlen(text->valuestring);
    }
    return bytes;
}

/* The content as one string (parts joined without a separator). */
static char *content_text(const cJSON *content)
{
    size_t len = content_bytes(content), used = 0;
    char *text = malloc(len + 1);
    const cJSON *part;

    if (text == NULL)
        return NULL;
    if (cJSON_IsString(content)) {
        memcpy(text, content->valuestring, len + 1);
        return text;
    }
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *piece = cJSON_GetObjectItemCaseSensitive(part, "text");
        size_t piece_len;

        if (!cJSON_IsString(piece))
            continue;
        piece_len = strlen(piece->valuestring);
        memcpy(text + used, piece->valuestring, piece_len);
        used += piece_len;
    }
    text[used] = '\0';
    return text;
}

static int push_word(struct sim_reply *reply, const char *start, size_t len)
{
    char **grown =
        realloc(reply->words, (reply->word_count + 1) * sizeof(*reply->words));

    if (grown == NULL)
        return -1;
    reply->words = grown;
    reply->words[reply->word_count] = strndup(start, len);
    if (reply->words[reply->word_count] == NULL)
        return -1;
    reply->word_count++;
    return 0;
}

/* Split `text` at spaces into at most `cap` words (cap < 1: no limit). */
static int split_words(struct sim_reply *reply, const char *text, long cap)
{
    const char *p = text;

    reply->finish_reason = "stop";
    while (*p != '\0') {
        size_t len;

        while (*p == ' ')
            p++;
        len = strcspn(p, " ");
        if (len == 0)
            break;
        if (cap > 0 && reply->word_count == (size_t)cap) {
            reply->finish_reason = "length";
            break;
        }
        if (push_word(reply, p, len) != 0)
            return -1;
        p += len;
    }
    return 0;
}

static int join_words(struct sim_reply *reply)
{
    size_t total = 1, used = 0;

    for (size_t i = 0; i < reply->word_count; i++)
        total += strlen(reply->words[i]) + 1;
    reply->text = malloc(total);
    if (reply->text == NULL)
        return -1;
    for (size_t i = 0; i < reply->word_count; i++) {
        size_t len = strlen(reply->words[i]);

        if (i > 0)
            reply->text[used++] = ' ';
        memcpy(reply->text + used, reply->words[i], len);
        used += len;
    }
    reply->text[used] = '\0';
    return 0;
}

static int build_reply(struct sim_reply *reply, const char *user_text,
                       size_t prompt_bytes, long cap)
{
    char *echo = sim_strdup_printf("Echo: %s", user_text);
    int rc = -1;

    memset(reply, 0, sizeof(*reply));
    reply->usage = true;
    reply->cached_tokens = -1;
    reply->prompt_tokens = (long)((prompt_bytes + 3) / 4);
    if (echo == NULL)
        return -1;
    if (split_words(reply, echo, cap) == 0 && join_words(reply) == 0)
        rc = 0;
    reply->completion_tokens = (long)reply->word_count;
    free(echo);
    return rc;
}

int sim_reply_from_messages(struct sim_reply *reply, const cJSON *messages,
                            long cap)
{
    const cJSON *message, *last_user = NULL;
    size_t prompt_bytes = 0;
    char *user_text;
    int rc;

    cJSON_ArrayForEach(message, messages)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(message, "role");
        const cJSON *content =
            cJSON_GetObjectItemCaseSensitive(message, "content");

        prompt_bytes += content_bytes(content);
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
            last_user = content;
    }
    user_text = last_user != NULL ? content_text(last_user) : strdup("");
    if (user_text == NULL)
        return -1;
    rc = build_reply(reply, user_text, prompt_bytes, cap);
    free(user_text);
    return rc;
}

int sim_reply_from_prompt(struct sim_reply *reply, const char *system,
                          const char *prompt, long cap)
{
    size_t prompt_bytes = strlen(prompt);

    if (system != NULL)
        prompt_bytes += strlen(system);
    return build_reply(reply, prompt, prompt_bytes, cap);
}

/* X-QF-Sim-Usage: P,C, X-QF-Sim-Cached-Tokens: N, X-QF-Sim-No-Usage: 1. */
void sim_reply_apply_headers(struct sim_reply *reply,
                             struct MHD_Connection *conn)
{
    const char *usage = sim_header(conn, "X-QF-Sim-Usage");
    const char *no_usage = sim_header(conn, "X-QF-Sim-No-Usage");
    long prompt, completion;
    int consumed = 0;

    if (usage != NULL &&
        sscanf(usage, " %ld , %ld %n", &prompt, &completion, &consumed) == 2 &&
        usage[consumed] == '\0' && prompt >= 0 && completion >= 0) {
        reply->prompt_tokens = prompt;
        reply->completion_tokens = completion;
    }
    reply->cached_tokens = sim_header_long(conn, "X-QF-Sim-Cached-Tokens", -1);
    if (no_usage != NULL && strcmp(no_usage, "1") == 0)
        reply->usage = false;
}

/* The streamed text of word `index`: the word, plus a space unless last. */
char *sim_reply_word_piece(const struct sim_reply *reply, size_t index)
{
    const char *space = index + 1 < reply->word_count ? " " : "";

    return sim_strdup_printf("%s%s", reply->words[index], space);
}

void sim_reply_free(struct sim_reply *reply)
{
    for (size_t i = 0; i < reply->word_count; i++)
        free(reply->words[i]);
    free(reply->words);
    free(reply->text);
    memset(reply, 0, sizeof(*reply));
}
