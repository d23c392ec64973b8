#!/usr/bin/env bash
# The reduced PBT-S-VAE run that fitted the deadline on the loaded 2-core machine (see README.md).
set -euo pipefail
OUT=${1:-runs/pbt_small}
tfdisent-pbt --fitness=mig --output_dir="$OUT" --population=2 --generations=2 --generation_samples=640 \
    --num_labels=1000 --num_cpus=2
tfdisent-evaluate --model_dir="$OUT/best" --metrics=mig,dci --metric_override='*.num_train=2000' \
    --metric_override=dci.num_test=1000 --output_file="$OUT/eval.json"
