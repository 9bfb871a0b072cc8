#!/usr/bin/python3
"""Checks the deployment files in deploy/ against the sluice binaries of a build tree.

No container engine or cluster runs here, so every name the files give the sluice programs is
checked where it is defined: each environment variable, port, path, command-line flag and probe
that deploy/compose.yaml and deploy/kubernetes/*.yaml name must exist in the binaries (their
--help, the strings they are built with) or in the config they run (deploy/sluice.yaml, read
back through `sluicectl config dump` with each service's own environment), and the config must
pass `sluicectl config check --secrets` with that environment. Also: the ConfigMap carries
deploy/sluice.yaml unchanged, compose's nginx.conf is deploy/nginx/balancer.conf filled in, the
shutdown budgets cover drain_timeout_ms, every container is non-root with a read-only root file
system, the gateway's server.threads is 0 or at most its Deployment's CPU limit, a
worker Deployment is given no secret only the gateway reads, the `docker run` examples at the top
of the Dockerfile give the example config every variable it names (config check --secrets) and
no loopback address for Kafka, Redis or PostgreSQL, the CronJob's sluicectl command line parses
(run against a database that refuses the connection), and README links docs/deploy.md, which
names every file.

usage: check.py SOURCE_DIR BUILD_DIR       (exit 0: all good; 1: problems, one per line)
"""
import json
import os
import math
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

SRC, BUILD = sys.argv[1], sys.argv[2]
DEPLOY = os.path.join(SRC, "deploy")
BINARIES = {
    "sluice-gateway": os.path.join(BUILD, "gateway", "sluice-gateway"),
    "sluice-deliver": os.path.join(BUILD, "vendors", "sluice-deliver"),
    "sluicectl": os.path.join(BUILD, "tools", "sluicectl"),
}
# The probes each program serves (gateway/handler.c, vendors/metrics.c), checked in the binary too.
SERVED = {"sluice-gateway": {"/healthz", "/readyz", "/metrics"}, "sluice-deliver": {"/healthz", "/metrics"}}
# Variables of the env file that belong to third-party images, not to sluice.
THIRD_PARTY_ENV = {"POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB"}

problems = []
checked = {"env": set(), "port": set(), "path": set(), "flag": set(), "probe": set()}


def problem(where, msg):
    problems.append("%s: %s" % (where, msg))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


_strings = {}


def binary_has(prog, text):
    """1 when the literal text is in the program's binary (its own strings), as a whole word:
    SLUICE_LOG does not pass for SLUICE_LOG_LEVEL."""
    if prog not in _strings:
        with open(BINARIES[prog], "rb") as f:
            _strings[prog] = f.read()
    # bytes.find, then the neighbours: a regex opening with a look-behind scanned the megabytes
    # of each binary byte by byte, and check.sh runs this file 35 times (its ctest limit).
    data, word, at = _strings[prog], text.encode(), 0
    while (at := data.find(word, at)) >= 0:
        before = data[at - 1:at] if at > 0 else b""
        after = data[at + len(word):at + len(word) + 1]
        if not re.fullmatch(rb"[A-Za-z0-9_]", before) and not re.fullmatch(rb"[A-Za-z0-9_]", after):
            return True
        at += 1
    return False


_help = {}


def help_text(prog):
    if prog not in _help:
        r = subprocess.run([BINARIES[prog], "--help"], capture_output=True, text=True, timeout=30)
        _help[prog] = r.stdout + r.stderr
    return _help[prog]


def parse_env_file(path):
    env = {}
    for line in read(path).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v
    return env


def config_dump(env):
    r = subprocess.run([BINARIES["sluicectl"], "config", "dump", os.path.join(DEPLOY, "sluice.yaml")],
                       capture_output=True, text=True, env=env, timeout=30)
    if r.returncode != 0:
        problem("deploy/sluice.yaml", "sluicectl config dump failed: " + r.stderr.strip())
        return {}
    return json.loads(r.stdout)


def config_check(where, env):
    r = subprocess.run([BINARIES["sluicectl"], "config", "check", "--secrets", os.path.join(DEPLOY, "sluice.yaml")],
                       capture_output=True, text=True, env=env, timeout=30)
    if r.returncode != 0 or "warning" in r.stderr:
        problem(where, "sluicectl config check --secrets with this environment: " + (r.stderr or r.stdout).strip())


def port_of(listen):
    return int(listen.rsplit(":", 1)[1]) if listen else None


def env_names_of_config(cfg_text):
    """The variables deploy/sluice.yaml names in its *_env keys."""
    return set(re.findall(r"\b\w+_env:\s*([A-Z][A-Z0-9_]*)", cfg_text))


CFG_TEXT = read(os.path.join(DEPLOY, "sluice.yaml"))
CFG_ENV_NAMES = env_names_of_config(CFG_TEXT)
ENV_EXAMPLE = parse_env_file(os.path.join(DEPLOY, "compose", "sluice.env.example"))


def program_of(argv0):
    base = os.path.basename(argv0)
    if base not in ("sluice-gateway", "sluice-deliver"):
        return None
    if argv0 != "/usr/bin/" + base:
        problem(argv0, "the image installs the programs in /usr/bin (Dockerfile: prefix /usr, bin)")
    checked["path"].add(argv0)
    return base


def check_flags(where, prog, args, config_paths):
    """Every --flag in the program's --help; --config names the mounted file; --vendor a vendor."""
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            checked["flag"].add(prog + " " + a)
            if not re.search(r"(^|\s)" + re.escape(a) + r"\b", help_text(prog)):
                problem(where, "%s has no flag %s (see its --help)" % (prog, a))
            val = args[i + 1] if i + 1 < len(args) else None
            if a == "--config":
                checked["path"].add(val)
                if val not in config_paths:
                    problem(where, "--config %s is not where the config is mounted (%s)" % (val, sorted(config_paths)))
            if a == "--vendor":
                m = re.search(r"--vendor V\s+.*\(([^)]*)\)", help_text(prog))
                if not m or val not in [v.strip() for v in m.group(1).split(",")]:
                    problem(where, "--vendor %s is not a vendor sluice-deliver knows" % val)
            i += 2
        else:
            i += 1


def gateway_only_env(dump):
    """The variables of deploy/sluice.yaml that only the gateway reads: the Redis password (the
    worker opens no Redis) and the sources' write keys and signing secrets."""
    names = {dump.get("redis", {}).get("password_env")}
    for org in dump.get("orgs", []):
        for src in org.get("sources", []):
            names |= {src.get(k) for k in ("write_key_env", "previous_write_key_env", "hmac_secret_env",
                                          "previous_hmac_secret_env")}
    return {n for n in names if n}


def check_env(where, prog, env, gateway_only=()):
    """Each variable given to a sluice program is one it reads: a SLUICE_* override or key variable
    in its binary, or one that deploy/sluice.yaml names (for sluice-deliver, not one that only the
    gateway reads: a worker talks to every vendor's API and needs no Redis password or write key)."""
    for name in env:
        checked["env"].add(name)
        if prog == "sluice-deliver" and name in gateway_only:
            problem(where, "sluice-deliver is given %s, which only sluice-gateway reads" % name)
            continue
        if name in CFG_ENV_NAMES:
            continue
        if name in THIRD_PARTY_ENV:
            continue
        if not binary_has(prog, name):
            problem(where, "%s is given %s, which it never reads" % (prog, name))
    if prog == "sluice-gateway":
        for name in CFG_ENV_NAMES:
            if name not in env:
                problem(where, "the config names %s and the gateway is not given it" % name)
    # docs/deploy.md rotates keys by putting SLUICE_KEY_ID and SLUICE_KEYRING in the Secret next to
    # ENCRYPTION_KEY: a program not given them keeps the old ring, and after the switch opens no
    # vault row, token or cookie sealed under the old key.
    if "ENCRYPTION_KEY" in env:
        for name in ("SLUICE_KEY_ID", "SLUICE_KEYRING"):
            if name not in env:
                problem(where, "%s is given ENCRYPTION_KEY but not %s (key rotation, docs/deploy.md)" % (prog, name))


def listening_ports(prog, dump):
    if prog == "sluice-gateway":
        s = dump.get("server", {})
        return {p for p in (port_of(s.get("https", {}).get("listen")), port_of(s.get("http", {}).get("listen")),
                            port_of(s.get("metrics", {}).get("listen"))) if p}
    return {p for p in [port_of(dump.get("delivery", {}).get("metrics", {}).get("listen"))] if p}


def metrics_port(prog, dump):
    if prog == "sluice-gateway":
        return port_of(dump.get("server", {}).get("metrics", {}).get("listen"))
    return port_of(dump.get("delivery", {}).get("metrics", {}).get("listen"))


def check_probe(where, prog, path, port, dump):
    checked["probe"].add("%s %s:%s" % (prog, path, port))
    if path not in SERVED[prog] or not binary_has(prog, path):
        problem(where, "%s serves no %s" % (prog, path))
    if port != metrics_port(prog, dump):
        problem(where, "probe %s on port %s, but %s serves it on %s" % (path, port, prog, metrics_port(prog, dump)))


def base_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_") and k not in ENV_EXAMPLE}
    return env


# ------------------------------------------------------------------ compose

def interpolate(where, env):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, filled in from the env file
    (--env-file deploy/compose/sluice.env) as sluice.env.example has it."""
    out = {}
    for k, v in env.items():
        def fill(m):
            var, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
            checked["env"].add(var)
            if var in ENV_EXAMPLE:
                return ENV_EXAMPLE[var]
            if op != ":-":
                problem(where, "%s takes ${%s}, which is not in deploy/compose/sluice.env.example" % (k, var))
            return arg
        out[k] = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-?])([^}]*))?\}", fill, str(v))
    return out


def check_compose():
    where0 = "deploy/compose.yaml"
    doc = yaml.safe_load(read(os.path.join(DEPLOY, "compose.yaml")))
    services = doc["services"]
    gateway_http_ports = {}
    for name, svc in services.items():
        where = "%s: services.%s" % (where0, name)
        # The whole env file in a container hands every secret to it: Redis or PostgreSQL (other
        # vendors' code, on the network) would hold ENCRYPTION_KEY, a worker the Redis password.
        for ef in svc.get("env_file", []):
            problem(where, "env_file %s gives the service every secret; name the ones it reads in environment" % ef)
        env3 = interpolate(where, svc.get("environment") or {})
        if "ENCRYPTION_KEY" in env3 and not str(svc.get("image", "")).startswith("sluice"):
            problem(where, "%s is given ENCRYPTION_KEY" % svc.get("image"))
        if not str(svc.get("image", "")).startswith("sluice"):
            continue
        argv = (svc.get("entrypoint") or ["/usr/bin/sluice-gateway"]) + (svc.get("command") or [])
        prog = program_of(argv[0])
        if prog is None:
            problem(where, "runs %s, not a sluice program" % argv[0])
            continue
        mounts = {}
        for v in svc.get("volumes", []):
            src, dst = v.split(":")[0:2]
            mounts[dst] = src
            checked["path"].add(dst)
            if not os.path.exists(os.path.normpath(os.path.join(DEPLOY, src))):
                problem(where, "mounts %s, which is not in deploy/" % src)
        config_paths = {d for d, s in mounts.items() if os.path.normpath(s) == "sluice.yaml"}
        check_flags(where, prog, argv[1:], config_paths)
        env = interpolate(where, svc.get("environment") or {})
        for ef in svc.get("env_file", []):
            example = os.path.join(DEPLOY, ef + ".example")
            if os.path.exists(example):
                env.update(parse_env_file(example))
        run_env = base_env()
        run_env.update(env)
        dump = config_dump(run_env)
        check_env(where, prog, env, gateway_only_env(dump))
        if prog == "sluice-gateway":
            config_check(where, run_env)
        ports = listening_ports(prog, dump)
        for p in svc.get("expose", []):
            checked["port"].add("%s:%s" % (name, p))
            if int(p) not in ports:
                problem(where, "exposes %s, but %s listens on %s" % (p, prog, sorted(ports)))
        test = " ".join(svc.get("healthcheck", {}).get("test", []))
        m = re.search(r"/dev/tcp/127\.0\.0\.1/(\d+).*GET (/\w+) ", test)
        if not m:
            problem(where, "no HTTP health check")
        else:
            check_probe(where, prog, m.group(2), int(m.group(1)), dump)
        if not svc.get("read_only"):
            problem(where, "the root file system is not read-only")
        if prog == "sluice-gateway":
            gateway_http_ports[name] = port_of(dump.get("server", {}).get("http", {}).get("listen"))
            grace = svc.get("stop_grace_period", "10s")
            if int(grace.rstrip("s")) * 1000 <= dump.get("server", {}).get("drain_timeout_ms", 10000):
                problem(where, "stop_grace_period %s does not cover drain_timeout_ms" % grace)
            # The topics the init job creates are the ones the config uses.
            init = " ".join(services["kafka-init"]["command"])
            for key in ("topic", "dlq_topic", "invalid_topic", "dsr_topic"):
                topic = dump.get("kafka", {}).get(key)
                if topic and topic + ":" not in init:
                    problem(where0 + ": kafka-init", "does not create %s (kafka.%s)" % (topic, key))
            brokers = env.get("SLUICE_KAFKA_BROKERS", "")
            for b in brokers.split(","):
                host, port = b.split(":")
                if host not in services:
                    problem(where, "SLUICE_KAFKA_BROKERS names %s, which is no service" % host)
                adv = services.get(host, {}).get("environment", {}).get("KAFKA_ADVERTISED_LISTENERS", "")
                if ("//%s:%s" % (host, port)) not in adv:
                    problem(where, "broker %s is not advertised as such (%s)" % (b, adv))
    # nginx: balancer.conf filled in with the gateways' service names and plain-HTTP port.
    tmpl = read(os.path.join(DEPLOY, "nginx", "balancer.conf"))
    conf = read(os.path.join(DEPLOY, "compose", "nginx.conf"))
    gws = sorted(gateway_http_ports)
    fill = {"@LISTEN@": "0.0.0.0:8443", "@CERT@": "/etc/nginx/tls/server.crt", "@KEY@": "/etc/nginx/tls/server.key",
            "@GATEWAY1@": "%s:%s" % (gws[0], gateway_http_ports[gws[0]]),
            "@GATEWAY2@": "%s:%s" % (gws[1], gateway_http_ports[gws[1]]), "@ERROR_LOG@": "/dev/stderr"}
    want = []
    for line in tmpl.splitlines():
        if not line.startswith("#"):
            for k, v in fill.items():
                line = line.replace(k, v)
        want.append(line)
    got = [line for line in conf.splitlines()]
    if got[1:] != want:
        problem("deploy/compose/nginx.conf", "is not deploy/nginx/balancer.conf filled in for the compose services")
    nginx = services["nginx"]
    published = [p.split(":")[-1] for p in nginx.get("ports", [])]
    if "8443" not in published:
        problem(where0 + ": nginx", "does not publish the port balancer.conf listens on (8443)")
    for g in gws:
        checked["port"].add("nginx -> %s:%s" % (g, gateway_http_ports[g]))


# ------------------------------------------------------------------ kubernetes

def cpu_of(quantity):
    q = str(quantity)
    return int(q[:-1]) / 1000.0 if q.endswith("m") else float(q)


def check_threads(where, container, dump):
    """server.threads 0 is one loop per CPU the gateway may use (its affinity and its cgroup's
    quota, which a CPU limit is); a number above the limit runs loops that are throttled."""
    limit = container.get("resources", {}).get("limits", {}).get("cpu")
    if limit is None:
        return
    threads = dump.get("server", {}).get("threads", 0)
    cap = math.ceil(cpu_of(limit))
    checked["probe"].add("threads %s <= limits.cpu %s" % (threads, limit))
    if threads > cap:
        problem(where, "server.threads %s with limits.cpu %s: more loops than CPUs, throttled to the limit; set "
                       "threads to %d or 0" % (threads, limit, cap))


def check_kubernetes():
    kdir = os.path.join(DEPLOY, "kubernetes")
    docs = []
    for f in sorted(os.listdir(kdir)):
        if f.endswith(".yaml"):
            for d in yaml.safe_load_all(read(os.path.join(kdir, f))):
                docs.append(("deploy/kubernetes/" + f, d))
    by_kind = {}
    for where, d in docs:
        by_kind.setdefault(d["kind"], []).append((where, d))
    cms = {d["metadata"]["name"]: d for _, d in by_kind.get("ConfigMap", [])}
    if cms.get("sluice-config", {}).get("data", {}).get("sluice.yaml") != CFG_TEXT:
        problem("deploy/kubernetes/configmap.yaml", "sluice.yaml is not deploy/sluice.yaml as it is")
    deployments = {}
    for where, d in by_kind.get("Deployment", []):
        name = d["metadata"]["name"]
        deployments[name] = d
        where = "%s: %s" % (where, name)
        pod = d["spec"]["template"]["spec"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        if d["spec"]["selector"]["matchLabels"] != labels:
            problem(where, "selector does not match the pod labels")
        psc = pod.get("securityContext", {})
        if not psc.get("runAsNonRoot") or psc.get("runAsUser") != 10001:
            problem(where, "not runAsNonRoot with the image's user 10001")
        if "--uid 10001" not in read(os.path.join(SRC, "Dockerfile")):
            problem("Dockerfile", "the sluice user is not uid 10001")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            argv = c.get("command", []) + c.get("args", [])
            prog = program_of(argv[0])
            if prog is None:
                problem(where, "runs %s" % argv[0])
                continue
            config_paths = mounted_config_paths(where, c, volumes, cms)
            check_flags(where, prog, argv[1:], config_paths)
            env = secret_env(where, c)
            run_env = base_env()
            run_env.update(env)
            dump = config_dump(run_env)
            check_env(where, prog, env, gateway_only_env(dump))
            if prog == "sluice-gateway":
                config_check(where, run_env)
                check_threads(where, c, dump)
            ports = listening_ports(prog, dump)
            named = {}
            for p in c.get("ports", []):
                named[p.get("name")] = p["containerPort"]
                checked["port"].add("%s:%s" % (name, p["containerPort"]))
                if p["containerPort"] not in ports:
                    problem(where, "containerPort %s, but %s listens on %s" % (p["containerPort"], prog, sorted(ports)))
            probes = {k: c.get(k) for k in ("readinessProbe", "livenessProbe")}
            for k, pr in probes.items():
                if pr is None:
                    problem(where, "no %s" % k)
                    continue
                port = pr["httpGet"]["port"]
                check_probe(where + " " + k, prog, pr["httpGet"]["path"], named.get(port, port), dump)
            if prog == "sluice-gateway" and probes["readinessProbe"] and \
                    probes["readinessProbe"]["httpGet"]["path"] != "/readyz":
                problem(where, "readiness is not /readyz")
            if probes["livenessProbe"] and probes["livenessProbe"]["httpGet"]["path"] != "/healthz":
                problem(where, "liveness is not /healthz")
            sc = c.get("securityContext", {})
            if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False:
                problem(where, "root file system not read-only, or privilege escalation allowed")
            if prog == "sluice-gateway":
                pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
                sleep_s = int(pre[-1]) if pre and pre[0].endswith("sleep") else 0
                if not sleep_s:
                    problem(where, "no preStop sleep (the balancers must see the pod leave first)")
                drain_s = dump.get("server", {}).get("drain_timeout_ms", 10000) / 1000.0
                grace = pod.get("terminationGracePeriodSeconds", 30)
                checked["probe"].add("preStop %ss + drain %ss <= grace %ss" % (sleep_s, drain_s, grace))
                if grace < sleep_s + drain_s:
                    problem(where, "terminationGracePeriodSeconds %s < preStop %s s + drain_timeout_ms %s s"
                            % (grace, sleep_s, drain_s))
    for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if not by_kind.get(kind):
            problem("deploy/kubernetes", "no %s" % kind)
    for where, s in by_kind.get("Service", []):
        target = [d for d in deployments.values()
                  if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
                         for k, v in s["spec"]["selector"].items())]
        if len(target) != 1:
            problem(where, "Service %s selects %d Deployments" % (s["metadata"]["name"], len(target)))
            continue
        names = {p.get("name") for c in target[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        for p in s["spec"]["ports"]:
            if p["targetPort"] not in names:
                problem(where, "targetPort %s is no container port" % p["targetPort"])
    for where, h in by_kind.get("HorizontalPodAutoscaler", []):
        if h["spec"]["scaleTargetRef"]["name"] not in deployments:
            problem(where, "scales %s, which is not here" % h["spec"]["scaleTargetRef"]["name"])
    for where, p in by_kind.get("PodDisruptionBudget", []):
        sel = p["spec"]["selector"]["matchLabels"]
        if not any(d["spec"]["template"]["metadata"]["labels"] == sel for d in deployments.values()):
            problem(where, "selects no Deployment")
    workers = [n for n, d in deployments.items() if "sluice-deliver" in str(d)]
    if len(workers) < 2:
        problem("deploy/kubernetes", "a worker Deployment per vendor group expected")
    for where, j in by_kind.get("CronJob", []):
        check_cronjob("%s: %s" % (where, j["metadata"]["name"]), j, cms)
    if not by_kind.get("CronJob"):
        problem("deploy/kubernetes", "no CronJob pruning the vault's audit trail (docs/vault.md)")


def mounted_config_paths(where, c, volumes, cms):
    """The files the container sees of the ConfigMaps it mounts (each volume declared, each
    ConfigMap in deploy/kubernetes)."""
    paths = set()
    for vm in c.get("volumeMounts", []):
        checked["path"].add(vm["mountPath"])
        vol = volumes.get(vm["name"])
        if vol is None:
            problem(where, "mounts an undeclared volume %s" % vm["name"])
        elif "configMap" in vol:
            cm = cms.get(vol["configMap"]["name"])
            if cm is None:
                problem(where, "ConfigMap %s is not in deploy/kubernetes" % vol["configMap"]["name"])
            else:
                paths |= {vm["mountPath"] + "/" + k for k in cm["data"]}
    return paths


def secret_env(where, c):
    """The container's environment with each secretKeyRef replaced by the example's value."""
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        ref = e["valueFrom"]["secretKeyRef"]
        if ref["name"] != "sluice-secrets":
            problem(where, "secret %s: every secret comes from sluice-secrets" % ref["name"])
        if ref["key"] not in ENV_EXAMPLE:
            problem(where, "sluice-secrets key %s is not in deploy/compose/sluice.env.example "
                           "(from which docs/deploy.md creates the Secret)" % ref["key"])
        env[e["name"]] = ENV_EXAMPLE.get(ref["key"], "")
    return env


def check_cronjob(where, j, cms):
    """A sluicectl job (the vault audit prune): its argv is run through the real sluicectl against a
    database that refuses the connection, so a misspelt command, flag or value fails here with
    sluicectl's own message (exit 2) instead of at 03:15 in the cluster; it must get as far as
    connecting (exit 1, "cannot connect"). Its variables are ones sluicectl reads, from
    sluice-secrets, and it runs as the image's non-root user on a read-only root."""
    pod = j["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot") or psc.get("runAsUser") != 10001:
        problem(where, "not runAsNonRoot with the image's user 10001")
    if j["spec"].get("concurrencyPolicy") != "Forbid":
        problem(where, "concurrencyPolicy is not Forbid (a slow prune and the next day's would overlap)")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod["containers"]:
        argv = c.get("command", []) + c.get("args", [])
        if not argv or argv[0] != "/usr/bin/sluicectl":
            problem(where, "runs %s, not /usr/bin/sluicectl (Dockerfile: prefix /usr, bin)" % (argv[:1] or ["nothing"])[0])
            continue
        checked["path"].add(argv[0])
        config_paths = mounted_config_paths(where, c, volumes, cms)
        args = list(argv[1:])
        if "--config" not in args:
            problem(where, "sluicectl is not given --config")
            continue
        at = args.index("--config") + 1
        if at >= len(args) or args[at] not in config_paths:
            problem(where, "--config %s is not where the config is mounted (%s)"
                    % (args[at] if at < len(args) else "", sorted(config_paths)))
            continue
        args[at] = os.path.join(DEPLOY, "sluice.yaml")
        env = secret_env(where, c)
        for name in env:
            checked["env"].add(name)
            if name != "USER" and not binary_has("sluicectl", name):
                problem(where, "sluicectl is given %s, which it never reads" % name)
        if "SLUICE_DATABASE_URL" not in env:
            problem(where, "no SLUICE_DATABASE_URL: the job would prune the config's database.url")
        run_env = base_env()
        run_env.update(env)
        run_env["SLUICE_DATABASE_URL"] = "postgresql://check@127.0.0.1:1/sluice?connect_timeout=2"
        r = subprocess.run([BINARIES["sluicectl"]] + args, capture_output=True, text=True, env=run_env, timeout=60)
        checked["flag"].add("sluicectl " + " ".join(a for a in argv[1:] if not a.startswith("/")))
        if r.returncode != 1 or "cannot connect" not in r.stderr:
            problem(where, "sluicectl %s: %s" % (" ".join(argv[1:]), (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[0]))
        res = c.get("resources", {})
        if not res.get("limits", {}).get("memory"):
            problem(where, "no memory limit")
        sc = c.get("securityContext", {})
        if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False:
            problem(where, "root file system not read-only, or privilege escalation allowed")


# ------------------------------------------------------------------ Dockerfile examples

def dockerfile_examples(text):
    """The `docker run` commands in the Dockerfile's opening comment, continuations joined."""
    cmds, buf = [], ""
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        line = line[1:].strip()
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        line, buf = buf + line, ""
        if line.startswith("docker run "):
            cmds.append(shlex.split(line)[2:])
    return cmds


def example_value(name, certs):
    """A stand-in for the value a bare `-e NAME` takes from the operator's shell."""
    if name.endswith("_KEY") and "WRITE_KEY" not in name:
        return os.urandom(32).hex()  # ENCRYPTION_KEY, an fpe key: 64 hex digits
    return "docker-example-" + name.lower()


def check_dockerfile():
    where0 = "Dockerfile"
    text = read(os.path.join(SRC, "Dockerfile"))
    if "cp -r config/examples/. /out/etc/sluice/" not in text:
        problem(where0, "the image no longer carries config/examples in /etc/sluice (the examples run it)")
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    examples = dockerfile_examples(text)
    if len(examples) < 2:
        problem(where0, "expected a `docker run` example for sluice-gateway and one for sluice-deliver")
    certs = tempfile.mkdtemp(prefix="sluice-deploy-check.")
    r = subprocess.run([os.path.join(SRC, "scripts", "certs.sh"), certs], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        problem(where0, "scripts/certs.sh failed: " + r.stderr.strip())
        return
    for args in examples:
        env, entrypoint, i = {}, None, 0
        while i < len(args) and args[i].startswith("-"):
            opt, val = args[i], args[i + 1] if i + 1 < len(args) else ""
            if opt == "-e":
                name, eq, value = val.partition("=")
                if value.startswith("/tls/"):
                    value = os.path.join(certs, value[len("/tls/"):])
                env[name] = value if eq else example_value(name, certs)
            elif opt == "--entrypoint":
                entrypoint = val
            i += 1 if opt == "--rm" else 2
        argv = ([entrypoint] if entrypoint else entry) + (args[i + 1:] or cmd)
        prog = os.path.basename(argv[0])
        where = "%s: docker run ... %s" % (where0, " ".join(argv))
        if prog not in ("sluice-gateway", "sluice-deliver"):
            problem(where, "runs %s" % argv[0])
            continue
        config = argv[argv.index("--config") + 1] if "--config" in argv else None
        if config is None or not config.startswith("/etc/sluice/"):
            problem(where, "no --config in /etc/sluice, where the image has the examples")
            continue
        path = os.path.join(SRC, "config", "examples", config[len("/etc/sluice/"):])
        for name in env:
            checked["env"].add(name)
            if not binary_has(prog, name) and name not in read(path) + "".join(
                    read(os.path.join(SRC, "config", "examples", "orgs", f))
                    for f in os.listdir(os.path.join(SRC, "config", "examples", "orgs"))):
                problem(where, "%s is given %s, which neither it nor the example config reads" % (prog, name))
        run_env = base_env()
        run_env.update(env)
        r = subprocess.run([BINARIES["sluicectl"], "config", "check", "--secrets", path], capture_output=True,
                           text=True, env=run_env, timeout=30)
        if prog == "sluice-gateway" and (r.returncode != 0 or "is not set" in r.stderr):
            problem(where, "sluicectl config check --secrets with the example's variables: " + r.stderr.strip())
        if prog == "sluice-deliver" and "ENCRYPTION_KEY" not in env:
            problem(where, "sluice-deliver refuses to start without ENCRYPTION_KEY, which the example does not give")
        r = subprocess.run([BINARIES["sluicectl"], "config", "dump", path], capture_output=True, text=True,
                           env=run_env, timeout=30)
        dump = json.loads(r.stdout) if r.returncode == 0 else {}
        addrs = {"SLUICE_KAFKA_BROKERS": dump.get("kafka", {}).get("brokers")}
        if prog == "sluice-gateway":
            addrs["SLUICE_REDIS_URL"] = dump.get("redis", {}).get("url")
        else:
            addrs["SLUICE_DATABASE_URL"] = dump.get("database", {}).get("url")
        for var, addr in addrs.items():
            if addr is None or re.search(r"(^|[@/,])(127\.0\.0\.1|localhost)\b", addr):
                problem(where, "%s is not given: the example config's %s is the container itself" % (var, addr))
    subprocess.run(["rm", "-rf", certs])


def check_docs():
    readme = read(os.path.join(SRC, "README.md"))
    if "docs/deploy.md" not in readme:
        problem("README.md", "does not link docs/deploy.md")
    doc = read(os.path.join(SRC, "docs", "deploy.md"))
    for f in ["deploy/compose.yaml", "deploy/sluice.yaml", "deploy/nginx/balancer.conf",
              "deploy/compose/sluice.env.example"] + \
             ["deploy/kubernetes/" + f for f in sorted(os.listdir(os.path.join(DEPLOY, "kubernetes")))]:
        if f not in doc:
            problem("docs/deploy.md", "does not mention %s" % f)


for prog, path in BINARIES.items():
    if not os.access(path, os.X_OK):
        print("check.py: %s not built at %s" % (prog, path), file=sys.stderr)
        sys.exit(1)
check_compose()
check_kubernetes()
check_dockerfile()
check_docs()
for p in problems:
    print(p)
print("deploy check: %d env vars, %d ports, %d paths, %d flags, %d probes checked; %d problems" % (
    len(checked["env"]), len(checked["port"]), len(checked["path"]), len(checked["flag"]), len(checked["probe"]),
    len(problems)))
sys.exit(1 if problems else 0)
