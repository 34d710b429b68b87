//go:build !unix

package hydra_test

import (
	"os"
	"os/exec"
)

// Without process groups Hydra is stopped by killing the process itself.

func ownGroup(*exec.Cmd) {}

type signal int

const (
	sigTerm signal = iota
	sigKill
)

func signalGroup(cmd *exec.Cmd, _ signal) error { return cmd.Process.Signal(os.Kill) }
