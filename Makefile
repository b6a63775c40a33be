# Tollgate's build and test entry points. `make test` is what CI runs (.ci/run).
GO        ?= go
PKGS      ?= ./...
BIN       ?= bin
# The vulnerability database is built from the golang.org/x/vulndb module, so
# govulncheck runs offline (only the Go module proxy is reachable from CI).
VULNDB_VERSION ?= latest
# go.mod names the patched toolchain (standard-library fixes); let the go command
# fetch it through the module proxy even where the machine defaults to 'local'.
export GOTOOLCHAIN := auto

.PHONY: all build test deps fmt-check vet staticcheck gotest vuln bench bench-scale fuzz demo clean

all: build

## build: tollgate, and tollgate-demo beside it (the demo links the fake servers; tollgate does not).
build:
	$(GO) build -o $(BIN)/tollgate ./cmd/tollgate
	$(GO) build -o $(BIN)/tollgate-demo ./cmd/tollgate-demo

## test: everything CI checks — formatting, vet, staticcheck, and the race-enabled tests
## (including the ones against a real OpenSSH sshd and a real PostgreSQL).
test: deps fmt-check vet staticcheck gotest

## deps: the system packages the tests need (sshd and rsync for the SSH engine's tests,
## PostgreSQL's server for the store's second engine).
deps:
	@scripts/test-deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: these files need 'gofmt -w':"; echo "$$out"; exit 1; fi
	@echo "gofmt: ok"

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

## gotest: the tests, with one throwaway PostgreSQL cluster for the whole run
## (TOLLGATE_TEST_POSTGRES names it; set it yourself to use another server).
gotest:
	$(GO) run ./internal/tools/withpostgres -- $(GO) test -race -count=1 -timeout 20m $(PKGS)

## vuln: govulncheck against an offline database built from golang.org/x/vulndb.
vuln:
	@scripts/vulncheck.sh "$(VULNDB_VERSION)" "$(BIN)/vulndb"

## bench: the benchmarks reported in BENCHMARKS.md (slow; not part of CI).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./store/audit/ ./deploy/

## bench-scale: histories of 1k, 10k and 100k deploy requests (kept in BENCH_CACHE
## between runs), the time and peak RSS of verify, evidence, evidence verify and
## backup, and the latency of the pages; the table for BENCHMARKS.md. Not in CI:
## generating the 100k history takes a while, and the 100k pack wants ~1 GB of disk.
BENCH_SIZES ?= 1000,10000,100000
BENCH_CACHE ?= $(BIN)/bench-scale
bench-scale:
	@mkdir -p $(BENCH_CACHE)
	$(GO) build -o $(BIN)/tollgate-bench ./cmd/tollgate
	$(GO) test -tags benchscale -run TestScale -count=1 -timeout 0 -v ./internal/benchscale \
		-tollgate $(abspath $(BIN))/tollgate-bench -sizes $(BENCH_SIZES) -cache $(abspath $(BENCH_CACHE)) \
		-out $(abspath $(BENCH_CACHE))/table.md

## fuzz: each Go fuzz target for a bounded number of executions (seed corpora in
## <pkg>/testdata/fuzz/<target>). Counts, not durations: Go 1.26's fuzz coordinator
## can fail a duration-bounded run with a spurious "context deadline exceeded" at
## the -fuzztime boundary on a loaded machine (golang/go#75804, fixed in Go 1.27).
## FUZZTIME=30s (or 1000000x) overrides every target's budget.
## A failing input is written there; commit it with the fix as a regression seed.
FUZZTIME    ?=
FUZZTARGETS ?= ./bot:FuzzParseSlashCommand:500000x ./bot:FuzzParseComment:500000x \
	./config:FuzzParse:50000x \
	./store/audit:FuzzAppendLeaf:500000x ./store/audit:FuzzLeafDistinct:500000x \
	./integrations/github:FuzzWebhookIntake:30000x ./integrations/github:FuzzDispatchDecode:1000x \
	./deploy:FuzzTarballValidator:5000x
fuzz:
	@set -e; for t in $(FUZZTARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest#*:}; \
		[ -z "$(FUZZTIME)" ] || budget=$(FUZZTIME); echo "fuzz $$pkg $$name ($$budget)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget -fuzzminimizetime 5s $$pkg; \
	done

demo:
	$(GO) run ./cmd/tollgate-demo

clean:
	rm -rf $(BIN)
