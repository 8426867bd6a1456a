// Command gostepper runs an NCP in a control loop from Go: the parameters
// start as kerasncp_go.LTCCell(wiring, seed=0) starts them in Python, and a
// core.Stepper advances the state one reading at a time, allocating nothing.
//
//	go run ./examples/gostepper
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
	w, err := wiring.NewNCP(12, 6, 1, 6, 4, 6, 6, wiring.DefaultNCPSeed)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Build(32); err != nil {
		log.Fatal(err)
	}
	sh := core.Shape{Units: w.Units(), Sensory: w.InputDim(), Motor: w.OutputDim()}
	opts := core.DefaultOptions()
	// NumpySource(0): the same initial parameters as the NumPy cell with seed=0.
	rng := rand.New(wiring.NumpySource(0))
	p, err := core.Init[float32](sh, w.Adjacency(), w.SensoryAdjacency(), opts, nil, rng)
	if err != nil {
		log.Fatal(err)
	}
	cell, err := core.NewCell(sh, opts, p)
	if err != nil {
		log.Fatal(err)
	}
	st, err := core.NewStepper(cell, 1) // checked once, here
	if err != nil {
		log.Fatal(err)
	}
	x := make([]float32, sh.Sensory)
	y := make([]float32, sh.Motor)
	for t := 0; t < 5; t++ {
		for i := range x {
			x[i] = float32(math.Sin(0.3*float64(t) + 0.7*float64(i)))
		}
		if err := st.Step(x, 1.0, y); err != nil { // a NaN reading or a bad elapsed time: an error
			log.Fatal(err)
		}
		fmt.Printf("step %d: y = %.6f\n", t, y[0])
	}
}
