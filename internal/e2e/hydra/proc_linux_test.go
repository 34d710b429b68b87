//go:build linux

package hydra_test

import "syscall"

// setDeathSignal kills Hydra if the test binary dies without cleaning up
// (a panic, a -timeout): no Hydra outlives its test run.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
