package machine

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelCoversRange: every index of [0, n) is handed to exactly one
// worker, for worker counts below, at and above n.
func TestParallelCoversRange(t *testing.T) {
	for _, tc := range []struct{ nw, n int }{{1, 5}, {2, 5}, {4, 4}, {3, 10}, {8, 3}} {
		seen := make([]int, tc.n)
		Parallel(tc.nw, tc.n, func(w, lo, hi int) {
			for i := lo; i < hi; i++ {
				seen[i]++ // chunks are disjoint: no race
			}
		})
		for i, c := range seen {
			if c != 1 {
				t.Errorf("nw=%d n=%d: index %d handed out %d times, want 1", tc.nw, tc.n, i, c)
			}
		}
	}
}

// TestParallelReraisesWorkerPanics: a panic in any worker reaches the
// caller's goroutine.
func TestParallelReraisesWorkerPanics(t *testing.T) {
	for _, who := range []int{0, 1, 3} {
		got := func() (r any) {
			defer func() { r = recover() }()
			Parallel(4, 8, func(w, lo, hi int) {
				if w == who {
					panic(fmt.Sprintf("worker %d", w))
				}
			})
			return nil
		}()
		if got != fmt.Sprintf("worker %d", who) {
			t.Errorf("panic in worker %d: recovered %v", who, got)
		}
	}
}

// TestParallelKeepsItsHelpers: calls one after another reuse the helper
// goroutines of the first instead of starting new ones, and a helper
// blocked after its spin still takes the next call's work.
func TestParallelKeepsItsHelpers(t *testing.T) {
	sum := func(nw int) int64 {
		var s atomic.Int64
		Parallel(nw, 1000, func(w, lo, hi int) {
			for i := lo; i < hi; i++ {
				s.Add(int64(i))
			}
		})
		return s.Load()
	}
	sum(4)
	before := started.Load()
	for i := 0; i < 2000; i++ {
		if got := sum(4); got != 999*1000/2 {
			t.Fatalf("call %d: sum %d, want %d", i, got, 999*1000/2)
		}
	}
	time.Sleep(3 * spinFor) // every helper has blocked
	if got := sum(4); got != 999*1000/2 {
		t.Fatalf("after the helpers blocked: sum %d, want %d", got, 999*1000/2)
	}
	if n := started.Load() - before; n != 0 {
		t.Errorf("%d helpers started by calls that found the first call's helpers idle, want 0", n)
	}
}

// goid is the calling goroutine's id, read from its stack header.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return id
}

// TestParallelRunsChunksNoHelperStarted: when no helper can start (held
// back by helperGate, as the Go scheduler can hold them when called from C
// on changing threads), the caller runs every chunk itself, each once,
// instead of waiting for them; the helpers, let go afterwards, find their
// chunks taken and do nothing.
func TestParallelRunsChunksNoHelperStarted(t *testing.T) {
	gate := make(chan struct{})
	helperGate.Store(&gate)
	defer helperGate.Store(nil)
	caller := make(chan uint64, 1)
	var ran [4]atomic.Int32
	var byCaller atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		me := goid()
		caller <- me
		Parallel(4, 4, func(w, lo, hi int) {
			ran[w].Add(1)
			if goid() == me {
				byCaller.Add(1)
			}
		})
	}()
	<-caller
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Parallel waited for helpers that could not start")
	}
	close(gate)
	time.Sleep(10 * time.Millisecond) // the helpers look at their (taken) chunks
	for w := range ran {
		if n := ran[w].Load(); n != 1 {
			t.Errorf("chunk %d ran %d times, want 1", w, n)
		}
	}
	if n := byCaller.Load(); n != 4 {
		t.Errorf("the caller ran %d of 4 chunks, want all", n)
	}
}

// parkedHelpers counts the idle helpers that are blocked, and all idle.
func parkedHelpers() (parked, all int) {
	helpersMu.Lock()
	defer helpersMu.Unlock()
	for _, h := range idle {
		if h.parked.Load() {
			parked++
		}
	}
	return parked, len(idle)
}

// waitFor polls cond for up to a second.
func waitFor(cond func() bool) bool {
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Microsecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestWakeSetsParkedHelpersChecking: Wake takes each blocked helper back
// to checking for work, they block again after spinFor without any, and a
// call after that still gets its work done by them.
func TestWakeSetsParkedHelpersChecking(t *testing.T) {
	Parallel(3, 3, func(w, lo, hi int) {})
	if !waitFor(func() bool { p, n := parkedHelpers(); return n >= 2 && p == n }) {
		p, n := parkedHelpers()
		t.Fatalf("%d of %d idle helpers blocked after their spin, want all (at least 2)", p, n)
	}
	_, n := parkedHelpers()
	before := spins.Load()
	Wake()
	if !waitFor(func() bool { return spins.Load()-before >= int64(n) }) {
		t.Fatalf("after Wake %d of %d blocked helpers went back to checking for work, want all", spins.Load()-before, n)
	}
	if !waitFor(func() bool { p, n := parkedHelpers(); return p == n }) {
		p, n := parkedHelpers()
		t.Fatalf("%d of %d woken helpers blocked again with no work, want all", p, n)
	}
	Wake() // and again, with the previous tokens read
	startedBefore := started.Load()
	var s atomic.Int64
	Parallel(3, 300, func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			s.Add(int64(i))
		}
	})
	if s.Load() != 299*300/2 {
		t.Errorf("sum after Wake %d, want %d", s.Load(), 299*300/2)
	}
	if k := started.Load() - startedBefore; k != 0 {
		t.Errorf("%d helpers started after Wake, want 0 (the woken ones take the work)", k)
	}
}

func TestSetThreadsCapsWorkers(t *testing.T) {
	defer SetThreads(0)
	procs := runtime.GOMAXPROCS(0)
	if got := Workers(1 << 20); got != procs {
		t.Fatalf("Workers without a cap = %d, want GOMAXPROCS %d", got, procs)
	}
	if err := SetThreads(1); err != nil {
		t.Fatal(err)
	}
	if got, th := Workers(8), Threads(); got != 1 || th != 1 {
		t.Errorf("threads capped at 1: Workers(8) = %d, Threads() = %d, want 1 and 1", got, th)
	}
	if err := SetThreads(int64(procs) + 5); err != nil { // above GOMAXPROCS: no effect
		t.Fatal(err)
	}
	if got := Threads(); got != procs {
		t.Errorf("cap above GOMAXPROCS: Threads() = %d, want %d", got, procs)
	}
	if err := SetThreads(-1); err == nil || !strings.Contains(err.Error(), "number of threads must be >= 0") {
		t.Errorf("SetThreads(-1) = %v, want an error naming threads", err)
	}
	if err := SetThreads(0); err != nil || Threads() != procs {
		t.Errorf("SetThreads(0) = %v, Threads() = %d, want nil and %d", err, Threads(), procs)
	}
}

// goTeam is a Team of goroutines: Run starts n-1 of them and calls body on
// the caller too, or only on the caller when lone is set (a team whose
// other threads never turn up).
func goTeam(size int, lone bool) *Team {
	return &Team{
		Size: func() int { return size },
		Run: func(n int, body func()) {
			if lone {
				body()
				return
			}
			done := make(chan struct{}, n)
			for i := 1; i < n; i++ {
				go func() { body(); done <- struct{}{} }()
			}
			body()
			for i := 1; i < n; i++ {
				<-done
			}
		},
	}
}

// TestParallelOnTeam: with a team installed, Parallel and Each hand every
// index out exactly once on the team's threads, also when only the caller
// turns up, re-raise a chunk's panic in the caller, and fall back to their
// own helpers when the team has a single thread.
func TestParallelOnTeam(t *testing.T) {
	defer SetTeam(nil)
	for _, tc := range []struct {
		size int
		lone bool
		on   bool // runs on the team
	}{{4, false, true}, {2, false, true}, {8, true, true}, {1, false, false}} {
		SetTeam(goTeam(tc.size, tc.lone))
		before := TeamRegions()
		for _, c := range []struct{ nw, n int }{{2, 5}, {4, 4}, {3, 10}, {8, 3}} {
			seen := make([]int, c.n)
			Parallel(c.nw, c.n, func(w, lo, hi int) {
				for i := lo; i < hi; i++ {
					seen[i]++
				}
			})
			each := make([]atomic.Int32, c.n)
			Each(c.nw, c.n, func(w, i int) { each[i].Add(1) })
			for i := range seen {
				if seen[i] != 1 || each[i].Load() != 1 {
					t.Errorf("team %+v nw=%d n=%d: index %d handed out %d times by Parallel, %d by Each, want 1",
						tc, c.nw, c.n, i, seen[i], each[i].Load())
				}
			}
		}
		if ran := TeamRegions() > before; ran != tc.on {
			t.Errorf("team %+v: ran on the team %v, want %v", tc, ran, tc.on)
		}
		got := func() (r any) {
			defer func() { r = recover() }()
			Parallel(4, 8, func(w, lo, hi int) {
				if w == 2 {
					panic("chunk 2")
				}
			})
			return nil
		}()
		if got != "chunk 2" {
			t.Errorf("team %+v: panic in a chunk recovered as %v", tc, got)
		}
	}
}
