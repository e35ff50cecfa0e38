#!/bin/sh
# Builds the packages (make packages): into OUTDIR (default dist/)
#   ilbvip-VERSION-1.x86_64.rpm, ilbvip_VERSION_amd64.deb   (nfpm, kit/packaging/nfpm.yaml)
#   ilbvip-VERSION-x64.msi                                  (wixl, kit/packaging/ilbvip.wxs)
# VERSION is PKG_VERSION, default the VERSION file; the executables inside report it
# with --version. With SIGN_CERT (and SIGN_KEY) set, scripts/sign.sh signs the EXEs
# and the MSI. Needs Go, nfpm v2.45.2 and wixl (scripts/install-test-deps.sh).
set -eu
# Paths given relative to where it is called from, before it moves to the root.
abs() { case $1 in /* | "") printf '%s' "$1" ;; *) printf '%s/%s' "$(pwd)" "$1" ;; esac; }
OUT=$(abs "${1:-}")
SIGN_CERT=$(abs "${SIGN_CERT:-}")
SIGN_KEY=$(abs "${SIGN_KEY:-}")
SIGN_PASS_FILE=$(abs "${SIGN_PASS_FILE:-}")
export SIGN_CERT SIGN_KEY SIGN_PASS_FILE
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${OUT:-$ROOT/dist}
PKG_VERSION=${PKG_VERSION:-$(cat VERSION)}
PKG_MAINTAINER=${PKG_MAINTAINER:-ilbvip maintainers <maintainers@ilbvip.invalid>}
GO=${GO:-go}
NFPM=${NFPM:-$("$GO" env GOPATH)/bin/nfpm}
ACTIONS="restore remove quickCheck recover"

# MSI versions are numeric (major.minor.build, at most 255.255.65535); rpm and deb
# take the same plain form.
if ! printf '%s\n' "$PKG_VERSION" | grep -Eq '^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,5}$'; then
	echo "packages: PKG_VERSION \"$PKG_VERSION\" is not a plain MAJOR.MINOR.PATCH version: fix VERSION or PKG_VERSION" >&2
	exit 2
fi
[ -x "$NFPM" ] || NFPM=$(command -v nfpm) || { echo "packages: nfpm is missing: run scripts/install-test-deps.sh" >&2; exit 5; }
command -v wixl >/dev/null || { echo "packages: wixl is missing: apt-get install wixl msitools" >&2; exit 5; }
if [ -n "$SIGN_CERT" ]; then
	scripts/sign.sh # checks the signing settings before anything is built
fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ilbvip-pkg-XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
trap 'exit 1' INT TERM
mkdir -p "$OUT"

# Reproducible: file times in the packages from the last commit.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

LDFLAGS="-s -w -X github.com/ilbvip/ilbvip/pkg/app.Version=$PKG_VERSION"
for a in $ACTIONS; do
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 "$GO" build -trimpath -tags urfave_cli_no_docs -ldflags "$LDFLAGS" -o "$STAGE/linux/$a" "./actions/$a"
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 "$GO" build -trimpath -tags urfave_cli_no_docs -ldflags "$LDFLAGS" -o "$STAGE/windows/$a.exe" "./actions/$a"
done
# The pages' date is the last commit's (none outside git): the same build, the same pages.
"$GO" run ./scripts/genman -version "$PKG_VERSION" -date "$(git log -1 --format=%cs 2>/dev/null || true)" -o "$STAGE/man"

# Linux: RPM and deb, named by nfpm after each ecosystem's convention.
for p in rpm deb; do
	PKG_VERSION=$PKG_VERSION PKG_ARCH=amd64 PKG_MAINTAINER=$PKG_MAINTAINER STAGE=$STAGE \
		"$NFPM" package --config kit/packaging/nfpm.yaml --packager "$p" --target "$OUT/" >/dev/null
done

# Windows: wixl reads sources relative to its working directory.
if [ -n "$SIGN_CERT" ]; then
	for a in $ACTIONS; do scripts/sign.sh "$STAGE/windows/$a.exe"; done
fi
mkdir -p "$STAGE/lifekeeper"
cp kit/lifekeeper/windows/*.cmd "$STAGE/lifekeeper/"
cp kit/packaging/example.yaml "$STAGE/example.yaml"
cp LICENSE "$STAGE/LICENSE.txt"
MSI="$OUT/ilbvip-$PKG_VERSION-x64.msi"
(cd "$STAGE" && wixl --arch x64 -D Version="$PKG_VERSION" -o "$MSI" "$ROOT/kit/packaging/ilbvip.wxs")
if [ -n "$SIGN_CERT" ]; then
	scripts/sign.sh "$MSI"
fi

for f in "$OUT/ilbvip-$PKG_VERSION-1.x86_64.rpm" "$OUT/ilbvip_${PKG_VERSION}_amd64.deb" "$MSI"; do
	[ -f "$f" ] || { echo "packages: $f was not written" >&2; exit 1; }
	echo "packages: $f ($(wc -c <"$f") bytes)"
done
