#!/usr/bin/env bash
# GPU check of the pretraining loop (docs/pretrain.md, "GPU check"). One command on a CUDA machine:
#
#   scripts/gpu_check.sh            # or: make gpu-check
#
# 1. builds the token shards with `make corpus` unless $SHARDS/manifest.json exists;
# 2. trains the `small` preset (bf16 autocast, torch.compile) for $STEPS steps on one GPU;
# 3. trains it again with torchrun, data parallel on every visible GPU (DDP; FSDP=1 for FSDP2);
# 4. writes $OUT/gpu_check.json: per run tokens/s (global and per GPU), MFU, peak memory, first and
#    last loss, and the GPU name. Throughput medians skip the first $SKIP steps (compilation, warm-up).
#
# Settings (environment): OUT=out SHARDS=$OUT/shards STEPS=300 SKIP=50 PRESET=small NGPU=<all visible>
#   COMPILE=1 FSDP=0 EXTRA_ARGS="" (more `corpus train` flags, e.g. "--attention mla --batch-size 8").
#   DEVICE=cpu NGPU=2 runs the same script on CPU processes (Gloo), a dry run of the script itself:
#   DEVICE=cpu NGPU=2 PRESET=tiny STEPS=20 SKIP=5 COMPILE=0 scripts/gpu_check.sh
# Not run on a GPU yet (the development machines have none).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${VENV:-.venv}/bin
OUT=${OUT:-out}
SHARDS=${SHARDS:-$OUT/shards}
STEPS=${STEPS:-300}
SKIP=${SKIP:-50}
PRESET=${PRESET:-small}
COMPILE=${COMPILE:-1}
FSDP=${FSDP:-0}
EXTRA_ARGS=${EXTRA_ARGS:-}
DEVICE=${DEVICE:-cuda}
RUNS=$OUT/gpu_check

[ -x "$BIN/corpus" ] || make setup
NGPU=${NGPU:-$("$BIN/python" -c 'import torch; print(torch.cuda.device_count())')}
if [ "$DEVICE" = cuda ] && ! "$BIN/python" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
    NGPU=0
fi
if [ "$NGPU" -lt 1 ]; then
    echo "gpu_check: torch sees no CUDA device (torch $("$BIN/python" -c 'import torch; print(torch.__version__)'))" >&2
    exit 2
fi
[ -f "$SHARDS/manifest.json" ] || make corpus OUT="$OUT"

flags=(--shards "$SHARDS" --preset "$PRESET" --device "$DEVICE" --steps "$STEPS" --log-every 10
       --eval-every 0 --ckpt-every 0)
[ "$COMPILE" = 1 ] && flags+=(--compile)
# shellcheck disable=SC2206  # EXTRA_ARGS is a list of flags on purpose
flags+=($EXTRA_ARGS)
mkdir -p "$RUNS"
runs=()

echo "== 1 GPU: corpus train ${flags[*]}"
"$BIN/corpus" train "${flags[@]}" --out "$RUNS/1x$DEVICE" 2>&1 | tee "$RUNS/1x$DEVICE.log"
runs+=("$RUNS/1x$DEVICE")

if [ "$NGPU" -gt 1 ]; then
    multi=("${flags[@]}")
    [ "$FSDP" = 1 ] && multi+=(--fsdp)
    echo "== $NGPU GPUs: torchrun --nproc_per_node $NGPU corpus train ${multi[*]}"
    "$BIN/torchrun" --standalone --nproc_per_node "$NGPU" --no-python "$BIN/corpus" train "${multi[@]}" \
        --out "$RUNS/${NGPU}x$DEVICE" 2>&1 | tee "$RUNS/${NGPU}x$DEVICE.log"
    runs+=("$RUNS/${NGPU}x$DEVICE")
fi

"$BIN/python" -m pretrain.bench summarise "${runs[@]}" --skip-steps "$SKIP" --output "$OUT/gpu_check.json"
echo "gpu_check: wrote $OUT/gpu_check.json"
