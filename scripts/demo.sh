#!/bin/bash
# make demo [CLOUD=azure|gcp|aws]: the failover rehearsal. As root: two nodes
# in throwaway network namespaces behind a simulated cloud load balancer with
# that cloud's rules (probe every 500 ms, 2 in a row flip a node): node1
# active, a switchover to node2 and back, node1's responder killed and
# recovered, then the scenario that shows why the cloud's setting matters.
# bin/rehearsal prints the transcript, writes bin/rehearsal-CLOUD.svg (the
# timeline) and removes every namespace and process it made, also on Ctrl-C.
# Without root: the responder alone on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin
PORT=12345

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ "$(id -u)" != 0 ]; then
	echo "make demo: not root, so no namespaces or VIP: running the responder alone on 127.0.0.1:${PORT}."
	SD=$(mktemp -d)
	trap '"$BIN/remove" -t demo --port "$PORT" --state-dir "$SD/state" >/dev/null 2>&1 || true; rm -rf "$SD"' EXIT
	A=(-t demo --port "$PORT" --message "hello from ilbvip" --state-dir "$SD/state")
	say "restore (responder only)"; run "$BIN/restore" "${A[@]}"
	say "a probe"; exec 3<>"/dev/tcp/127.0.0.1/$PORT"; cat <&3; exec 3<&-
	say "quickCheck --verbose"; run "$BIN/quickCheck" "${A[@]}" --verbose
	say "remove"; run "$BIN/remove" "${A[@]}"
	echo; "$BIN/quickCheck" "${A[@]}" 2>/dev/null || echo "quickCheck exit $? (7: cleanly stopped)"
	exit 0
fi

# Lower-cased, as the rehearsal reads it, so CLOUD=GCP writes rehearsal-gcp.svg.
CLOUD=$(printf '%s' "${CLOUD:-azure}" | tr '[:upper:]' '[:lower:]')
exec "$BIN/rehearsal" --bin "$BIN" --cloud "$CLOUD" --svg "$BIN/rehearsal-$CLOUD.svg" --interval 500ms --threshold 2 "$@"
