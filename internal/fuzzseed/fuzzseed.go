// Package fuzzseed writes seed-corpus files for native Go fuzz targets, in
// the "go test fuzz v1" format cmd/go reads from testdata/fuzz/<Target>/.
// Only the corpus generators (tests run with TW_GEN_CORPUS=1) use it.
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write writes one seed named "seed-"+name for target under
// testdata/fuzz/, each value encoded as cmd/go does (fmt %q).
func Write(t testing.TB, target, name string, vals ...any) {
	t.Helper()
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch x := v.(type) {
		case string:
			fmt.Fprintf(&b, "string(%q)\n", x)
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", x)
		case bool:
			fmt.Fprintf(&b, "bool(%v)\n", x)
		case uint8:
			fmt.Fprintf(&b, "byte(%q)\n", x)
		default:
			t.Fatalf("fuzzseed: unsupported corpus value %T", v)
		}
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
