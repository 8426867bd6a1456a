// Package machine holds the little the numeric packages (core, core/cfc)
// need from the machine they run on: a way to split work over its cores and
// the memory the process may use.
package machine

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Workers is how many goroutines should share n independent pieces of work:
// at most GOMAXPROCS, at least one.
func Workers(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n))
}

// Parallel runs fn over [0, n) split into nw contiguous chunks, one
// goroutine each (the calling goroutine takes the first, kept helper
// goroutines the others, see pool.go); chunk w is [w*n/nw, (w+1)*n/nw).
//
// A panic in a worker goroutine is re-raised in the caller's goroutine once
// every worker has finished, so that the caller's recover (the C ABI's
// guard, say) sees it instead of the process dying.
func Parallel(nw, n int, fn func(w, lo, hi int)) {
	if nw <= 1 {
		fn(0, 0, n)
		return
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		panicked any
		left     atomic.Int32 // chunks still running on helpers
	)
	left.Store(int32(nw - 1))
	hs := takeHelpers(nw - 1)
	for w := 1; w < nw; w++ {
		lo, hi := w*n/nw, (w+1)*n/nw
		wg.Add(1)
		h := hs[w-1]
		h.run(func() {
			defer wg.Done()
			defer left.Add(-1)
			defer h.release()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					if panicked == nil {
						panicked = r
					}
					mu.Unlock()
				}
			}()
			fn(w, lo, hi)
		})
	}
	func() {
		defer wg.Wait() // also when the caller's share panics
		fn(0, 0, n/nw)
		// The chunks are alike, so the helpers are about done: wait for
		// them a little without blocking, which from a C caller costs a
		// thread switch each way.
		for start := time.Now(); left.Load() > 0 && time.Since(start) < spinFor; {
		}
	}()
	if panicked != nil {
		panic(panicked)
	}
}
