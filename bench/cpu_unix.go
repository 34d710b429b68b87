//go:build unix

package bench

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time of the whole process (every
// goroutine, including the in-process IdP), and whether it is known.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
