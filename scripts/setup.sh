#!/usr/bin/env bash
# Installs what l2w needs from Debian's packages and builds it into build/ (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(cmake g++ make libtorch-dev libopenblas0-pthread libcli11-dev zlib1g-dev libgtest-dev
          libjpeg62-turbo-dev libpng-dev libgloo-dev dataset-fashion-mnist gnuplot-nox python3-torch python3-pil)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
