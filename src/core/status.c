#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

struct sd_ctx {
    sd_status status;
    int threads;
    char message[1024];
};

const char *sd_strerror(sd_status s)
{
    switch (s) {
    case SD_OK: return "success";
    case SD_ERR_ARG: return "invalid argument";
    case SD_ERR_NOMEM: return "out of memory";
    case SD_ERR_IO: return "cannot read input";
    case SD_ERR_FORMAT: return "not a JPEG or PNG file";
    case SD_ERR_CORRUPT: return "corrupt image data";
    case SD_ERR_UNSUPPORTED: return "unsupported image variant";
    case SD_ERR_TOO_LARGE: return "image too large";
    case SD_ERR_TOO_SMALL: return "image too small";
    case SD_ERR_ALIGN: return "images cannot be aligned";
    case SD_ERR_WRITE: return "cannot write output";
    }
    return "unknown error";
}

sd_ctx *sd_ctx_new(void)
{
    sd_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx)
        ctx->threads = 1;
    return ctx;
}

void sd_ctx_free(sd_ctx *ctx) { free(ctx); }

const char *sd_ctx_message(const sd_ctx *ctx) { return ctx ? ctx->message : ""; }

sd_status sd_ctx_status(const sd_ctx *ctx) { return ctx ? ctx->status : SD_OK; }

void sd_ctx_clear(sd_ctx *ctx)
{
    if (!ctx)
        return;
    ctx->status = SD_OK;
    ctx->message[0] = '\0';
}

void sd_ctx_set_threads(sd_ctx *ctx, int threads)
{
    if (ctx)
        ctx->threads = threads < 1 ? 1 : threads;
}

int sd_ctx_threads(const sd_ctx *ctx) { return ctx ? ctx->threads : 1; }

void sd_one_line(char *msg)
{
    for (unsigned char *c = (unsigned char *)msg; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
        else if (*c < 0x20 || *c == 0x7f)
            *c = '?';
}

sd_status sd_fail(sd_ctx *ctx, sd_status s, const char *fmt, ...)
{
    if (!ctx)
        return s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    /* one line of plain text: the CLI prints the message as is, and a file
     * name or a manifest key may hold any byte (a line break, or an escape
     * sequence that would drive the terminal) */
    sd_one_line(ctx->message);
    ctx->status = s;
    return s;
}
