#!/usr/bin/env bash
# Issue 22's GPU checks as one prepared run for a lent GPU machine (the `device` tool: about
# 15 minutes of device time a session, a bare machine whose python3 already holds CUDA torch,
# nothing downloadable there). Each step has its own time limit, so one that hangs costs only
# its share; everything goes to $OUT/gpu_check.log (and stdout).
#
# Prepare once, here (pip reaches PyPI here, not there): the few dependencies the machine's
# image lacks, as Python 3.12 wheels in the ignored folder .whl/:
#     bash benchmarks/gpu_check.sh --prepare
# Then run it there, carrying .whl:
#     device run: command "bash benchmarks/gpu_check.sh", carry [".whl"], timeout_s 590
# (the steps' own limits add up to 550 s)
#
# Steps: the machine (nvidia-smi, torch), benchmarks/training.py with no arguments (our loop on
# the GPU vs the same machine's CPU threads per batch size, where `device = "auto"` trains
# each), the demo's placement test and the two GPU-sensitive pipeline tests (the manifest's
# device, no torch on a no-op rerun), then benchmarks/demo.py (first run and no-op rerun).
# The demo and the pipeline tests need git; without it they are skipped and say so.
# GPU_CHECK_QUICK=1 passes --quick to the two benchmarks (a dry run of the script here).
set -u -o pipefail
if [ "${1:-}" = "--prepare" ]; then
    mkdir -p .whl
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl \
        pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
        jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 \
        rpds-py==2026.9.1 || exit 1
    ls -la .whl
    exit 0
fi

OUT="${OUT:-/tmp/gpu_check_out}"
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
export PYTHONUNBUFFERED=1
step() {  # step SECONDS NAME COMMAND...
    local limit=$1 name=$2
    shift 2
    echo "=== $name (limit ${limit}s) $(date -u +%H:%M:%S)" | tee -a "$LOG"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: rc $rc in $((SECONDS - t0)) s" | tee -a "$LOG"
}

if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl 2>&1 | tail -2 | tee -a "$LOG" ||
        { echo "=== installing .whl failed" | tee -a "$LOG"; exit 1; }
    export PYTHONPATH="/tmp/site:$PWD/src"
else
    export PYTHONPATH="$PWD/src"
fi

step 20 machine bash -c 'nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv;
    nproc; python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__,
    torch.cuda.is_available(), torch.get_num_threads())"; command -v git || echo "no git"'
QUICK=()
[ "${GPU_CHECK_QUICK:-0}" = 1 ] && QUICK=(--quick)
step 200 training python3 benchmarks/training.py "${QUICK[@]}"
step 60 placement python3 -m pytest -q -p no:cacheprovider tests/unit/test_effort_placement.py \
    tests/unit/test_train_threads.py
if command -v git >/dev/null; then
    step 120 pipeline-tests python3 -m pytest -q -p no:cacheprovider \
        "tests/integration/test_sch_pipeline.py::test_demo_produces_every_artifact" \
        "tests/integration/test_sch_pipeline.py::test_a_no_op_rerun_imports_no_heavy_package"
    step 150 demo python3 benchmarks/demo.py "${QUICK[@]}"
else
    echo "=== no git on this machine: demo and pipeline tests skipped" | tee -a "$LOG"
fi
echo "=== done $(date -u +%H:%M:%S)" | tee -a "$LOG"
