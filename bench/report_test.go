package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReportWriters(t *testing.T) {
	t.Parallel()
	wl := scripted(t, ClientApp, []Event{{At: time.Second, Kind: EventRevoke, Token: 0, Session: -1}}, time.Second,
		Request{At: 500 * time.Millisecond}, Request{At: 2 * time.Second, Sensitive: true})
	rep := run(t, wl, Options{Strategies: []string{StrategyLocalPure, StrategyIntrospection}})

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("results.json does not parse: %v", err)
	}
	if len(back.Results) != 2 || back.Results[1].Strategy != StrategyIntrospection || back.Machine.NumCPU == 0 || back.Clocks["virtual"] == "" {
		t.Fatalf("round trip: %+v", back)
	}
	if a := back.Results[0].IdP.Avoided; a == nil || *a != back.Results[1].IdP.Introspections {
		t.Fatalf("avoided vs introspection: %v", a)
	}

	var cb bytes.Buffer
	if err := rep.WriteCSV(&cb); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		t.Fatalf("results.csv does not parse: %v", err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("csv: %d rows, header %v", len(rows), rows[0])
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if rows[1][col["strategy"]] != StrategyLocalPure || rows[1][col["accepted_after_revocation"]] != "1" || rows[2][col["accepted_after_revocation"]] != "0" {
		t.Fatalf("csv rows: %v", rows[1:])
	}

	var md, table bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| strategy | validations |", "| local-pure |", "| introspection |", "Virtual time", "Real time", "x floor"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, want := range []string{"Performance (real time)", "Revocation exposure (virtual time)", "local-pure", "crypto floor: ES256"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}

	dir := filepath.Join(t.TempDir(), "out")
	if err := rep.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "results.json", "results.csv"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestHTTPMode runs the scripted revocation through the validator service
// on loopback: same verdicts as the library path, pushes to the service's
// admin endpoints.
func TestHTTPMode(t *testing.T) {
	t.Parallel()
	wl := scripted(t, ClientApp, []Event{{At: time.Second, Kind: EventLogout, Token: 0, Session: 0, Push: true}}, time.Second,
		Request{At: 500 * time.Millisecond}, Request{At: 2 * time.Second, Sensitive: true}, Request{At: 3 * time.Second})
	rep := run(t, wl, Options{HTTP: true, Strategies: []string{StrategyLocal, StrategyLocalPure, StrategyTiered}})
	if rep.Mode != "http" {
		t.Fatalf("mode %s", rep.Mode)
	}
	got := byName(t, rep)
	want := map[string]int{StrategyLocal: 0, StrategyLocalPure: 2, StrategyTiered: 0}
	for name, n := range want {
		r := got[name]
		if r.Validations != 3 || r.Exposure.PostRevocation != 2 || r.Exposure.Accepted != n || r.Outcomes["accepted"] != 1+n {
			t.Errorf("%s: %+v outcomes %v reasons %v", name, r.Exposure, r.Outcomes, r.Reasons)
		}
	}
	if r := got[StrategyLocal]; r.Pushes.Accepted != 1 || r.Reasons["revoked"] != 2 {
		t.Errorf("local over HTTP: pushes %+v, reasons %v", r.Pushes, r.Reasons)
	}
	if r := got[StrategyTiered]; r.IdP.Introspections != 0 {
		t.Errorf("tiered over HTTP: %d IdP calls; the pushed logout should refuse with none", r.IdP.Introspections)
	}
}
