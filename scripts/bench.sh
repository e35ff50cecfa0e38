#!/bin/sh
# make bench: ilbvip side by side with Pacemaker's IPaddr2 + azure-lb (nc and
# socat), as root, in network namespaces the run creates and removes (the
# host's network is not touched). It installs Debian's resource-agents,
# netcat-openbsd, socat and libxml2-utils when missing, runs tools/bench
# against a private copy of bin/ (make bench builds it first), then the Go
# benchmarks, and writes the results to stdout and to docs/bench-results.md,
# and the run's results and targets as JSON to docs/bench-results.json
# (tools/bench render docs/bench-results.json renders it again).
# Arguments go to tools/bench: -quick is a short smoke run, -help lists all.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "make bench: needs root (network namespaces, the reference agents); make bench-go runs the Go benchmarks alone" >&2
	exit 1
fi
for exe in restore remove quickCheck recover; do
	if [ ! -x "bin/$exe" ]; then
		echo "make bench: bin/$exe is missing: run make build (make bench does)" >&2
		exit 1
	fi
done

PKGS="resource-agents netcat-openbsd socat libxml2-utils iproute2"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "bench: installing$missing" >&2
	apt-get update -qq
	# shellcheck disable=SC2086 # one word per package
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

work=$(mktemp -d /tmp/ilbvip-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# A private copy: another make build during the run cannot swap them.
mkdir "$work/bin"
cp bin/restore bin/remove bin/quickCheck bin/recover "$work/bin/"
CGO_ENABLED=0 go build -trimpath -o "$work/bench" ./tools/bench

command=${BENCH_COMMAND:-scripts/bench.sh${*:+ $*}}
"$work/bench" -bin "$work/bin" -agent kit/ocf/ilbvip -command "$command" -json "$work/results.json" "$@" >"$work/results.md"

echo "bench: Go benchmarks ..." >&2
go test -run '^$' -bench . -benchmem ./pkg/... >"$work/go.txt" 2>&1 || {
	cat "$work/go.txt" >&2
	exit 1
}
{
	echo
	echo "## Go benchmarks"
	echo
	echo "\`go test -run '^\$' -bench . -benchmem ./pkg/...\` (make bench-go), on the same machine right after the run above."
	echo
	echo '```'
	grep -E '^(goos|goarch|cpu|pkg|Benchmark)' "$work/go.txt"
	echo '```'
} >>"$work/results.md"

mkdir -p docs
cp "$work/results.md" docs/bench-results.md
cp "$work/results.json" docs/bench-results.json
cat docs/bench-results.md
echo "bench: written to docs/bench-results.md and docs/bench-results.json" >&2
