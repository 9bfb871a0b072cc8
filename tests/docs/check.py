#!/usr/bin/python3
"""Checks that the examples in README.md and docs/*.md work against the binaries of a build tree.

- Every ```yaml block is a config (it has `orgs` or `version`), a fragment at the top level
  (server, kafka, redis, enrichment, ...), a fragment of an org (sources, identity, consent,
  data_layer), a list of integrations, or one integration's keys (mapping): it is placed into a
  minimal config where it belongs and must pass `sluicectl config check --secrets` with each variable its
  `*_env` keys name set. A block with several documents meant as alternatives (blank-line
  separated, each starting with a comment) is checked one alternative at a time.
  An HTML comment right before the block changes that:
    <!-- example: skip "why" -->          not a sluice config (a Prometheus rule, a diagram)
    <!-- example: fails "message" -->     must fail, every error naming message (several
                                          "..." strings: each error names one of them)
    <!-- example: tolerate "message" -->  errors naming message are not counted: a file or a
                                          library feature of the reader's machine this one lacks
- Every `sluicectl` / `sluice-gateway` / `sluice-deliver` command line (in a code block or an
  inline code span) names a subcommand that exists and only flags its --help lists.
- Every JSON body sent with `curl ... /v1/...` in a code block is valid JSON (what the gateway
  answers to it is tests/docs/live.py's part).
- Every key an integration takes is in config.md's "All keys".

usage: check.py SOURCE_DIR BUILD_DIR     (exit 0: all good; 1: problems, one per line)
"""
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

SRC, BUILD = sys.argv[1], sys.argv[2]
BIN = {
    "sluicectl": os.path.join(BUILD, "tools", "sluicectl"),
    "sluice-gateway": os.path.join(BUILD, "gateway", "sluice-gateway"),
    "sluice-deliver": os.path.join(BUILD, "vendors", "sluice-deliver"),
}
problems = []
counts = {"yaml": 0, "fails": 0, "skip": 0, "command": 0, "json": 0, "keys": 0}


def problem(where, msg):
    problems.append("%s: %s" % (where, msg))


def doc_files():
    return [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))


def rel(path):
    return os.path.relpath(path, SRC)


def blocks(path):
    """(line, language, text, marker) of each fenced block; marker is the example comment on the
    line before it (blank lines between allowed)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        if m:
            indent = len(m.group(1))
            j = i + 1
            while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
                j += 1
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            mk = re.match(r"^\s*<!--\s*example:\s*(\w+)((?:\s*\"[^\"]*\")*)\s*-->\s*$", lines[k]) if k >= 0 else None
            text = "\n".join(l[indent:] for l in lines[i + 1:j])
            marker = (mk.group(1), re.findall(r'"([^"]*)"', mk.group(2))) if mk else None
            out.append((i + 1, m.group(2), text, marker))
            i = j
        i += 1
    return out


# ------------------------------------------------------------------ YAML

TOP_KEYS = {"version", "server", "limits", "kafka", "redis", "database", "plugins", "log", "delivery",
            "forget", "enrichment", "orgs"}
ORG_KEYS = {"sources", "identity", "consent", "data_layer", "integrations"}
INTEGRATION_KEYS = {"mapping"}


def minimal():
    """The smallest config that passes config check: one org, one source, plain HTTP."""
    return {
        "version": 1,
        "server": {"https": {"listen": ""}, "http": {"listen": "127.0.0.1:18080"}},
        "kafka": {"brokers": "127.0.0.1:19092"},
        "redis": {"url": "redis://127.0.0.1:16379"},
        "database": {"url": "postgresql://sluice@127.0.0.1:15432/sluice"},
        "orgs": [{"id": "acme", "sources": [{"id": "web", "write_key_env": "DOCEX_WRITE_KEY"}]}],
    }


def merge(base, frag):
    """frag over base: maps merged key by key, the orgs list item by item (an example's org takes
    the minimal org's source when it names none), anything else replaced."""
    if isinstance(base, dict) and isinstance(frag, dict):
        out = dict(base)
        for k, v in frag.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    if isinstance(base, list) and isinstance(frag, list) and base and all(isinstance(x, dict) and "id" in x for x in base + frag):
        return [merge(base[i], x) if i < len(base) else x for i, x in enumerate(frag)]
    return frag


def place(frag):
    """The whole config a block stands for, or None when it cannot be placed."""
    if isinstance(frag, list):
        if all(isinstance(x, dict) and "vendor" in x for x in frag):
            cfg = minimal()
            cfg["orgs"][0]["integrations"] = frag
            return cfg
        return None
    if not isinstance(frag, dict):
        return None
    keys = set(frag)
    if "orgs" in keys or "version" in keys or keys <= TOP_KEYS:
        return merge(minimal(), frag)
    if keys <= ORG_KEYS:
        cfg = minimal()
        cfg["orgs"][0] = merge(cfg["orgs"][0], frag)
        return cfg
    if keys <= INTEGRATION_KEYS:
        cfg = minimal()
        cfg["orgs"][0]["integrations"] = [dict({"name": "meta", "vendor": "meta", "pixel_id": "1"}, **frag)]
        return cfg
    return None


def env_for(text):
    """Each variable the block names in a *_env key, set to a value of the shape the key takes
    (64 hex characters: it serves as a write key, a signing secret and a 256-bit key alike)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["DOCEX_WRITE_KEY"] = "wk_docex_" + "0" * 32
    for i, name in enumerate(sorted(set(re.findall(r"\b\w*_env:\s*\"?([A-Z][A-Z0-9_]*)", text)))):
        env[name] = "%064x" % (0x1234567890abcdef + i * 7919)
    env.setdefault("ENCRYPTION_KEY", "%064x" % 0xfeedface)
    return env


def alternatives(text):
    """A block of several configs meant as alternatives: blank-line separated parts that each
    begin with a comment. Otherwise the block as it is."""
    parts = re.split(r"\n\s*\n", text.strip("\n"))
    if len(parts) > 1 and all(p.lstrip().startswith("#") for p in parts):
        return parts
    return [text]


def check_config(where, cfg, text, tmp):
    path = os.path.join(tmp, "docex.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    r = subprocess.run([BIN["sluicectl"], "config", "check", "--secrets", path], capture_output=True, text=True,
                       env=env_for(text), timeout=60)
    return r.returncode, (r.stderr + r.stdout).strip()


def check_yaml(path, tmp):
    for line, lang, text, marker in blocks(path):
        if lang != "yaml":
            continue
        where = "%s:%d" % (rel(path), line)
        if marker and marker[0] == "skip":
            counts["skip"] += 1
            continue
        for part in alternatives(text):
            counts["yaml"] += 1
            try:
                frag = yaml.safe_load(part)
            except yaml.YAMLError as e:
                if marker and marker[0] == "fails" and any(t in str(e) for t in marker[1]):
                    counts["fails"] += 1
                    continue
                problem(where, "not YAML: %s" % str(e).replace("\n", " "))
                continue
            cfg = place(frag)
            if cfg is None:
                problem(where, "cannot tell where this block goes in a config (keys %s); say so with "
                        "<!-- example: skip \"why\" -->" % (sorted(frag) if isinstance(frag, dict) else type(frag).__name__))
                continue
            rc, out = check_config(where, cfg, part, tmp)
            errors = [l for l in out.split("\n") if l.strip() and l.strip() != "ok" and not l.startswith("warning:")]
            kind, says = marker if marker else (None, [])
            if kind == "tolerate":
                # errors that name a file or a library feature of the reader's machine
                errors = [l for l in errors if not any(t in l for t in says)]
                rc = 1 if errors else 0
            if kind == "fails":
                counts["fails"] += 1
                if rc == 0 or not errors or not all(any(t in l for t in says) for l in errors):
                    problem(where, "should fail with only %s; config check says: %s" % (says, " | ".join(errors) or "ok"))
            elif rc != 0:
                problem(where, "config check fails: %s" % " | ".join(errors))


# ------------------------------------------------------------------ command lines

_help = {}


def help_of(argv):
    key = tuple(argv)
    if key not in _help:
        r = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=30)
        _help[key] = (r.returncode, r.stdout + r.stderr)
    return _help[key]


def subcommands():
    """{command: {its subcommands}} as `sluicectl --help` lists them ("  vault put|list|... ")."""
    _, text = help_of([BIN["sluicectl"]])
    cmds = {}
    for m in re.finditer(r"^  ([a-z][a-z-]*)(?: ((?:[a-z-]+\|)*[a-z-]+)(?=\s))?", text, re.M):
        cmds[m.group(1)] = set(m.group(2).split("|")) if m.group(2) else set()
    for cmd, subs in cmds.items():
        if subs:
            _, own = help_of([BIN["sluicectl"], cmd])
            for m in re.finditer(r"sluicectl %s ((?:[a-z-]+\|)*[a-z-]+)(?=\s)" % re.escape(cmd), own):
                subs |= set(m.group(1).split("|"))
    return cmds


def command_lines(path):
    """(line, words) of each command line naming a sluice program: fenced blocks of shell (or no
    language), and inline code spans."""
    text = open(path, encoding="utf-8").read()
    out = []
    in_block, lang, pending = False, "", ""
    for n, line in enumerate(text.split("\n"), 1):
        m = re.match(r"^\s*```(\w*)\s*$", line)
        if m:
            in_block, lang = (not in_block), m.group(1)
            continue
        if in_block:
            if lang in ("", "sh", "bash", "console"):
                if pending:
                    line = pending + " " + line.strip()
                if line.endswith("\\"):
                    pending = line[:-1]
                    continue
                pending = ""
                out.extend((n, seg) for seg in split_commands(line))
            continue
        for span in re.findall(r"`([^`]+)`", line):
            out.extend((n, seg) for seg in split_commands(span))
    return out


def split_commands(line):
    line = re.sub(r"^\s*\$\s+", "", line)
    line = line.split(" #")[0] if " #" in line else line
    segs = []
    for m in re.finditer(r"(?:^|[\s;|&(`$])((?:\S*/)?(sluicectl|sluice-gateway|sluice-deliver))(\s[^;|&)`]*)?", line):
        prog, rest = m.group(2), (m.group(3) or "")
        segs.append([prog] + rest.split())
    return segs


def check_command(where, words):
    prog = words[0]
    if not os.path.exists(BIN[prog]):
        return
    argv = [BIN[prog]]
    rest = words[1:]
    if prog == "sluicectl":
        cmds = subcommands()
        if not rest or not re.match(r"^[a-z][a-z-]*$", rest[0]):
            return
        if rest[0] not in cmds:
            problem(where, "sluicectl has no command '%s' (its --help lists: %s)" % (rest[0], " ".join(sorted(cmds))))
            return
        cmd = rest.pop(0)
        argv.append(cmd)
        if cmds[cmd]:
            sub = rest.pop(0) if rest else None
            if sub is not None and re.match(r"^[a-z][a-z-]*$", sub):
                if sub not in cmds[cmd]:
                    problem(where, "`sluicectl %s` has no subcommand '%s' (%s)" % (cmd, sub, "|".join(sorted(cmds[cmd]))))
                    return
                argv.append(sub)
    counts["command"] += 1
    rc, text = help_of(argv)
    if rc != 0:
        problem(where, "`%s --help` fails (exit %d): %s" % (" ".join(["sluicectl" if prog == "sluicectl" else prog] + argv[1:]), rc, text.strip().split("\n")[0]))
        return
    for w in rest:
        m = re.match(r"^(--[a-z][a-z0-9-]*)", w)
        if not m or m.group(1) == "--help":
            continue
        flag = m.group(1)
        if not re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", text):
            problem(where, "`%s` has no flag %s (see its --help)" % (" ".join([prog] + [os.path.basename(a) for a in argv[1:]]), flag))


def check_commands(path):
    for line, words in command_lines(path):
        check_command("%s:%d" % (rel(path), line), words)


# ------------------------------------------------------------------ JSON bodies

def curl_bodies(path):
    """(line, url, body) of each curl command line in a code block that posts a body to /v1/."""
    out = []
    for line, lang, text, marker in blocks(path):
        joined = re.sub(r"\\\n\s*", " ", text)
        for n, cmd in enumerate(joined.split("\n")):
            if "curl " not in cmd or "/v1/" not in cmd:
                continue
            cmd = re.sub(r"^\s*\$\s+", "", cmd)
            try:
                lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
                lex.whitespace_split = True
                words = list(lex)
            except ValueError:
                continue
            url = next((w for w in words if "/v1/" in w and w.startswith("http")), None)
            for i, w in enumerate(words):
                if w in ("-d", "--data", "--data-raw", "--data-binary") and i + 1 < len(words):
                    body = words[i + 1]
                    if not body.startswith("@"):
                        out.append((line, url, body, marker))
    return out


def check_json(path):
    for line, url, body, marker in curl_bodies(path):
        counts["json"] += 1
        try:
            json.loads(body)
        except ValueError as e:
            problem("%s:%d" % (rel(path), line), "the body sent to %s is not JSON: %s" % (url, e))


# ------------------------------------------------------------------ config.md "All keys"

def check_all_keys():
    """Every key an integration takes (config/org.c's sluice_config_integration_keys, and each
    vendor's options in vendors/*.c that are YAML keys, not vault members) is in config.md's
    "All keys": an operator looking a key up there must find it."""
    text = open(os.path.join(SRC, "docs", "config.md"), encoding="utf-8").read()
    m = re.search(r"^## All keys\n+```\n(.*?)^```", text, re.S | re.M)
    if not m:
        problem("docs/config.md", "no \"All keys\" block")
        return
    block = m.group(1)
    listed = set(re.findall(r"(?:^|\s|\.)([a-z_]+)(?=\s|$|\.)", block[block.find("orgs[].integrations[]"):], re.M))
    org_c = open(os.path.join(SRC, "config", "org.c"), encoding="utf-8").read()
    km = re.search(r"sluice_config_integration_keys\[\] = \{(.*?)\};", org_c, re.S)
    keys = set(re.findall(r'"([a-z_]+)"', km.group(1))) if km else set()
    for path in sorted(glob.glob(os.path.join(SRC, "vendors", "*.c"))):
        for opt in re.finditer(r"\{\.name = \"([a-z_]+)\"([^}]*)\}", open(path, encoding="utf-8").read()):
            if ".secret = 1" not in opt.group(2):
                keys.add(opt.group(1))
    counts["keys"] = len(keys)
    for k in sorted(keys - listed):
        problem("docs/config.md: All keys", "orgs[].integrations[].%s is a key the loader takes and is not listed" % k)


def main():
    for prog, p in BIN.items():
        if not os.path.exists(p):
            problem(prog, "not built (%s)" % p)
    with tempfile.TemporaryDirectory() as tmp:
        for path in doc_files():
            check_yaml(path, tmp)
            check_commands(path)
            check_json(path)
    check_all_keys()
    for p in problems:
        print(p)
    print("docs examples: %(yaml)d yaml (%(fails)d meant to fail, %(skip)d skipped), %(command)d command "
          "lines, %(json)d request bodies, %(keys)d integration keys" % counts, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
