// Package core is the liquid time-constant (LTC) cell of keras-ncp: its
// parameters, a batched forward pass over whole sequences, backpropagation
// through time, weight constraints and .npz persistence.
//
// Layout. Everything is row-major and flat. With U neurons (units), S input
// features (sensory) and M outputs (motor):
//
//	x        batch x steps x S      inputs, x[(b*steps+t)*S+s]
//	h0, h    batch x U              initial and final states
//	elapsed  batch x steps          elapsed time of each step (nil: 1.0)
//	y        batch x steps x M      outputs of every step, or batch x M for
//	                                the last step only
//	sigma, mu, w, erev, sparsity_mask                      U x U, [i*U+j] is the
//	                                                       synapse from neuron i to j
//	sensory_sigma, sensory_mu, sensory_w, sensory_erev,
//	sensory_sparsity_mask                                  S x U, [s*U+j]
//	gleak, vleak, cm                                       U
//	input_w, input_b                                       S
//	output_w, output_b                                     M
//
// The first M neurons are the outputs (motor neurons), as in the wiring
// package.
//
// Math. One step maps the input through x*input_w+input_b, then runs
// ode_unfolds fused semi-implicit Euler steps of
//
//	cm dv/dt = gleak (vleak - v) + sum_i w_ij sigmoid(sigma_ij (v_i - mu_ij)) (erev_ij - v)
//
// (plus the same sum over input features) with step elapsed/ode_unfolds, and
// maps the motor neurons through y*output_w+output_b. With implicit
// constraints, w, sensory_w, cm and gleak enter through softplus. Synapses
// whose mask entry is zero cost nothing: the kernels walk a compressed list
// of the synapses that exist, so an NCP costs in proportion to its synapse
// count.
//
// Precision. One generic implementation serves float32 (production, as the
// reference) and float64 (gradient checks). Sums are taken in a different
// order than PyTorch or TensorFlow take them, so float32 results agree with
// the reference to round-off, not bitwise.
package core
