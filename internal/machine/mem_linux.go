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
