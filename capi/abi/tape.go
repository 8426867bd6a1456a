package abi

import (
	"runtime/debug"
	"sync"
	"time"
)

// callStater is a pooled call state (an LTC or a CfC pass): release drops
// its references to the caller's memory and puts it back into pool.
type callStater[S any] interface {
	*S
	release(pool *sync.Pool)
}

// pooledTape is a forward tape: the call state of its pass, kept (with
// copies of the parameters and inputs) until the tape is freed.
type pooledTape[S any, P callStater[S]] struct {
	st    P // nil once released
	pool  *sync.Pool
	bytes float64 // the tape's size
}

// bigTape is the tape size from which a freed tape's memory goes back to the
// operating system at once instead of waiting, pooled, for the next call: a
// host that trained with big batches and then idles (or only frees) would
// otherwise keep it, since nothing triggers Go's garbage collector.
const bigTape = 256 << 20

// release returns the tape's state to its pool (its buffers and cached
// synapse structure serve the next call), or drops a big one and returns
// its memory to the operating system.
func (t *pooledTape[S, P]) release() {
	if t == nil || t.st == nil {
		return
	}
	if t.bytes >= bigTape {
		var zero S
		*t.st = zero
		go debug.FreeOSMemory()
	}
	noteFreed(t.bytes)
	t.st.release(t.pool)
	t.st = nil
}

// Freed tapes below bigTape stay pooled for the next call. So that a host
// that stops calling (done training, serving rarely) does not keep them for
// good, once idleFreeMin bytes of tapes have been freed and no tape has been
// freed for idleFreeAfter, the pools are emptied and the memory returned to
// the operating system: nothing else would trigger Go's collector then.
const (
	idleFreeAfter = 2 * time.Second
	idleFreeMin   = 16 << 20
)

var (
	idleMu      sync.Mutex
	idleTimer   *time.Timer
	idlePending float64 // tape bytes freed since the last return to the OS
)

// noteFreed records a freed tape of the given size and (re)arms the idle
// timer.
func noteFreed(bytes float64) {
	idleMu.Lock()
	defer idleMu.Unlock()
	idlePending += bytes
	if idlePending < idleFreeMin {
		return
	}
	if idleTimer == nil {
		idleTimer = time.AfterFunc(idleFreeAfter, freeIdle)
	} else {
		idleTimer.Reset(idleFreeAfter)
	}
}

func freeIdle() {
	idleMu.Lock()
	idlePending = 0
	idleMu.Unlock()
	// The first collection moves the pools' contents to their victim
	// caches, the second drops them; each returns what is free.
	debug.FreeOSMemory()
	debug.FreeOSMemory()
}
