/*
 * Atomic output files: write to a temporary file in the destination's own
 * folder, fsync it, rename it over the destination, fsync the folder. A
 * failure at any step removes the temporary file and leaves an existing
 * destination untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/internal.h"
#include "skindelta/io.h"

/* write(2) caps one call near 2 GiB on Linux; stay well below. */
#define SD_WRITE_CHUNK ((size_t)1 << 30)

/* Write all of data to fd, retrying on EINTR and short writes. Returns 0, or
 * -1 with errno set. */
static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        size_t n = len < SD_WRITE_CHUNK ? len : SD_WRITE_CHUNK;
        ssize_t w = write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) { /* should not happen for regular files; do not spin */
            errno = EIO;
            return -1;
        }
        data += (size_t)w;
        len -= (size_t)w;
    }
    return 0;
}

/* The process umask, read without changing it where the system allows
 * (Linux >= 4.7 shows it in /proc/self/status); otherwise once through
 * umask(2), which briefly sets it. */
static mode_t process_umask;
static pthread_once_t umask_once = PTHREAD_ONCE_INIT;

static void umask_read(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned int m;
            if (sscanf(line, "Umask: %o", &m) == 1) {
                process_umask = (mode_t)(m & 0777);
                fclose(f);
                return;
            }
        }
        fclose(f);
    }
    mode_t old = umask(022);
    umask(old);
    process_umask = old & 0777;
}

static mode_t created_file_mode(void)
{
    pthread_once(&umask_once, umask_read);
    return (mode_t)(0666 & ~process_umask);
}

/* Best effort: make the rename durable. Errors are ignored (some file
 * systems refuse fsync on folders). */
static void fsync_folder(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (fsync(fd) != 0 && errno == EINTR) {
    }
    close(fd);
}

static sd_status write_stdout(sd_ctx *ctx, const void *data, size_t len)
{
    if (write_all(STDOUT_FILENO, data, len) != 0)
        return sd_fail(ctx, SD_ERR_WRITE, "-: cannot write to standard output: %s",
                       strerror(errno));
    return SD_OK;
}

sd_status sd_file_write_atomic(sd_ctx *ctx, const char *path, const void *data, size_t len)
{
    if (!path || !*path)
        return sd_fail(ctx, SD_ERR_ARG, "output: empty file name");
    if (!data && len > 0)
        return sd_fail(ctx, SD_ERR_ARG, "%s: no data to write", path);
    if (strcmp(path, "-") == 0)
        return write_stdout(ctx, data, len);

    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return sd_fail(ctx, SD_ERR_WRITE, "%s: is a folder, not a file name", path);

    /* "<dir>/" + "." + base + ".XXXXXX" ; folder "." when there is no slash */
    size_t baselen = strlen(base);
    if (baselen > SIZE_MAX / 2 - dirlen - 16)
        return sd_fail(ctx, SD_ERR_ARG, "output: file name too long");
    char *tmp = malloc(dirlen + baselen + 16);
    char *dir = malloc(dirlen + 2);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", path);
    }
    if (slash) {
        memcpy(dir, path, dirlen);
        dir[dirlen] = '\0';
        if (dirlen == 0)
            strcpy(dir, "/");
        memcpy(tmp, path, dirlen + 1); /* keeps the slash */
        tmp[dirlen + 1] = '\0';
    } else {
        strcpy(dir, ".");
        tmp[0] = '\0';
    }
    strcat(tmp, ".");
    strcat(tmp, base);
    strcat(tmp, ".XXXXXX");

    sd_status st = SD_OK;
    const char *step = NULL;
    int err = 0;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        err = errno;
        st = sd_fail(ctx, SD_ERR_WRITE, "%s: cannot create a temporary file in %s: %s", path,
                     dir, strerror(err));
        free(tmp);
        free(dir);
        return st;
    }
    if (fchmod(fd, created_file_mode()) != 0)
        step = "cannot set permissions";
    else if (write_all(fd, data, len) != 0)
        step = "cannot write";
    else if (fsync(fd) != 0)
        step = "cannot flush to disk";
    if (step)
        err = errno;
    if (close(fd) != 0 && !step) {
        step = "cannot close";
        err = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "cannot replace";
        err = errno;
    }
    if (step) {
        unlink(tmp);
        st = sd_fail(ctx, SD_ERR_WRITE, "%s: %s: %s", path, step, strerror(err));
    } else {
        fsync_folder(dir);
    }
    free(tmp);
    free(dir);
    return st;
}
