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
shellcheck kit/ocf/ilbvip kit/ocf/testdata/node.sh
echo "lint: gofmt, go vet, staticcheck clean (linux, windows); shellcheck clean (OCF agent)"
