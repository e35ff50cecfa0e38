# ilbvip — see README.md. Targets run as root on Debian/Ubuntu where noted.
GO       ?= go
VERSION  ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0)-$(shell git rev-parse --short HEAD 2>/dev/null || echo nogit)
LDFLAGS  := -s -w -X github.com/ilbvip/ilbvip/pkg/app.Version=$(VERSION)
ACTIONS  := restore remove quickCheck recover
BINS     := $(addprefix bin/,$(ACTIONS))

.PHONY: build demo test deps lint unit docs bench clean
build: $(BINS)

bin/%: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./actions/$*

FORCE:

## demo: restore a resource in a throwaway network namespace, probe it, check it, remove it (root)
demo: build
	scripts/demo.sh

## test: install what the tests need (root, Debian), then lint and run every test
test: deps lint unit

deps:
	scripts/install-test-deps.sh

lint:
	scripts/lint.sh

unit: build
	$(GO) test -race -count=1 -timeout 15m ./...

## docs: regenerate the parameter reference in README.md from pkg/config
docs:
	$(GO) run ./scripts/gendocs

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

clean:
	rm -rf bin dist
