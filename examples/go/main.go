// Command ncp-example builds a Neural Circuit Policy in Go, runs it over a
// batch of sequences in one call, and backpropagates through it: the core
// the Python package reaches through the C ABI, used directly.
//
//	go run ./examples/go
package main

import (
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"github.com/kerasncp-go/kerasncp-go/core"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

func main() {
	// An NCP of 12 inter, 6 command and 1 motor neuron over 32 input features.
	w, err := wiring.NewNCP(12, 6, 1, 6, 4, 6, 6, wiring.DefaultNCPSeed)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Build(32); err != nil {
		log.Fatal(err)
	}
	sh := core.Shape{Units: w.Units(), Sensory: w.InputDim(), Motor: w.OutputDim()}
	opts := core.DefaultOptions()
	rng := rand.New(rand.NewPCG(1, 2))
	p, err := core.Init[float32](sh, w.Adjacency(), w.SensoryAdjacency(), opts, nil, rng)
	if err != nil {
		log.Fatal(err)
	}
	cell, err := core.NewCell(sh, opts, p)
	if err != nil {
		log.Fatal(err)
	}

	// x is batch x steps x sensory; y the outputs of every step.
	const batch, steps = 4, 50
	x := make([]float32, batch*steps*sh.Sensory)
	for i := range x {
		x[i] = float32(math.Sin(0.1 * float64(i)))
	}
	y := make([]float32, batch*steps*sh.Motor)
	var ws core.Workspace[float32] // reusable scratch memory: no allocation in the loops
	seq := core.Sequence[float32]{Batch: batch, Steps: steps, X: x}
	if err := cell.Forward(&ws, seq, core.Output[float32]{Y: y, AllSteps: true}, true); err != nil {
		log.Fatal(err)
	}

	// Gradients of sum(y) with respect to every parameter and the inputs.
	gy := make([]float32, len(y))
	for i := range gy {
		gy[i] = 1
	}
	g := core.Gradients[float32]{Params: core.Alloc[float32](sh, opts.InputMapping, opts.OutputMapping),
		X: make([]float32, len(x))}
	if err := cell.Backward(&ws, gy, nil, g); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d neurons, %d synapses; y[0, last step] = %.4f; d sum(y) / d output_b = %.1f\n",
		sh.Units, w.SynapseCount(), y[steps-1], g.Params.OutputB[0])
}
