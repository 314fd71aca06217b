#!/usr/bin/env bash
# overlay-busy against `fuser -m` run once per mount and one `lsof`, on the same scene: in a
# private mount namespace, MOUNTS overlay mounts and PROCS processes, some holding mounts by cwd,
# open file or mapped file.
# Prints both timings, the ratio, and whether the holder sets match. Needs root.
# Usage: bench/overlay.sh [MOUNTS] [PROCS]; TURNS=N interleaved turns of each (9); FUSER=0 skips the
# fuser loop (minutes at 1000 mounts), and the holder sets are then compared with lsof's instead.
set -euo pipefail
cd "$(dirname "$0")/.."
mounts=${1:-200}
procs=${2:-500}
cargo build --release --quiet
bin=$PWD/target/release/container-doctor
work=$(mktemp -d /tmp/cd-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

unshare --mount --propagation private bash -s "$bin" "$mounts" "$procs" "$work" <<'SCENE'
set -euo pipefail
bin=$1 mounts=$2 procs=$3 work=$4
base=$(mktemp -d "$work/scene.XXXXXX")
mount -t tmpfs bench "$base"
pids=()
cleanup() { kill -9 "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
for i in $(seq 0 $((mounts - 1))); do
  d=$base/$i; mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"; echo x > "$d/l/file"
  mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m"
done
# A fifth of the mounts get a holder each, by cwd, open file or mapped file in turn.
held=$((mounts / 5))
for i in $(seq 0 $((held - 1))); do
  m=$base/$i/m
  case $((i % 3)) in
    0) (cd "$m" && exec sleep 600) & ;;
    1) sleep 600 < "$m/file" & ;;
    2) python3 -c 'import mmap,sys,time; f=open(sys.argv[1],"rb"); m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); f.close(); time.sleep(600)' "$m/file" & ;;
  esac
  pids+=($!)
done
for _ in $(seq 1 $((procs - held))); do sleep 600 & pids+=($!); done
sleep 1

# The doctor and one lsof over every process (as someone would run it and grep for the mount
# points), in turns, TURNS of each (9): this VM's neighbours come and go for seconds at a time, and
# turns put both under the same weather. Each one's median is reported; the first turn warms the
# page cache for both.
runs=() lsof_runs=()
turns=${TURNS:-9}
for _ in $(seq "$turns"); do
  t0=$(date +%s%N)
  "$bin" --format json --timeout 600 --only overlay-busy > "$work/doctor.json" || true
  t1=$(date +%s%N)
  lsof -n -w > "$work/lsof.txt" 2>/dev/null || true
  t2=$(date +%s%N)
  runs+=($(( (t1 - t0) / 1000 )))
  lsof_runs+=($(( (t2 - t1) / 1000 )))
done
doctor_us=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(( (turns + 1) / 2 ))p")
lsof_us=$(printf '%s\n' "${lsof_runs[@]}" | sort -n | sed -n "$(( (turns + 1) / 2 ))p")
t1=$(date +%s%N)
if [ "${FUSER:-1}" != 0 ]; then
  for i in $(seq 0 $((mounts - 1))); do
    printf '%s/%s/m\t%s\n' "$base" "$i" "$(fuser -m "$base/$i/m" 2>/dev/null | tr -s ' ')"
  done > "$work/fuser.txt"
fi
t2=$(date +%s%N)
echo "$doctor_us $(( (t2 - t1) / 1000 )) $lsof_us" > "$work/times"
# lsof's holders of each mount, by device (its DEVICE column), for the comparison without fuser.
for i in $(seq 0 $((mounts - 1))); do
  printf '%s/%s/m\t%s\n' "$base" "$i" "$(stat -c '%d' "$base/$i/m")"
done > "$work/devs.txt"
SCENE

python3 - "$work" "$mounts" "$procs" <<'PY'
import json, os, sys, collections
work, mounts, procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
doctor_us, fuser_us, lsof_us = map(int, open(f"{work}/times").read().split())
report = json.load(open(f"{work}/doctor.json"))
ev = report["checks"][0]["evidence"]
ours = collections.defaultdict(set)
current = None
for e in ev:
    s = e["source"]
    if s.startswith("/proc/") and s[6:].isdigit():
        ours[current].add(int(s[6:]))
    elif s.startswith("/"):
        current = s.split(" (only in mount namespace")[0]
        ours.setdefault(current, set())
theirs = {}
if os.path.exists(f"{work}/fuser.txt"):
    for line in open(f"{work}/fuser.txt"):
        mp, _, pids = line.rstrip("\n").partition("\t")
        theirs[mp] = {int(p) for p in pids.split()}
else:
    # From lsof: the processes with a file on each mount's device (major,minor as lsof prints it).
    dev_of = {}
    for line in open(f"{work}/devs.txt"):
        mp, _, dev = line.rstrip("\n").partition("\t")
        d = int(dev)
        dev_of[f"{os.major(d)},{os.minor(d)}"] = mp
        theirs[mp] = set()
    for line in open(f"{work}/lsof.txt"):
        f = line.split()
        if len(f) > 5 and f[5] in dev_of and f[1].isdigit():
            theirs[dev_of[f[5]]].add(int(f[1]))
same = sum(1 for mp, p in theirs.items() if p <= ours.get(mp, set()))
exact = sum(1 for mp, p in theirs.items() if p == ours.get(mp, set()))
extra = sum(len(ours.get(mp, set()) - p) for mp, p in theirs.items())
print(f"scene: {mounts} overlay mounts, {procs} processes ({mounts // 5} holding a mount)")
print(f"container-doctor overlay-busy, one pass:   {doctor_us / 1000:9.1f} ms")
if os.path.exists(f"{work}/fuser.txt"):
    print(f"fuser -m, once per mount ({mounts} runs):     {fuser_us / 1000:9.1f} ms")
    print(f"ratio: {fuser_us / max(doctor_us, 1):.0f}x faster")
print(f"lsof -n, once over every process:          {lsof_us / 1000:9.1f} ms ({lsof_us / max(doctor_us, 1):.1f}x)")
peer = "fuser" if os.path.exists(f"{work}/fuser.txt") else "lsof"
print(f"holder sets: identical for {exact}/{len(theirs)} mounts; {peer}'s all found by us for {same}/{len(theirs)}; {extra} holders only we found")
PY
