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

## fuzz: each Go fuzz target for FUZZTIME (seed corpora in <pkg>/testdata/fuzz/<target>).
## A failing input is written there; commit it with the fix as a regression seed.
FUZZTIME    ?= 10s
FUZZTARGETS ?= ./bot:FuzzParseSlashCommand ./bot:FuzzParseComment ./bot/config:FuzzParse \
	./store/audit:FuzzAppendLeaf ./store/audit:FuzzLeafDistinct \
	./integrations/github:FuzzWebhookIntake ./integrations/github:FuzzDispatchDecode \
	./integrations/github:FuzzDecodeEnvelope ./integrations/github:FuzzValidJSON
fuzz:
	@set -e; for t in $(FUZZTARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	done

demo:
	$(GO) run ./cmd/tollgate demo

clean:
	rm -rf $(BIN)
