// Package abi implements the C ABI declared in capi/kerasncp.h. Every
// exported function recovers from panics, converts errors to codes plus a
// message copied into the caller's buffer, reads and writes caller memory
// only during the call, and keeps long-lived objects behind runtime/cgo
// handles.
//
// It is a separate package from capi (package main) so that the test driver
// in tests_go can link these exports into a test binary: loading the shared
// library into a Go process would start a second Go runtime.
package abi

/*
#cgo CFLAGS: -I${SRCDIR}/..
#define KNCP_NO_PROTOTYPES
#include <stdlib.h>
#include <string.h>
#include "kerasncp.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// Version is the library version kncp_version reports.
const Version = "0.1.0"

// ABIVersion must equal KNCP_ABI_VERSION in kerasncp.h.
const ABIVersion = 2

// codedError carries the code an error maps to.
type codedError struct {
	code int32
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func errf(code int32, format string, args ...any) error {
	return &codedError{code, fmt.Sprintf(format, args...)}
}

// finish converts err into a return code and copies its message into the
// caller's buffer.
func finish(err error, buf *C.char, n C.size_t) C.int32_t {
	if err == nil {
		return C.KNCP_OK
	}
	code := int32(C.KNCP_ERR_VALUE)
	var ce *codedError
	var me *machine.MemoryError
	switch {
	case errors.As(err, &ce):
		code = ce.code
	case errors.As(err, &me):
		code = C.KNCP_ERR_MEMORY
	case errors.Is(err, machine.ErrInterrupted):
		code = C.KNCP_ERR_INTERRUPTED
	}
	setMessage(buf, n, err.Error())
	return C.int32_t(code)
}

func setMessage(buf *C.char, n C.size_t, msg string) {
	if buf == nil || n == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	k := copy(b[:len(b)-1], msg)
	b[k] = 0
}

// guard turns a panic into KNCP_ERR_INTERNAL. Every export defers it first.
func guard(rc *C.int32_t, buf *C.char, n C.size_t) {
	if r := recover(); r != nil {
		*rc = C.KNCP_ERR_INTERNAL
		setMessage(buf, n, fmt.Sprintf("kerasncp: internal error: %v", r))
	}
}

// live counts handles not yet freed.
var live atomic.Int64

func newHandle(v any) C.uint64_t {
	live.Add(1)
	return C.uint64_t(cgo.NewHandle(v))
}

// lookup returns the value of handle h if it is live and of type V.
func lookup[V any](h C.uint64_t, what string) (V, error) {
	var zero V
	if h == 0 {
		return zero, errf(C.KNCP_ERR_HANDLE, "kerasncp: invalid %s handle 0", what)
	}
	v, ok := handleValue(cgo.Handle(h))
	if !ok {
		return zero, errf(C.KNCP_ERR_HANDLE, "kerasncp: %s handle %d is not live (freed or never created)", what, uint64(h))
	}
	t, ok := v.(V)
	if !ok {
		return zero, errf(C.KNCP_ERR_HANDLE, "kerasncp: handle %d is not a %s", uint64(h), what)
	}
	return t, nil
}

// handleValue is cgo.Handle.Value without its panic on unknown handles.
func handleValue(h cgo.Handle) (v any, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return h.Value(), true
}

func freeHandle[V any](h C.uint64_t, what string) error {
	if _, err := lookup[V](h, what); err != nil {
		return err
	}
	cgo.Handle(h).Delete()
	live.Add(-1)
	return nil
}

//export kncp_abi_version
func kncp_abi_version() C.int32_t { return ABIVersion }

var versionString = C.CString(Version)

//export kncp_version
func kncp_version() *C.char { return versionString }

//export kncp_live_handles
func kncp_live_handles() C.int64_t { return C.int64_t(live.Load()) }

//export kncp_buffer_free
func kncp_buffer_free(p unsafe.Pointer) C.int32_t {
	C.free(p)
	return C.KNCP_OK
}

//export kncp_interrupt
func kncp_interrupt() C.int32_t {
	machine.Interrupt()
	return C.KNCP_OK
}

//export kncp_clear_interrupt
func kncp_clear_interrupt() C.int32_t {
	machine.ClearInterrupt()
	return C.KNCP_OK
}

//export kncp_check_alloc
func kncp_check_alloc(what *C.char, bytes C.double, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	name := "an allocation"
	if what != nil {
		name = C.GoString(what)
	}
	return finish(machine.CheckAlloc(name, float64(bytes)), err, errlen)
}

//export kncp_set_num_threads
func kncp_set_num_threads(n C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(machine.SetThreads(int64(n)), err, errlen)
}

//export kncp_num_threads
func kncp_num_threads(out *C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if out == nil {
		return finish(errf(C.KNCP_ERR_VALUE, "kerasncp: out must not be NULL"), err, errlen)
	}
	*out = C.int64_t(machine.Threads())
	return C.KNCP_OK
}

//export kncp_debug_panic
func kncp_debug_panic(err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	var m map[string]int
	//lint:ignore SA5000 a deliberate nil-map write, to test the guard
	m["boom"] = 1 // a nil-map write: a genuine runtime panic
	return C.KNCP_OK
}

// cBytes copies b into memory allocated with malloc, for the caller to free
// with kncp_buffer_free.
func cBytes(b []byte, out **C.uint8_t, outlen *C.int64_t) {
	p := C.malloc(C.size_t(max(len(b), 1)))
	copy(unsafe.Slice((*byte)(p), len(b)), b)
	*out = (*C.uint8_t)(p)
	*outlen = C.int64_t(len(b))
}
