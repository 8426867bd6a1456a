package machine

import (
	"sync/atomic"
)

// A Team is a pool of threads owned by another library in the process
// (torch's OpenMP threads) that Parallel runs its chunks on instead of its
// own helper goroutines. The reason is the other library's idle threads:
// OpenMP's spin for milliseconds after each of its parallel regions, and a
// pass whose helpers share cores with them ran up to twice as slowly; on
// the team's threads a pass uses exactly the threads that would spin, and
// they take the work at once.
type Team struct {
	// Size is how many threads a region would get now (the other
	// library's current setting); below 2, Parallel uses its own helpers.
	Size func() int
	// Run has n threads (the caller among them) call body once each, and
	// returns when all have returned.
	Run func(n int, body func())
}

var (
	team        atomic.Pointer[Team]
	teamRegions atomic.Int64 // Parallel calls run on a team
)

// TeamRegions is how many Parallel calls have run on a team.
func TeamRegions() int64 { return teamRegions.Load() }

// SetTeam makes Parallel run on t (nil: on its own helpers again).
func SetTeam(t *Team) { team.Store(t) }

// onTeam runs Parallel's nw chunks on t's threads (n of them, n > 1): each
// thread claims the next chunk until none is left, so the chunks run even
// if fewer threads turn up than asked for.
func onTeam(t *Team, n, nw int, chunk func(w int)) {
	teamRegions.Add(1)
	var next atomic.Int64
	t.Run(min(n, nw), func() {
		for w := int(next.Add(1) - 1); w < nw; w = int(next.Add(1) - 1) {
			chunk(w)
		}
	})
}

// onTeamNow reports whether a Parallel call now would run on a team.
func onTeamNow() bool {
	t := team.Load()
	return t != nil && t.Size() > 1
}
