#!/usr/bin/env bash
# The book's perceptron and the mlp on yelp-10k, polarity (1-2 negative, 4-5 positive) and 5 stars, through
# the CLI exactly as a user runs it; prints one line per run: test accuracy, macro-F1, epochs, s/epoch.
# The perceptron uses the book's recipe: Adam, lr 1e-3, batch 128, vocabulary cut-off 25, patience 5.
# Run from the project root:  bash benchmarks/train_yelp10k.sh
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data/yelp-10k/yelp.csv.zip
out=benchmarks/results/yelp10k
mkdir -p "$out"
polarity='1=negative,2=negative,4=positive,5=positive'
run() {  # name, then reviewclf train options
  local name=$1; shift
  .venv/bin/reviewclf train "$data" --text-column text --label-column stars --epochs 100 --patience 5 \
    --out "$out/$name" --force "$@" >/dev/null 2>&1
  .venv/bin/python - "$out/$name" "$name" <<'PY'
import json, sys
m = json.load(open(f"{sys.argv[1]}/metrics.json"))
t = m["test"]
print(f"| {sys.argv[2]:<24} | {t['accuracy']:.4f} | {t['macro_f1']:.4f} | {m['best_epoch']:>3} of {m['epochs_run']:<3} | "
      f"{m['seconds_per_epoch']:.2f} |")
PY
}
echo "| run                      | test acc | macro-F1 | best epoch | s/epoch |"
echo "|--------------------------|----------|----------|------------|---------|"
run perceptron-polarity-book --model perceptron --min-freq 25 --label-map "$polarity"
run mlp-polarity --model mlp --dropout 0.5 --label-map "$polarity"
run perceptron-5stars --model perceptron --min-freq 25
run mlp-5stars --model mlp --dropout 0.5
run ngram-polarity --model ngram --label-map "$polarity"
run ngram-5stars --model ngram
# bigrams in smaller batches: what benchmarks/compare.py's validation picks on the small Yelp sets
run ngram-polarity-bigrams --model ngram --ngrams 2 --batch-size 256 --label-map "$polarity"
run ngram-5stars-bigrams --model ngram --ngrams 2 --batch-size 256
