package core_test

import (
	"bytes"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/kerasncp-go/kerasncp-go/core"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// Example builds a Neural Circuit Policy over two input features, runs it
// over a batch of two short sequences and takes the gradients of the sum of
// the last outputs.
func Example() {
	// 4 inter, 3 command and 1 motor neuron, wired from 2 input features.
	w, err := wiring.NewNCP(4, 3, 1, 2, 2, 2, 2, wiring.DefaultNCPSeed)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Build(2); err != nil {
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

	// x is batch x steps x sensory: two sequences of three steps.
	const batch, steps = 2, 3
	x := []float32{
		0.5, -1, 0.25, 0, 1, 1,
		-0.5, 0.5, 0, -1, 2, 0,
	}
	seq := core.Sequence[float32]{Batch: batch, Steps: steps, X: x}
	y := make([]float32, batch*sh.Motor) // last step only
	h := make([]float32, batch*sh.Units)
	var ws core.Workspace[float32]
	if err := cell.Forward(&ws, seq, core.Output[float32]{Y: y, H: h}, true); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("units %d, sensory %d, motor %d, synapses %d + %d sensory\n",
		sh.Units, sh.Sensory, sh.Motor, w.SynapseCount(), w.SensorySynapseCount())
	fmt.Printf("y (batch x motor) = [%.4f %.4f]\n", y[0], y[1])

	// Gradients of sum(y).
	gy := []float32{1, 1}
	g := core.Gradients[float32]{Params: core.Alloc[float32](sh, opts.InputMapping, opts.OutputMapping),
		X: make([]float32, len(x))}
	if err := cell.Backward(&ws, gy, nil, g); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("d sum(y) / d output_b = %.4f\n", g.Params.OutputB[0])
	fmt.Printf("d sum(y) / d x[row 0, last step] = [%.3g %.3g]\n", g.X[4], g.X[5])
	// Output:
	// units 8, sensory 2, motor 1, synapses 13 + 4 sensory
	// y (batch x motor) = [0.0302 0.0093]
	// d sum(y) / d output_b = 2.0000
	// d sum(y) / d x[row 0, last step] = [0.000109 -0.00249]
}

// ExampleSaveNPZ writes a cell's parameters as numpy's np.savez would write
// a PyTorch state_dict and reads them back; LoadNPZ infers the shape and
// mappings from the arrays.
func ExampleSaveNPZ() {
	w, err := wiring.NewAutoNCP(10, 2, 0.5, wiring.DefaultNCPSeed)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Build(3); err != nil {
		log.Fatal(err)
	}
	sh := core.Shape{Units: w.Units(), Sensory: w.InputDim(), Motor: w.OutputDim()}
	opts := core.DefaultOptions()
	opts.OutputMapping = core.Linear
	p, err := core.Init[float32](sh, w.Adjacency(), w.SensoryAdjacency(), opts, nil, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer // or an *os.File
	if err := core.SaveNPZ(&buf, p, sh, opts.InputMapping, opts.OutputMapping); err != nil {
		log.Fatal(err)
	}
	// -1: infer the motor size from output_w.
	q, sh2, in, out, err := core.LoadNPZ[float64](bytes.NewReader(buf.Bytes()), int64(buf.Len()), -1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v, input mapping %v, output mapping %v\n", sh2, in, out)
	same := true
	for i, f := range q.Fields(sh2, in, out) {
		for j, v := range *f.Data {
			same = same && v == float64((*p.Fields(sh, in, out)[i].Data)[j])
		}
	}
	fmt.Println("values unchanged:", same)
	// Output:
	// {Units:10 Sensory:3 Motor:2}, input mapping affine, output mapping linear
	// values unchanged: true
}
