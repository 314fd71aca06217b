#!/usr/bin/env bash
# Peak RSS of `--check` on a crowded host: 60 processes whose /proc/PID/maps are ~15 MB each
# (one file with a ~1000-character path mapped ~14 000 times) and 3000 more processes, all in a
# private PID and mount namespace, so the scan sees exactly this. Goal: <= 40 MB (issue 17).
# Usage: bench/memory.sh [BIN] (default: the release binary, else the debug one). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
  if [ -x target/release/container-doctor ]; then bin=target/release/container-doctor
  else bin=target/debug/container-doctor; fi
fi
bin=$(realpath "$bin")
work=$(mktemp -d /tmp/cd-membench.XXXXXX)
trap 'rm -rf "$work"' EXIT

cat >"$work/mapper.py" <<'PY'
import mmap, os, sys, time
path, count, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fd = os.open(path, os.O_RDONLY)
# Offset 0 every time: neighbouring mappings cannot merge, so each is a line of maps.
maps = [mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ) for _ in range(count)]
open(ready, "w").close()
time.sleep(3600)
PY

cat >"$work/scene.sh" <<'SH'
set -euo pipefail
work=$1 bin=$2
mount -t tmpfs tmpfs "$work"/run 2>/dev/null || true
deep="$work"
for i in 1 2 3 4; do deep="$deep/$(printf 'd%.0s' $(seq 240))$i"; done
mkdir -p "$deep"; head -c 4096 /dev/zero >"$deep/mapped.bin"
for i in $(seq 60); do
  python3 "$work/mapper.py" "$deep/mapped.bin" 14000 "$work/ready.$i" &
done
for i in $(seq 3000); do sleep 3600 & done
while [ "$(ls "$work"/ready.* 2>/dev/null | wc -l)" -lt 60 ]; do sleep 0.2; done
procs=$(ls /proc | grep -c '^[0-9]')
one=$(ls /proc | grep '^[0-9]' | while read p; do
  if grep -q mapper.py /proc/$p/cmdline 2>/dev/null; then echo $p; break; fi; done)
maps_bytes=$(wc -c </proc/$one/maps)
echo "scene: $procs processes; a mapper's maps file is $maps_bytes bytes"
for run in 1 2; do
  /usr/bin/time -f "PEAK_RSS_KB=%M ELAPSED=%e" "$bin" --check --timeout 120 --format json >"$work/report.json" 2>"$work/time.txt" || true
  echo "--check run $run: $(grep PEAK_RSS_KB "$work/time.txt")"
done
python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["checks"]:
    if c["id"] in ("overlay-busy", "zombies"):
        print(f'{c["id"]}: {c["status"]}: {c["summary"]}')
PY
exec 2>/dev/null; kill -9 -1 || true
SH

mkdir -p "$work/run"
unshare --pid --fork --mount-proc --mount --propagation private bash "$work/scene.sh" "$work" "$bin"
