#!/usr/bin/env bash
# Installs, with apt-get, whichever of isoflow's build and test dependencies are missing
# (Debian 12 package names). Run as root; does nothing when everything is there.
# With --tests it also installs what only the tests need: the MinGW-w64 cross compiler for the
# windows_headers test (a 69 MB download, about 400 MB installed).
set -euo pipefail
packages=(cmake g++ make pkg-config libeigen3-dev catch2 libbenchmark-dev libsimdjson-dev
          libsqlite3-dev sqlite3 libcli11-dev zlib1g-dev python3 python3-sklearn python3-pandas)
if [[ "${1:-}" == "--tests" ]]; then
    packages+=(g++-mingw-w64-x86-64-posix)
fi
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    echo "isoflow: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
