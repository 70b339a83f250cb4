#!/bin/sh
# The test runner behind `make check`: runs every Criterion program and every
# Lua test file given on the command line, counts test cases, and ends with
# one plain line "N passed, N failed, N skipped". Exit status 1 when anything
# failed. A skipped test is counted and its reason printed (Criterion's
# cr_skip_test, the Lua harness's T.skip).
# Environment: CAJAL (the interpreter), srcdir, VERBOSE=1 to show all output.
CAJAL=${CAJAL:-./cajal}
srcdir=${srcdir:-.}
passed=0; failed=0; skipped=0; failures=""
logdir=tests/logs
mkdir -p "$logdir"
export CAJAL_CACHE="${CAJAL_CACHE:-$PWD/tests/logs/cache}"
export CAJAL_TEST_SRCDIR="$srcdir"

count() { # $1 name, $2 log, $3 exit status, $4 kind
  p=""; f=""; s=0
  if [ "$4" = c ]; then
    s=$(grep -a -c '^\[SKIP\]' "$2")
    line=$(grep -a 'Synthesis: Tested:' "$2" | tail -n 1)
    p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p')
    [ -n "$f" ] && f=$(( ${f% *} + ${f#* } ))
  else
    line=$(grep -a -E '[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
    p=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p')
    s=$(echo "$line" | sed -n 's/.*failed, \([0-9][0-9]*\) skipped.*/\1/p')
    [ -n "$s" ] || s=0
  fi
  if [ -z "$p" ] || [ -z "$f" ]; then p=0; f=1; fi
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  # A sanitizer report fails the file even when the process exited 0 (Criterion
  # runs tests in workers whose LeakSanitizer report does not reach the status).
  if [ "$f" -eq 0 ] && grep -a -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$2"; then
    f=1
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$f" -ne 0 ]; then
    failures="$failures $1"
    echo "FAIL: $1 ($p passed, $f failed) — log: $2"
    tail -n 30 "$2" | sed 's/^/    /'
  else
    if [ "$s" -gt 0 ]; then echo "PASS: $1 ($p, $s skipped)"; else echo "PASS: $1 ($p)"; fi
  fi
  # every skip shows its reason
  grep -a -E '^(SKIP |\[SKIP\])' "$2" | sed 's/^/    /' || true
}

for t in "$@"; do
  name=$(echo "$t" | sed 's|/|_|g; s|\.lua$||')
  log="$logdir/$name.log"
  case "$t" in
    *.lua)
      ( cd "$srcdir" 2>/dev/null; true )
      "$CAJAL" "$srcdir/$t" >"$log" 2>&1 </dev/null; st=$?
      count "$t" "$log" $st lua ;;
    *.py)   # Python peers: Debian's interpreter (numpy, jupyter_client, h5py ...)
      "${PYTHON3:-/usr/bin/python3}" "$srcdir/$t" >"$log" 2>&1 </dev/null; st=$?
      count "$t" "$log" $st lua ;;
    *)
      "./$t" --verbose -j1 >"$log" 2>&1 </dev/null; st=$?
      if grep -q 'Synthesis: Tested:' "$log"; then count "$t" "$log" $st c
      else count "$t" "$log" $st lua; fi ;;
  esac
  [ "${VERBOSE:-0}" = 1 ] && cat "$log"
done
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
