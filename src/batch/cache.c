/*
 * The batch cache: one small JSON file per result, named by the SHA-256 of
 * everything the result depends on, written atomically, never trusted
 * (an entry must parse and repeat its key and format, or it is recomputed).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch/batch_internal.h"
#include "skindelta/io.h"

#define ENTRY_MAX (1u << 20)

void sd_batch_cache_key(const char *text, char key[65]) { sd_sha256_hex(text, strlen(text), key); }

static int entry_path(const char *dir, const char *kind, const char *key, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s/" SD_BATCH_CACHE_DIR "/%s-%s.json", dir, kind, key);
    return k > 0 && (size_t)k < n ? 0 : -1;
}

cJSON *sd_batch_cache_get(const char *dir, const char *kind, const char *key, int *rejected)
{
    char path[4096];
    if (entry_path(dir, kind, key, path, sizeof path) != 0)
        return NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL;
    sd_ctx *ctx = sd_ctx_new();
    if (!ctx)
        return NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    cJSON *o = NULL;
    if (sd_file_read(ctx, path, ENTRY_MAX, &data, &len) == SD_OK) {
        /* a NUL-terminated copy for the parser */
        char *text = malloc(len + 1);
        if (text) {
            memcpy(text, data, len);
            text[len] = '\0';
            o = cJSON_Parse(text);
            free(text);
        }
    }
    free(data);
    sd_ctx_free(ctx);
    const cJSON *k = o ? cJSON_GetObjectItemCaseSensitive(o, "key") : NULL;
    const cJSON *f = o ? cJSON_GetObjectItemCaseSensitive(o, "format") : NULL;
    if (!cJSON_IsObject(o) || !cJSON_IsString(k) || strcmp(k->valuestring, key) != 0 ||
        !cJSON_IsNumber(f) || f->valuedouble != SD_BATCH_CACHE_FORMAT) {
        cJSON_Delete(o);
        *rejected = 1;
        return NULL;
    }
    return o;
}

int sd_batch_cache_put(const char *dir, const char *kind, const char *key, cJSON *obj)
{
    char path[4096];
    int k = snprintf(path, sizeof path, "%s/" SD_BATCH_CACHE_DIR, dir);
    if (k <= 0 || (size_t)k >= sizeof path)
        return -1;
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return -1;
    if (entry_path(dir, kind, key, path, sizeof path) != 0)
        return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "key");
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "format");
    cJSON_AddStringToObject(obj, "key", key);
    cJSON_AddNumberToObject(obj, "format", SD_BATCH_CACHE_FORMAT);
    char *text = cJSON_PrintUnformatted(obj);
    if (!text)
        return -1;
    sd_ctx *ctx = sd_ctx_new();
    int rc = -1;
    if (ctx && sd_file_write_atomic(ctx, path, text, strlen(text)) == SD_OK)
        rc = 0;
    sd_ctx_free(ctx);
    free(text);
    return rc;
}

cJSON *sd_batch_exact_num(double x)
{
    /* cJSON's own printer accepts 15 digits when they read back within an
     * epsilon: not exact. 17 significant digits always round-trip. */
    if (!isfinite(x))
        return cJSON_CreateNull();
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", x);
    return cJSON_CreateRaw(buf);
}

int sd_batch_get_num(const cJSON *o, const char *k, double *x)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNull(e)) {
        *x = NAN;
        return 0;
    }
    if (!cJSON_IsNumber(e))
        return -1;
    *x = e->valuedouble;
    return 0;
}
