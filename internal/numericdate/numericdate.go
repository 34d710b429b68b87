// Package numericdate parses JWT NumericDates (RFC 7519 §2) the one way
// tokenwarden accepts them, wherever they come from: access tokens, logout
// tokens and introspection answers.
package numericdate

import (
	"bytes"
	"math"
	"strconv"
	"time"
)

// Max is 9999-12-31T23:59:59Z: later dates are refused so that time
// arithmetic can never overflow.
const Max = 253402300799

// Parse parses raw, a JSON value, as a NumericDate: a non-negative number
// of seconds since the epoch, possibly fractional, not after Max. Strings,
// booleans, null, objects, arrays, negative, NaN and absurdly large values
// are refused (ok false). The time is in UTC.
func Parse(raw []byte) (t time.Time, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > Max {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
