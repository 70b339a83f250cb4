#!/bin/sh
# `make bench`: performance figures, side by side with the peers in the same
# run (these machines are shared and noisy: compare ratios, not absolutes).
# Each piece prints lines "BENCH <name> <value> <unit>"; this script collects
# them and prints a summary. Environment: CAJAL (interpreter), srcdir, CC.
CAJAL=${CAJAL:-./cajal}
srcdir=${srcdir:-.}
CC=${CC:-cc}
out=tests/logs/bench.txt
mkdir -p tests/logs
: > "$out"
say() { echo "$*" | tee -a "$out"; }

say "== start-up: cajal -e ''  (target < 10 ms)"
if command -v hyperfine >/dev/null 2>&1; then
  hyperfine -N --warmup 5 --runs 50 --export-json tests/logs/startup.json "$CAJAL -e ''" 2>/dev/null | sed -n '2,3p' | tee -a "$out"
  mean=$(sed -n 's/.*"mean": *\([0-9.e-]*\).*/\1/p' tests/logs/startup.json | head -n 1)
  [ -n "$mean" ] && say "BENCH startup_ms $(awk -v m="$mean" 'BEGIN{printf "%.2f", m*1000}') ms"
else
  t0=$(date +%s%N); i=0
  while [ $i -lt 50 ]; do "$CAJAL" -e '' ; i=$((i+1)); done
  t1=$(date +%s%N)
  say "BENCH startup_ms $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", (b-a)/50/1e6}') ms"
fi

# Every tests/bench/<piece>.lua is a piece (BENCH_ONLY="array network" picks some).
for f in "$srcdir"/tests/bench/*.lua; do
  piece=$(basename "$f" .lua)
  if [ -n "${BENCH_ONLY:-}" ]; then
    case " $BENCH_ONLY " in *" $piece "*) ;; *) continue ;; esac
  fi
  say "== $piece"
  CAJAL="$CAJAL" CC="$CC" srcdir="$srcdir" "$CAJAL" "$f" 2>&1 | tee -a "$out"
done
say "== summary"
grep '^BENCH' "$out"
