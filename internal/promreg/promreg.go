// Package promreg registers a metric family once per registry: several
// components (one key resolver or store per issuer) may build their metrics
// on one registry and share the families.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns it, or the collector already
// registered under the same description. A conflicting family of the same
// name (other labels) is a programming error that must surface at startup,
// as with promauto: it panics.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
