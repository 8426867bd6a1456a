// Package nprand reproduces, draw for draw, the parts of numpy's random module
// that the reference wirings consume: the legacy RandomState (MT19937) and the
// Generator seeded through SeedSequence on the PCG64 bit generator.
//
// Only the draws the wirings make are implemented, and each one consumes the
// underlying bit stream exactly as numpy does, so that a wiring built here
// from a seed is bit-identical to the reference's wiring built from that seed:
//
//   - RandomState: Randint (masked rejection), Interval (numpy's
//     random_interval) and ChoiceWithoutReplacement (a full
//     permutation of the population, then its first k entries).
//   - Generator: Bounded (Lemire's method on buffered 32-bit halves),
//     Integers and ChoiceWithoutReplacement (Floyd's algorithm followed by a
//     shuffle, or a partial tail shuffle for large populations).
//
// numpy does not promise that Generator streams stay stable across releases;
// the algorithms here follow numpy 1.17 through 2.x, where they have not
// changed.
package nprand
