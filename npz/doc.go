// Package npz reads and writes NumPy arrays: single .npy arrays and .npz
// archives (np.savez and np.savez_compressed output), the self-describing
// format parameters, wirings and fixtures cross the C ABI and the disk in.
//
// Layout. An array is a flat Go slice in C (row-major) order plus its shape;
// element types are float32, float64, int32 and int64 ('<f4', '<f8', '<i4',
// '<i8'; either byte order and, up to two dimensions, Fortran order on
// reading). Writing produces format 1.0, little-endian, C order, with the
// header padded as numpy pads it, so np.load reads the result and numpy's
// own np.save of the same array gives the same bytes. An archive is a list
// of named arrays; Add appends one, Read reads one by name and converts it
// (floats to a float type, integers to an integer type). A table (Entry)
// describes a flat parameter vector split into named arrays, which
// SaveTable and LoadTable write and fill in one call, so that a cell family
// that keeps its parameters in one slice needs no code of its own here.
//
// Bad input. Readers never panic on bad input and never allocate more than
// the headers declare: a header is at most 64 KiB; an array's declared
// size is checked against the shape the caller wants, against the Reader's
// payload budget (a caller-given limit), and against what the member's
// compressed bytes could expand to (deflate's 1032:1), before anything is
// allocated; and its payload is read to exactly that size plus one byte, so
// a member that decompresses to more (a deflated run of zeros, say) is an
// error after one byte too many. Errors name the array and say what is
// wrong. FuzzDecodeNPY and FuzzReader check this, with a seeded corpus
// under testdata/fuzz.
//
// Why not npyio. codeberg.org/sbinet/npyio (formerly github.com/sbinet/npyio)
// serves as the independent reader in the tests, and was measured as the
// implementation (BenchmarkWriteNPY, BenchmarkReadNPY: a 1-D float32 array
// of 2**20 values, 4 MiB; one core of the development machine):
//
//	write  npz    0.44 ms   9.6 GB/s      4 allocations
//	write  npyio  539 ms    7.8 MB/s      7.3 million allocations, 202 MB
//	read   npz    0.82 ms   5.1 GB/s      (to float64: 5.2 ms)
//	read   npyio  19.5 ms   215 MB/s
//
// npyio's writer goes element by element through reflection (1200 times
// slower); wrapping it would mean bypassing it for every payload. Its
// reader is also unsafe on untrusted input: of the 456 single-byte
// corruptions (3 per byte) of a small .npy, 16 made it panic, and so did
// 118 of its 152 truncations; and a 128-byte header declaring 2e9 float32
// values made it allocate 8 GB before finding the payload missing. A guard
// (recover, plus a size check before the call) would fix the panics but
// not the speed. The format is small (a magic string, a Python-literal
// dictionary, raw values), so this package implements it, with the
// safety properties above as tests and fuzz targets.
package npz
