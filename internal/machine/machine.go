// Package machine holds the little the numeric packages (core, core/cfc)
// need from the machine they run on: a way to split work over its cores and
// the memory the process may use.
package machine

import (
	"runtime"
	"sync"
)

// Workers is how many goroutines should share n independent pieces of work:
// at most GOMAXPROCS, at least one.
func Workers(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n))
}

// Parallel runs fn over [0, n) split into nw contiguous chunks, one
// goroutine each (the calling goroutine takes the first); chunk w is
// [w*n/nw, (w+1)*n/nw).
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
	)
	for w := 1; w < nw; w++ {
		lo, hi := w*n/nw, (w+1)*n/nw
		wg.Add(1)
		go func() {
			defer wg.Done()
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
		}()
	}
	func() {
		defer wg.Wait() // also when the caller's share panics
		fn(0, 0, n/nw)
	}()
	if panicked != nil {
		panic(panicked)
	}
}
