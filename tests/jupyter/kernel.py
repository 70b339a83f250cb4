"""kernel.py -- cajal's Jupyter kernel (cajal --jupyter) driven by real
clients: jupyter_client for the protocol (kernel_info, execute, streams,
errors, complete, inspect, is_complete, signatures, interrupts in both
modes, shutdown) and nbclient for tests/jupyter/network.ipynb (a network
built, run with its progress updated in place, a raster shown inline, two
interrupts).

Run by tests/run.sh with Debian's /usr/bin/python3; $CAJAL is the
interpreter, $CAJAL_TEST_SRCDIR the source tree. Prints "ok NAME",
"FAIL NAME: why" or "SKIP NAME: why" per test and closes with
"kernel.py: N passed, N failed, N skipped". Every wait has a timeout and a
watchdog ends the whole file after WATCHDOG seconds, so it cannot hang.
"""
import base64
import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

WATCHDOG = 600          # seconds for the whole file
TIMEOUT = 30            # seconds for one reply (a cell that compiles a model)

passed = failed = skipped = 0
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.environ.get("CAJAL_TEST_SRCDIR") or os.path.join(HERE, "..", ".."))
CAJAL = os.path.abspath(os.environ.get("CAJAL") or os.path.join(SRCDIR, "cajal"))


def report(name, fn):
    global passed, failed, skipped
    try:
        fn()
    except Skip as s:
        skipped += 1
        print("SKIP %s: %s" % (name, s))
    except Exception as e:
        failed += 1
        print("FAIL %s: %s" % (name, e))
        traceback.print_exc(file=sys.stdout)
    else:
        passed += 1
        print("ok %s" % name)
    sys.stdout.flush()


class Skip(Exception):
    pass


def done():
    print("kernel.py: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.stdout.flush()
    os._exit(1 if failed else 0)


def watchdog(signum, frame):
    global failed
    failed += 1
    print("FAIL watchdog: the tests took longer than %d s" % WATCHDOG)
    for km in KERNELS:
        try:
            km.provisioner.process.kill()
        except Exception:
            pass
    done()


KERNELS = []
TESTS = [
    "kernel_info", "execute_values_and_streams", "error_reply", "silent_and_user_expressions",
    "is_complete", "complete", "inspect", "bad_signature_rejected", "replayed_message_rejected",
    "interrupt_message_mode", "interrupt_signal_mode", "shutdown", "command_line", "notebook",
]

try:
    import jupyter_client
    from jupyter_client.manager import KernelManager
    from jupyter_client.session import Session
except ImportError as e:
    for t in TESTS:
        skipped += 1
        print("SKIP %s: jupyter_client is not installed (Debian python3-jupyter-client): %s" % (t, e))
    done()

signal.signal(signal.SIGALRM, watchdog)
signal.alarm(WATCHDOG)

tmp = tempfile.mkdtemp(prefix="cajal-kernel-")
os.environ["JUPYTER_PATH"] = os.path.join(tmp, "share", "jupyter")
os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(tmp, "runtime")
os.environ["JUPYTER_DATA_DIR"] = os.path.join(tmp, "data")
os.environ["JUPYTER_CONFIG_DIR"] = os.path.join(tmp, "config")
os.environ.setdefault("CAJAL_CACHE", os.path.join(tmp, "cache"))
os.environ.pop("DISPLAY", None)
os.environ.pop("WAYLAND_DISPLAY", None)


def install():
    out = subprocess.run([CAJAL, "--install-kernel", "--prefix", tmp], capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    spec = json.load(open(os.path.join(tmp, "share", "jupyter", "kernels", "cajal", "kernel.json")))
    assert spec["argv"][1:] == ["--jupyter", "{connection_file}"], spec
    assert os.path.samefile(spec["argv"][0], CAJAL), spec["argv"][0]
    assert spec["interrupt_mode"] == "message" and spec["language"] == "lua", spec


def start(**kw):
    km = KernelManager(kernel_name="cajal")
    for k, v in kw.items():
        setattr(km, k, v)
    km.start_kernel(cwd=SRCDIR)
    KERNELS.append(km)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    return km, kc


def stop(km, kc):
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)


def execute(kc, code, timeout=TIMEOUT, **kw):
    """Run code; returns the reply content and the iopub messages of it."""
    msgs = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=msgs.append, **kw)
    return reply["content"], msgs


def outputs(msgs, kind):
    return [m["content"] for m in msgs if m["msg_type"] == kind]


STASH = {}      # replies that came while waiting for another one


def shell_reply(kc, msg_id, timeout=TIMEOUT):
    end = time.time() + timeout
    while msg_id not in STASH:
        left = end - time.time()
        if left <= 0:
            raise AssertionError("no reply within %g s" % timeout)
        m = kc.get_shell_msg(timeout=left)
        STASH[m["parent_header"].get("msg_id")] = m
    return STASH.pop(msg_id)


def no_shell_reply(kc, seconds):
    """True when nothing arrives on shell for that long."""
    try:
        m = kc.get_shell_msg(timeout=seconds)
    except queue.Empty:
        return True
    raise AssertionError("unexpected reply: %s" % m["msg_type"])


# ---- the tests ------------------------------------------------------------------

def t_kernel_info(kc):
    def f():
        kc.kernel_info()
        r = kc.get_shell_msg(timeout=TIMEOUT)
        c = r["content"]
        assert r["msg_type"] == "kernel_info_reply", r["msg_type"]
        assert c["status"] == "ok" and c["protocol_version"] == "5.3", c
        assert c["implementation"] == "cajal" and c["language_info"]["name"] == "lua", c
        assert c["banner"].startswith("cajal "), c["banner"]
        assert r["header"]["version"] == "5.3"
    return f


def t_execute(kc):
    def f():
        c, m = execute(kc, "1 + 1")
        assert c["status"] == "ok", c
        r = outputs(m, "execute_result")
        assert len(r) == 1 and r[0]["data"]["text/plain"] == "2", r
        assert r[0]["execution_count"] == c["execution_count"]
        # one state across cells; the last expression of a cell shows as the REPL shows it
        execute(kc, "local t = {1, 'x', k = {2}}\nshared_t = t")
        c, m = execute(kc, "local n = #shared_t\nshared_t, n")
        assert outputs(m, "execute_result")[0]["data"]["text/plain"] == '{ 1, "x", k = { 2 } }\t2', m
        # "y = a\n-b" is one statement (a - b), not y = a and a value -b
        c, m = execute(kc, "a_ = 5\nb_ = 2\ny_ = a_\n-b_\ny_")
        assert outputs(m, "execute_result")[0]["data"]["text/plain"] == "3", m
        # a statement shows nothing; a loop prints
        c, m = execute(kc, "for i = 1, 2 do\n  print('line', i)\nend")
        assert outputs(m, "execute_result") == [], m
        text = "".join(s["text"] for s in outputs(m, "stream") if s["name"] == "stdout")
        assert text == "line\t1\nline\t2\n", repr(text)
        # stdout and stderr from Lua and from C (a child process writes to the same fds)
        c, m = execute(kc, "io.write('w1 '); io.write('w2\\n'); io.stderr:write('to stderr\\n')\n"
                           "os.execute('echo from a child process; echo child err >&2')\nprint('end')")
        out = "".join(s["text"] for s in outputs(m, "stream") if s["name"] == "stdout")
        err = "".join(s["text"] for s in outputs(m, "stream") if s["name"] == "stderr")
        assert out == "w1 w2\nfrom a child process\nend\n", repr(out)
        assert err == "to stderr\nchild err\n", repr(err)
        # output streams while the cell runs: the first line arrives before the cell ends
        times = {}

        def hook(msg):
            if msg["msg_type"] == "stream":
                times.setdefault("first", time.time())
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                times["idle"] = time.time()
        kc.execute_interactive("print('early'); local t = cj.clock(); while cj.clock() - t < 1.5 do end",
                               timeout=TIMEOUT, output_hook=hook)
        assert times["idle"] - times["first"] > 1.0, times
        # invalid UTF-8 is replaced, not a broken message
        c, m = execute(kc, "print('caf\\xc3\\xa9 \\xff')")
        assert outputs(m, "stream")[0]["text"] == "caf\u00e9 \ufffd\n", m
    return f


def t_error(kc):
    def f():
        c, m = execute(kc, "local x = 1\nerror('boom')")
        assert c["status"] == "error" and c["ename"] == "error", c
        assert c["evalue"].endswith("boom") and "In [" in c["evalue"], c["evalue"]
        e = outputs(m, "error")
        assert len(e) == 1 and any("stack traceback" in l for l in e[0]["traceback"]), e
        c, m = execute(kc, "x = = 1")
        assert c["status"] == "error" and "unexpected symbol" in c["evalue"], c
        c, m = execute(kc, "2 + 3")
        assert outputs(m, "execute_result")[0]["data"]["text/plain"] == "5"
        # stop_on_error: a cell queued behind a failing one is aborted, not run
        first = kc.execute("local t = cj.clock()\nwhile cj.clock() - t < 0.5 do end\nerror('stop')")
        second = kc.execute("queued_ran = true")
        assert shell_reply(kc, first)["content"]["status"] == "error"
        assert shell_reply(kc, second)["content"]["status"] == "aborted"
        c, m = execute(kc, "queued_ran == nil")
        assert outputs(m, "execute_result")[0]["data"]["text/plain"] == "true", m
    return f


def t_silent(kc):
    def f():
        c, m = execute(kc, "1 + 1")
        n = c["execution_count"]
        c, m = execute(kc, "print('hidden'); silent_x = 9\n3", silent=True)
        assert c["status"] == "ok", c
        assert all(x["msg_type"] == "status" for x in m), m
        c, m = execute(kc, "2", user_expressions={"a": "silent_x * 2", "b": "nosuch.field"})
        assert c["execution_count"] == n + 1, (c["execution_count"], n)
        ue = c["user_expressions"]
        assert ue["a"]["status"] == "ok" and ue["a"]["data"]["text/plain"] == "18", ue
        assert ue["b"]["status"] == "error", ue
    return f


def t_is_complete(kc):
    def f():
        cases = {"x = 1": "complete", "for i = 1, 3 do": "incomplete", "f(1,": "incomplete",
                 "x = = 1": "invalid", "function f()\n  return 1\nend": "complete", "": "complete",
                 "t = {\n1,": "incomplete", "x = 1\ny": "complete"}
        for code, want in cases.items():
            mid = kc.is_complete(code)
            c = shell_reply(kc, mid)["content"]
            assert c["status"] == want, (code, c)
    return f


def t_complete(kc):
    def f():
        mid = kc.complete("cj.ze", 5)
        c = shell_reply(kc, mid)["content"]
        assert c["status"] == "ok" and "zeros" in c["matches"], c
        assert (c["cursor_start"], c["cursor_end"]) == (3, 5), c
        execute(kc, "abc_one, abc_two = 1, 2")
        code = "s = '\u00e9\u00e9'; abc_"          # cursors count code points, not bytes
        mid = kc.complete(code, len(code))
        c = shell_reply(kc, mid)["content"]
        assert c["matches"] == ["abc_one", "abc_two"], c
        assert c["cursor_start"] == len(code) - 4 and c["cursor_end"] == len(code), c
        mid = kc.complete("x = abc_one + cj.zer", 9)       # the word before the cursor
        c = shell_reply(kc, mid)["content"]
        assert c["matches"] == ["abc_one"] and c["cursor_start"] == 4, c
    return f


def t_inspect(kc):
    def f():
        mid = kc.inspect("y = cj.zeros(3)", 8)
        c = shell_reply(kc, mid)["content"]
        assert c["status"] == "ok" and c["found"], c
        assert c["data"]["text/plain"].startswith("cj.zeros("), c
        execute(kc, "inspect_me = 12")
        mid = kc.inspect("inspect_me", 3)
        c = shell_reply(kc, mid)["content"]
        assert c["found"] and "inspect_me = 12" in c["data"]["text/plain"], c
        mid = kc.inspect("nothing_here_at_all", 3)
        c = shell_reply(kc, mid)["content"]
        assert c["status"] == "ok" and not c["found"], c
    return f


def t_bad_signature(km, kc):
    def f():
        bad = Session(key=b"not the key", signature_scheme="hmac-sha256")
        msg = bad.msg("kernel_info_request", {})
        bad.send(kc.shell_channel.socket, msg)
        no_shell_reply(kc, 2.0)
        unsigned = Session(key=b"", signature_scheme="hmac-sha256")
        unsigned.send(kc.shell_channel.socket, unsigned.msg("kernel_info_request", {}))
        no_shell_reply(kc, 1.0)
        kc.kernel_info()                                # the kernel goes on
        r = kc.get_shell_msg(timeout=TIMEOUT)
        assert r["msg_type"] == "kernel_info_reply"
        # replies are signed with the key
        s = km.session
        frames = [r["header"], r["parent_header"], r["metadata"], r["content"]]
        assert s.key and r["header"]["session"], r["header"]
    return f


def t_replay(km, kc):
    def f():
        s = km.session
        msg = s.msg("kernel_info_request", {})
        frames = s.serialize(msg)
        sock = kc.shell_channel.socket
        sock.send_multipart(frames)
        r = kc.get_shell_msg(timeout=TIMEOUT)
        assert r["parent_header"]["msg_id"] == msg["header"]["msg_id"]
        sock.send_multipart(frames)                     # the same signed frames again
        no_shell_reply(kc, 2.0)
    return f


def check_interrupted(kc, code, interrupt, after=1.5):
    mid = kc.execute(code)
    time.sleep(after)
    interrupt()
    r = shell_reply(kc, mid, timeout=TIMEOUT)
    c = r["content"]
    assert c["status"] == "error" and c["ename"] == "interrupted", c
    c, m = execute(kc, "40 + 2")
    assert outputs(m, "execute_result")[0]["data"]["text/plain"] == "42", m


def t_interrupt_message(km, kc):
    def f():
        execute(kc, 'inet = cj.load("examples/cuba.cajal", {seed = 3})')
        check_interrupted(kc, "while true do end", km.interrupt_kernel)
        check_interrupted(kc, "inet:run(1e5 * cj.second)", km.interrupt_kernel)
        c, m = execute(kc, "inet.t.value")
        t = float(outputs(m, "execute_result")[0]["data"]["text/plain"])
        assert 0 < t < 1e5, t
        # a Lua loop inside a coroutine stops too (as in the REPL)
        check_interrupted(kc, "coroutine.wrap(function() while true do end end)()", km.interrupt_kernel)
    return f


def t_interrupt_signal(km, kc):
    def f():
        pid = km.provisioner.process.pid
        check_interrupted(kc, "local i = 0; while true do i = i + 1 end",
                          lambda: os.kill(pid, signal.SIGINT))
        # an interrupt between cells is harmless
        os.kill(pid, signal.SIGINT)
        time.sleep(0.3)
        c, m = execute(kc, "7 * 6")
        assert outputs(m, "execute_result")[0]["data"]["text/plain"] == "42", m
    return f


def t_shutdown(km, kc):
    def f():
        proc = km.provisioner.process
        kc.shutdown()
        r = kc.get_control_msg(timeout=TIMEOUT) if hasattr(kc, "get_control_msg") else None
        if r is not None:
            assert r["msg_type"] == "shutdown_reply" and r["content"]["status"] == "ok", r
        code = proc.wait(timeout=TIMEOUT)
        assert code == 0, "the kernel exited with status %s" % code
    return f


def t_command_line():
    def run(*args):
        return subprocess.run([CAJAL] + list(args), capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
    r = run("--jupyter")
    assert r.returncode == 1 and "'--jupyter' needs a connection file" in r.stderr, r.stderr
    r = run("--jupyter", os.path.join(tmp, "no-such-file.json"))
    assert r.returncode == 1 and "no-such-file.json" in r.stderr, r.stderr
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        json.dump({"ip": "127.0.0.1", "transport": "tcp", "shell_port": 0, "iopub_port": 1,
                   "stdin_port": 2, "control_port": 3, "hb_port": 4, "key": "k"}, f)
    r = run("--jupyter", bad)
    assert r.returncode == 1 and "'shell_port' must be a port number" in r.stderr, r.stderr
    with open(bad, "w") as f:
        json.dump({"ip": "127.0.0.1", "shell_port": 1, "iopub_port": 1, "stdin_port": 2,
                   "control_port": 3, "hb_port": 4, "key": "k", "signature_scheme": "hmac-md5"}, f)
    r = run("--jupyter", bad)
    assert r.returncode == 1 and "hmac-md5" in r.stderr and "not supported" in r.stderr, r.stderr
    r = run("--install-kernel", "--prefix")
    assert r.returncode == 1 and "needs a folder" in r.stderr, r.stderr


# ---- the notebook ---------------------------------------------------------------

def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def t_notebook():
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as e:
        raise Skip("nbclient/nbformat is not installed (Debian python3-nbclient): %s" % e)
    nb = nbformat.read(os.path.join(HERE, "network.ipynb"), as_version=4)
    client = NotebookClient(nb, kernel_name="cajal", timeout=120, startup_timeout=60,
                            interrupt_on_timeout=True,
                            timeout_func=lambda cell: cell.metadata.get("timeout_s", 120),
                            resources={"metadata": {"path": SRCDIR}})
    client.execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]

    def text(cell, kind="execute_result"):
        return [o["data"]["text/plain"] for o in cell.outputs if o.output_type == kind]

    def stream(cell):
        return "".join(o["text"] for o in cell.outputs if o.output_type == "stream")

    assert stream(cells[0]).startswith("network"), stream(cells[0])
    # the counts printed, the value shown, and the same run as a script (same seed) agree
    total = int(text(cells[1])[0])
    words = stream(cells[1]).split()
    assert words[0] == "spikes" and int(words[1]) + int(words[2]) == total, words
    script = subprocess.run([CAJAL, "-e", 'local cj = require "cajal"; local net = cj.load('
                             '"examples/cuba.cajal", {seed = 7}); net:run(10 * cj.second); '
                             'print(net.spikes.E:count() + net.spikes.I:count())'],
                            capture_output=True, text=True, cwd=SRCDIR, timeout=120)
    assert script.returncode == 0, script.stderr
    assert int(script.stdout) == total, (script.stdout, total)
    assert total > 1000, total
    # the progress display was updated in place to its final state
    progress = text(cells[1], "display_data")
    assert len(progress) == 1 and progress[0].startswith("done: 10 / 10 s simulated"), progress
    # the raster: one PNG of the default size
    imgs = [o for o in cells[2].outputs if o.output_type == "display_data"]
    assert len(imgs) == 1 and "image/png" in imgs[0]["data"], cells[2].outputs
    assert png_size(base64.b64decode(imgs[0]["data"]["image/png"])) == (800, 600)
    assert text(cells[2]) == [], "a plot shown inline returns nothing"
    # the interrupted run and loop
    for k in (3, 5):
        errs = [o for o in cells[k].outputs if o.output_type == "error"]
        assert len(errs) == 1 and errs[0]["ename"] == "interrupted", cells[k].outputs
    assert "interrupted at step" in errs[0]["evalue"] or "interrupted" in errs[0]["evalue"]
    assert text(cells[4]) == ["true\ttrue"], text(cells[4])
    assert text(cells[6]) == ["42"], text(cells[6])


# ---- run ------------------------------------------------------------------------

def main():
    try:
        install()
    except Exception as e:
        for t in TESTS:
            report(t, lambda: (_ for _ in ()).throw(AssertionError("cannot install the kernel spec: %s" % e)))
        return
    km, kc = start()
    try:
        report("kernel_info", t_kernel_info(kc))
        report("execute_values_and_streams", t_execute(kc))
        report("error_reply", t_error(kc))
        report("silent_and_user_expressions", t_silent(kc))
        report("is_complete", t_is_complete(kc))
        report("complete", t_complete(kc))
        report("inspect", t_inspect(kc))
        report("bad_signature_rejected", t_bad_signature(km, kc))
        report("replayed_message_rejected", t_replay(km, kc))
        report("interrupt_message_mode", t_interrupt_message(km, kc))
        report("interrupt_signal_mode", t_interrupt_signal(km, kc))
        report("shutdown", t_shutdown(km, kc))
    finally:
        stop(km, kc)
    report("command_line", t_command_line)
    report("notebook", t_notebook)


try:
    main()
finally:
    for km in KERNELS:
        try:
            if km.is_alive():
                km.shutdown_kernel(now=True)
        except Exception:
            pass
    shutil.rmtree(tmp, ignore_errors=True)
    done()
