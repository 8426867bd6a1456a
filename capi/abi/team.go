package abi

/*
#cgo CFLAGS: -I${SRCDIR}/..
#define KNCP_NO_PROTOTYPES
#include <stdint.h>
#include "kerasncp.h"
void kncp_team_run(void *parallel, uintptr_t job, unsigned n);
int kncp_team_size(void *max_threads);
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

//export kncpTeamBody
func kncpTeamBody(job C.uintptr_t) {
	cgo.Handle(job).Value().(func())()
}

//export kncp_set_openmp
func kncp_set_openmp(parallel, maxThreads unsafe.Pointer, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if parallel == nil || maxThreads == nil {
		machine.SetTeam(nil)
		return C.KNCP_OK
	}
	machine.SetTeam(&machine.Team{
		Size: func() int { return int(C.kncp_team_size(maxThreads)) },
		Run: func(n int, body func()) {
			h := cgo.NewHandle(body)
			defer h.Delete()
			C.kncp_team_run(parallel, C.uintptr_t(h), C.unsigned(n))
		},
	})
	return C.KNCP_OK
}

//export kncp_openmp_regions
func kncp_openmp_regions(out *C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if out == nil {
		return finish(errf(C.KNCP_ERR_VALUE, "kerasncp: out must not be NULL"), err, errlen)
	}
	*out = C.int64_t(machine.TeamRegions())
	return C.KNCP_OK
}
