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
# (the steps' own limits add up to 565 s)
#
# What the lent H100 image lacked (probed 2026-12-05, its python3 3.12 with torch 2.11): pydantic,
# jsonschema, trl, datasets (with dill and multiprocess), ast-grep (Python API and CLI) and
# datasketch; --prepare downloads those (19 MB); transformers, peft, accelerate, pyarrow, pandas,
# scikit-learn, numba, matplotlib, typer, rich and jinja2 were there.
#
# Steps: the machine (nvidia-smi, torch), the code-edit pipeline's demo on CUDA
# (benchmarks/gpu_codeedit_smoke.py: Stage 0 SFT, ast-grep actions, SRL), benchmarks/training.py
# with no arguments (our loop on
# the GPU vs the same machine's CPU threads per batch size, where `device = "auto"` trains
# each), the demo's placement test and the two GPU-sensitive pipeline tests (the manifest's
# device, no torch on a no-op rerun), then benchmarks/demo.py (first run and no-op rerun).
# The demo and the pipeline tests need git; without it they are skipped and say so.
# GPU_CHECK_QUICK=1 passes --quick to the two benchmarks (a dry run of the script here);
# GPU_CHECK_STEPS=machine,codeedit,... runs only the steps named (a second, shorter try).
set -u -o pipefail
if [ "${1:-}" = "--prepare" ]; then
    mkdir -p .whl
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl \
        pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
        jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 \
        rpds-py==2026.9.1 attrs==26.1.0 trl==1.16.0 datasets==5.2.0 dill==0.4.1 \
        multiprocess==0.70.19 ast-grep-py==0.51.0 ast-grep-cli==0.51.1 datasketch==2.0.0 || exit 1
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
    [ -z "${GPU_CHECK_STEPS:-}" ] || [[ ",$GPU_CHECK_STEPS," == *",$name,"* ]] || return 0
    echo "=== $name (limit ${limit}s) $(date -u +%H:%M:%S)" | tee -a "$LOG"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: rc $rc in $((SECONDS - t0)) s" | tee -a "$LOG"
}

if ls .whl/*.whl >/dev/null 2>&1; then
    # unpacked as pip --target would (no pip needed there): the packages into /tmp/site, a
    # wheel's scripts (ast-grep's CLI) into /tmp/site/bin
    python3 - <<'UNPACK' 2>&1 | tee -a "$LOG"
import glob, os, shutil, zipfile
site = "/tmp/site"
os.makedirs(f"{site}/bin", exist_ok=True)
for whl in sorted(glob.glob(".whl/*.whl")):
    with zipfile.ZipFile(whl) as z:
        z.extractall(site)
for data in glob.glob(f"{site}/*.data"):
    for kind in os.listdir(data):
        src = os.path.join(data, kind)
        dest = f"{site}/bin" if kind == "scripts" else site
        for name in os.listdir(src):
            shutil.move(os.path.join(src, name), os.path.join(dest, name))
            if kind == "scripts":
                os.chmod(os.path.join(dest, name), 0o755)
    shutil.rmtree(data)
print("unpacked", len(glob.glob(".whl/*.whl")), "wheels into", site)
UNPACK
    export PYTHONPATH="/tmp/site:$PWD/src" PATH="/tmp/site/bin:$PATH"  # ast-grep's CLI too
else
    export PYTHONPATH="$PWD/src"
fi

step 20 machine bash -c 'nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv;
    nproc; python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__,
    torch.cuda.is_available(), torch.get_num_threads())"; command -v git || echo "no git";
    echo "GPU device nodes:" $(ls /dev | grep -E "^(nvidia|kfd)")'
QUICK=()
[ "${GPU_CHECK_QUICK:-0}" = 1 ] && QUICK=(--quick)
step 140 codeedit python3 benchmarks/gpu_codeedit_smoke.py --output-dir /tmp/codeedit_gpu
# the nodes again: the driver adds some on a first CUDA use (runner/device.py, gpu_nodes)
step 5 machine bash -c 'echo "GPU device nodes after CUDA use:" $(ls /dev | grep -E "^(nvidia|kfd)")'
step 150 training python3 benchmarks/training.py "${QUICK[@]}"
step 45 placement python3 -m pytest -q -p no:cacheprovider tests/unit/test_effort_placement.py \
    tests/unit/test_train_threads.py
if command -v git >/dev/null; then
    step 90 pipeline-tests python3 -m pytest -q -p no:cacheprovider \
        "tests/integration/test_sch_pipeline.py::test_demo_produces_every_artifact" \
        "tests/integration/test_sch_pipeline.py::test_a_no_op_rerun_imports_no_heavy_package"
    step 120 demo python3 benchmarks/demo.py "${QUICK[@]}"
else
    echo "=== no git on this machine: demo and pipeline tests skipped" | tee -a "$LOG"
fi
echo "=== done $(date -u +%H:%M:%S)" | tee -a "$LOG"
