// Package benchconfigs holds the benchmark scenarios shipped with
// tokenwarden ("tokenwarden bench --scenario NAME" reads NAME.yaml from here).
// The schema is bench.Scenario.
package benchconfigs

import "embed"

// FS holds every *.yaml scenario of configs/bench.
//
//go:embed *.yaml
var FS embed.FS
