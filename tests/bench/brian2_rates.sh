#!/bin/sh
# The Brian2 reference rates quoted in examples/cuba.lua, examples/coba.lua
# and tests/lua/netexamples.lua: the peer script run on 15 random networks
# (seeds 1-14 and 12345) for 1 s, cython target; prints each network's E/I
# rates and their mean and sd. Takes a few minutes.
#   sh tests/bench/brian2_rates.sh [cuba|coba] [duration_s]
# the peer scripts: ../shared/peers beside the project root; $CAJAL_PEERS overrides
PEERS=${CAJAL_PEERS:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/peers}
model=${1:-cuba}
T=${2:-1}
for s in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 12345; do
  /usr/bin/python3 "$PEERS/brian2_bench.py" --model "$model" --N 4000 --target cython \
    --duration "$T" --seed "$s" 2>/dev/null | sed -n 's/^RESULT //p' |
    sed 's/.*"rate_exc_Hz": *\([0-9.e+-]*\).*"rate_inh_Hz": *\([0-9.e+-]*\).*/\1 \2/' |
    awk -v s="$s" '{ printf "seed %5s  E %.3f Hz  I %.3f Hz\n", s, $1, $2 }'
done | tee /dev/stderr | awk '
  { e[NR] = $4; i[NR] = $7; se += $4; si += $7 }
  END {
    me = se / NR; mi = si / NR
    for (k = 1; k <= NR; k++) { ve += (e[k] - me)^2; vi += (i[k] - mi)^2 }
    printf "%d networks: E %.3f sd %.3f Hz, I %.3f sd %.3f Hz\n", NR, me, sqrt(ve / (NR - 1)), mi, sqrt(vi / (NR - 1))
  }'
