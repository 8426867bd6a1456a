// Command capi is built with -buildmode=c-shared into libkerasncp.so, the
// one shared library behind every binding. The exported functions live in
// package abi (so that Go tests can link and drive them); kerasncp.h is their
// hand-written contract.
package main

import _ "github.com/kerasncp-go/kerasncp-go/capi/abi"

func main() {}
