package machine

import (
	"sync"
	"sync/atomic"
	"time"
)

// Parallel's helper goroutines are kept between calls: a fresh goroutine
// needs an idle thread woken by the operating system, which from a C caller
// (cgo) costs tens of microseconds per call, as much as the work of a short
// call. A helper that has finished a piece of work keeps checking for the
// next one for spinFor before it blocks, so that calls in quick succession
// (a forward pass, then its backward pass) find it awake.
const spinFor = 200 * time.Microsecond

// helper is one kept goroutine.
type helper struct {
	task   atomic.Pointer[func()]
	parked atomic.Bool
	wake   chan struct{} // a token: the task slot may hold work
}

var (
	helpersMu sync.Mutex
	idle      []*helper    // helpers waiting for work
	started   atomic.Int64 // helpers started, for tests
	spins     atomic.Int64 // spells of checking for work begun, for tests
)

// takeHelpers returns n helpers, idle ones first, starting new ones as
// needed.
func takeHelpers(n int) []*helper {
	helpersMu.Lock()
	k := min(n, len(idle))
	hs := make([]*helper, 0, n)
	hs = append(hs, idle[len(idle)-k:]...)
	idle = idle[:len(idle)-k]
	helpersMu.Unlock()
	for len(hs) < n {
		h := &helper{wake: make(chan struct{}, 1)}
		started.Add(1)
		go h.loop()
		hs = append(hs, h)
	}
	return hs
}

// releaseHelpers puts hs back on the idle list.
func releaseHelpers(hs []*helper) {
	helpersMu.Lock()
	idle = append(idle, hs...)
	helpersMu.Unlock()
}

// run hands task to h.
func (h *helper) run(task func()) {
	h.task.Store(&task)
	if h.parked.Load() {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

func (h *helper) loop() {
	for {
		(*h.wait())()
	}
}

// wait returns the next task: checked for spinFor, then waited for
// blocked; a Wake token (no task) starts another spinFor of checking.
func (h *helper) wait() *func() {
	for {
		spins.Add(1)
		start := time.Now()
		for i := 0; ; i++ {
			if t := h.task.Swap(nil); t != nil {
				return t
			}
			if i&255 == 255 && time.Since(start) > spinFor {
				break
			}
		}
		h.parked.Store(true)
		if t := h.task.Swap(nil); t != nil {
			h.parked.Store(false)
			return t
		}
		<-h.wake
		h.parked.Store(false)
	}
}

// Wake sets the idle helpers checking for work again (for spinFor), so
// that a Parallel call expected soon finds them awake instead of paying
// for their wake-up then. A caller whose calls come in bursts with gaps
// longer than spinFor between them (a framework's autograd between a
// forward and a backward pass) calls it just before the work that leads
// up to the next call. It does not block; a helper already awake is left
// as it is.
func Wake() {
	if onTeamNow() {
		return // the team's threads, not the helpers, take the next call
	}
	helpersMu.Lock()
	for _, h := range idle {
		if h.parked.Load() {
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}
	}
	helpersMu.Unlock()
}
