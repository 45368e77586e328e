#!/usr/bin/env bash
# Installs everything tcpterm needs from Debian 12's packages. Idempotent: packages already
# present are skipped, and apt-get update runs at most once per invocation (only when something
# is missing). Fails loudly, naming the package that could not be installed.
set -euo pipefail

PKGS=(
  build-essential pkg-config meson ninja-build
  libdpdk-dev dpdk dpdk-dev
  libfmt-dev libboost-dev catch2 libtomlplusplus-dev libsodium-dev
  python3 iproute2 nftables procps curl iputils-ping
  python3-scapy
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

echo "setup-deps: installing ${missing[*]}" >&2
if ! $SUDO apt-get update -qq >/dev/null; then
  echo "setup-deps: apt-get update failed" >&2
  exit 1
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  # Retry one by one so the failure names the package.
  for p in "${missing[@]}"; do
    if ! $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null; then
      echo "setup-deps: FAILED to install package '$p'" >&2
      exit 1
    fi
  done
fi
