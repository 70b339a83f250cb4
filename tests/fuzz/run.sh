#!/bin/sh
# tests/fuzz/run.sh — behind `make fuzz`: builds the libFuzzer harnesses of
# tests/fuzz with clang (-fsanitize=fuzzer,address,undefined) over the
# sources of libcajal, its Lua binding and the host's module searcher,
# gathers seed corpora from the tests and examples, and runs each target
# for FUZZ_SECONDS seconds, one after the other, one process each.
#
#   make fuzz                       every target, 60 s each
#   make fuzz FUZZ_SECONDS=600      ten minutes each
#   make fuzz FUZZ_TARGETS="npy save"
#   make fuzz FUZZ_SECONDS=0        build only
#
# Work files live under tests/fuzz/ of the build tree: obj/ and bin/ (the
# build), corpus/<target>/ (grows from run to run), crashes/ (what libFuzzer
# found: each one becomes a regression test). Prints one line per target
# ("fuzz <target>: N executions, N crashes in N s") and exits 1 when a
# target crashed.
#
# Environment (set by Makefile.am): CLANG, srcdir, CAJAL (the built
# interpreter, to write seeds), CORE_SRCS, BIND_SRCS, HOST_SRCS (source
# files, relative to srcdir or the build tree), FUZZ_CPPFLAGS (without the
# quoted path macros: FUZZ_BLAS_LIBDIR, FUZZ_DATADIR, FUZZ_SRCDIR,
# FUZZ_BUILDDIR give them), FUZZ_CFLAGS, FUZZ_LIBS, FUZZ_SECONDS, FUZZ_TARGETS.
set -u
CLANG=${CLANG:-clang}
srcdir=${srcdir:-.}
CAJAL=${CAJAL:-./cajal}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-"lang npy csv regex save"}
out=tests/fuzz
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-std=gnu11 -g -O1 $san ${FUZZ_CPPFLAGS:-} ${FUZZ_CFLAGS:-} -I$srcdir/tests/fuzz"

if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "make fuzz: '$CLANG' not found: install clang (Debian: apt-get install clang)" >&2
  exit 1
fi
mkdir -p "$out/obj" "$out/bin" "$out/crashes" "$out/seeds"

src() { if [ -f "$1" ]; then echo "$1"; else echo "$srcdir/$1"; fi; }

# ---- build: every source once, with coverage (fuzzer-no-link) -----------------
objs=""
for f in ${CORE_SRCS:-} ${BIND_SRCS:-} ${HOST_SRCS:-} tests/fuzz/fuzzlua.c; do
  s=$(src "$f")
  o="$out/obj/$(echo "$f" | tr / _ | sed 's/\.c$/.o/')"
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ]; then
    echo "  CLANG    $f"
    $CLANG $cflags "-DCAJAL_BLAS_LIBDIR=\"${FUZZ_BLAS_LIBDIR:-}\"" "-DCAJAL_DATADIR=\"${FUZZ_DATADIR:-}\"" \
      "-DCAJAL_SRCDIR=\"${FUZZ_SRCDIR:-}\"" "-DCAJAL_BUILDDIR=\"${FUZZ_BUILDDIR:-}\"" \
      -fsanitize=fuzzer-no-link -c "$s" -o "$o" || exit 1
  fi
  objs="$objs $o"
done
for t in $FUZZ_TARGETS; do
  s=$(src "tests/fuzz/fuzz_$t.c")
  b="$out/bin/fuzz_$t"
  echo "  LINK     $b"
  $CLANG $cflags -fsanitize=fuzzer "$s" $objs ${FUZZ_LIBS:-} -ldl -o "$b" || exit 1
done

# ---- seeds: from the tests and examples ----------------------------------------
seed() { # $1 target, then files
  t=$1; shift
  mkdir -p "$out/seeds/$t"
  for f in "$@"; do
    [ -f "$f" ] || continue
    [ "$(wc -c < "$f")" -le 65536 ] || continue
    cp "$f" "$out/seeds/$t/$(echo "$f" | sed 's|^\./||; s|^/||; s|/|_|g')"
  done
}
seed lang "$srcdir"/examples/*.cajal "$srcdir"/stdlib/models/*.cajal "$srcdir"/tests/grammar/valid/*.cajal \
  "$srcdir"/tests/grammar/invalid/*/input.cajal "$srcdir"/tests/hostile/*.cajal "$srcdir"/tests/fuzz/save.cajal
mkdir -p "$out/seeds/npy" "$out/seeds/csv" "$out/seeds/regex" "$out/seeds/save"
"$CAJAL" -e "
local cj = require 'cajal'
local d = '$out/seeds/npy/'
cj.io.save_npy(d .. 'f64.npy', cj.linspace(0, 1, 12):reshape(3, 4))
cj.io.save_npy(d .. 'f32.npy', cj.ones(5):astype('float32'))
cj.io.save_npy(d .. 'i32.npy', cj.range(0, 5):astype('int32'):reshape(2, 3, 1))
cj.io.save_npy(d .. 'u8.npy', cj.zeros(0):astype('uint8'))
local net = cj.load('$srcdir/tests/fuzz/save.cajal', { seed = 1, backend = 'interp', progress = false })
net:run(0.02)
net:save('$out/seeds/save/early.net')
net:run(0.05)
net:save('$out/seeds/save/later.net')
" || { echo "make fuzz: cannot write the seeds with $CAJAL" >&2; exit 1; }
printf '\020a,b,c\n1,2,3\n4.5,-6e3,nan\n' > "$out/seeds/csv/header.csv"
printf '\000x;y\n"q,1";2\n\n3;4\n' > "$out/seeds/csv/quoted.csv"
printf '\030# comment\n1 2 3\n4 5 6\n' > "$out/seeds/csv/comment.csv"
printf '\000(?<v>[a-z]+) = (\\d+)\000x = 12, yy = 345' > "$out/seeds/regex/named"
printf '\005\\s*,\\s*\000a , b,c' > "$out/seeds/regex/gsub"
printf '\004,\000a,b,,c' > "$out/seeds/regex/split"
printf '\007(a|b)*c\000abababc' > "$out/seeds/regex/compile"

# ---- run ----------------------------------------------------------------------------
[ "$FUZZ_SECONDS" -gt 0 ] 2>/dev/null || { echo "fuzz: built (FUZZ_SECONDS=$FUZZ_SECONDS: not run)"; exit 0; }
status=0
for t in $FUZZ_TARGETS; do
  mkdir -p "$out/corpus/$t"
  log="$out/fuzz_$t.log"
  before=$(ls "$out/crashes" | grep -c "^$t-" || true)
  dict=""
  [ "$t" = lang ] && dict="-dict=$srcdir/tests/fuzz/cajal.dict"
  # leaks: the Lua state lives for the whole run (LeakSanitizer runs at exit)
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    "$out/bin/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      -timeout=25 -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" $dict \
      "$out/corpus/$t" "$out/seeds/$t" > "$log" 2>&1
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  after=$(ls "$out/crashes" | grep -c "^$t-" || true)
  echo "fuzz $t: ${execs:-?} executions, $((after - before)) crashes in $FUZZ_SECONDS s (log: $log)"
  if [ "$after" -gt "$before" ]; then status=1; grep -a -m 5 -E 'ERROR|fuzz: a bug|SUMMARY' "$log" | sed 's/^/    /'; fi
done
exit $status
