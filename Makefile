# tokenwarden — see README.md. Every target works on a fresh machine with Go 1.26.
GO       ?= go
BIN      ?= bin/tokenwarden
PKGS     ?= ./...
BENCHTIME ?= 1s
FUZZTIME ?= 30s
DURATION ?= 5m

.PHONY: all build run test vet staticcheck fmtcheck lint bench microbench fmt clean gateways static hydra fuzz soak

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/tokenwarden

## run: the validate service on the built-in Keycloak-compatible dev issuer;
## prints ISSUER, VALIDATE_URL, ADMIN_URL, a TOKEN and a curl line.
run: build
	./$(BIN) dev

## test: everything CI runs. Installs the real gateways the forward-auth
## tests drive (nginx-light, caddy from Debian) when they are missing.
test: fmtcheck vet staticcheck static gateways hydra
	$(GO) test -race -count=1 $(PKGS)

## hydra: Ory Hydra v2.3.0 for internal/e2e/hydra, built once (about 3 to 4
## minutes cold) into the git-ignored .cache/hydra in a throwaway module.
hydra:
	./scripts/hydra.sh >/dev/null

## gateways: real nginx and Caddy for internal/e2e/gateway (idempotent).
gateways:
	./scripts/install-gateways.sh

## static: the build the Dockerfile makes (CGO_ENABLED=0, static binary).
static:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o /dev/null ./cmd/tokenwarden

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

fmtcheck:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: fmtcheck vet staticcheck

## bench: the strategies side by side on the keycloak-default scenario
## (quick: under 2 minutes here), report in bench-out/.
bench: build
	./$(BIN) bench --scenario keycloak-default --quick --out bench-out

## microbench: the local-path and introspection micro-benchmarks in one run
## (compare ratios within the run; the machines are shared and noisy).
microbench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./strategy/

fmt:
	gofmt -w .

clean:
	rm -rf bin

## fuzz: every native fuzz target, FUZZTIME each, sequentially (make test runs the seeds).
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

## soak: sustained load with revocation events; CSV and SVG in out/soak;
## fails if memory, goroutines or entries grow without bound (not part of test).
soak:
	DURATION=$(DURATION) ./scripts/soak.sh
