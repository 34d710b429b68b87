package gateway

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestLoad compares /v1/auth (forward-auth, route matching + identity
// headers) with /v1/validate (JSON body) on the same token and the local
// strategy, over loopback, with a Go client in the same process. Not run by
// default (TW_LOAD=1); TW_LOAD_SECONDS and TW_LOAD_WORKERS tune it. It
// reports figures and asserts only that every request succeeded.
func TestLoad(t *testing.T) {
	if os.Getenv("TW_LOAD") != "1" {
		t.Skip("set TW_LOAD=1 to run the load measurement")
	}
	secs, workers := envInt("TW_LOAD_SECONDS", 5), envInt("TW_LOAD_WORKERS", 32)
	e := newEnv(t)
	tok := e.token(t, "payments:write")
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	mk := map[string]func() *http.Request{
		"/v1/auth": func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, e.tw.URL+"/v1/auth", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("X-Original-Method", "GET")
			r.Header.Set("X-Original-URI", "/api/orders/42?expand=items")
			r.Header.Set("X-Forwarded-Host", "shop.example.com")
			return r
		},
		"/v1/validate": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, e.tw.URL+"/v1/validate", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		},
	}
	for _, path := range []string{"/v1/auth", "/v1/validate", "/v1/auth", "/v1/validate"} {
		res := run(t, c, mk[path], workers, time.Duration(secs)*time.Second)
		line := fmt.Sprintf("%-13s %d workers %ds: %8.0f req/s  p50 %6.0fµs  p99 %6.0fµs  errors %d",
			path, workers, secs, res.rps, res.p50.Seconds()*1e6, res.p99.Seconds()*1e6, res.errors)
		t.Log(line)
		if res.errors > 0 {
			t.Errorf("%s: %d failed requests", path, res.errors)
		}
	}
}

type loadResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

func run(t *testing.T, c *http.Client, mk func() *http.Request, workers int, d time.Duration) loadResult {
	t.Helper()
	// Warm up connections and caches.
	for range workers {
		if resp, err := c.Do(mk()); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	var wg sync.WaitGroup
	lats := make([][]time.Duration, workers)
	errs := make([]int, workers)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				t0 := time.Now()
				resp, err := c.Do(mk())
				if err != nil {
					errs[w]++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs[w]++
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	res := loadResult{}
	for w := range workers {
		all = append(all, lats[w]...)
		res.errors += errs[w]
	}
	slices.Sort(all)
	if len(all) > 0 {
		res.p50 = all[len(all)/2]
		res.p99 = all[min(len(all)-1, len(all)*99/100)]
	}
	res.rps = float64(len(all)) / elapsed.Seconds()
	return res
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
