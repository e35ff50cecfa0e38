#!/bin/sh
# Authenticode-signs Windows files (EXE, MSI) in place with osslsigncode:
#   SIGN_CERT=cert.pem SIGN_KEY=key.pem scripts/sign.sh FILE...
# SIGN_CERT  the code-signing certificate (chain), PEM or DER; or a PKCS#12 file
#            (.pfx, .p12) holding certificate and key, with SIGN_KEY unset
# SIGN_KEY   its private key, PEM or DER
# SIGN_PASS_FILE  optional: a file holding the key's (or the PKCS#12 file's) password
# SIGN_TS    optional: an RFC 3161 timestamp server URL, so signatures stay valid
#            after the certificate expires (needs the network)
# make packages runs it on the four EXEs (before they go into the MSI) and on the
# MSI when SIGN_CERT is set, and first without FILE: then it only checks the settings.
set -eu

: "${SIGN_CERT:?set SIGN_CERT to the code-signing certificate}"
SIGN_KEY=${SIGN_KEY:-}
SIGN_PASS_FILE=${SIGN_PASS_FILE:-}
SIGN_TS=${SIGN_TS:-}
command -v osslsigncode >/dev/null || { echo "sign: osslsigncode is missing: apt-get install osslsigncode" >&2; exit 1; }
for v in SIGN_CERT SIGN_KEY SIGN_PASS_FILE; do
	eval "f=\${$v}"
	[ -z "$f" ] || [ -r "$f" ] || { echo "sign: $v: $f cannot be read: fix the path" >&2; exit 1; }
done
case "$SIGN_CERT" in
*.pfx | *.p12) ;;
*) [ -n "$SIGN_KEY" ] || { echo "sign: set SIGN_KEY to the private key of $SIGN_CERT (or give a .pfx as SIGN_CERT)" >&2; exit 1; } ;;
esac

# sign IN OUT
sign() {
	if [ -n "$SIGN_KEY" ]; then
		set -- -certs "$SIGN_CERT" -key "$SIGN_KEY" -in "$1" -out "$2"
	else
		set -- -pkcs12 "$SIGN_CERT" -in "$1" -out "$2"
	fi
	osslsigncode sign -h sha256 -n ilbvip -i https://github.com/ilbvip/ilbvip \
		${SIGN_PASS_FILE:+-readpass "$SIGN_PASS_FILE"} ${SIGN_TS:+-ts "$SIGN_TS"} "$@" >/dev/null
}

for f in "$@"; do
	rm -f "$f.signing"
	if ! sign "$f" "$f.signing"; then
		rm -f "$f.signing"
		echo "sign: osslsigncode could not sign $f" >&2
		exit 1
	fi
	mv "$f.signing" "$f"
	echo "sign: signed $f"
done
