//go:build linux

package machine

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// PhysicalMemory returns the memory this process may use in bytes: the
// machine's RAM, or its container's (cgroup) limit when lower; 0 when
// unknown.
var PhysicalMemory = sync.OnceValue(func() uint64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return 0
	}
	mem := uint64(si.Totalram) * uint64(si.Unit)
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if lim, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && lim > 0 && lim < mem {
			mem = lim // "max" (no limit) does not parse
		}
	}
	return mem
})

// addressSpace returns the soft RLIMIT_AS (0 when unlimited) and the
// process's current virtual size, both in bytes; read at each call, since
// both change while the process runs.
func addressSpace() (limit, mapped uint64) {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) != nil || rl.Cur == ^uint64(0) || rl.Cur == 0 {
		return 0, 0
	}
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return rl.Cur, 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return rl.Cur, 0
	}
	pages, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return rl.Cur, 0
	}
	return rl.Cur, pages * uint64(os.Getpagesize())
}
