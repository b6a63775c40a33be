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

.PHONY: all build test deps fmt-check vet staticcheck gotest vuln bench fuzz demo clean

all: build

build:
	$(GO) build -o $(BIN)/tollgate ./cmd/tollgate

## test: everything CI checks — formatting, vet, staticcheck, and the race-enabled tests
## (including the ones against a real OpenSSH sshd).
test: deps fmt-check vet staticcheck gotest

## deps: the system packages the tests need (sshd and rsync for the SSH engine's tests).
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

gotest:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## vuln: govulncheck against an offline database built from golang.org/x/vulndb.
vuln:
	@scripts/vulncheck.sh "$(VULNDB_VERSION)" "$(BIN)/vulndb"

## bench: the benchmarks reported in BENCHMARKS.md (slow; not part of CI).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./store/audit/ ./deploy/

## fuzz: each Go fuzz target for a bounded number of executions (seed corpora in
## <pkg>/testdata/fuzz/<target>). Counts, not durations: Go 1.26's fuzz coordinator
## can fail a duration-bounded run with a spurious "context deadline exceeded" at
## the -fuzztime boundary on a loaded machine (golang/go#75804, fixed in Go 1.27).
## FUZZTIME=30s (or 1000000x) overrides every target's budget.
## A failing input is written there; commit it with the fix as a regression seed.
FUZZTIME    ?=
FUZZTARGETS ?= ./bot:FuzzParseSlashCommand:500000x ./bot:FuzzParseComment:500000x \
	./bot/config:FuzzParse:50000x \
	./store/audit:FuzzAppendLeaf:500000x ./store/audit:FuzzLeafDistinct:500000x \
	./integrations/github:FuzzWebhookIntake:30000x ./integrations/github:FuzzDispatchDecode:1000x \
	./integrations/github:FuzzDecodeEnvelope:100000x ./integrations/github:FuzzValidJSON:100000x \
	./deploy:FuzzTarballValidator:5000x
fuzz:
	@set -e; for t in $(FUZZTARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest#*:}; \
		[ -z "$(FUZZTIME)" ] || budget=$(FUZZTIME); echo "fuzz $$pkg $$name ($$budget)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget -fuzzminimizetime 5s $$pkg; \
	done

demo:
	$(GO) run ./cmd/tollgate demo

clean:
	rm -rf $(BIN)
