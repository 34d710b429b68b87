package validator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tokenwarden/tokenwarden/strategy"
)

// ServerConfig configures Serve. Zero values take the defaults noted.
type ServerConfig struct {
	// Addr is the main listener ("host:port"; ":0" picks a free port). Required.
	Addr string
	// AdminAddr is the admin listener; "" serves no admin listener.
	AdminAddr string
	// ReadTimeout bounds reading a whole request (default 5s); it also
	// bounds reading the headers (ReadHeaderTimeout), against slowloris.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from header read to response written
	// (default 10s).
	WriteTimeout time.Duration
	// IdleTimeout bounds keep-alive idleness (default 60s).
	IdleTimeout time.Duration
	// ShutdownTimeout bounds the graceful drain after ctx ends (default
	// 10s); connections still open then are closed.
	ShutdownTimeout time.Duration
	// MaxHeaderBytes bounds request headers (default 32 KiB).
	MaxHeaderBytes int
	// MaxInFlight sheds requests over this many in flight per listener with
	// 503 and Retry-After: 1 (default 1024; negative: no limit). /healthz is
	// never shed, so liveness probes do not kill a busy process.
	MaxInFlight int
}

func (sc ServerConfig) withDefaults() ServerConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&sc.ReadTimeout, 5*time.Second)
	def(&sc.WriteTimeout, 10*time.Second)
	def(&sc.IdleTimeout, 60*time.Second)
	def(&sc.ShutdownTimeout, 10*time.Second)
	if sc.MaxHeaderBytes <= 0 {
		sc.MaxHeaderBytes = 32 << 10
	}
	if sc.MaxInFlight == 0 {
		sc.MaxInFlight = 1024
	}
	return sc
}

// Serve listens on sc.Addr (main) and sc.AdminAddr (admin), reports the bound
// addresses to ready (adminAddr nil when there is no admin listener), and
// serves until ctx ends; then it shuts both servers down gracefully, letting
// in-flight requests finish within ShutdownTimeout, and returns nil. Listen
// errors are returned at once; a server failing while serving stops both and
// its error is returned. Requests' contexts are not canceled by ctx, only by
// the forced close after ShutdownTimeout. When Serve returns after a graceful
// drain, no handler is running; after a forced close, handlers still running
// see their request context canceled and must return on their own.
func Serve(ctx context.Context, sc ServerConfig, main, admin http.Handler, logger *slog.Logger, ready func(mainAddr, adminAddr net.Addr)) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if sc.Addr == "" {
		return errors.New("validator: no listen address")
	}
	if main == nil {
		return errors.New("validator: no main handler")
	}
	sc = sc.withDefaults()

	var lc net.ListenConfig
	type server struct {
		name string
		srv  *http.Server
		ln   net.Listener
	}
	var servers []server
	closeAll := func() {
		for _, s := range servers {
			_ = s.ln.Close()
		}
	}
	listen := func(name, addr string, h http.Handler) error {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("validator: %s listener: %w", name, err)
		}
		servers = append(servers, server{name: name, ln: ln, srv: &http.Server{
			Handler:           limitInFlight(h, sc.MaxInFlight),
			ReadTimeout:       sc.ReadTimeout,
			ReadHeaderTimeout: sc.ReadTimeout,
			WriteTimeout:      sc.WriteTimeout,
			IdleTimeout:       sc.IdleTimeout,
			MaxHeaderBytes:    sc.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}})
		return nil
	}
	if err := listen("main", sc.Addr, main); err != nil {
		return err
	}
	if sc.AdminAddr != "" && admin != nil {
		if err := listen("admin", sc.AdminAddr, admin); err != nil {
			closeAll()
			return err
		}
	}
	var adminAddr net.Addr
	if len(servers) > 1 {
		adminAddr = servers[1].ln.Addr()
	}
	for _, s := range servers {
		logger.Info("listening", slog.String("listener", s.name), slog.String("addr", s.ln.Addr().String()))
	}
	if ready != nil {
		ready(servers[0].ln.Addr(), adminAddr)
	}

	errc := make(chan error, len(servers))
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("validator: %s server: %w", s.name, err)
			}
		})
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}

	// Drain on a fresh deadline: ctx is already done.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sc.ShutdownTimeout)
	defer cancel()
	var swg sync.WaitGroup
	shutdownErrs := make([]error, len(servers))
	for i, s := range servers {
		swg.Go(func() {
			if err := s.srv.Shutdown(sctx); err != nil {
				// Past the deadline: cut the stragglers off.
				_ = s.srv.Close()
				shutdownErrs[i] = fmt.Errorf("validator: %s shutdown: %w", s.name, err)
			}
		})
	}
	swg.Wait()
	wg.Wait()
	logger.Info("servers stopped")
	return errors.Join(append([]error{serveErr}, shutdownErrs...)...)
}

// limitInFlight sheds requests beyond max in flight with 503 instead of
// queueing them: queued requests would time out anyway and hold memory.
func limitInFlight(h http.Handler, max int) http.Handler {
	if max < 0 {
		return h
	}
	sem := make(chan struct{}, max)
	overloaded := &strategy.Error{
		Kind:       strategy.ErrUnavailable,
		Reason:     ReasonOverloaded,
		Detail:     "too many requests in flight",
		RetryAfter: time.Second,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			h.ServeHTTP(w, r)
			return
		}
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			h.ServeHTTP(w, r)
		default:
			WriteError(w, overloaded, "")
		}
	})
}
