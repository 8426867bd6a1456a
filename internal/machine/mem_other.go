//go:build !linux

package machine

// PhysicalMemory returns 0: unknown on this platform (only the overflow
// check applies to tapes).
func PhysicalMemory() uint64 { return 0 }

func addressSpace() (limit, mapped uint64) { return 0, 0 }
