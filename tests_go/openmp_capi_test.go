package tests_go

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/tests_go/capidriver"
)

// TestOpenMPTeamThroughABI: with kncp_set_openmp given GNU OpenMP's entry
// points (as the torch binding gives torch's), CfC passes run their
// parallel work on OpenMP's threads, calling back into Go from threads Go
// did not start, and give the same outputs and gradients bit for bit as on
// the library's own threads.
func TestOpenMPTeamThroughABI(t *testing.T) {
	runtime.LockOSThread() // OpenMP's thread count is the calling thread's
	defer runtime.UnlockOSThread()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // split passes on any machine
	capidriver.SetOpenMPThreads(3)
	h, r := capidriver.CfCNew(capidriver.CfCConfig{InputSize: 6, Units: 24, Mode: 1, BackboneUnits: 32,
		BackboneLayers: 1, MixedMemory: true}, 5)
	if r.Code != capidriver.OK {
		t.Fatal(r.Msg)
	}
	defer capidriver.CfCFree(h)
	info, _ := capidriver.GetCfCInfo(h)
	const b, steps = 64, 20
	rng := rand.New(rand.NewPCG(3, 4))
	params := make([]float32, info.ParamLen)
	capidriver.CfCInit(h, 5, params)
	x := randFloats(rng, b*steps*6, -1, 1)
	el := randFloats(rng, b*steps, 0.5, 1.5)
	gy := randFloats(rng, b*steps*int(info.OutputSize), -1, 1)
	pass := func() [][]float32 {
		y := make([]float32, len(gy))
		hOut := make([]float32, b*info.StateSize)
		tape, r := capidriver.CfCForward(h, params, b, steps, x, nil, nil, el, y, true, hOut, nil, false, 0, true)
		if r.Code != capidriver.OK {
			t.Fatal(r.Msg)
		}
		gp, gx := make([]float32, info.ParamLen), make([]float32, len(x))
		gel := make([]float32, len(el))
		if r := capidriver.CfCBackward(tape, gy, nil, nil, gp, gx, nil, nil, gel); r.Code != capidriver.OK {
			t.Fatal(r.Msg)
		}
		return [][]float32{y, hOut, gp, gx, gel}
	}
	own := pass()
	if r := capidriver.UseOpenMP(true); r.Code != capidriver.OK {
		t.Fatal(r.Msg)
	}
	defer capidriver.UseOpenMP(false)
	before, _ := capidriver.OpenMPRegions()
	var team [][]float32
	for range 3 { // OpenMP's threads call back into Go the first time and again
		team = pass()
	}
	after, _ := capidriver.OpenMPRegions()
	if after-before < 6 {
		t.Errorf("%d regions ran on the OpenMP team over 3 forward and backward passes, want at least 6", after-before)
	}
	for i := range own {
		if !slices.Equal(own[i], team[i]) {
			t.Errorf("result %d differs between the library's threads and the OpenMP team", i)
		}
	}
	capidriver.SetOpenMPThreads(1) // a team of one: the library's own threads
	before, _ = capidriver.OpenMPRegions()
	pass()
	if after, _ := capidriver.OpenMPRegions(); after != before {
		t.Errorf("a pass ran on a one-thread OpenMP team")
	}
}
