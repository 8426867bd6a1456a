package wiring

import (
	"fmt"
	"math"
	"slices"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
	"github.com/kerasncp-go/kerasncp-go/wiring/internal/nprand"
)

// Kind names the family a wiring was constructed as.
type Kind string

// The wiring families. Custom is a bare wiring whose synapses are set one by
// one (the reference's base Wiring class).
const (
	Custom         Kind = "wiring"
	FullyConnected Kind = "fully_connected"
	Random         Kind = "random"
	NCP            Kind = "ncp"
	AutoNCP        Kind = "autoncp"
)

// Seeds the reference uses when none is given.
const (
	DefaultErevInitSeed = 1111  // FullyConnected
	DefaultRandomSeed   = 1111  // Random
	DefaultNCPSeed      = 22222 // NCP and AutoNCP
)

// MaxNCPSeed is the largest seed numpy's legacy RandomState, and so NCP and
// AutoNCP, accept (2**32 - 1). FullyConnected and Random seed a SeedSequence,
// which takes any non-negative integer; here any uint64.
const MaxNCPSeed = math.MaxUint32

// Neuron types returned by TypeOfNeuron.
const (
	Motor   = "motor"
	Command = "command"
	Inter   = "inter"
)

// Config holds the constructor arguments of a wiring. Which fields matter
// depends on Kind; the others are zero. Seed is FullyConnected's
// erev_init_seed, Random's random_seed and NCP's and AutoNCP's seed.
type Config struct {
	Kind      Kind
	Units     int // all kinds but NCP (whose units is the sum of its layers)
	OutputDim int // FullyConnected, Random (0: all units); AutoNCP's output_size

	Seed            uint64
	SelfConnections bool    // FullyConnected
	SparsityLevel   float64 // Random, AutoNCP

	// NCP.
	InterNeurons, CommandNeurons, MotorNeurons int
	SensoryFanout, InterFanout                 int
	RecurrentCommandSynapses, MotorFanin       int
}

// Wiring is the connectivity of one recurrent cell. The zero value is not
// usable; construct one with New, NewCustom, NewFullyConnected, NewRandom,
// NewNCP, NewAutoNCP or FromMatrices. A Wiring is not safe for concurrent
// mutation.
type Wiring struct {
	cfg       Config
	units     int
	inputDim  int // 0 until SetInputDim or Build
	outputDim int // 0 when unset (custom wirings only)
	adj       []int32
	sensory   []int32
	generated bool // the build-time synapses have been drawn

	pcg *nprand.Generator   // FullyConnected, Random
	mt  *nprand.RandomState // NCP, AutoNCP

	// NCP and AutoNCP: the NCP arguments (for AutoNCP, the derived ones)
	// and the layers, neuron ids in ascending order.
	ncp                   Config
	inter, command, motor []int
}

// New constructs the wiring that cfg describes.
func New(cfg Config) (*Wiring, error) {
	switch cfg.Kind {
	case Custom:
		return NewCustom(cfg.Units)
	case FullyConnected:
		return NewFullyConnected(cfg.Units, cfg.OutputDim, cfg.Seed, cfg.SelfConnections)
	case Random:
		return NewRandom(cfg.Units, cfg.OutputDim, cfg.SparsityLevel, cfg.Seed)
	case NCP:
		return NewNCP(cfg.InterNeurons, cfg.CommandNeurons, cfg.MotorNeurons, cfg.SensoryFanout,
			cfg.InterFanout, cfg.RecurrentCommandSynapses, cfg.MotorFanin, cfg.Seed)
	case AutoNCP:
		return NewAutoNCP(cfg.Units, cfg.OutputDim, cfg.SparsityLevel, cfg.Seed)
	}
	return nil, fmt.Errorf("wiring: unknown kind %q, expected one of %q, %q, %q, %q, %q",
		cfg.Kind, Custom, FullyConnected, Random, NCP, AutoNCP)
}

// NewCustom returns a wiring of units neurons without synapses and without
// output dimension (the reference's Wiring(units)). Add synapses with
// AddSynapse and AddSensorySynapse.
func NewCustom(units int) (*Wiring, error) {
	if err := checkUnits("units", units); err != nil {
		return nil, err
	}
	return newWiring(Config{Kind: Custom, Units: units}, units, 0)
}

// newWiring allocates the adjacency matrix of units neurons, after checking
// that it fits in the memory the process may use.
func newWiring(cfg Config, units, outputDim int) (*Wiring, error) {
	if err := checkMatrix("adjacency", units, units, cfg.Kind == Random); err != nil {
		return nil, err
	}
	return &Wiring{cfg: cfg, units: units, outputDim: outputDim, adj: make([]int32, units*units)}, nil
}

// checkMatrix refuses a rows x cols int32 matrix (with, when drawn, the
// index permutation a Random wiring's choice takes) that would not fit in
// the memory the process may use: a failed allocation ends the process.
func checkMatrix(name string, rows, cols int, drawn bool) error {
	n := float64(rows) * float64(cols)
	bytes := 4 * n
	if drawn && n > 10000 { // ChoiceWithoutReplacement may permute every index (8 bytes each)
		bytes += 8 * n
	}
	return machine.CheckAlloc(fmt.Sprintf("wiring: the %s matrix (%d x %d)", name, rows, cols), bytes)
}

// MaxDraws bounds the random draws one build makes (NCP's
// recurrent_command_synapses): more takes minutes, not seconds.
const MaxDraws = 1 << 24

// pollEvery is how many loop iterations pass between two polls of
// machine.Interrupted in a build.
const pollEvery = 1 << 16

// maxUnits bounds the neuron count so that units*units stays addressable and
// a mistyped size fails with an error instead of exhausting memory.
const maxUnits = 1 << 16

func checkUnits(name string, units int) error {
	if units < 1 || units > maxUnits {
		return fmt.Errorf("wiring: %s must be in [1, %d], got %d", name, maxUnits, units)
	}
	return nil
}

func checkNCPSeed(seed uint64) error {
	if seed > MaxNCPSeed {
		return fmt.Errorf("wiring: seed must be in [0, 2**32-1], got %d", seed)
	}
	return nil
}

// outputDimOrAll resolves the reference's output_dim=None (here 0) to units.
func outputDimOrAll(units, outputDim int) (int, error) {
	if outputDim == 0 {
		return units, nil
	}
	if outputDim < 0 || outputDim > units {
		return 0, fmt.Errorf("wiring: output_dim must be in [1, units=%d] (or unset for all units), got %d", units, outputDim)
	}
	return outputDim, nil
}

// NewFullyConnected connects every neuron to every neuron (except itself when
// selfConnections is false) with a random polarity, P(+1) = 2/3; Build then
// connects every input feature to every neuron. outputDim 0 means all units.
// The reference's defaults are seed DefaultErevInitSeed and selfConnections
// true.
func NewFullyConnected(units, outputDim int, seed uint64, selfConnections bool) (*Wiring, error) {
	if err := checkUnits("units", units); err != nil {
		return nil, err
	}
	out, err := outputDimOrAll(units, outputDim)
	if err != nil {
		return nil, err
	}
	w, err := newWiring(Config{Kind: FullyConnected, Units: units, OutputDim: outputDim, Seed: seed,
		SelfConnections: selfConnections}, units, out)
	if err != nil {
		return nil, err
	}
	w.pcg = nprand.NewGenerator(seed)
	for src := 0; src < units; src++ {
		if src%(1+pollEvery/units) == 0 && machine.Interrupted() {
			return nil, machine.ErrInterrupted
		}
		for dst := 0; dst < units; dst++ {
			if src == dst && !selfConnections {
				continue
			}
			w.adj[src*units+dst] = w.pcgPolarity()
		}
	}
	return w, nil
}

// NewRandom draws round(units²·(1−sparsityLevel)) distinct synapses between
// neurons, and at Build round(inputDim·units·(1−sparsityLevel)) from the
// inputs, each with a random polarity, P(+1) = 2/3. sparsityLevel must be in
// [0, 1). outputDim 0 means all units. The reference's default seed is
// DefaultRandomSeed.
func NewRandom(units, outputDim int, sparsityLevel float64, seed uint64) (*Wiring, error) {
	if err := checkUnits("units", units); err != nil {
		return nil, err
	}
	out, err := outputDimOrAll(units, outputDim)
	if err != nil {
		return nil, err
	}
	if !(sparsityLevel >= 0 && sparsityLevel < 1) {
		return nil, fmt.Errorf("wiring: sparsity_level must be in [0, 1), got %v", sparsityLevel)
	}
	w, err := newWiring(Config{Kind: Random, Units: units, OutputDim: outputDim, SparsityLevel: sparsityLevel,
		Seed: seed}, units, out)
	if err != nil {
		return nil, err
	}
	w.pcg = nprand.NewGenerator(seed)
	n := units * units
	for _, k := range w.pcg.ChoiceWithoutReplacement(n, keepCount(n, sparsityLevel)) {
		w.adj[k] = w.pcgPolarity() // k = src*units + dst, the reference's pair order
	}
	if machine.Interrupted() { // the choice stops early when interrupted
		return nil, machine.ErrInterrupted
	}
	return w, nil
}

// keepCount is the reference's int(np.round(n * (1 - sparsity))).
func keepCount(n int, sparsity float64) int {
	return int(math.RoundToEven(float64(n) * (1 - sparsity)))
}

// pcgPolarity is Generator.choice([-1, 1, 1]).
func (w *Wiring) pcgPolarity() int32 {
	if w.pcg.Integers(3) == 0 {
		return -1
	}
	return 1
}

// mtPolarity is RandomState.choice([-1, 1]).
func (w *Wiring) mtPolarity() int32 {
	if w.mt.Randint(2) == 0 {
		return -1
	}
	return 1
}

// NewNCP lays out a four-layer Neural Circuit Policy: input features (sensory
// neurons) → inter → command → motor, with recurrent synapses among command
// neurons. Each sensory neuron reaches sensoryFanout inter neurons, each inter
// neuron interFanout command neurons, each motor neuron receives motorFanin
// command neurons, and recurrentCommandSynapses command→command synapses are
// drawn (repeats and self-loops allowed). Neurons a layer leaves unreached get
// synapses of their own. The inter and command synapses are drawn at Build,
// once the input dimension is known. The reference's default seed is
// DefaultNCPSeed.
func NewNCP(interNeurons, commandNeurons, motorNeurons, sensoryFanout, interFanout,
	recurrentCommandSynapses, motorFanin int, seed uint64) (*Wiring, error) {
	for _, a := range []struct {
		name string
		v    int
	}{{"inter_neurons", interNeurons}, {"command_neurons", commandNeurons}} {
		if err := checkUnits(a.name, a.v); err != nil {
			return nil, err
		}
	}
	// The reference accepts an NCP without motor neurons (its output is
	// empty), so this does too.
	if motorNeurons < 0 || motorNeurons > maxUnits {
		return nil, fmt.Errorf("wiring: motor_neurons must be in [0, %d], got %d", maxUnits, motorNeurons)
	}
	units := interNeurons + commandNeurons + motorNeurons
	if units > maxUnits {
		return nil, fmt.Errorf("wiring: inter_neurons+command_neurons+motor_neurons must be at most %d, got %d", maxUnits, units)
	}
	for _, a := range []struct {
		name, layer string
		v, max      int
	}{
		{"motor_fanin", "command_neurons", motorFanin, commandNeurons},
		{"sensory_fanout", "inter_neurons", sensoryFanout, interNeurons},
		{"inter_fanout", "command_neurons", interFanout, commandNeurons},
	} {
		if a.v < 0 || a.v > a.max {
			return nil, fmt.Errorf("wiring: %s must be in [0, %s=%d], got %d", a.name, a.layer, a.max, a.v)
		}
	}
	// Repeats are allowed, so this only bounds the work Build does: each
	// synapse is three draws, and 2**24 of them take a second already.
	if recurrentCommandSynapses < 0 || recurrentCommandSynapses > MaxDraws {
		return nil, fmt.Errorf("wiring: recurrent_command_synapses must be in [0, %d], got %d "+
			"(synapses may repeat, so more adds nothing but minutes of build time)", MaxDraws, recurrentCommandSynapses)
	}
	if err := checkNCPSeed(seed); err != nil {
		return nil, err
	}
	w, err := newWiring(Config{Kind: NCP, InterNeurons: interNeurons, CommandNeurons: commandNeurons,
		MotorNeurons: motorNeurons, SensoryFanout: sensoryFanout, InterFanout: interFanout,
		RecurrentCommandSynapses: recurrentCommandSynapses, MotorFanin: motorFanin, Seed: seed},
		units, motorNeurons)
	if err != nil {
		return nil, err
	}
	w.mt = nprand.NewRandomState(uint32(seed))
	w.ncp = w.cfg
	w.motor = span(0, motorNeurons)
	w.command = span(motorNeurons, motorNeurons+commandNeurons)
	w.inter = span(motorNeurons+commandNeurons, units)
	return w, nil
}

func span(lo, hi int) []int {
	s := make([]int, hi-lo)
	for i := range s {
		s[i] = lo + i
	}
	return s
}

// NewAutoNCP derives an NCP's layer sizes and fanouts from a neuron count, an
// output size and a sparsity level in [0.1, 1], as ncps's AutoNCP does: 40 %
// of the non-motor neurons become command neurons, the rest inter neurons,
// and every fanout is the layer size times the density 1−sparsityLevel. It
// needs outputSize in [0, units-3] (0, as in the reference, gives an NCP
// without outputs). The reference's defaults are sparsity 0.5 and seed
// DefaultNCPSeed.
func NewAutoNCP(units, outputSize int, sparsityLevel float64, seed uint64) (*Wiring, error) {
	if err := checkUnits("units", units); err != nil {
		return nil, err
	}
	if units < 3 {
		return nil, fmt.Errorf("wiring: AutoNCP needs units >= 3 (inter and command neurons besides the outputs), got %d", units)
	}
	if outputSize < 0 || outputSize >= units-2 {
		return nil, fmt.Errorf("wiring: output_size must be in [0, units-3=%d], got %d", units-3, outputSize)
	}
	if !(sparsityLevel >= 0.1 && sparsityLevel <= 1.0) {
		return nil, fmt.Errorf("wiring: sparsity_level must be in [0.1, 1.0], got %v", sparsityLevel)
	}
	density := 1.0 - sparsityLevel
	ic := units - outputSize
	command := max(int(0.4*float64(ic)), 1)
	inter := ic - command
	w, err := NewNCP(inter, command, outputSize,
		max(int(float64(inter)*density), 1),
		max(int(float64(command)*density), 1),
		max(int(float64(command)*density*2), 1),
		max(int(float64(command)*density), 1),
		seed)
	if err != nil {
		return nil, err
	}
	w.cfg = Config{Kind: AutoNCP, Units: units, OutputDim: outputSize, SparsityLevel: sparsityLevel, Seed: seed}
	return w, nil
}

// FromMatrices returns a custom wiring holding copies of the given matrices
// (the reference's Wiring.from_config). sensory may be nil when inputDim is 0
// (not built); outputDim 0 leaves the output dimension unset.
func FromMatrices(units, inputDim, outputDim int, adjacency, sensory []int32) (*Wiring, error) {
	w, err := NewCustom(units)
	if err != nil {
		return nil, err
	}
	if outputDim != 0 {
		if err := w.SetOutputDim(outputDim); err != nil {
			return nil, err
		}
	}
	if len(adjacency) != units*units {
		return nil, fmt.Errorf("wiring: adjacency_matrix must have units*units=%d entries, got %d", units*units, len(adjacency))
	}
	if err := checkPolarities("adjacency_matrix", adjacency); err != nil {
		return nil, err
	}
	copy(w.adj, adjacency)
	if inputDim == 0 {
		if len(sensory) != 0 {
			return nil, fmt.Errorf("wiring: sensory_adjacency_matrix given without input_dim")
		}
		return w, nil
	}
	if err := w.SetInputDim(inputDim); err != nil {
		return nil, err
	}
	if len(sensory) != inputDim*units {
		return nil, fmt.Errorf("wiring: sensory_adjacency_matrix must have input_dim*units=%d entries, got %d", inputDim*units, len(sensory))
	}
	if err := checkPolarities("sensory_adjacency_matrix", sensory); err != nil {
		return nil, err
	}
	copy(w.sensory, sensory)
	return w, nil
}

func checkPolarities(name string, m []int32) error {
	for i, v := range m {
		if v < -1 || v > 1 {
			return fmt.Errorf("wiring: %s entries must be -1, 0 or 1, got %d at flat index %d", name, v, i)
		}
	}
	return nil
}

// Kind returns the family the wiring was constructed as.
func (w *Wiring) Kind() Kind { return w.cfg.Kind }

// Config returns the constructor arguments. For AutoNCP they are the
// AutoNCP arguments, not the derived NCP ones; for a custom wiring only
// Kind and Units are set (its state is its matrices).
func (w *Wiring) Config() Config { return w.cfg }

// Units returns the number of neurons.
func (w *Wiring) Units() int { return w.units }

// InputDim returns the number of input features, or 0 before SetInputDim or
// Build.
func (w *Wiring) InputDim() int { return w.inputDim }

// OutputDim returns the number of output (motor) neurons, or 0 when a custom
// wiring has none set.
func (w *Wiring) OutputDim() int { return w.outputDim }

// Adjacency returns the units x units synapse matrix, laid out as the package
// documentation says. The slice aliases the wiring: do not modify it; use
// AddSynapse.
func (w *Wiring) Adjacency() []int32 { return w.adj }

// SensoryAdjacency returns the inputDim x units sensory synapse matrix, or nil
// before the input dimension is known. The slice aliases the wiring.
func (w *Wiring) SensoryAdjacency() []int32 { return w.sensory }

// IsBuilt reports whether the input dimension is known.
func (w *Wiring) IsBuilt() bool { return w.inputDim > 0 }

// SetInputDim fixes the number of input features and allocates an empty
// sensory matrix. Setting the same dimension again changes nothing; a
// different one is an error.
func (w *Wiring) SetInputDim(inputDim int) error {
	if inputDim < 1 || inputDim > maxUnits {
		return fmt.Errorf("wiring: input_dim must be in [1, %d], got %d", maxUnits, inputDim)
	}
	if w.inputDim != 0 {
		if w.inputDim != inputDim {
			return fmt.Errorf("wiring: conflicting input dimensions: the wiring has input_dim=%d but the input has %d features", w.inputDim, inputDim)
		}
		return nil
	}
	if err := checkMatrix("sensory adjacency", inputDim, w.units, w.cfg.Kind == Random); err != nil {
		return err
	}
	w.inputDim = inputDim
	w.sensory = make([]int32, inputDim*w.units)
	return nil
}

// SetOutputDim sets the number of output neurons, which must be in
// [1, units].
func (w *Wiring) SetOutputDim(outputDim int) error {
	if outputDim < 1 || outputDim > w.units {
		return fmt.Errorf("wiring: output_dim must be in [1, units=%d], got %d", w.units, outputDim)
	}
	w.outputDim = outputDim
	return nil
}

// Build fixes the input dimension and draws the synapses that depend on it:
// sensory synapses for FullyConnected and Random, every synapse for NCP and
// AutoNCP. Unlike the reference, Build is idempotent: building again with the
// same inputDim changes nothing, and a different inputDim is an error.
//
// Build polls machine.Interrupted and returns machine.ErrInterrupted when
// it is set, leaving the wiring as it was before the call.
func (w *Wiring) Build(inputDim int) error {
	if w.generated || w.cfg.Kind == Custom {
		return w.SetInputDim(inputDim)
	}
	// Remember what the build changes, so that an interrupted build leaves w
	// (random stream included) as it was. The matrices are copied only when
	// they hold synapses already: an unbuilt wiring's are usually empty, and
	// copying a 65536-unit adjacency would double the memory it takes.
	type undo struct {
		inputDim      int
		adj, sensory  []int32
		zeroAdj, zero bool
		pcg           nprand.Generator
		mt            nprand.RandomState
	}
	u := undo{inputDim: w.inputDim}
	if w.pcg != nil {
		u.pcg = *w.pcg
	}
	if w.mt != nil {
		u.mt = *w.mt
	}
	if w.cfg.Kind == NCP || w.cfg.Kind == AutoNCP { // the build draws adjacency entries
		if u.zeroAdj = countNonzero(w.adj) == 0; !u.zeroAdj {
			u.adj = slices.Clone(w.adj)
		}
	}
	if w.inputDim != 0 {
		if u.zero = countNonzero(w.sensory) == 0; !u.zero {
			u.sensory = slices.Clone(w.sensory)
		}
	}
	if err := w.SetInputDim(inputDim); err != nil {
		return err
	}
	err := w.build()
	if err == nil {
		return nil
	}
	if w.pcg != nil {
		*w.pcg = u.pcg
	}
	if w.mt != nil {
		*w.mt = u.mt
	}
	switch {
	case u.zeroAdj:
		clear(w.adj)
	case u.adj != nil:
		copy(w.adj, u.adj)
	}
	switch {
	case u.inputDim == 0:
		w.inputDim, w.sensory = 0, nil
	case u.zero:
		clear(w.sensory)
	default:
		copy(w.sensory, u.sensory)
	}
	w.generated = false
	return err
}

func (w *Wiring) build() error {
	w.generated = true
	switch w.cfg.Kind {
	case FullyConnected:
		for i := range w.sensory {
			w.sensory[i] = w.pcgPolarity()
		}
	case Random:
		n := w.inputDim * w.units
		for _, k := range w.pcg.ChoiceWithoutReplacement(n, keepCount(n, w.cfg.SparsityLevel)) {
			// The reference draws the polarity twice and keeps the second;
			// both draws advance the stream.
			w.pcgPolarity()
			w.sensory[k] = w.pcgPolarity()
		}
	case NCP, AutoNCP:
		w.buildNCP()
	}
	if machine.Interrupted() {
		return machine.ErrInterrupted
	}
	return nil
}

// buildNCP draws the four NCP stages in the reference's order, all from the
// one RandomState.
func (w *Wiring) buildNCP() {
	u := w.units
	c := w.ncp
	sensory := span(0, w.inputDim)

	// fanIn is the reference's int(a*b/c) (true division, then truncation)
	// clipped to [1, hi].
	fanIn := func(a, b, d, hi int) int {
		return min(max(int(float64(a*b)/float64(d)), 1), hi)
	}

	// choose is RandomState.choice(population of n, k, replace=False),
	// shuffling in one buffer reused across calls.
	buf := make([]int, max(w.inputDim, len(w.inter), len(w.command), len(w.motor)))
	choose := func(n, k int) []int { return w.mt.ChoiceWithoutReplacementInto(buf[:n], k) }

	// Sensory → inter.
	reached := make([]bool, len(w.inter))
	for _, src := range sensory {
		for _, k := range choose(len(w.inter), c.SensoryFanout) {
			reached[k] = true
			w.sensory[src*u+w.inter[k]] = w.mtPolarity()
		}
	}
	fanin := fanIn(w.inputDim, c.SensoryFanout, len(w.inter), w.inputDim)
	for k, dst := range w.inter {
		if reached[k] {
			continue
		}
		for _, s := range choose(len(sensory), fanin) {
			w.sensory[sensory[s]*u+dst] = w.mtPolarity()
		}
	}

	// Inter → command.
	reached = make([]bool, len(w.command))
	for _, src := range w.inter {
		for _, k := range choose(len(w.command), c.InterFanout) {
			reached[k] = true
			w.adj[src*u+w.command[k]] = w.mtPolarity()
		}
	}
	fanin = fanIn(len(w.inter), c.InterFanout, len(w.command), len(w.command))
	for k, dst := range w.command {
		if reached[k] {
			continue
		}
		for _, s := range choose(len(w.inter), fanin) {
			w.adj[w.inter[s]*u+dst] = w.mtPolarity()
		}
	}

	// Recurrent command synapses.
	for i := 0; i < c.RecurrentCommandSynapses; i++ {
		if i%pollEvery == 0 && machine.Interrupted() {
			return // Build reports it
		}
		src := w.command[w.mt.Randint(len(w.command))]
		dst := w.command[w.mt.Randint(len(w.command))]
		w.adj[src*u+dst] = w.mtPolarity()
	}

	// Command → motor.
	reached = make([]bool, len(w.command))
	for _, dst := range w.motor {
		for _, k := range choose(len(w.command), c.MotorFanin) {
			reached[k] = true
			w.adj[w.command[k]*u+dst] = w.mtPolarity()
		}
	}
	fanout := fanIn(len(w.motor), c.MotorFanin, len(w.command), len(w.motor))
	for k, src := range w.command {
		if reached[k] {
			continue
		}
		for _, m := range choose(len(w.motor), fanout) {
			w.adj[src*u+w.motor[m]] = w.mtPolarity()
		}
	}
}

// NCPConfig returns the NCP arguments of an NCP or AutoNCP wiring (for
// AutoNCP, the ones it derived), and false for other kinds.
func (w *Wiring) NCPConfig() (Config, bool) {
	return w.ncp, w.isNCP()
}

// isNCP reports whether the wiring is layered as an NCP.
func (w *Wiring) isNCP() bool { return w.ncp.Kind == NCP }

// AddSynapse sets the synapse from neuron src to neuron dst to polarity, -1
// or +1, replacing any synapse already there.
func (w *Wiring) AddSynapse(src, dst, polarity int) error {
	if src < 0 || src >= w.units {
		return fmt.Errorf("wiring: src must be in [0, units=%d), got %d", w.units, src)
	}
	if dst < 0 || dst >= w.units {
		return fmt.Errorf("wiring: dest must be in [0, units=%d), got %d", w.units, dst)
	}
	if polarity != -1 && polarity != 1 {
		return fmt.Errorf("wiring: polarity must be -1 or 1, got %d", polarity)
	}
	w.adj[src*w.units+dst] = int32(polarity)
	return nil
}

// AddSensorySynapse sets the synapse from input feature src to neuron dst to
// polarity, -1 or +1. The input dimension must be known (SetInputDim or
// Build).
func (w *Wiring) AddSensorySynapse(src, dst, polarity int) error {
	if w.inputDim == 0 {
		return fmt.Errorf("wiring: cannot add sensory synapses before the input dimension is set (call build or set_input_dim)")
	}
	if src < 0 || src >= w.inputDim {
		return fmt.Errorf("wiring: src must be in [0, input_dim=%d), got %d", w.inputDim, src)
	}
	if dst < 0 || dst >= w.units {
		return fmt.Errorf("wiring: dest must be in [0, units=%d), got %d", w.units, dst)
	}
	if polarity != -1 && polarity != 1 {
		return fmt.Errorf("wiring: polarity must be -1 or 1, got %d", polarity)
	}
	w.sensory[src*w.units+dst] = int32(polarity)
	return nil
}

// NumLayers returns 3 for NCP and AutoNCP wirings (inter, command, motor) and
// 1 for the others.
func (w *Wiring) NumLayers() int {
	if w.isNCP() {
		return 3
	}
	return 1
}

// NeuronsOfLayer returns the ids of the neurons in layer l: for an NCP 0 is
// inter, 1 command and 2 motor; other wirings have one layer holding every
// neuron. The result is a fresh slice.
func (w *Wiring) NeuronsOfLayer(l int) ([]int, error) {
	if !w.isNCP() {
		if l != 0 {
			return nil, fmt.Errorf("wiring: layer_id must be 0 for a single-layer wiring, got %d", l)
		}
		return span(0, w.units), nil
	}
	switch l {
	case 0:
		return append([]int(nil), w.inter...), nil
	case 1:
		return append([]int(nil), w.command...), nil
	case 2:
		return append([]int(nil), w.motor...), nil
	}
	return nil, fmt.Errorf("wiring: layer_id must be 0, 1 or 2 for an NCP, got %d", l)
}

// TypeOfNeuron returns Motor, Command or Inter. Outside an NCP a neuron is a
// motor neuron when its id is below OutputDim, else an inter neuron.
func (w *Wiring) TypeOfNeuron(id int) (string, error) {
	if id < 0 || id >= w.units {
		return "", fmt.Errorf("wiring: neuron_id must be in [0, units=%d), got %d", w.units, id)
	}
	if w.isNCP() {
		switch {
		case id < len(w.motor):
			return Motor, nil
		case id < len(w.motor)+len(w.command):
			return Command, nil
		}
		return Inter, nil
	}
	if id < w.outputDim {
		return Motor, nil
	}
	return Inter, nil
}

// SynapseCount returns the number of synapses between neurons.
func (w *Wiring) SynapseCount() int { return countNonzero(w.adj) }

// SensorySynapseCount returns the number of synapses from input features.
func (w *Wiring) SensorySynapseCount() int { return countNonzero(w.sensory) }

func countNonzero(m []int32) int {
	n := 0
	for _, v := range m {
		if v != 0 {
			n++
		}
	}
	return n
}

// Clone returns a deep copy, random stream included: building the copy
// draws what building the original would.
func (w *Wiring) Clone() *Wiring {
	c := *w
	c.adj = slices.Clone(w.adj)
	c.sensory = slices.Clone(w.sensory)
	c.inter, c.command, c.motor = slices.Clone(w.inter), slices.Clone(w.command), slices.Clone(w.motor)
	if w.pcg != nil {
		g := *w.pcg
		c.pcg = &g
	}
	if w.mt != nil {
		m := *w.mt
		c.mt = &m
	}
	return &c
}
