#!/bin/sh
# node.sh DIR AGENT [NAME [NAME=ADDRESS ...]]: one Pacemaker node for
# kit/ocf's cluster test (a one-node cluster, node1 on 127.0.0.1, the
# default) and for the failover rehearsal's two-node cluster
# (internal/rehearsal: node.sh DIR AGENT node2 node1=10.0.1.2 node2=10.0.2.2,
# run in each node; two nodes get corosync's two_node quorum).
#
# Run it in the node's network namespace and in new, private mount and UTS
# namespaces:
#   ip netns exec NS unshare --mount --uts --propagation private node.sh DIR AGENT
# Nothing it mounts or writes is seen outside: /run and /dev/shm are tmpfs,
# Pacemaker's and corosync's state directories are bind mounts of fresh
# directories under DIR, and AGENT appears at the standard path
# /usr/lib/ocf/resource.d/ilbvip/ilbvip only in here. It starts corosync and
# pacemakerd, writes DIR/ready once the cluster has a DC, and on TERM stops
# pacemakerd, then corosync, and exits; the namespaces go with it.
set -eu
DIR=$1
AGENT=$2
shift 2
NAME=node1
if [ $# -gt 0 ]; then
	NAME=$1
	shift
fi
if [ $# -eq 0 ]; then
	set -- node1=127.0.0.1
fi
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() { printf 'node.sh: %s\n' "$*" >&2; }

# corosync's node list from NAME=ADDRESS arguments, node ids in order.
nodelist=""
nodes=0
for n in "$@"; do
	case $n in
	[a-z]*=[0-9a-f]*) ;;
	*)
		log "node $n: want NAME=ADDRESS, for example node1=10.0.1.2"
		exit 2
		;;
	esac
	nodes=$((nodes + 1))
	nodelist="$nodelist	node {
		ring0_addr: ${n#*=}
		name: ${n%%=*}
		nodeid: $nodes
	}
"
done
two_node=""
if [ "$nodes" -eq 2 ]; then
	# Either node alone keeps quorum once both were seen (wait_for_all).
	two_node="two_node: 1"
fi

hostname "$NAME"
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p /run/crm /run/resource-agents
chown hacluster:haclient /run/crm

for d in lib/pacemaker/cib lib/pacemaker/pengine lib/pacemaker/blackbox lib/pacemaker/cores log/pacemaker/bundles; do
	mkdir -p "$DIR/var/$d"
done
mkdir -p "$DIR/var/lib/corosync"
chown -R hacluster:haclient "$DIR/var/lib/pacemaker" "$DIR/var/log/pacemaker"
chmod 0750 "$DIR/var/lib/pacemaker/cib" "$DIR/var/lib/pacemaker/pengine" "$DIR/var/lib/pacemaker/blackbox" "$DIR/var/lib/pacemaker/cores"
chmod 0770 "$DIR/var/log/pacemaker"
mount --bind "$DIR/var/lib/pacemaker" /var/lib/pacemaker
mount --bind "$DIR/var/lib/corosync" /var/lib/corosync
mount --bind "$DIR/var/log/pacemaker" /var/log/pacemaker

# The agent at the standard path: a copy of resource.d with the installed
# providers bound in and ilbvip added, mounted over the real one.
OCF=/usr/lib/ocf/resource.d
mkdir -p "$DIR/resource.d/ilbvip"
for p in "$OCF"/*; do
	# An installed ilbvip provider stays hidden: the copy under test replaces it.
	if [ ! -d "$p" ] || [ "${p##*/}" = ilbvip ]; then
		continue
	fi
	mkdir -p "$DIR/resource.d/${p##*/}"
	mount --bind "$p" "$DIR/resource.d/${p##*/}"
done
cp "$AGENT" "$DIR/resource.d/ilbvip/ilbvip"
chmod 0755 "$DIR/resource.d" "$DIR/resource.d/ilbvip" "$DIR/resource.d/ilbvip/ilbvip"
mount --rbind "$DIR/resource.d" "$OCF"

cat >"$DIR/corosync.conf" <<EOF
totem {
	version: 2
	cluster_name: ilbvip-test
	transport: knet
	crypto_cipher: none
	crypto_hash: none
	token: 1000
}
nodelist {
$nodelist}
quorum {
	provider: corosync_votequorum
	$two_node
}
logging {
	to_stderr: no
	to_syslog: no
	to_logfile: yes
	logfile: $DIR/corosync.log
	timestamp: on
}
EOF

# A fresh CIB: no fencing (no devices here), and a short dc-deadtime
# (the default 20s would delay the DC by 20s).
CIB=/var/lib/pacemaker/cib/cib.xml
cibadmin --empty >"$CIB"
CIB_file=$CIB crm_attribute --type crm_config --name stonith-enabled --update false
CIB_file=$CIB crm_attribute --type crm_config --name dc-deadtime --update 2s
chown hacluster:haclient "$CIB"
chmod 0600 "$CIB"

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2s.
wait_for() {
	n=$(($1 * 5))
	what=$2
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			log "timed out waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# stop_pid PID SECONDS: TERM, wait up to SECONDS, then KILL.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	n=$(($2 * 10))
	while kill -0 "$1" 2>/dev/null && [ "$n" -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		log "pid $1 ignored TERM for $2s: KILL"
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

corosync_pid=""
pacemakerd_pid=""
shutdown() {
	trap '' TERM INT
	[ -z "$pacemakerd_pid" ] || stop_pid "$pacemakerd_pid" 60
	[ -z "$corosync_pid" ] || stop_pid "$corosync_pid" 20
	log "stopped"
	exit "${1:-0}"
}
trap 'shutdown 0' TERM INT

corosync -f -c "$DIR/corosync.conf" >>"$DIR/corosync.out" 2>&1 &
corosync_pid=$!
wait_for 30 "corosync quorum" corosync-quorumtool -s || shutdown 1

PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none \
	pacemakerd >>"$DIR/pacemakerd.out" 2>&1 &
pacemakerd_pid=$!
# Until a DC is elected crm_mon says "Current DC: NONE".
wait_for 60 "the DC" sh -c 'crm_mon -1 2>/dev/null | grep "Current DC:" | grep -qv "Current DC: NONE"' || shutdown 1
echo "corosync=$corosync_pid pacemakerd=$pacemakerd_pid" >"$DIR/ready"
log "$NAME is up, the DC is elected"

# Until TERM: wait returns early when a trapped signal arrives, and when
# pacemakerd dies by itself the node shuts down too.
wait "$pacemakerd_pid" || true
log "pacemakerd exited by itself"
shutdown 1
