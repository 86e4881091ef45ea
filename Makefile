# The commands the README shows. `make test` and `make release` do all the
# set-up they need on a new machine (Debian packages, pinned tools), so each
# is one command.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export FERRY_TOOLS_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ferry/tools
export PATH := $(FERRY_TOOLS_DIR)/bin:$(PATH)
export GOTOOLCHAIN := local

# Every Go module of the workspace (ci/ stays out: see ARCHITECTURE).
GO_PKGS = $(shell go list -m -f '{{.Dir}}/...')
# Pinned tools the test suite drives (see .ci/tools.sh).
TEST_TOOLS := temporal staticcheck actionlint crane cosign registry sops gitea tofu

.PHONY: help setup tools lint fmt-check vet staticcheck test test-go test-dagger dagger-stubs run release bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install Debian packages and pinned tools (idempotent)
	scripts/setup.sh $(TEST_TOOLS)

tools: ## build the pinned tools into the cache (idempotent)
	.ci/tools.sh $(TEST_TOOLS)

fmt-check: ## fail when gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>&1); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

dagger-stubs: ## write the Dagger type-check stand-ins (gitignored; the engine regenerates them)
	go run ./tools/daggerstub

vet: dagger-stubs ## go vet every module, and the Dagger module outside the workspace
	go vet $(GO_PKGS)
	cd ci && GOWORK=off go vet ./...

staticcheck: dagger-stubs ## staticcheck every module, and the Dagger module
	staticcheck $(GO_PKGS)
	cd ci && GOWORK=off staticcheck ./...

lint: fmt-check vet staticcheck ## gofmt, go vet and staticcheck

test-go: ## go test every module beside a throwaway PostgreSQL, long tests included
	FERRY_LONG_TESTS=1 scripts/with-postgres.sh go test -count=1 -timeout 45m $(GO_PKGS)

test-dagger: dagger-stubs ## the Dagger module's engine-less proof (ci/ stays out of go.work)
	cd ci && GOWORK=off go test -count=1 ./...

test: setup lint test-go test-dagger ## every test, after all the set-up

release: ## the main job: release scheduler-worker on the embedded defaults (registry, key, deployments repo, forge under .ci/state)
	scripts/setup.sh temporal
	scripts/with-postgres.sh go run ./cmd/ci release --service scheduler-worker

run: ## scheduler-worker beside a throwaway Temporal dev server and PostgreSQL, showing its health and version
	scripts/setup.sh temporal
	scripts/run-local.sh

bench: ## benchmarks side by side with the peer tools (ko, kustomize, cosign); prints the ratios
	scripts/setup.sh ko kustomize cosign
	@set -e; for b in modules/*/bench/run.sh; do [ -x "$$b" ] || continue; echo "== $$b"; "$$b"; done
