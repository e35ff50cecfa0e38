#!/bin/sh
# Installs what `make test` needs, idempotently: Debian packages (as root)
# and Go tools at pinned versions. Without root it only lists what is missing.
set -eu

PKGS="iproute2 procps socat"
# The OCF agent's tests: ocf-tester (+ xmllint), a real Pacemaker, shellcheck.
PKGS="$PKGS resource-agents libxml2-utils pacemaker pacemaker-cli-utils corosync shellcheck"
# quickCheck --diagnose's firewall tests: nft, iptables-legacy/-nft (rules only in test namespaces);
# ufw for pkg/firewall's golden rulesets (its ufw-init runs on a temporary copy; ENABLED=no stays).
PKGS="$PKGS nftables iptables ufw"
# The packages' tests (make packages): rpm, MSI build and inspection, Authenticode signing, man pages.
PKGS="$PKGS rpm wixl msitools osslsigncode openssl groff-base"
# The Windows executables and test binaries under Wine (internal/wine): Wine 8 and the
# cross compiler for its ProcessPrng shim (scripts/wine/bcryptprimitives.c).
PKGS="$PKGS wine64 gcc-mingw-w64-x86-64"
# quickCheck --metrics and the alert rules: promtool (check metrics, check rules, test rules).
PKGS="$PKGS prometheus"
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "install-test-deps: installing$missing"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
		# Only promtool is wanted from prometheus: a Prometheus server this
		# script installed does not run (one that was there is left alone).
		case " $missing " in *" prometheus "*)
			if command -v systemctl >/dev/null; then systemctl disable --now prometheus.service >/dev/null 2>&1 || true; fi ;;
		esac
	else
		echo "install-test-deps: missing Debian packages:$missing (run as root: apt-get install$missing)" >&2
	fi
fi

GOBIN="$(go env GOPATH)/bin"
if [ ! -x "$GOBIN/staticcheck" ] || ! "$GOBIN/staticcheck" -version 2>/dev/null | grep -q "0.8.2"; then
	echo "install-test-deps: installing $STATICCHECK"
	GOFLAGS= go install "$STATICCHECK"
fi
if [ ! -x "$GOBIN/nfpm" ] || ! go version -m "$GOBIN/nfpm" 2>/dev/null | grep -q "nfpm/v2[[:space:]]*v2\.45\.2[[:space:]]"; then
	echo "install-test-deps: installing $NFPM (about 80 s)"
	GOFLAGS='' go install "$NFPM"
fi
