#!/usr/bin/env bash
# Measures a full `container-doctor --check` on this machine: wall time over many runs and peak RSS.
# Usage: bench/check.sh [RUNS]   (numbers go into issue notes; tests never assert timings)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
cargo build --release --quiet
bin=target/release/container-doctor

# The tools' --version answers are remembered between runs (src/host/version_cache.rs): the timed
# runs use a cache of their own, warmed by the first run; the cold runs start without one.
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
export CONTAINER_DOCTOR_CACHE_DIR=$cache/warm
cold=()
for _ in $(seq 10); do
  rm -rf "$cache/cold"
  t0=$(date +%s%N)
  CONTAINER_DOCTOR_CACHE_DIR=$cache/cold "$bin" --check --format json >/dev/null || true
  t1=$(date +%s%N)
  cold+=($(( (t1 - t0) / 1000 )))
done
printf '%s\n' "${cold[@]}" | sort -n | awk '{ t[NR] = $1 } END {
  printf "cold (nothing remembered: every tool asked for its version), 10 runs: median %d us\n", t[int(NR/2)+1] }'
"$bin" --check >/dev/null || true   # warm the page cache and the version cache
timed() { # timed LABEL ARGS…: wall time of RUNS runs of `--check ARGS`
  local label=$1; shift
  local times=()
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    "$bin" --check --format json "$@" >/dev/null || true
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$runs" -v label="$label" '
    { t[NR] = $1; sum += $1 }
    END {
      printf "%s, %d runs (process start to exit, microseconds):\n", label, runs
      printf "  min %d  median %d  p95 %d  max %d  mean %.0f\n", t[1], t[int(NR/2)+1], t[int(NR*0.95)], t[NR], sum/NR
    }'
}
timed "full --check"
# The goal is stated for a machine without CRIU, whose `criu check` alone takes tens of ms.
timed "full --check without criu-version" --skip criu-version
echo "inside the process (the report's own duration_ms):"
"$bin" --check --format json | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  total %.2f ms; " % r["duration_ms"] + ", ".join("%s %.2f ms" % (c["id"], c["duration_ms"]) for c in r["checks"]))'
if [ -x /usr/bin/time ]; then
  rss=$(/usr/bin/time -v "$bin" --check --format json 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}')
  echo "peak RSS: ${rss} kB"
fi
