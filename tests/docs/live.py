#!/usr/bin/python3
"""Runs the `curl` transcripts of the docs (docs/api.md's) against a real sluice-gateway, and the
`sluicectl tag` / `fpe` ones, and compares each answer with the one the doc shows.

A transcript is a fenced block without a language whose lines start with `$ ` (a command; a line
ending in `\\` continues it) followed by the output the doc shows. The commands run in one shell
per block, in order, with https://data.shop.example pointed at the gateway's plain-HTTP listener
and the doc's placeholder keys (wk_live_..., wk_mail_...) replaced by the real ones. A ```sh
block whose first comment line names a script (`# sign-and-send.sh ...`) is written to that file
first, so a transcript can run it. The gateway runs on 127.0.0.1 with the dev Kafka broker and a
Redis of its own, free ports, an org configured as the doc describes (config_text below).

Comparing: a status line or a JSON answer must be as shown (`...` in the doc stands for any
text, inside a JSON string for any part of that string; ids and sample tokens for any: line_pattern); a header line shown must be among the
headers got (in any order).

usage: live.py SOURCE_DIR BUILD_DIR [DOC...]   (default: README.md and docs/*.md)    (exit 0: all good; 1: problems, one per line)
"""
import glob
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC, BUILD = sys.argv[1], os.path.abspath(sys.argv[2])
DOCS = sys.argv[3:] or [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
# Commands a transcript may consist of to be run here: curl to the gateway, the shell around it,
# and the sluicectl commands that need no Kafka, Redis or PostgreSQL of the reader's (a block with
# any other command, e.g. `sluicectl keys generate`, whose output is random, is not run).
RUNNABLE = re.compile(r"^(curl |printf |for |[A-Z]+=|sluicectl (tag|fpe) )")
SLUICECTL = os.path.join(BUILD, "tools", "sluicectl")
GATEWAY = os.path.join(BUILD, "gateway", "sluice-gateway")
KEYS = {"wk_live_...": "wk_live_docex0123456789abcdef", "wk_mail_...": "wk_mail_docex0123456789abcdef"}
SECRET = "whsec_example_3f9a"  # the doc's example secret: its answers are for that one

problems = []
procs = []


def problem(where, msg):
    problems.append("%s: %s" % (where, msg))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def config_text(ports, bootstrap):
    return """version: 1
server:
  https: {listen: ""}
  http: {listen: "127.0.0.1:%(http)d"}
  metrics: {listen: "127.0.0.1:%(metrics)d"}
  threads: 1
kafka: {brokers: "%(bootstrap)s", invalid_topic: sluice.invalid}
redis: {url: "redis://127.0.0.1:%(redis)d"}
orgs:
  - id: acme
    sources:
      - {id: web, write_key_env: DOCEX_WEB_KEY, allowed_origins: ["https://www.shop.example"]}
      - {id: mail, write_key_env: DOCEX_MAIL_KEY, pixel_without_referrer: true}
      - {id: backend, kind: server, hmac_secret_env: DOCEX_HMAC}
    identity:
      dedup: {enabled: true}
      cross_domain: {domains: [www.shop.example, checkout.example]}
""" % dict(ports, bootstrap=bootstrap)


def start_stack(tmp):
    # The dev broker binds ports of its own choosing: it starts first, and the ports are picked
    # after it has them (picked before, one was once the broker's: "already in use").
    bfile = os.path.join(tmp, "bootstrap")
    kafka = subprocess.Popen([SLUICECTL, "dev-kafka", "--bootstrap-file", bfile], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(tmp, "kafka.log"), "w"))
    procs.append(kafka)
    deadline = time.time() + 30
    while not os.path.exists(bfile) and time.time() < deadline:
        time.sleep(0.1)
    bootstrap = open(bfile).read().strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(DOCEX_WEB_KEY=KEYS["wk_live_..."], DOCEX_MAIL_KEY=KEYS["wk_mail_..."], DOCEX_HMAC=SECRET,
               ENCRYPTION_KEY="%064x" % 0x5eed)
    # A free port can still be taken by another process between the pick and the bind: up to 5
    # tries with new ports, as the C harness does for its Redis.
    for attempt in range(5):
        ports = {"http": free_port(), "metrics": free_port(), "redis": free_port()}
        redis = subprocess.Popen(["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--maxmemory-policy", "noeviction"],
                                 stdout=open(os.path.join(tmp, "redis.log"), "w"), stderr=subprocess.STDOUT)
        procs.append(redis)
        cfg = os.path.join(tmp, "acme.yaml")
        with open(cfg, "w") as f:
            f.write(config_text(ports, bootstrap))
        gw = subprocess.Popen([GATEWAY, "--config", cfg], env=env, stdout=open(os.path.join(tmp, "gw.log"), "w"),
                              stderr=subprocess.STDOUT)
        procs.append(gw)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if urllib.request.urlopen("http://127.0.0.1:%d/readyz" % ports["metrics"], timeout=2).status == 200:
                    return ports
            except OSError:
                pass
            if gw.poll() is not None or redis.poll() is not None:
                break
            time.sleep(0.2)
        log = open(os.path.join(tmp, "gw.log")).read() + open(os.path.join(tmp, "redis.log")).read()
        if "already in use" not in log and "Address already in use" not in log:
            break
        for p in (gw, redis):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=15)
    sys.stdout.write(open(os.path.join(tmp, "gw.log")).read())
    raise SystemExit("docs live: the gateway did not become ready")


def stop_stack():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def blocks(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if m:
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            out.append((i + 1, m.group(1), lines[i + 1:j]))
            i = j
        i += 1
    return out


def transcript(lines):
    """[(command, [expected output lines])] of a block of `$ ` lines, or None."""
    if not lines or not lines[0].startswith("$ "):
        return None
    steps = []
    cont = False
    for line in lines:
        if cont:
            steps[-1][0] += "\n" + line
        elif line.startswith("$ "):
            steps.append([line[2:], []])
        else:
            steps[-1][1].append(line)
        # a command goes on after a trailing backslash or inside an open quote
        cont = bool(steps) and not steps[-1][1] and (line.endswith("\\") or not complete(steps[-1][0]))
    return steps


def complete(cmd):
    try:
        shlex.split(cmd)
        return True
    except ValueError:
        return False


def line_pattern(line):
    """The doc's line as a pattern: `...` is any text, 32 hex digits any id (and a cookie's value
    `<id>.<signature>` for an org with cross_domain, docs/api.md "Cookies", as the org these run
    in has), a run of 16 or more base64url characters of mixed case any such run (a sample token
    or signature)."""
    rx, before = "", ""
    for p in re.split(r"(\.\.\.|(?<![0-9A-Za-z])[0-9a-f]{32}(?![0-9A-Za-z])|[A-Za-z0-9_-]{16,})", line):
        if p == "...":
            # inside a JSON string (an odd number of quotes before it) it elides part of that
            # string only: `{"token":"Aa..."}` does not pass for an answer with more members
            rx += '[^"]*' if before.count('"') % 2 else ".*"
        elif re.fullmatch(r"[0-9a-f]{32}", p):
            rx += r"[0-9a-f]{32}(\.[A-Za-z0-9_-]+)?"
        elif re.fullmatch(r"[A-Za-z0-9_-]{16,}", p) and re.search(r"[A-Z]", p) and re.search(r"[a-z]", p) \
                and re.search(r"[0-9]", p):
            rx += r"[A-Za-z0-9_-]+"
        else:
            rx += re.escape(p)
        before += p
    return re.compile("^" + rx + "$")


def compare(where, cmd, want, got):
    got_lines = [l.rstrip("\r") for l in got.split("\n")]
    headers = {l.lower() for l in got_lines if re.match(r"^[A-Za-z-]+: ", l)}
    for w in want:
        if not w.strip():
            continue
        rx = line_pattern(w)
        if re.match(r"^[A-Za-z-]+: ", w):
            if not any(line_pattern(w.lower()).match(h) for h in headers):
                problem(where, "`%s`: the doc shows the header `%s`; the gateway sent: %s" % (
                    cmd.split("\n")[0][:80], w, " | ".join(sorted(headers))))
        elif not any(rx.match(g) for g in got_lines):
            problem(where, "`%s`: the doc shows `%s`; the gateway answered: %s" % (
                cmd.split("\n")[0][:80], w, " | ".join(l for l in got_lines if l.strip())[:600]))


def main():
    tmp = tempfile.mkdtemp(prefix="sluice-docex-")
    checked = 0
    try:
        ports = start_stack(tmp)
        base = "http://127.0.0.1:%d" % ports["http"]
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        for doc in DOCS:
            checked += run_doc(doc, base, work)
    finally:
        stop_stack()
        # every problem names what the doc shows and what was answered: no logs kept (the
        # planted-mistake runs of check.sh fail on purpose, and would leave one each)
        shutil.rmtree(tmp, ignore_errors=True)
    for p in problems:
        print(p)
    print("docs live: %d commands run against a gateway" % checked, file=sys.stderr)
    return 1 if problems else 0


def run_doc(doc, base, work):
    checked = 0
    env = dict(os.environ, PATH=os.path.dirname(SLUICECTL) + os.pathsep + os.environ.get("PATH", ""))
    for line, lang, body in blocks(doc):
        if lang == "sh" and len(body) > 1 and re.match(r"^# ([\w.-]+\.sh) ", body[1]):
            name = re.match(r"^# ([\w.-]+\.sh) ", body[1]).group(1)
            with open(os.path.join(work, name), "w") as f:
                f.write("\n".join(body) + "\n")
            os.chmod(os.path.join(work, name), 0o755)
            continue
        steps = transcript(body) if lang == "" else None
        if not steps or not all(RUNNABLE.match(cmd) for cmd, _ in steps):
            continue
        where = "%s:%d" % (os.path.relpath(doc, SRC), line)
        # One shell for the whole block, each step's output framed by a marker line.
        script = ""
        for n, (cmd, want) in enumerate(steps):
            # sluicectl tag only prints URLs under --src: it fetches nothing
            run = cmd if cmd.startswith("sluicectl ") else cmd.replace("https://data.shop.example", base)
            for k, v in KEYS.items():
                run = run.replace(k, v)
            script += "%s\necho; echo '@@docex %d'\n" % (run, n)
        r = subprocess.run(["sh", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120)
        outs = re.split(r"^@@docex \d+\n", r.stdout, flags=re.M)
        for n, (cmd, want) in enumerate(steps):
            checked += 1
            compare(where, cmd, want, outs[n] if n < len(outs) else "")
    return checked


if __name__ == "__main__":
    sys.exit(main())
