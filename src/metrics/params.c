#include <math.h>

#include "core/internal.h"
#include "skindelta/metrics.h"

void sd_metric_params_default(sd_metric_params *p)
{
    p->sigma_t = 2.0;
    p->sigma_p = 6.0;
    p->sigma_s = 1.25;
    p->pore_area_min = 4.0;
    p->pore_area_max = 400.0;
    p->pore_max_elongation = 3.0;
    p->pore_k = 4.0;
    p->pore_floor = 0.05;
    p->pore_contrast = 0.0;
    p->red_delta = 5.0;
    p->px_per_mm = 0.0;
}

void sd_metric_params_from_mm(sd_metric_params *p, double px_per_mm)
{
    p->sigma_t = 0.1 * px_per_mm;
    p->sigma_p = 0.3 * px_per_mm;
    p->sigma_s = 0.06 * px_per_mm;
    p->pore_area_min = 0.02 * px_per_mm * px_per_mm;
    p->pore_area_max = 0.8 * px_per_mm * px_per_mm;
    p->px_per_mm = px_per_mm;
}

int sd_metric_border(const sd_metric_params *p)
{
    double s = SD_MAX(p->sigma_p, SD_MAX(p->sigma_t, p->sigma_s));
    if (!(s > 0))
        return 1;
    double b = ceil(3.0 * s);
    return b > SD_MAX_DIM ? SD_MAX_DIM : (int)b;
}
