/*
 * Replay without libFuzzer (libspng tests/fuzz_main.c): every file named on
 * the command line, or found in a folder named there (recursively, in name
 * order), is read into a buffer of exactly its size and handed to
 * LLVMFuzzerTestOneInput, so ASan sees any read past the end. With no
 * arguments the harness's own regression folder SD_REPLAY_DIR is used.
 *
 * Output is in cmocka's summary format so tests/run.sh counts one test per
 * file; a crash is a crash (the runner counts a binary that dies).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef SD_REPLAY_DIR
#define SD_REPLAY_DIR "tests/crashers"
#endif

static int n_files;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            fprintf(stderr, "replay: %s: out of memory\n", path);
            return -1;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!nb)
            free(buf);
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "replay: %s: read error\n", path);
        return -1;
    }
    /* exactly len bytes, so that a read past the end is caught */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    printf("[ RUN      ] %s\n", path);
    fflush(stdout);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    printf("[       OK ] %s\n", path);
    n_files++;
    return 0;
}

static int replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path);
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *e = names[i]->d_name;
        if (e[0] != '.') { /* skips . and .. and hidden files */
            size_t m = strlen(path) + strlen(e) + 2;
            char *sub = malloc(m);
            if (!sub) {
                rc = -1;
            } else {
                snprintf(sub, m, "%s/%s", path, e);
                if (replay_path(sub) != 0)
                    rc = -1;
                free(sub);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    if (argc < 2)
        rc = replay_path(SD_REPLAY_DIR);
    for (int i = 1; i < argc; i++)
        if (replay_path(argv[i]) != 0)
            rc = -1;
    if (rc != 0) {
        printf("[  FAILED  ] 1 test(s), listed below:\n");
        return 1;
    }
    printf("[==========] %d file(s) replayed.\n[  PASSED  ] %d test(s).\n", n_files, n_files);
    return 0;
}
