#!/usr/bin/env bash
# Installs what l2w needs and builds it into build/ (run as root on Debian 12):
# - Debian's packages: Clang (the compiler; GCC builds too, more slowly), CMake and Ninja, CLI11,
#   GoogleTest, zlib, libjpeg/libpng, Gloo's headers (for c10d), cpp-httplib (for l2w serve), nlohmann/json,
#   HAProxy and nginx (the replica example scripts/serve_replicas.sh and its tests), Prometheus' promtool
#   (the server's /metrics checked in a test),
#   Fashion-MNIST, gnuplot;
# - LibTorch: PyPI's torch wheel (pinned below; built with CUDA, it also runs without a GPU) in a virtual
#   environment outside the clone, $L2W_VENV (default ~/.cache/l2w/venv), reused by every clone and by CI;
#   with onnx, onnxruntime and openvino for l2w.export_onnx, its tests and scripts/bench_engines.py.
# Usage: setup.sh [TARGET...]: only those CMake targets (scripts/demo.sh builds `l2w`, not the tests);
# none: everything.
set -euo pipefail
cd "$(dirname "$0")/.."
torch_version=2.15.0
venv=${L2W_VENV:-$HOME/.cache/l2w/venv}
log=${L2W_SETUP_LOG:-build/setup.log}
mkdir -p "$(dirname "$log")"
: >"$log"
step() { printf '%s\n' "$*"; }
pip_pid=""  # torch's pip install while it runs in the background: stopped with this script, however it ends
trap '[[ -z $pip_pid ]] || kill "$pip_pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
fail() {  # fail WHAT [LOG]
  local failed_log=${2:-$log}
  echo "setup: $1 failed; the last lines of $failed_log:" >&2
  tail -n 25 "$failed_log" >&2
  exit 1
}

packages=(cmake clang g++ make ninja-build python3 python3-venv python3-dev libcli11-dev zlib1g-dev libgtest-dev libjpeg62-turbo-dev libpng-dev
          libgloo-dev libcpp-httplib-dev nlohmann-json3-dev haproxy nginx-light prometheus dataset-fashion-mnist gnuplot-nox)
apt_updated=false
apt_install() {  # apt_install PACKAGE...: those of them not installed yet
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  step "setup: installing Debian packages: ${missing[*]}"
  if ! $apt_updated; then
    apt-get update -qq >>"$log" 2>&1 || fail "apt-get update"
    apt_updated=true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 ||
    fail "apt-get install"
}

# Python first, for the virtual environment; then torch and the other Debian packages side by side (on a
# fresh machine both mostly wait for the network and the disk).
apt_install python3 python3-venv
if ! "$venv/bin/python3" -c "import torch, numpy, PIL, pytest, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" \
    >>"$log" 2>&1; then
  pip_log=${log%.log}-pip.log
  step "setup: installing torch $torch_version (LibTorch, with its CUDA libraries: about 5 GB) into $venv (log: $pip_log)"
  # --no-compile: Python compiles the modules it imports when it first imports them, not all 5 GB now
  # (1 min 26 s against 1 min 39 s).
  python3 -m venv "$venv" >>"$log" 2>&1 || fail "creating the virtual environment $venv"
  "$venv/bin/python3" -m pip install -q --no-compile --disable-pip-version-check "torch==$torch_version" numpy \
    pillow pytest >"$pip_log" 2>&1 &
  pip_pid=$!
fi
apt_install "${packages[@]}"
if [[ -n $pip_pid ]]; then
  if ! wait "$pip_pid"; then
    pip_pid=""
    fail "pip install torch==$torch_version" "$pip_log"
  fi
  pip_pid=""
fi
# ONNX (the export's graph format, written and checked by its own library), and ONNX Runtime and OpenVINO
# (the deployment engines that run the exported graphs in the tests and scripts/bench_engines.py).
if ! "$venv/bin/python3" -c "import onnx, onnxruntime, openvino" >>"$log" 2>&1; then
  step "setup: installing onnx, onnxruntime and openvino into $venv"
  "$venv/bin/python3" -m pip install -q --disable-pip-version-check onnx onnxruntime openvino >>"$log" 2>&1 ||
    fail "pip install onnx onnxruntime openvino"
fi

# Clang, unless L2W_CXX names another compiler: with the precompiled LibTorch header it instantiates the
# header's templates once (-fpch-instantiate-templates), where GCC does so again in every translation unit;
# the command builds in about 60 % of GCC's time, and runs as fast (docs/timings.md).
cxx=${L2W_CXX:-clang++}
command -v "$cxx" >/dev/null || cxx=g++
cxx=$(command -v "$cxx")
# A build folder configured for another compiler starts afresh (CMake does not switch compilers in place).
if [[ -f build/CMakeCache.txt ]] && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=$cxx\$" build/CMakeCache.txt; then
  rm -rf build/CMakeCache.txt build/CMakeFiles
fi
step "setup: configuring (LibTorch from $venv, $(basename "$cxx"))"
# Ninja compiles a target's files while the libraries it links are still being built (make waits for them).
generator=(-G Ninja)
[[ -f build/CMakeCache.txt ]] && ! grep -q "CMAKE_GENERATOR:INTERNAL=Ninja" build/CMakeCache.txt && generator=()
cmake -S . -B build "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release -DL2W_PYTHON="$venv/bin/python3" >>"$log" 2>&1 || fail "cmake"
targets=()
for t in "$@"; do targets+=(--target "$t"); done
step "setup: building ${*:-everything} (a first build of everything takes about 3 minutes on 2 cores; log: $log)"
cmake --build build -j "$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)" "${targets[@]}" >>"$log" 2>&1 || fail "the build"
# `import l2w` in the virtual environment: a .pth file in its site-packages names this build's package
# folder (the last clone set up wins; `pip install --no-build-isolation .` installs a copy instead).
if compgen -G "build/python/l2w/_l2w*.so" >/dev/null; then
  site=$("$venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$PWD/build/python" >"$site/l2w-build.pth"
  step "setup: built build/src/cli/l2w and the Python package l2w (import l2w in $venv)"
else
  step "setup: built build/src/cli/l2w"
fi
