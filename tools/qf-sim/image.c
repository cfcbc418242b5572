/*
 * image.c - deterministic PNG images for /v1/images/generations. The
 * SHA-256 of the prompt (and, after the first image, of the prompt plus the
 * image index) picks a background colour, a stripe colour, the stripe
 * slope and width, so the same prompt always gives the same bytes. libpng
 * writes the RGB rows into a growing memory buffer.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <png.h>

#include "sim.h"

struct png_buffer {
    unsigned char *data;
    size_t len;
    size_t cap;
    bool failed;
};

static void write_to_buffer(png_structp png, png_bytep data, size_t len)
{
    struct png_buffer *buffer = png_get_io_ptr(png);
    unsigned char *grown;

    if (buffer->failed)
        return;
    if (buffer->len + len > buffer->cap) {
        size_t cap = (buffer->len + len) * 2;

        grown = realloc(buffer->data, cap);
        if (grown == NULL) {
            buffer->failed = true;
            return;
        }
        buffer->data = grown;
        buffer->cap = cap;
    }
    memcpy(buffer->data + buffer->len, data, len);
    buffer->len += len;
}

static void flush_buffer(png_structp png)
{
}

static int prompt_digest(const char *prompt, unsigned int index,
                         unsigned char digest[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char suffix[32];
    int ok;

    if (ctx == NULL)
        return -1;
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
         EVP_DigestUpdate(ctx, prompt, strlen(prompt));
    if (ok && index > 0) {
        int len = snprintf(suffix, sizeof(suffix), "#%u", index);

        ok = EVP_DigestUpdate(ctx, suffix, (size_t)len);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, digest, NULL);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* Fill one RGB row: diagonal stripes over a background. */
static void draw_row(unsigned char *row, unsigned int y, unsigned int width,
                     const unsigned char digest[32])
{
    unsigned int slope = 1 + digest[6] % 3;
    unsigned int stripe = 8 + digest[7] % 24;

    for (unsigned int x = 0; x < width; x++) {
        const unsigned char *color = digest;

        if (((x + y * slope) / stripe) % 2 == 1)
            color = digest + 3;
        memcpy(row + 3 * x, color, 3);
    }
}

static int encode(png_structp png, png_infop info, unsigned char *row,
                  unsigned int width, unsigned int height,
                  const unsigned char digest[32])
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (unsigned int y = 0; y < height; y++) {
        draw_row(row, y, width, digest);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    return 0;
}

/* Draw a width x height PNG for `prompt`; returns malloc'd bytes or NULL. */
unsigned char *sim_image_png(const char *prompt, unsigned int index,
                             unsigned int width, unsigned int height,
                             size_t *png_len)
{
    struct png_buffer buffer = {0};
    unsigned char digest[32];
    unsigned char *row = malloc((size_t)width * 3);
    png_structp png = NULL;
    png_infop info = NULL;
    int rc = -1;

    if (row == NULL || prompt_digest(prompt, index, digest) != 0)
        goto out;
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    info = png != NULL ? png_create_info_struct(png) : NULL;
    if (info == NULL)
        goto out;
    png_set_write_fn(png, &buffer, write_to_buffer, flush_buffer);
    rc = encode(png, info, row, width, height, digest);

out:
    png_destroy_write_struct(&png, &info);
    free(row);
    if (rc != 0 || buffer.failed) {
        fprintf(stderr, "qf-sim: failed to encode a %ux%u PNG\n", width,
                height);
        free(buffer.data);
        return NULL;
    }
    *png_len = buffer.len;
    return buffer.data;
}
