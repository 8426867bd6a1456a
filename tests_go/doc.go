// Package tests_go holds the tests that cannot sit beside the code they test:
// golden-file tests against fixtures that the reference implementations
// (keras-ncp 2.1.0, ncps 1.0.1) produced through the committed generators in
// tests_py/, and, later, tests that drive the C ABI.
//
// Fixtures live in testdata/; regenerate them with
//
//	python tests_py/gen_wiring_fixtures.py
package tests_go
