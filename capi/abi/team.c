// The thread team of an OpenMP runtime already loaded into the process
// (see team.go): the runtime's GOMP_parallel and the host's thread count
// (omp_get_max_threads, or torch's at::get_num_threads), called through
// the pointers the host found.
#include <stdint.h>
#include "_cgo_export.h"

typedef void (*kncp_gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
typedef int (*kncp_omp_max_threads_fn)(void);

static void kncp_team_body(void *job) { kncpTeamBody((uintptr_t)job); }

void kncp_team_run(void *parallel, uintptr_t job, unsigned n) {
	((kncp_gomp_parallel_fn)parallel)(kncp_team_body, (void *)job, n, 0);
}

int kncp_team_size(void *max_threads) { return ((kncp_omp_max_threads_fn)max_threads)(); }
