//go:build unix && !linux

package hydra_test

import "syscall"

// setDeathSignal: no parent-death signal outside Linux; TestMain's cleanup
// stops Hydra.
func setDeathSignal(*syscall.SysProcAttr) {}
