// Package wiring builds the connectivity of a Neural Circuit Policy: which
// neuron excites or inhibits which, and which input feature (sensory neuron)
// feeds which neuron.
//
// Layout. A Wiring over U neurons holds two int32 matrices, stored flat and
// row-major with the presynaptic side as the row:
//
//	Adjacency()[src*U+dst]        synapse from neuron src to neuron dst, U x U
//	SensoryAdjacency()[s*U+dst]   synapse from input feature s to neuron dst, S x U
//
// Every entry is -1 (inhibitory), 0 (no synapse) or +1 (excitatory). Neuron
// ids of an NCP are laid out motor first: motor [0, M), command [M, M+C),
// inter [M+C, U); the first OutputDim() neurons are the outputs.
//
// Random streams. FullyConnected, Random, NCP and AutoNCP draw their
// polarities and synapses from the same numpy streams, in the same order, as
// keras-ncp 2.1.0 and ncps 1.0.1, so the same seed gives bit-identical
// matrices. Two deliberate differences, both documented in the README: Build
// is idempotent (the reference draws a second set of synapses when a built
// wiring is built again), and an NCP remembers its seed in its Config.
//
// Errors. Constructors, Build and the synapse setters return an error that
// names the offending argument and the allowed range; nothing here panics on
// user input.
package wiring
