package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
)

// Options configures Run.
type Options struct {
	// Strategies to run, in order (default: StrategyNames of the scenario).
	Strategies []string
	// HTTP validates through the service's POST /v1/validate on loopback
	// instead of calling strategy.Strategy.Validate.
	HTTP bool
	// Concurrency is the number of validations in flight (default 1: one
	// goroutine, every request at its exact virtual time). With N > 1,
	// consecutive requests are issued in batches of N that share the
	// virtual time of the batch's last request, and call counts may vary
	// slightly between runs (coalescing depends on timing).
	Concurrency int
	// Progress receives one line per phase (nil: quiet).
	Progress io.Writer
	// OnProgress, when set, is called from Run's goroutine as the replay
	// advances (every few hundred requests and at each strategy's end).
	OnProgress func(Progress)
	// NoGrid skips the scenario's grid when Strategies is empty.
	NoGrid bool
	// Constraints for the verdict; nil takes the scenario's.
	Constraints *Constraints
}

// Progress is where a run stands.
type Progress struct {
	// Strategy is the one replaying, the Index-th (0-based) of Count.
	Strategy     string
	Index, Count int
	// Done of Total requests of this strategy's replay.
	Done, Total int
}

// Run replays wl once per strategy, sequentially, each against a fresh IdP
// and a freshly built tokenwarden (no cache, store or client survives from
// one strategy to the next), and measures each. It owns every goroutine it
// starts and stops them before returning. ctx bounds the whole run.
func Run(ctx context.Context, wl *Workload, o Options) (*Report, error) {
	specs, err := resolveStrategies(wl.Scenario, o.Strategies, o.NoGrid)
	if err != nil {
		return nil, err
	}
	cons := o.Constraints
	if cons == nil {
		c, err := wl.Scenario.Constraints.Parse()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: constraints: %w", ErrScenario, wl.Scenario.Name, err)
		}
		cons = &c
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	progress := func(format string, a ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", a...)
		}
	}
	rep := &Report{
		Scenario: scenarioInfo(wl.Scenario), Workload: wl.Summarize(), Machine: machineInfo(),
		Mode: "library", Concurrency: o.Concurrency, Started: time.Now().UTC(),
	}
	if o.HTTP {
		rep.Mode = "http"
	}
	begin := time.Now()
	// The origin of virtual time: now, whole seconds, so iat values are exact.
	t0 := time.Now().Truncate(time.Second)
	for i, spec := range specs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		progress("bench: %s: minting %d tokens, replaying %d requests", spec.name, len(wl.Tokens), len(wl.Requests))
		tick := func(done int) {
			if o.OnProgress != nil {
				o.OnProgress(Progress{Strategy: spec.name, Index: i, Count: len(specs), Done: done, Total: len(wl.Requests)})
			}
		}
		tick(0) // names the strategy while its tokens are minted
		res, floor, err := runOne(ctx, wl, spec, o, t0, i == 0, tick)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", spec.name, err)
		}
		if i == 0 {
			rep.Floor = floor
		}
		progress("bench: %s: %d validations in %.2fs real (mint %.1fs)", spec.name, res.Validations, res.BusySeconds, res.MintSeconds)
		rep.Results = append(rep.Results, *res)
	}
	rep.finish()
	rep.Constraints = *cons
	rep.Verdict = Decide(rep.Results, *cons)
	rep.ElapsedSeconds = time.Since(begin).Seconds()
	return rep, nil
}

// runOne replays the workload for one strategy.
func runOne(ctx context.Context, wl *Workload, spec strategySpec, o Options, t0 time.Time, withFloor bool, tick func(int)) (*StrategyResult, Floor, error) {
	var floor Floor
	w, err := newWorld(wl, t0)
	if err != nil {
		return nil, floor, err
	}
	defer w.close()
	if withFloor {
		if floor, err = measureFloor(ctx, w); err != nil {
			return nil, floor, err
		}
	}
	w.clk.Set(t0)
	st, err := buildStack(w, spec, o)
	if err != nil {
		return nil, floor, err
	}
	defer st.close()
	w.setFaults()

	r := newRecorder(wl, spec, o)
	w.idp.ResetCounters() // the floor's key fetch is not the run's
	runtime.GC()          // the previous run's garbage is not this run's cost
	if err := replay(ctx, w, st, r, o.Concurrency, tick); err != nil {
		return nil, floor, err
	}
	res := r.result()
	res.IdP.Introspections = w.idp.Calls(idpsim.EndpointIntrospect)
	res.IdP.JWKSFetches = w.idp.Calls(idpsim.EndpointCerts)
	res.IdP.DiscoveryFetches = w.idp.Calls(idpsim.EndpointDiscovery)
	res.IdP.PeakIntrospectionsInFlight = w.idp.PeakInFlight(idpsim.EndpointIntrospect)
	res.Pushes = Pushes{Accepted: w.pushOK.Load(), Refused: w.pushNo.Load()}
	res.EventErrors = w.eventErrors
	res.MintSeconds = w.mintTime.Seconds()
	return res, floor, nil
}

// action is an event or a key rotation on the timeline.
type action struct {
	at     time.Duration
	event  *Event
	rotate bool
}

func timeline(wl *Workload) []action {
	var out []action
	for _, t := range wl.Rotations {
		out = append(out, action{at: t, rotate: true})
	}
	for i := range wl.Events {
		out = append(out, action{at: wl.Events[i].At, event: &wl.Events[i]})
	}
	// Rotations first at equal times: the IdP then signs the event's
	// logout token or action with the key of that moment.
	slices.SortStableFunc(out, func(a, b action) int {
		if a.at != b.at {
			if a.at < b.at {
				return -1
			}
			return 1
		}
		if a.rotate != b.rotate {
			if a.rotate {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// replay drives the timeline: before each batch of requests, every action
// due is applied at its own virtual time (timing paused); each batch runs at
// its virtual time with real-time latency measured around each validation.
func replay(ctx context.Context, w *world, st *stack, r *recorder, conc int, tick func(int)) error {
	acts := timeline(w.wl)
	reqs := w.wl.Requests
	ai := 0
	var pool *workerPool
	if conc > 1 {
		pool = newWorkerPool(conc, st.validate)
		defer pool.stop()
	}
	batch := make([]job, 0, conc)
	for i := 0; i < len(reqs); {
		if i%512 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			tick(i)
		}
		if ai < len(acts) && acts[ai].at <= reqs[i].At {
			r.pause()
			for ai < len(acts) && acts[ai].at <= reqs[i].At {
				a := acts[ai]
				w.clk.Set(w.at(a.at))
				if a.rotate {
					if err := w.rotate(); err != nil {
						return err
					}
				} else {
					w.apply(ctx, *a.event)
				}
				ai++
			}
		}
		// A batch ends before the next action, so no event falls inside it.
		j := i + 1
		for j < len(reqs) && j-i < conc && (ai >= len(acts) || reqs[j].At < acts[ai].at) {
			j++
		}
		at := reqs[j-1].At
		w.clk.Set(w.at(at))
		r.resume()
		if pool == nil {
			q := reqs[i]
			calls := w.idp.Calls(idpsim.EndpointIntrospect)
			start := time.Now()
			d := st.validate(ctx, w.tokens[q.Token], q.Sensitive)
			lat := time.Since(start)
			if d.idpCalls < 0 {
				// One validation at a time: the IdP's counter moved for it alone.
				d.idpCalls = int(w.idp.Calls(idpsim.EndpointIntrospect) - calls)
			}
			r.record(q, at, d, lat)
		} else {
			batch = batch[:0]
			for k := i; k < j; k++ {
				batch = append(batch, job{token: w.tokens[reqs[k].Token], sensitive: reqs[k].Sensitive})
			}
			pool.run(ctx, batch)
			for k := i; k < j; k++ {
				r.record(reqs[k], at, batch[k-i].d, batch[k-i].lat)
			}
		}
		i = j
	}
	r.pause()
	tick(len(reqs))
	return nil
}

type job struct {
	token     string
	sensitive bool
	d         decision
	lat       time.Duration
}

// workerPool runs batches of validations on n goroutines; run returns when
// the whole batch is done. stop ends the goroutines.
type workerPool struct {
	jobs chan *job
	wg   sync.WaitGroup // the batch in progress
	done sync.WaitGroup // the workers
	ctx  context.Context
	mu   sync.Mutex
}

func newWorkerPool(n int, validate validateFunc) *workerPool {
	p := &workerPool{jobs: make(chan *job)}
	for range n {
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			for jb := range p.jobs {
				p.mu.Lock()
				ctx := p.ctx
				p.mu.Unlock()
				start := time.Now()
				jb.d = validate(ctx, jb.token, jb.sensitive)
				jb.lat = time.Since(start)
				p.wg.Done()
			}
		}()
	}
	return p
}

func (p *workerPool) run(ctx context.Context, batch []job) {
	p.mu.Lock()
	p.ctx = ctx
	p.mu.Unlock()
	p.wg.Add(len(batch))
	for i := range batch {
		p.jobs <- &batch[i]
	}
	p.wg.Wait()
}

func (p *workerPool) stop() {
	close(p.jobs)
	p.done.Wait()
}
