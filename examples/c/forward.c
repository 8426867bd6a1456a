/*
 * forward.c - an NCP from C through the kerasncp-go C ABI.
 *
 * Builds an NCP wiring for 2 input features, gives the LTC cell fixed
 * parameters (the midpoints of the reference's initial ranges), runs a batch
 * of 2 sequences of 4 steps forward in one call, and shows an error coming
 * back as a code plus a message. Build it against the library that
 * scripts/build-lib.sh writes:
 *
 *   bash scripts/build-lib.sh
 *   cc -std=c99 -I python/kerasncp_go/_native examples/c/forward.c \
 *      -L python/kerasncp_go/_native -lkerasncp -lm \
 *      -Wl,-rpath,"$PWD/python/kerasncp_go/_native" -o forward
 *   ./forward
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kerasncp.h"

#define CHECK(call)                                                      \
    do {                                                                 \
        if ((call) != KNCP_OK) {                                         \
            fprintf(stderr, "%s failed: %s\n", #call, err);              \
            return 1;                                                    \
        }                                                                \
    } while (0)

static float *filled(int64_t n, float v) {
    float *a = malloc((size_t)n * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i] = v;
    return a;
}

int main(void) {
    char err[512];
    if (kncp_abi_version() != KNCP_ABI_VERSION) {
        fprintf(stderr, "library ABI %d, header ABI %d\n", kncp_abi_version(), KNCP_ABI_VERSION);
        return 1;
    }

    /* 4 inter, 3 command and 1 motor neuron, the reference's default seed. */
    uint64_t w;
    CHECK(kncp_wiring_new("{\"kind\": \"ncp\", \"inter_neurons\": 4, \"command_neurons\": 3, "
                          "\"motor_neurons\": 1, \"sensory_fanout\": 2, \"inter_fanout\": 2, "
                          "\"recurrent_command_synapses\": 2, \"motor_fanin\": 2}",
                          &w, err, sizeof err));
    CHECK(kncp_wiring_build(w, 2, err, sizeof err));
    kncp_wiring_info_t info;
    CHECK(kncp_wiring_info(w, &info, err, sizeof err));
    const int64_t U = info.units, S = info.input_dim, M = info.output_dim;
    printf("kerasncp-go %s: NCP with %lld neurons, %lld inputs, %lld motor, %lld + %lld sensory synapses\n",
           kncp_version(), (long long)U, (long long)S, (long long)M, (long long)info.synapse_count,
           (long long)info.sensory_synapse_count);

    /* erev = polarities, masks = |polarities| (layout: [src*units + dest]). */
    int32_t *adj = malloc((size_t)(U * U) * sizeof *adj), *sadj = malloc((size_t)(S * U) * sizeof *sadj);
    CHECK(kncp_wiring_adjacency(w, adj, U * U, err, sizeof err));
    CHECK(kncp_wiring_sensory_adjacency(w, sadj, S * U, err, sizeof err));
    CHECK(kncp_wiring_free(w, err, sizeof err));
    float *erev = malloc((size_t)(U * U) * sizeof *erev), *mask = malloc((size_t)(U * U) * sizeof *mask);
    float *serev = malloc((size_t)(S * U) * sizeof *serev), *smask = malloc((size_t)(S * U) * sizeof *smask);
    for (int64_t i = 0; i < U * U; i++) erev[i] = (float)adj[i], mask[i] = (float)abs(adj[i]);
    for (int64_t i = 0; i < S * U; i++) serev[i] = (float)sadj[i], smask[i] = (float)abs(sadj[i]);

    kncp_ltc_cell cell = {KNCP_FLOAT32, U, S, M, KNCP_MAP_NONE, KNCP_MAP_NONE, 6, 1e-8, 0, {{0}}};
    struct { int p; int64_t n; float v; } fixed[] = {
        {KNCP_P_GLEAK, U, 0.5f}, {KNCP_P_VLEAK, U, 0.0f}, {KNCP_P_CM, U, 0.5f},
        {KNCP_P_SIGMA, U * U, 5.5f}, {KNCP_P_MU, U * U, 0.55f}, {KNCP_P_W, U * U, 0.5f},
        {KNCP_P_SENSORY_SIGMA, S * U, 5.5f}, {KNCP_P_SENSORY_MU, S * U, 0.55f}, {KNCP_P_SENSORY_W, S * U, 0.5f},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        cell.params[fixed[i].p] = (kncp_buf){filled(fixed[i].n, fixed[i].v), fixed[i].n};
    cell.params[KNCP_P_EREV] = (kncp_buf){erev, U * U};
    cell.params[KNCP_P_SPARSITY_MASK] = (kncp_buf){mask, U * U};
    cell.params[KNCP_P_SENSORY_EREV] = (kncp_buf){serev, S * U};
    cell.params[KNCP_P_SENSORY_SPARSITY_MASK] = (kncp_buf){smask, S * U};

    /* x is batch x steps x sensory; outputs of every step, batch x steps x motor. */
    enum { B = 2, T = 4 };
    float x[B * T * 2], y[B * T * 1], *h = malloc((size_t)(B * U) * sizeof *h);
    for (int i = 0; i < B * T * 2; i++) x[i] = sinf(0.5f * (float)i);
    kncp_buf none = {NULL, 0};
    CHECK(kncp_ltc_forward(&cell, B, T, (kncp_buf){x, B * T * S}, none, none, (kncp_buf){y, B * T * M}, 1,
                           (kncp_buf){h, B * U}, NULL, err, sizeof err));
    for (int b = 0; b < B; b++) {
        printf("sequence %d:", b);
        for (int t = 0; t < T; t++) {
            if (!isfinite(y[b * T + t])) return 1;
            printf(" %.4f", y[b * T + t]);
        }
        printf("\n");
    }

    /* A mistake comes back as a code and a message naming the argument. */
    int32_t rc = kncp_ltc_forward(&cell, B, T, (kncp_buf){x, 3}, none, none, none, 1, none, NULL, err, sizeof err);
    printf("a short x: code %d (KNCP_ERR_VALUE is %d): %s\n", rc, KNCP_ERR_VALUE, err);
    return rc == KNCP_ERR_VALUE ? 0 : 1;
}
