package machine

import (
	"fmt"
	"testing"
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
