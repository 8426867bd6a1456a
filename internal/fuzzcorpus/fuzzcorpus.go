// Package fuzzcorpus keeps the seed corpora of the module's fuzz targets
// (testdata/fuzz/<FuzzName>/) equal to the seeds their tests construct:
// Check writes the files with -update-corpus and otherwise fails the test
// when a file is missing or differs, so a committed corpus cannot drift from
// the code that makes it.
package fuzzcorpus

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update-corpus", false, "rewrite the seed corpora under testdata/fuzz")

// Encode is the file format of `go test` fuzz corpora (version 1) for seed
// values of type []byte, string, uint8 or int8.
func Encode(values ...any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch x := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", x)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", x)
		case uint8:
			fmt.Fprintf(&b, "byte(%d)\n", x)
		case int8:
			fmt.Fprintf(&b, "int8(%d)\n", x)
		default:
			panic("fuzzcorpus: seed values must be []byte, string, uint8 or int8")
		}
	}
	return b.Bytes()
}

// Check compares testdata/fuzz/<target>/ with the seeds (one file per
// seed, named by the hash of its contents), or rewrites it under
// -update-corpus.
func Check(t *testing.T, target string, seeds [][]any) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	want := map[string][]byte{}
	for _, s := range seeds {
		data := Encode(s...)
		want[fmt.Sprintf("seed-%x", sha256.Sum256(data))[:21]] = data
	}
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range want {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update-corpus)", err, t.Name())
	}
	var have []string
	for _, e := range entries {
		have = append(have, e.Name())
		got, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[e.Name()]; !ok || !bytes.Equal(got, w) {
			t.Errorf("%s/%s is not a current seed (run go test -run %s -update-corpus)", dir, e.Name(), t.Name())
		}
	}
	for name := range want {
		if !slices.Contains(have, name) {
			t.Errorf("%s/%s is missing (run go test -run %s -update-corpus)", dir, name, t.Name())
		}
	}
}
