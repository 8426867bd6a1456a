package machine

import (
	"fmt"
	"math"
)

// MemoryError reports an allocation refused before it was made because it
// would not fit in the memory the process may use. Allocating it anyway
// would end the process (the Go runtime's "out of memory" is fatal and
// cannot be recovered).
type MemoryError struct {
	What  string  // what the memory is for, with the sizes that ask for it
	Bytes float64 // bytes asked for
	Limit float64 // bytes the process may still use (0: only the int overflow was hit)
	Why   string  // which limit binds
	Hint  string  // what the caller can do instead, or ""
}

func (e *MemoryError) Error() string {
	msg := fmt.Sprintf("%s would take %.3g GB, more than an int can count", e.What, e.Bytes/1e9)
	if e.Limit > 0 {
		msg = fmt.Sprintf("%s would take %.3g GB, more than the %.3g GB of memory this process may use (%s)",
			e.What, e.Bytes/1e9, e.Limit/1e9, e.Why)
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// headroom is what CheckAlloc keeps free under an address-space limit for
// the Go runtime's own bookkeeping (heap arenas, spans, goroutine stacks),
// which it maps in addition to the allocation itself.
const headroom = 64 << 20

// CheckAlloc returns a *MemoryError when bytes more bytes cannot be
// allocated: more than the process's address-space limit (RLIMIT_AS) leaves
// beyond what is already mapped, more than the machine's or its container's (cgroup)
// memory, or more than an int counts. what names the allocation and its
// sizes for the message ("wiring: the adjacency of a 65536-unit wiring").
// Call it before every allocation whose size the caller chooses.
func CheckAlloc(what string, bytes float64) error {
	if !(bytes < math.MaxInt/2) { // also NaN
		return &MemoryError{What: what, Bytes: bytes}
	}
	if lim, why := Available(); lim > 0 && bytes > lim {
		return &MemoryError{What: what, Bytes: bytes, Limit: lim, Why: why}
	}
	return nil
}

// Available returns the bytes the process may still allocate, and which
// limit binds; 0 when no limit is known.
func Available() (float64, string) {
	lim, why := float64(PhysicalMemory()), "physical memory, or the container's limit"
	if as, mapped := addressSpace(); as > 0 {
		left := float64(as) - float64(mapped) - headroom
		if left < 0 {
			left = 1 // nothing left, but a known limit
		}
		if lim == 0 || left < lim {
			lim, why = left, "address-space limit RLIMIT_AS, less what is mapped"
		}
	}
	return lim, why
}
