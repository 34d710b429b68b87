// Package configs holds tokenwarden's example configurations. dev.yaml is
// embedded for "tokenwarden dev" and "tokenwarden check" without --config.
package configs

import _ "embed"

// Dev is configs/dev.yaml.
//
//go:embed dev.yaml
var Dev []byte
