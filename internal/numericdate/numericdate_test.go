package numericdate_test

import (
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/numericdate"
)

func TestParse(t *testing.T) {
	tests := []struct {
		raw  string
		want time.Time
		ok   bool
	}{
		{"1800000000", time.Unix(1800000000, 0).UTC(), true},
		{"1800000000.5", time.Unix(1800000000, 5e8).UTC(), true},
		{" 0 ", time.Unix(0, 0).UTC(), true},
		{"253402300799", time.Unix(numericdate.Max, 0).UTC(), true},
		{"253402300800", time.Time{}, false},
		{"1e300", time.Time{}, false},
		{"-1", time.Time{}, false},
		{`"1800000000"`, time.Time{}, false},
		{"true", time.Time{}, false},
		{"null", time.Time{}, false},
		{"[1]", time.Time{}, false},
		{"{}", time.Time{}, false},
		{"", time.Time{}, false},
		{"12abc", time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := numericdate.Parse([]byte(tc.raw))
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}
