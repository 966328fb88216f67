/*
 * jsonq: a tiny query tool for the CLI tests (no jq on a fresh Debian).
 *   jsonq FILE            exit 0 when FILE ('-' = stdin) is valid JSON
 *   jsonq FILE a.b.0.c    print the value at that path (strings unquoted),
 *                         exit 1 when it is absent
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

static char *slurp(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fputs("usage: jsonq FILE [PATH]\n", stderr);
        return 2;
    }
    char *text = slurp(argv[1]);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) {
        fprintf(stderr, "jsonq: %s: not valid JSON\n", argv[1]);
        return 1;
    }
    const cJSON *node = root;
    if (argc == 3) {
        char *path = strdup(argv[2]);
        for (char *tok = strtok(path, "."); tok && node; tok = strtok(NULL, "."))
            node = cJSON_IsArray(node) ? cJSON_GetArrayItem(node, atoi(tok))
                                       : cJSON_GetObjectItemCaseSensitive(node, tok);
        free(path);
        if (!node) {
            cJSON_Delete(root);
            return 1;
        }
        if (cJSON_IsString(node)) {
            puts(node->valuestring);
        } else {
            char *s = cJSON_PrintUnformatted(node);
            puts(s);
            free(s);
        }
    }
    cJSON_Delete(root);
    return 0;
}
