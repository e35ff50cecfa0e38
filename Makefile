# ilbvip — see README.md. Targets run as root on Debian/Ubuntu where noted.
GO       ?= go
VERSION  ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0)-$(shell git rev-parse --short HEAD 2>/dev/null || echo nogit)
LDFLAGS  := -s -w -X github.com/ilbvip/ilbvip/pkg/app.Version=$(VERSION)
# urfave_cli_no_docs leaves urfave's Markdown and man generators out (scripts/genman writes the pages itself): faster start, smaller binaries.
TAGS     := urfave_cli_no_docs
ACTIONS  := restore remove quickCheck recover
TOOLS    := lbsim rehearsal
BINS     := $(addprefix bin/,$(ACTIONS)) $(addprefix bin/,$(TOOLS))

.PHONY: build demo test deps lint unit soak fuzz docs bench clean
build: $(BINS)

bin/%: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $@ ./actions/$*

# The load-balancer simulator and the failover rehearsal (make demo).
$(addprefix bin/,$(TOOLS)): FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $@ ./tools/$(@F)

FORCE:

## build-windows: the four executables for Windows (amd64) in bin/windows/
.PHONY: build-windows
build-windows: $(addprefix bin/windows/,$(addsuffix .exe,$(ACTIONS)))

bin/windows/%.exe: FORCE
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $@ ./actions/$*

## packages: RPM, deb and x64 MSI in dist/ at PKG_VERSION (the VERSION file, no git suffix; the executables inside say it too); SIGN_CERT=cert.pem SIGN_KEY=key.pem signs the EXEs and the MSI
PKG_VERSION ?= $(shell cat VERSION)
.PHONY: packages
packages:
	PKG_VERSION='$(PKG_VERSION)' SIGN_CERT='$(SIGN_CERT)' SIGN_KEY='$(SIGN_KEY)' scripts/packages.sh dist

## demo: the failover rehearsal: two nodes behind a simulated cloud load balancer in throwaway namespaces (root; else the responder alone); CLOUD=azure (default), gcp or aws
CLOUD ?= azure
demo: build
	CLOUD=$(CLOUD) scripts/demo.sh

## timelines: regenerate the README's failover timelines (docs/timeline-CLOUD.svg), one rehearsal per cloud (root); real runs, so the timings differ a little each time
.PHONY: timelines
timelines: build
	for c in azure gcp aws; do bin/rehearsal --bin bin --cloud $$c --svg docs/timeline-$$c.svg --interval 500ms --threshold 2 >/dev/null || exit 1; echo docs/timeline-$$c.svg; done

## test: install what the tests need (root, Debian), then lint and run every test
test: deps lint unit soak fuzz

deps:
	scripts/install-test-deps.sh

lint:
	scripts/lint.sh

unit: build
	$(GO) test -race -count=1 -timeout 15m ./...

## soak: a million probes against the responder, without the race detector
soak:
	$(GO) test -count=1 -timeout 10m -run 'TestMillionProbes' -v ./pkg/responder/

## fuzz: each fuzz target for a count of executions (10 to 15 s each here); crashers land in the package's testdata/fuzz as regression cases
# Counts, not durations: a duration -fuzztime races Go 1.26's fuzzing coordinator at its
# deadline and fails with "context deadline exceeded" on a busy machine without any crasher
# (go.dev/issue/75804, fixed in Go 1.27). FUZZTIME=20s (or 1000000x) overrides them all.
FUZZ_YAML    ?= 250000x
FUZZ_INFO    ?= 700000x
FUZZ_REQUEST ?= 300000x
FUZZ_NFT     ?= 350000x
FUZZ_IPTABLES ?= 200000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseYAML$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_YAML)) ./pkg/config/
	$(GO) test -run '^$$' -fuzz '^FuzzParseInfo$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_INFO)) ./pkg/lifekeeper/
	$(GO) test -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_REQUEST)) ./pkg/responder/
	$(GO) test -run '^$$' -fuzz '^FuzzParseNft$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_NFT)) ./pkg/firewall/
	$(GO) test -run '^$$' -fuzz '^FuzzParseIptables$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_IPTABLES)) ./pkg/firewall/

## docs: regenerate the parameter reference in README.md and the OCF agent's meta-data from pkg/config
docs:
	$(GO) run ./scripts/gendocs

## bench: ilbvip side by side with IPaddr2 + azure-lb (nc, socat), then the Go benchmarks; writes docs/bench-results.md and .json (root; BENCH_ARGS=-quick for a short run)
bench: build
	BENCH_COMMAND='make bench$(if $(BENCH_ARGS), BENCH_ARGS="$(BENCH_ARGS)")' scripts/bench.sh $(BENCH_ARGS)

## bench-go: the Go benchmarks alone (no root)
.PHONY: bench-go
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

clean:
	rm -rf bin dist
