package main

import (
	"os"
	"testing"
)

// TestMain: the releases these tests run execute the services' own tests,
// which need not include their long ones (make test runs those once, in
// their own packages).
func TestMain(m *testing.M) {
	os.Unsetenv("FERRY_LONG_TESTS")
	os.Exit(m.Run())
}
