// Package cfc is the closed-form continuous-time (CfC) family of ncps
// 1.0.1's torch classes: the CfC cell in its three modes with its
// backbone, the wired CfC (one CfC layer per wiring layer), the
// mixed-memory LSTM cell and the sequence layer around them, with a
// batched forward pass over whole sequences and backpropagation through
// time in float32 and float64.
//
// Layout. Everything is row-major and flat. With I input features, a
// state of N values, O outputs (the projection's size, or the last
// layer's width) and batch B over T steps:
//
//	x        B x T x I       x[(b*T+t)*I+i]
//	elapsed  B x T           elapsed time of each step (nil: 1.0)
//	h0, h    B x N           initial and final state
//	c0, c    B x N           initial and final memory (mixed memory only)
//	y        B x T x O       outputs of every step, or B x O for the last
//
// A plain CfC has one layer and N = units. A wired CfC has one layer per
// wiring layer (an NCP: inter, command, motor) and its state is the layers'
// states concatenated in layer order, [layer 0 | layer 1 | ...], not in
// neuron-id order; its output is the last layer's state, however wide
// (a FullyConnected wiring's output is every unit).
//
// Parameters live in one flat slice (Model.Params) described by an ordered
// table (Model.Table) whose names, order and shapes are those of the
// reference module's state_dict(): "rnn_cell.backbone.0.weight",
// "rnn_cell.ff1.weight", "rnn_cell.layer_1.sparsity_mask",
// "lstm.recurrent_map.weight", "fc.bias", ... Linear weights are (out, in):
// w[o*in+i]. Sparsity masks are entries that are not trained.
//
// Math. One step of layer l maps its input u (x for layer 0, the new state
// of layer l-1 otherwise) and its previous state h to its new state h':
//
//	z0 = [u | h]
//	z_k = drop_k(act(W_k z_(k-1) + b_k))         backbone layers k = 1..K (K may be 0)
//	a_j = W_j z_K + b_j                           heads j = ff1, ff2, time_a, time_b
//	s   = sigmoid(a_time_a * dt + a_time_b)       dt: the step's elapsed time
//	default:  h' = tanh(a_ff1) (1 - s) + s tanh(a_ff2)
//	no_gate:  h' = tanh(a_ff1) + s tanh(a_ff2)
//	pure:     h' = -A exp(-dt (|w_tau| + |a_ff1|)) a_ff1 + A    (heads: ff1 only)
//
// act is lecun_tanh (1.7159 tanh(0.666 x)), tanh, relu, gelu (exact: x
// Phi(x)) or silu (x sigmoid(x)). drop_k is the identity except in
// training passes with a dropout rate p, for backbone layers 2..K only:
// each unit is zeroed with probability p and the others scaled by 1/(1-p),
// the mask a function of the pass's seed and the unit's (layer, step, row,
// index). Wired layers have no backbone (K = 0) and use lecun_tanh; their
// ff1 and ff2 weights are multiplied elementwise by the layer's mask, of
// shape (n_l, width of u + n_l): |sensory_adjacency[:, layer]| (layer 0)
// or |adjacency[previous layer, layer]| transposed, beside ones for the
// recurrent part. time_a and time_b are never masked.
//
// With mixed memory an LSTM cell runs first each step on the whole state:
//
//	[i, g_i, g_f, g_o] = W_in x + b_in + W_rec h      (chunks of N, in that order)
//	c' = c sigmoid(g_f + 1) + tanh(i) sigmoid(g_i)
//	h~ = tanh(c') sigmoid(g_o)
//
// and the CfC layers then step from h~ (split into the layers' parts)
// instead of h. With a projection every output is W_fc h'_last + b_fc.
//
// Elapsed times must be finite and > 0: Forward returns an error otherwise
// (the reference takes any value; a zero or negative time has no meaning
// for a continuous-time cell and a NaN would spread silently). Unlike the
// reference, elapsed times work per sample and step at every batch size.
//
// Tape. A Forward with Keep stores, for every batch row b and step t, one
// row of Model.TapeWidth() values at row t*B+b: the inputs of every dense
// product ([x | h] of the LSTM and of each layer, each backbone layer's
// output), each backbone layer's activation derivative, the heads' values
// [tanh(ff1) | tanh(ff2) | s | time_a] (pure mode: ff1), the LSTM gates'
// values, the memory before and after, and each layer's new state. Memory
// is linear in B x T x (state + backbone). Backward walks the steps back,
// writing the gradients of the products' outputs over those values, then
// computes every weight gradient as one product over all B x T rows; it
// consumes the tape.
//
// Dense products are batched over the rows one goroutine handles at each
// step: the batch is cut into blocks of at most 16 rows, which the
// goroutines take one after another (machine.Each), so that one slowed
// down by another thread on its core leaves more blocks to the others. They go
// through gonum's BLAS (blas32 for float32, blas64 for float64), except
// float32 on amd64 CPUs with AVX2 and FMA, where they run on the
// hand-written kernels of internal/kern32 (register-blocked 6x16 FMA
// tiles reading the operands in place; forward products read the
// transposed weights, backward ones the weights, parameter gradients the
// tape, bias gradients as column sums), as do tanh, lecun_tanh, their
// derivatives and the heads' tanh and sigmoid (kern32's vector functions,
// within 4 ulp). gonum remains the portable path and the tests' oracle
// (TestFloat32MatchesFloat64 runs both float32 paths). Both figures, go
// test -bench . -benchtime 10x -count 3 (minima, ms per call, 2 cores of
// an AMD EPYC Zen 4 shared with other jobs, 2026-12-04):
//
//	         forward           forward+backward
//	         gonum   kernels   gonum   kernels
//	S1        1.99    0.58      5.03     0.80    CfC(2,16) T48 B32
//	S2       14.84    2.06     33.94     6.06    CfC(20,50) T64 B64
//	S3       24.25    4.57     67.05    13.45    CfC(64,256,bu=256) T32 B32
//	W1        3.83    0.65      6.77     1.21    AutoNCP(32,4), 8 in, T64 B64
//	K1        7.10    0.87     16.87     3.49    Keras variant, AutoNCP(64,8), 32 in, T64 B64
//
// In a wired model the heads of each layer and step run as one kernel call
// over all rows (kern32.CfCHeads and CfCHeadsGrad: biases, tanh and
// sigmoid, the CfC mix and its gradient), writing the new state where the
// next layer and step read it.
//
// Precision. One generic implementation serves float32 and float64;
// elementwise functions are evaluated in float64, but for the float32
// vector functions above. Sums are taken in a different order than
// PyTorch takes them, so float32 results agree with the reference to
// round-off, not bitwise.
package cfc
