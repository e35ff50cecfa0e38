#!/bin/bash
# make demo: one resource, start to finish, in throwaway network namespaces.
# A "node" namespace holds the VIP on eth1 (not the backend NIC) and the
# responder; an "lb" namespace probes the node's backend address as a cloud
# load balancer would. Everything made here is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin
TAG=lbhc-12345
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

ID=$$
NODE=ilbvip-demo-node-$ID
LB=ilbvip-demo-lb-$ID
SD=$(mktemp -d /tmp/ilbvip-demo.XXXXXX)
cleanup() {
	ip netns pids "$NODE" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns del "$NODE" 2>/dev/null || true
	ip netns del "$LB" 2>/dev/null || true
	rm -rf "$SD"
}
trap cleanup EXIT

ip netns add "$NODE"; ip netns add "$LB"
ip -n "$NODE" link set lo up; ip -n "$LB" link set lo up
# eth0: the backend NIC the LB probes; eth1: the NIC that carries the VIP.
ip -n "$NODE" link add eth0 type veth peer name lb0 netns "$LB"
ip -n "$NODE" addr add 10.0.0.2/24 dev eth0; ip -n "$LB" addr add 10.0.0.1/24 dev lb0
ip -n "$NODE" link add eth1 type veth peer name eth1p
for l in eth0 eth1 eth1p; do ip -n "$NODE" link set "$l" up; done
ip -n "$LB" link set lb0 up
N() { ip netns exec "$NODE" "$@"; }

cat > "$SD/$TAG.yaml" <<YAML
# The Azure example: ILB frontend 10.10.5.200, probe port 12345, Floating IP on.
port: $PORT
message: "hello from ilbvip"
allow: [10.0.0.1]          # Azure: 168.63.129.16
vip: 10.10.5.200
interface: eth1
state_dir: $SD/state
YAML
chmod 600 "$SD/$TAG.yaml"
A=(-t "$TAG" -c "$SD/$TAG.yaml")
say "config $TAG.yaml"; grep -v '^#' "$SD/$TAG.yaml"

say "quickCheck before restore (7 = cleanly stopped)"
N "$BIN/quickCheck" "${A[@]}" 2>&1 || echo "exit $?"

say "restore"
run N "$BIN/restore" "${A[@]}"
N ip -br addr show eth1

say "the load balancer probes 10.0.0.2:$PORT from 10.0.0.1"
for i in 1 2 3; do
	ip netns exec "$LB" bash -c "exec 3<>/dev/tcp/10.0.0.2/$PORT && timeout 2 cat <&3" && echo "  (probe $i answered)"
done
sleep 1.1 # the responder writes its counters once a second

say "quickCheck --verbose"
run N "$BIN/quickCheck" "${A[@]}" --verbose

say "kill -9 the responder: quickCheck fails, recover repairs"
kill -9 "$(sed -n 's/^pid=//p' "$SD/state/$TAG.pid")"
N "$BIN/quickCheck" "${A[@]}" 2>&1 || echo "exit $?"
run N "$BIN/recover" "${A[@]}"
N "$BIN/quickCheck" "${A[@]}" && echo "quickCheck exit 0 (healthy, silent)"

say "remove"
run N "$BIN/remove" "${A[@]}"
N ip -br addr show eth1
N "$BIN/quickCheck" "${A[@]}" 2>&1 || echo "exit $?"
echo "left in the state directory: $(ls "$SD/state")"
say "done: namespaces and files removed"
