package machine

import (
	"errors"
	"sync/atomic"
)

// ErrInterrupted is returned by a long call that stopped because Interrupt
// was called while it ran. What the call was writing is undefined, but
// every object it used stays valid for the next call.
var ErrInterrupted = errors.New("kerasncp: interrupted")

var interrupted atomic.Bool

// Interrupt asks every long call in progress (sequence forward and backward
// passes, wiring builds) to stop at its next poll, within a step. It stays
// in effect until ClearInterrupt: a C host calls it from its SIGINT path,
// waits for its calls to return, then clears it.
func Interrupt() { interrupted.Store(true) }

// ClearInterrupt lets calls run again after Interrupt.
func ClearInterrupt() { interrupted.Store(false) }

// Interrupted reports whether Interrupt is in effect; long loops poll it.
func Interrupted() bool { return interrupted.Load() }
