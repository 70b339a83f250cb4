# abi.awk — the kernel ABI struct of vm/core/interp.h as C string lines, for
# the kernel prelude (interp.c includes the result, vm/core/kctx.inc), so
# that generated C declares cj_kctx from the one definition in the header.
# Run at build time: awk -f abi.awk interp.h > kctx.inc. Comments are
# dropped, trailing blanks trimmed; the text from "typedef struct cj_kctx {"
# to "} cj_kctx;" is kept line for line.
/^typedef struct cj_kctx \{/ { on = 1 }
on {
  line = $0
  if (incomment) {
    if (!match(line, /\*\//)) next
    line = substr(line, RSTART + 2)
    incomment = 0
  }
  while (match(line, /\/\*/)) {
    head = substr(line, 1, RSTART - 1)
    rest = substr(line, RSTART + 2)
    if (match(rest, /\*\//)) line = head substr(rest, RSTART + 2)
    else { line = head; incomment = 1 }
  }
  sub(/[ \t]+$/, "", line)
  if (line != "") {
    gsub(/\\/, "\\\\", line)
    gsub(/"/, "\\\"", line)
    print "  \"" line "\\n\""
  }
}
/^\} cj_kctx;/ { on = 0 }
