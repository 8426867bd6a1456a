/*
 * stepper.c - a trained model in a C control loop.
 *
 * Loads the model that `kerasncp-go train --out FOLDER` saved (model.json
 * and model.npz), then steps it once per "sensor reading", the state kept
 * inside the library, and prints each step's outputs. The readings are
 * x[t][i] = sin(0.3 t + 0.7 i), so another program can reproduce them.
 *
 *   stepper FOLDER [STEPS]     print the outputs of STEPS steps (default 10)
 *   stepper FOLDER --bench N   time N steps, print nanoseconds per step
 *
 * Build it against the library scripts/build-c.sh installs, static or shared:
 *
 *   bash scripts/build-c.sh "$PWD/dist/c"
 *   export PKG_CONFIG_PATH="$PWD/dist/c/lib/pkgconfig"
 *   cc -std=c99 examples/c/stepper.c $(pkg-config --cflags --libs kerasncp-static) -lm -o stepper
 *   cc -std=c99 examples/c/stepper.c $(pkg-config --cflags --libs kerasncp) -lm \
 *      -Wl,-rpath,"$PWD/dist/c/lib" -o stepper
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kerasncp.h"

int main(int argc, char **argv) {
    char err[512];
    if (argc < 2) {
        fprintf(stderr, "usage: %s FOLDER [STEPS | --bench N]\n", argv[0]);
        return 2;
    }
    int bench = argc > 3 && strcmp(argv[2], "--bench") == 0;
    long steps = argc > 2 ? atol(argv[bench ? 3 : 2]) : 10;

    /* Load the model: one stepper for one sample (batch 1). */
    uint64_t st;
    int32_t rc = kncp_ltc_stepper_load(argv[1], 1, &st, err, sizeof err);
    if (rc != KNCP_OK) {
        printf("cannot load %s: code %d: %s\n", argv[1], rc, err);
        return 1;
    }
    kncp_stepper_info_t info;
    kncp_stepper_info(st, &info, err, sizeof err);
    if (info.dtype != KNCP_FLOAT32) {
        printf("this example runs float32 models\n");
        return 1;
    }
    float *x = calloc((size_t)info.input_size, sizeof *x);
    float *y = calloc((size_t)info.output_size, sizeof *y);
    kncp_buf xb = {x, info.input_size}, yb = {y, info.output_size};

    /* The loop: read the sensors, one call, use the outputs. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long t = 0; t < steps; t++) {
        if (!bench || t == 0) /* --bench times the steps alone */
            for (int64_t i = 0; i < info.input_size; i++) x[i] = (float)sin(0.3 * (double)t + 0.7 * (double)i);
        rc = kncp_stepper_step(st, xb, 1.0, yb, err, sizeof err);
        if (rc != KNCP_OK) {
            printf("step %ld: code %d: %s\n", t, rc, err);
            return 1;
        }
        if (!bench) {
            printf("%ld", t);
            for (int64_t m = 0; m < info.output_size; m++) printf(" %.9g", y[m]);
            printf("\n");
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (bench) {
        double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        printf("ns_per_step %.1f\n", ns / (double)steps);
    }

    /* A bad reading is refused and the state stays as it was. */
    x[0] = NAN;
    rc = kncp_stepper_step(st, xb, 1.0, yb, err, sizeof err);
    fprintf(stderr, "a NaN reading: code %d: %s\n", rc, err);

    kncp_stepper_free(st, err, sizeof err);
    free(x);
    free(y);
    return 0;
}
