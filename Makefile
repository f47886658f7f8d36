# Parley — one binary. `make run` and `make test` set up a fresh Debian 12
# machine (apt packages through scripts/setup-debian.sh) before they build.
GO      ?= go
BIN     := bin/parley
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build run test test-short fuzz-smoke bench deps vet

all: build

deps:
	./scripts/setup-debian.sh

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/parley

run: build
	./$(BIN) serve --data-dir ./data

# The whole suite: unit, integration (pion peers on loopback), browser
# (headless Chromium), plus a short fuzz smoke run of every fuzz target.
# The browser tests run after the rest, not beside it: three Chromiums
# and the real-time transcription tests (pocketsphinx on live meetings)
# each want both cores of a 2-core machine, and together they starve
# each other into timeouts.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/internal/web$$')
	$(GO) test -count=1 -timeout 20m ./internal/web/
	./scripts/fuzz-smoke.sh 5s

test-short:
	$(GO) test -short -count=1 ./...

fuzz-smoke:
	./scripts/fuzz-smoke.sh 5s

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...
