#!/usr/bin/env bash
# buildkit-usage's walk of a BuildKit state directory (what it measures when neither buildctl nor
# an engine answers) against `du -s`, on the same tree: FILES files in snapshot-like directories
# (a few hard links among them), under a --root tree. Prints both timings (median of 5, warm
# cache), the ratio and whether the byte counts agree.
# Usage: bench/buildkit.sh [FILES]
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
cargo build --release --quiet
bin=$PWD/target/release/container-doctor
root=$(mktemp -d /tmp/cd-bench-bk.XXXXXX)
trap 'rm -rf "$root"' EXIT
state=$root/var/lib/buildkit
python3 - "$state" "$files" <<'PY'
import os, sys
state, files = sys.argv[1], int(sys.argv[2])
for i in range(files):
    d = f"{state}/runc-overlayfs/snapshots/snapshots/{i // 500}/fs/usr/lib/{i % 7}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i}", "wb") as f:
        f.write(b"x" * ((i * 7919) % 20000))
    if i % 1000 == 0:
        os.link(f"{d}/f{i}", f"{d}/link{i}")
PY
mkdir -p "$root/proc/sys/kernel" && echo 6.18.0 > "$root/proc/sys/kernel/osrelease"

median() { sort -n | awk '{v[NR]=$1} END {print v[int(NR/2)+1]}'; }
time_us() { local a b; a=$(date +%s%N); "$@" >/dev/null 2>&1; b=$(date +%s%N); echo $(( (b - a) / 1000 )); }
du -s "$state" >/dev/null # warm the cache for both
ours=$(for _ in 1 2 3 4 5; do time_us "$bin" --check --root "$root" --only buildkit-usage --format json; done | median)
theirs=$(for _ in 1 2 3 4 5; do time_us du -s -B1 "$state"; done | median)
bytes=$("$bin" --check --root "$root" --only buildkit-usage --format json |
  python3 -c 'import json,sys; m=json.load(sys.stdin)["checks"][0]["metrics"]; print(int(m["buildkit_cache_bytes{builder=\"buildkitd\"}"]))')
du_bytes=$(du -s -B1 "$state" | cut -f1)
echo "tree: $files files ($(find "$state" -type d | wc -l) directories) in $state"
echo "container-doctor buildkit-usage walk: $(awk "BEGIN {printf \"%.1f\", $ours / 1000}") ms"
echo "du -s:                                $(awk "BEGIN {printf \"%.1f\", $theirs / 1000}") ms"
echo "ratio: $(awk "BEGIN {printf \"%.2f\", $theirs / ($ours > 0 ? $ours : 1)}")x (above 1: we are faster)"
if [ "$bytes" = "$du_bytes" ]; then
  echo "bytes: identical ($bytes)"
else
  echo "bytes: ours $bytes, du $du_bytes"
fi
