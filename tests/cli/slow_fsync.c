/*
 * LD_PRELOAD shim for tests/cli/faults.sh: makes fsync(2) slow so that a
 * signal can be sent while the atomic writer's temporary file exists.
 * When SD_SLOW_FSYNC_MARK names a file, fsync creates it (the "now" for
 * the test), sleeps SD_SLOW_FSYNC_SECONDS (default 2), then does the real
 * fsync. Test code only; never linked into anything.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd);

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    const char *mark = getenv("SD_SLOW_FSYNC_MARK");
    if (mark && *mark) {
        int m = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (m >= 0)
            close(m);
        const char *sec = getenv("SD_SLOW_FSYNC_SECONDS");
        struct timespec t = {sec ? atoi(sec) : 2, 0};
        while (nanosleep(&t, &t) != 0) {
        }
    }
    return real ? real(fd) : -1;
}
