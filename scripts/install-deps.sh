#!/bin/sh
# Installs the Debian packages Crossroads needs to build, test and run,
# skipping those already present. Works as root; uses sudo otherwise.
set -eu

# gnutls-bin: certtool and gnutls-cli, which the TLS tests build their PKI
# and check TLS versions with. postgresql: the server the PostgreSQL
# store's tests start their own clusters of (tests/support/pgcluster.py).
PKGS="meson ninja-build pkg-config gcc libc6-dev python3 curl
libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libsqlite3-dev
libsodium-dev libcmocka-dev sqlite3 libgnutls28-dev gnutls-bin
libpq-dev postgresql"
if [ "${1:-}" = "--bench" ]; then
	PKGS="$PKGS wrk nginx-light time"
fi
# make fuzz: clang with libFuzzer's runtime; llvm for llvm-symbolizer
# (readable stack traces in sanitizer reports).
if [ "${1:-}" = "--fuzz" ]; then
	PKGS="$PKGS clang libclang-rt-dev llvm"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
else
	SUDO="sudo"
fi
echo "install-deps: installing$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
