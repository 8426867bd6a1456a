package machine_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// TestCheckAllocRefusesOverflow: sizes no int counts are refused anywhere.
func TestCheckAllocRefusesOverflow(t *testing.T) {
	var me *machine.MemoryError
	if err := machine.CheckAlloc("test: x", 1e30); !errors.As(err, &me) || !strings.Contains(err.Error(), "test: x would take") {
		t.Errorf("CheckAlloc(1e30) = %v, want a MemoryError naming the allocation", err)
	}
	if err := machine.CheckAlloc("test: x", 1<<20); err != nil {
		t.Errorf("CheckAlloc(1 MiB) = %v, want nil", err)
	}
}

// TestUnderAddressSpaceLimit re-runs this test binary with RLIMIT_AS set a
// little above what it has mapped (never near this machine's memory), and
// checks there that what asked for more is refused with an error instead
// of the Go runtime's fatal "out of memory" (which would end the child with
// a non-zero status and a goroutine dump).
func TestUnderAddressSpaceLimit(t *testing.T) {
	if os.Getenv("KNCP_TEST_RLIMIT_CHILD") == "1" {
		underLimit(t)
		return
	}
	if _, err := os.Stat("/proc/self/statm"); err != nil {
		t.Skip("needs Linux's /proc")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnderAddressSpaceLimit$", "-test.v")
	cmd.Env = append(os.Environ(), "KNCP_TEST_RLIMIT_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: all refused") {
		t.Fatalf("child under RLIMIT_AS: %v\n%s", err, out)
	}
}

func underLimit(t *testing.T) {
	lim, _ := machine.Available()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/proc/self/statm")
	var pages uint64
	for _, c := range strings.Fields(string(b))[0] {
		pages = pages*10 + uint64(c-'0')
	}
	rl.Cur = pages*uint64(os.Getpagesize()) + 768<<20
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &rl); err != nil {
		t.Skipf("cannot set RLIMIT_AS: %v", err)
	}
	if now, why := machine.Available(); now >= lim || !strings.Contains(why, "RLIMIT_AS") {
		t.Fatalf("Available() = %g (%s) under the limit, %g before", now, why, lim)
	}
	var me *machine.MemoryError
	// 65536² int32 = 17 GB; 30000² with its permutation = 10.8 GB.
	if _, err := wiring.NewFullyConnected(65536, 0, 1, true); !errors.As(err, &me) {
		t.Fatalf("FullyConnected(65536): %v, want a MemoryError", err)
	}
	if _, err := wiring.NewRandom(30000, 0, 0.5, 1); !errors.As(err, &me) || !strings.Contains(err.Error(), "30000 x 30000") {
		t.Fatalf("Random(30000): %v, want a MemoryError naming the sizes", err)
	}
	w, err := wiring.NewFullyConnected(64, 0, 1, true)
	if err != nil {
		t.Fatalf("a small wiring under the limit: %v", err)
	}
	if err := w.Build(1 << 16); err != nil {
		t.Fatalf("Build(65536) of 64 units (16 MB): %v", err)
	}
	t.Log("child: all refused")
}
