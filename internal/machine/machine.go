// Package machine holds the little the numeric packages (core, core/cfc)
// need from the machine they run on: a way to split work over its cores and
// the memory the process may use.
package machine

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Workers is how many goroutines should share n independent pieces of work:
// at most Threads(), at least one.
func Workers(n int) int {
	return max(1, min(Threads(), n))
}

// threadCap is SetThreads's cap; 0 for none.
var threadCap atomic.Int64

// Threads is how many goroutines one pass may split its work over:
// GOMAXPROCS (the cores the process may use, or the GOMAXPROCS environment
// variable at start), or fewer if SetThreads asked for fewer.
func Threads() int {
	n := runtime.GOMAXPROCS(0)
	if c := threadCap.Load(); c > 0 && c < int64(n) {
		return int(c)
	}
	return n
}

// SetThreads caps the goroutines a pass splits its work over at n, or
// lifts the cap (n = 0, the default); a cap above GOMAXPROCS changes
// nothing. Passes already running keep their split. Outputs do not depend
// on it; sums over the batch that each goroutine starts on its own rows (the
// LTC's parameter gradients) can differ in rounding.
func SetThreads(n int64) error {
	if n < 0 {
		return fmt.Errorf("the number of threads must be >= 0 (0: every core the process may use), got %d", n)
	}
	threadCap.Store(n)
	return nil
}

// helperGate, when set (by tests), holds every helper back before it looks
// at its chunk until the channel is closed: a helper that cannot start.
var helperGate atomic.Pointer[chan struct{}]

// Parallel runs fn over [0, n) split into nw contiguous chunks; chunk w is
// [w*n/nw, (w+1)*n/nw) and fn runs exactly once for each. The calling
// goroutine takes the first chunk and kept helper goroutines (see pool.go)
// the others; a chunk whose helper has not started it by the time the
// caller is done with its own, the caller runs itself. So a helper that
// cannot get a processor soon costs parallelism, never a wait: from C
// callers on changing threads (TensorFlow's pool running a host call, say)
// the Go scheduler can hold its other processor for a while, and waiting
// for it made a pass several times slower than running it on one core.
// With a Team set (SetTeam) of more than one thread, the chunks run on the
// team's threads instead, each taking the next chunk not yet taken.
//
// A panic in a worker goroutine is re-raised in the caller's goroutine once
// every started chunk has finished, so that the caller's recover (the C
// ABI's guard, say) sees it instead of the process dying.
func Parallel(nw, n int, fn func(w, lo, hi int)) {
	if nw <= 1 {
		fn(0, 0, n)
		return
	}
	var (
		mu       sync.Mutex
		panicked any
	)
	chunk := func(w int) {
		defer func() {
			if r := recover(); r != nil {
				mu.Lock()
				if panicked == nil {
					panicked = r
				}
				mu.Unlock()
			}
		}()
		fn(w, w*n/nw, (w+1)*n/nw)
	}
	if t := team.Load(); t != nil {
		if k := t.Size(); k > 1 {
			onTeam(t, k, nw, chunk) // every chunk has run when it returns
			if panicked != nil {
				panic(panicked)
			}
			return
		}
	}
	var (
		claimed  = make([]atomic.Bool, nw) // chunk w has been started by someone
		running  atomic.Int32              // chunks started by helpers and not finished
		finished = make(chan struct{}, nw) // a token per chunk a helper finished
	)
	hs := takeHelpers(nw - 1)
	for w := 1; w < nw; w++ {
		h := hs[w-1]
		h.run(func() {
			if g := helperGate.Load(); g != nil {
				<-*g
			}
			if !claimed[w].CompareAndSwap(false, true) {
				return // the caller ran it
			}
			running.Add(1)
			chunk(w)
			running.Add(-1)
			finished <- struct{}{}
		})
	}
	chunk(0)   // chunk 0 is the caller's: no helper claims it
	ownBy := 0 // chunks the caller ran besides its own
	for w := 1; w < nw; w++ {
		if claimed[w].CompareAndSwap(false, true) {
			chunk(w)
			ownBy++
		}
	}
	// Every chunk is claimed now; the helpers' are about done (the chunks
	// are alike): wait for them a little without blocking, which from a C
	// caller costs a thread switch each way, then blocked.
	for start := time.Now(); running.Load() > 0 && time.Since(start) < spinFor; {
	}
	for range nw - 1 - ownBy {
		<-finished
	}
	// The helpers go back to the idle list even if one has not yet looked
	// at its task (it finds the chunk claimed and does nothing, or a later
	// call's task in its place, which it then runs).
	releaseHelpers(hs)
	if panicked != nil {
		panic(panicked)
	}
}

// Each runs fn(w, i) for every i in [0, n) on nw goroutines (see
// Parallel), each taking the next i as soon as it is done with its last:
// w is the goroutine's index in [0, nw), for per-goroutine scratch. When
// one goroutine is slowed down (a thread of another library spinning on
// its core, say) the others take more of the items, where Parallel's fixed
// chunks would wait for it. Which goroutine runs which item varies from
// call to call.
func Each(nw, n int, fn func(w, i int)) {
	nw = max(1, min(nw, n))
	if nw == 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	Parallel(nw, nw, func(w, _, _ int) {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			fn(w, i)
		}
	})
}
