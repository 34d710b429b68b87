package bench_test

import (
	"fmt"

	"github.com/tokenwarden/tokenwarden/bench"
)

// A scenario is YAML; the workload it generates is fixed by its seed, so
// every strategy (and every run) replays the same requests and events.
func ExampleGenerate() {
	s, err := bench.ParseScenario("tiny", []byte(`
seed: 42
duration: 2m
rate: 5
users: 10
token_lifetime: 1m
requests_per_token: {dist: fixed, mean: 4}
backchannel_share: 1
events:
  - {kind: logout, at: [1m], push: true}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	a, _ := bench.Generate(s)
	b, _ := bench.Generate(s)
	sum := a.Summarize()
	fmt.Println("same script:", a.Hash() == b.Hash())
	fmt.Println("logouts:", sum.Events[bench.EventLogout], "pushed:", sum.PushedEvents)
	fmt.Println("strategies:", bench.StrategyNames(s))
	// Output:
	// same script: true
	// logouts: 1 pushed: 1
	// strategies: [local local-pure introspection tiered]
}
