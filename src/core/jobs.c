#include <pthread.h>

#include "core/internal.h"

void sd_run_jobs(int nt, void *(*fn)(void *), void *jobs, size_t size)
{
    pthread_t tid[SD_MAX_JOBS];
    int started[SD_MAX_JOBS] = {0};
    nt = SD_CLAMP(nt, 1, SD_MAX_JOBS);
    for (int t = 1; t < nt; t++)
        started[t] = pthread_create(&tid[t], NULL, fn, (char *)jobs + size * (size_t)t) == 0;
    fn(jobs);
    for (int t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            fn((char *)jobs + size * (size_t)t);
    }
}
