#!/bin/sh
# gofmt, go vet and staticcheck, for Linux and for Windows.
set -eu
bad=$(gofmt -l $(git ls-files -co --exclude-standard '*.go'))
if [ -n "$bad" ]; then
	echo "gofmt: these files need formatting (gofmt -w):" >&2
	echo "$bad" >&2
	exit 1
fi
SC="$(go env GOPATH)/bin/staticcheck"
for os in linux windows; do
	GOOS=$os go vet ./...
	GOOS=$os "$SC" ./...
done
# Windows binaries cannot run here: build everything and compile every
# package's tests for Windows; -exec true "runs" each test binary as a no-op
# (go test -c -o DIR/ refuses two packages with the same name).
GOOS=windows go build ./...
GOOS=windows go test -exec true ./... >/dev/null
shellcheck kit/ocf/ilbvip kit/ocf/testdata/node.sh
echo "lint: gofmt, go vet, staticcheck clean (linux, windows); Windows build and test compile ok; shellcheck clean (OCF agent)"
