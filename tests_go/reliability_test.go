package tests_go

import (
	"testing"

	d "github.com/kerasncp-go/kerasncp-go/tests_go/capidriver"
)

// TestMemoryAndInterruptCodes: the C ABI reports a refused allocation as
// KNCP_ERR_MEMORY with the sizes, and a call stopped by kncp_interrupt as
// KNCP_ERR_INTERRUPTED, after which (kncp_clear_interrupt) the same call
// succeeds and no handle is left behind.
func TestMemoryAndInterruptCodes(t *testing.T) {
	checkNoLeak(t)
	want(t, d.CheckAlloc("test: a table", 1e30), d.Memory, "test: a table would take 1e+21 GB")
	want(t, d.CheckAlloc("test: a table", 1<<20), d.OK, "")
	const ncp = `{"kind":"ncp","inter_neurons":8,"command_neurons":6,"motor_neurons":2,"sensory_fanout":4,` +
		`"inter_fanout":4,"recurrent_command_synapses":16777216,"motor_fanin":3,"input_dim":2}`
	d.Interrupt()
	h, r := d.WiringNew(ncp)
	d.ClearInterrupt()
	want(t, r, d.Interrupted, "interrupted")
	if h != 0 {
		t.Errorf("an interrupted kncp_wiring_new returned handle %d", h)
	}
	h, r = d.WiringNew(ncp)
	want(t, r, d.OK, "")
	d.WiringFree(h)
	_, r = d.WiringNew(`{"kind":"ncp","inter_neurons":8,"command_neurons":6,"motor_neurons":2,"sensory_fanout":4,` +
		`"inter_fanout":4,"recurrent_command_synapses":1073741824,"motor_fanin":3}`)
	want(t, r, d.Value, "recurrent_command_synapses must be in [0, 16777216]")
}

// TestNumThreads: kncp_set_num_threads caps what kncp_num_threads reports,
// 0 lifts the cap, and a negative count is KNCP_ERR_VALUE naming it.
func TestNumThreads(t *testing.T) {
	cores, r := d.NumThreads()
	want(t, r, d.OK, "")
	if cores < 1 {
		t.Fatalf("kncp_num_threads = %d, want >= 1", cores)
	}
	defer d.SetNumThreads(0)
	want(t, d.SetNumThreads(1), d.OK, "")
	if n, _ := d.NumThreads(); n != 1 {
		t.Errorf("after kncp_set_num_threads(1): %d threads, want 1", n)
	}
	want(t, d.SetNumThreads(-2), d.Value, "the number of threads must be >= 0")
	if n, _ := d.NumThreads(); n != 1 {
		t.Errorf("a refused count changed the setting: %d threads, want 1", n)
	}
	want(t, d.SetNumThreads(0), d.OK, "")
	if n, _ := d.NumThreads(); n != cores {
		t.Errorf("after kncp_set_num_threads(0): %d threads, want %d", n, cores)
	}
}
