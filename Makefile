# tokenwarden — see README.md. Every target works on a fresh machine with Go 1.26.
GO       ?= go
BIN      ?= bin/tokenwarden
PKGS     ?= ./...
BENCHTIME ?= 1s

.PHONY: all build run test vet staticcheck fmtcheck lint bench fmt clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/tokenwarden

## run: the validate service on the built-in Keycloak-compatible dev issuer;
## prints ISSUER, VALIDATE_URL, ADMIN_URL, a TOKEN and a curl line.
run: build
	./$(BIN) dev

## test: everything CI runs.
test: fmtcheck vet staticcheck
	$(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

fmtcheck:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: fmtcheck vet staticcheck

## bench: the local-path benchmarks in one run (compare ratios within the run).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./strategy/

fmt:
	gofmt -w .

clean:
	rm -rf bin
