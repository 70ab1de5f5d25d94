#!/usr/bin/env bash
# GPU check (issue 5): on a machine with an NVIDIA GPU, CUDA toolkit, CMake and Node with this
# repo's dependencies installed (npm ci, vendor/ggml present), in one go:
#   1. build the addon with ggml's CUDA backend for the local GPU architecture,
#   2. run the whole test suite on the CUDA backend (same tolerances as on the CPU),
#   3. run the bench on the GPU-medium-shaped checkpoint, and the notebook's own method in
#      PyTorch (scripts/hf-baseline.py) on the same weights, for the ratio.
# Usage: scripts/gpu-check.sh [OUTPUT_DIR]   (logs and JSON results land there)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-test-output/gpu-check}
mkdir -p "$out"
export PATH="/usr/local/cuda/bin:$PATH"
t0=$(date +%s)
stamp() { echo "[gpu-check +$(($(date +%s) - t0))s] $*"; }

nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '. ')
stamp "building with CUDA for sm_$arch on $(nproc) cores"
if ! LAYERLENS_CUDA=1 LAYERLENS_CUDA_ARCH="$arch" node scripts/install.mjs --force >"$out/build.log" 2>&1; then
  tail -40 "$out/build.log"
  stamp "CUDA build failed"
  exit 1
fi
node -e "const a=require('node-gyp-build')('.'); console.log('GPU backends in the addon:', a.gpuBackends())" | tee -a "$out/build.log"
stamp "build done"

stamp "test suite on the CUDA backend"
LAYERLENS_TEST_DEVICE=cuda node node_modules/vitest/vitest.mjs run --reporter=verbose >"$out/test-cuda.log" 2>&1
test_rc=$?
grep -E "Test Files|Tests|max relative" -A0 "$out/test-cuda.log"
stamp "tests exit $test_rc"

stamp "bench (CUDA)"
node scripts/bench.mjs --device cuda --runs 20 --out "$out/bench-cuda.json" >"$out/bench-cuda.log" 2>&1
tail -12 "$out/bench-cuda.log"
stamp "bench (CUDA) with CUDA graphs off, for comparison"
GGML_CUDA_DISABLE_GRAPHS=1 node scripts/bench.mjs --device cuda --runs 20 --no-ts-baseline --out "$out/bench-cuda-nographs.json" >"$out/bench-cuda-nographs.log" 2>&1
tail -12 "$out/bench-cuda-nographs.log"
stamp "notebook method in PyTorch on the same weights"
python3 scripts/hf-baseline.py .cache/bench/medium-f32 --device cuda --out "$out/hf-cuda.json" >"$out/hf-cuda.log" 2>&1
tail -12 "$out/hf-cuda.log"
stamp "done"
exit $test_rc
