package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Start's key refresh and the introspection clients own goroutines: none
// may outlive Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
