package capidriver

/*
#cgo CFLAGS: -I${SRCDIR}/../../capi -fopenmp
#cgo LDFLAGS: -fopenmp
#include <omp.h>
#include "kerasncp.h"

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

static void *gomp_parallel_ptr(void) { return (void *)GOMP_parallel; }
static void *omp_max_threads_ptr(void) { return (void *)omp_get_max_threads; }
*/
import "C"

// UseOpenMP calls kncp_set_openmp with this binary's GNU OpenMP runtime
// (on), or with NULLs (off).
func UseOpenMP(on bool) Result {
	p, q := C.gomp_parallel_ptr(), C.omp_max_threads_ptr()
	if !on {
		p, q = nil, nil
	}
	return call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_set_openmp(p, q, e, n) })
}

// SetOpenMPThreads calls omp_set_num_threads on the calling thread (the
// team a region started from it gets).
func SetOpenMPThreads(n int) { C.omp_set_num_threads(C.int(n)) }

// OpenMPRegions calls kncp_openmp_regions.
func OpenMPRegions() (int64, Result) {
	var out C.int64_t
	r := call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_openmp_regions(&out, e, n) })
	return int64(out), r
}
