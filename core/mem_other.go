//go:build !linux

package core

// physicalMemory returns 0: unknown on this platform (only the overflow
// check applies to tapes).
func physicalMemory() uint64 { return 0 }
