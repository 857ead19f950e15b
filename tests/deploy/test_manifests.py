"""Static checks of deploy/: the Dockerfile, compose.yaml, node.env.example and the Kubernetes
manifests. Nothing here needs Docker or a cluster: the YAML is parsed, every ``yiwang`` command
line is resolved against the real click command tree (and parsed by the command itself), every
environment variable is checked against the documented settings, and the example settings are
fed to ``Settings.from_env``."""
from __future__ import annotations

import ast
import fnmatch
import importlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any, Iterator

import click
import pytest
import yaml
from click.testing import CliRunner

import federation.plugin
import federation.runtime
import node.config
from node.cli import main
from node.config import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DATA_DIR = "/var/lib/yiwang"
APP_LABEL = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
# workload name -> component label
WORKLOADS = {"yiwang-api": "api", "yiwang-worker": "worker", "yiwang-federation": "federation",
             "yiwang-migrate": "migrate"}
ALWAYS_ALLOWED_ENV = {"DATABASE_URL", "CELERY_BROKER_URL"}


# --- loading ---------------------------------------------------------------------------------

def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


def load_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d is not None]


def k8s_objects() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml" for d in load_docs(p)]


def k8s_by(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in k8s_objects() if d["kind"] == kind}


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))


def yiwang_services() -> dict[str, dict[str, Any]]:
    """Compose services that run the yiwang image (the ones built from deploy/Dockerfile)."""
    return {n: s for n, s in compose()["services"].items() if "build" in s}


def env_example() -> tuple[dict[str, str], set[str]]:
    """node.env.example: the assigned values, and every name it documents (assigned or commented)."""
    values: dict[str, str] = {}
    documented: set[str] = set()
    for line in (DEPLOY / "node.env.example").read_text("utf-8").splitlines():
        m = re.fullmatch(r"\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line)
        if m:
            documented.add(m.group(2))
            if not m.group(1):
                values[m.group(2)] = m.group(3).strip()
    return values, documented


_INTERP = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(s: str, env: dict[str, str]) -> str:
    """Compose interpolation as far as compose.yaml uses it: ${X}, ${X:-default}, ${X:?error}, $$."""
    def sub(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?") and not value and (op == ":?" or value is None):
            raise AssertionError(f"compose.yaml needs {name}: {arg}")
        return value or ""
    return _INTERP.sub(sub, s.replace("$$", "\0")).replace("\0", "$")


def containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workload name, pod spec, container) of every container and init container."""
    for _, d in k8s_objects():
        if d["kind"] in WORKLOAD_KINDS:
            pod = d["spec"]["template"]["spec"]
            for c in pod.get("initContainers", []) + pod["containers"]:
                yield d["metadata"]["name"], pod, c


def documented_env() -> set[str]:
    """Variables documented by node/config.py (its table), federation/runtime.py or federation/plugin.py."""
    text = (node.config.__doc__ or "") + "".join(Path(m.__file__).read_text("utf-8")
                                                 for m in (federation.runtime, federation.plugin))
    return set(re.findall(r"\b(YIWANG_[A-Z0-9_]+)\b", text)) | ALWAYS_ALLOWED_ENV


# --- Dockerfile ------------------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in (DEPLOY / "Dockerfile").read_text("utf-8").splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        instr, _, args = buf.strip().partition(" ")
        out.append((instr.upper(), args.strip()))
        buf = ""
    return out


def instructions(name: str) -> list[str]:
    return [a for i, a in dockerfile() if i == name]


def dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path (or a parent directory of it) decides."""
    patterns = [ln.strip() for ln in (DEPLOY / "Dockerfile.dockerignore").read_text("utf-8").splitlines()
                if ln.strip() and not ln.strip().startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        alts = [p, p[3:], "*/" + p[3:]] if p.startswith("**/") else [p]
        if any(fnmatch.fnmatchcase(x, a) and (a != "*" or "/" not in x) for x in prefixes for a in alts):
            excluded = not neg
    return excluded


# --- yiwang command lines --------------------------------------------------------------------

def command_lines() -> list[tuple[str, list[str]]]:
    """Every yiwang invocation deploy/ makes, as argv after the ``yiwang`` entry point, with the
    compose ${...} and Kubernetes $(...) references filled from the example settings."""
    out: list[tuple[str, list[str]]] = []
    entry = json.loads(instructions("ENTRYPOINT")[-1])
    assert entry == ["yiwang"]
    out.append(("Dockerfile CMD", json.loads(instructions("CMD")[-1])))
    values, _ = env_example()
    for name, svc in yiwang_services().items():
        out.append((f"compose {name}", [interpolate(str(a), values) for a in svc["command"]]))
    cm = k8s_by("ConfigMap")["yiwang-config"]["data"]
    for wl, _, c in containers():
        assert c.get("command") == ["yiwang"], f"{wl}/{c['name']} must run the yiwang entry point"
        args = [re.sub(r"\$\(([A-Z0-9_]+)\)", lambda m: cm[m.group(1)], a) for a in c["args"]]
        out.append((f"k8s {wl}/{c['name']}", args))
    return out


def resolve(argv: list[str]) -> tuple[list[str], click.Command, list[str]]:
    cmd: click.Command = main
    path: list[str] = []
    rest = list(argv)
    while isinstance(cmd, click.Group):
        assert rest, f"'yiwang {' '.join(path)}' is a group: a subcommand is missing"
        name = rest.pop(0)
        sub = cmd.get_command(click.Context(cmd), name)
        assert sub is not None, f"'yiwang {' '.join(path + [name])}' does not exist"
        path.append(name)
        cmd = sub
    return path, cmd, rest


# --- parsing, objects, kustomization -----------------------------------------------------------

@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    assert load_docs(path), f"{path.name} holds no YAML document"
    assert str(ROOT) not in path.read_text("utf-8"), "no absolute paths of the build machine"


def test_every_k8s_object_is_complete_and_labelled() -> None:
    objs = k8s_objects()
    assert objs
    for path, d in objs:
        where = f"{path.name}: {d.get('kind')}/{d.get('metadata', {}).get('name')}"
        assert d.get("apiVersion") and d.get("kind"), where
        assert d.get("metadata", {}).get("name"), where
        assert d["metadata"].get("labels", {}).get(APP_LABEL) == "yiwang", where
        assert d["metadata"].get("namespace") in (None, "yiwang"), f"{where}: the namespace comes from kustomization"


def test_kustomization_lists_every_manifest() -> None:
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text("utf-8"))
    assert k["kind"] == "Kustomization" and k["namespace"] == "yiwang"
    listed = k["resources"]
    assert len(listed) == len(set(listed))
    on_disk = {p.name for p in K8S.iterdir() if p.suffix in (".yaml", ".yml") and p.name != "kustomization.yaml"}
    assert set(listed) == on_disk
    assert [i["name"] for i in k["images"]] == ["yiwang"]
    names = {d["metadata"]["name"] for _, d in k8s_objects() if d["kind"] == "Namespace"}
    assert names == {k["namespace"]}


def test_workloads_components_and_selectors() -> None:
    workloads = {d["metadata"]["name"]: d for _, d in k8s_objects() if d["kind"] in WORKLOAD_KINDS}
    assert set(workloads) == set(WORKLOADS)
    assert workloads["yiwang-api"]["kind"] == "Deployment"
    assert workloads["yiwang-worker"]["kind"] == "Deployment"
    assert workloads["yiwang-federation"]["kind"] == "StatefulSet"
    assert workloads["yiwang-migrate"]["kind"] == "Job"
    for name, d in workloads.items():
        comp = WORKLOADS[name]
        tpl = d["spec"]["template"]["metadata"]["labels"]
        assert d["metadata"]["labels"][COMPONENT] == comp
        assert tpl[APP_LABEL] == "yiwang" and tpl[COMPONENT] == comp
        if d["kind"] != "Job":
            sel = d["spec"]["selector"]["matchLabels"]
            assert sel == {APP_LABEL: "yiwang", COMPONENT: comp}
            assert sel.items() <= tpl.items()
    assert workloads["yiwang-api"]["spec"]["replicas"] == 2
    assert workloads["yiwang-worker"]["spec"]["replicas"] == 1  # one Celery beat
    assert workloads["yiwang-federation"]["spec"]["replicas"] == 1  # one uplink per node


def test_services_select_their_workloads() -> None:
    services = k8s_by("Service")
    pods = {d["metadata"]["name"]: d["spec"]["template"] for _, d in k8s_objects() if d["kind"] in WORKLOAD_KINDS}
    expected = {"yiwang-api": ("api", 8000), "yiwang-federation": ("federation", 7000),
                "yiwang-federation-headless": ("federation", 7000)}
    assert set(services) == set(expected)
    for name, (comp, port) in expected.items():
        spec = services[name]["spec"]
        matched = [w for w, t in pods.items() if spec["selector"].items() <= t["metadata"]["labels"].items()]
        assert matched == [f"yiwang-{comp}"], name
        (p,) = spec["ports"]
        assert p["port"] == port
        cports = [cp for c in pods[matched[0]]["spec"]["containers"] for cp in c.get("ports", [])]
        assert any(cp.get("name") == p["targetPort"] or cp["containerPort"] == p["targetPort"] for cp in cports)
        assert any(cp["containerPort"] == port for cp in cports)
    assert services["yiwang-api"]["spec"]["type"] == "ClusterIP"
    assert services["yiwang-federation-headless"]["spec"]["clusterIP"] == "None"
    sts = k8s_by("StatefulSet")["yiwang-federation"]
    assert sts["spec"]["serviceName"] in services


# --- commands ----------------------------------------------------------------------------------

@pytest.mark.parametrize("where,argv", command_lines(), ids=[w for w, _ in command_lines()])
def test_commands_exist_and_parse(where: str, argv: list[str]) -> None:
    path, cmd, rest = resolve(argv)
    r = CliRunner().invoke(main, [*path, "--help"])
    assert r.exit_code == 0 and "Usage:" in r.output, r.output
    with cmd.make_context(path[-1], list(rest)) as ctx:  # the command's own parser accepts them
        assert not ctx.args, f"{where}: unexpected arguments {ctx.args}"


def test_the_expected_processes_are_deployed() -> None:
    by_where = {w: resolve(a)[0] for w, a in command_lines()}
    assert by_where["Dockerfile CMD"] == ["node", "run"]
    assert by_where["compose migrate"] == ["db", "upgrade"]
    assert by_where["compose api"] == ["node", "run"]
    assert by_where["compose worker"] == ["worker"]
    assert by_where["compose federation"] == ["federation", "serve"]
    assert by_where["k8s yiwang-migrate/migrate"] == ["db", "upgrade"]
    assert by_where["k8s yiwang-api/api"] == ["node", "run"]
    assert by_where["k8s yiwang-worker/worker"] == ["worker"]
    assert by_where["k8s yiwang-federation/federation"] == ["federation", "serve"]
    # Only the migration step upgrades the schema; concurrent upgrades would race.
    for w, a in command_lines():
        if resolve(a)[0] == ["node", "run"] and w != "Dockerfile CMD":
            assert "--no-migrate" in a, w
    compose_fed = compose()["services"]["federation"]["command"]
    assert compose_fed[compose_fed.index("--listen") + 1] == "0.0.0.0:7000"
    assert "${YIWANG_PARENT_ADDR" in compose_fed[compose_fed.index("--parent") + 1]


def test_images_are_the_yiwang_image() -> None:
    for name, svc in yiwang_services().items():
        assert svc["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
        assert interpolate(svc["image"], {}).split(":")[0] == "yiwang", name
    for wl, _, c in containers():
        assert c["image"].split(":")[0] == "yiwang", wl  # kustomization's `images` sets the registry
    assert (ROOT / yiwang_services()["api"]["build"]["dockerfile"]).is_file()


# --- environment ---------------------------------------------------------------------------------

def test_every_env_var_is_documented() -> None:
    documented = documented_env()
    values, in_example = env_example()
    compose_text = (DEPLOY / "compose.yaml").read_text("utf-8")
    # Variables used only to build a command line (--parent) rather than read by yiwang.
    k8s_command_vars = {v for _, _, c in containers() for a in c["args"] for v in re.findall(r"\$\(([A-Z0-9_]+)\)", a)}
    compose_command_vars = {m.group(1) for s in yiwang_services().values() for a in s["command"]
                            for m in _INTERP.finditer(str(a))}
    names: dict[str, str] = {}
    for svc_name, svc in yiwang_services().items():
        for k in svc["environment"]:
            names[k] = f"compose {svc_name}"
    for cm in k8s_by("ConfigMap").values():
        for k in cm["data"]:
            names.setdefault(k, "ConfigMap")
    for sec in k8s_by("Secret").values():
        for k in {**sec.get("data", {}), **sec.get("stringData", {})}:
            names.setdefault(k, "Secret")
    for wl, _, c in containers():
        for e in c.get("env", []):
            names.setdefault(e["name"], wl)
    assert names
    for name, where in names.items():
        if name in documented:
            continue
        assert name in k8s_command_vars, f"{name} ({where}) is neither a documented setting nor a command-line value"
        assert name in in_example, f"{name} must be explained in node.env.example"
    # compose: every ${...} is documented in node.env.example, and the example holds nothing unused
    used = {m.group(1) for m in _INTERP.finditer(compose_text)}
    assert used - in_example == set()
    assert in_example - used - documented - {"COMPOSE_PROFILES"} == set()
    assert compose_command_vars <= in_example
    assert values["YIWANG_ID_HASH_KEY"].startswith("CHANGE-ME")


def test_env_from_refers_to_defined_objects() -> None:
    cms, secrets = set(k8s_by("ConfigMap")), set(k8s_by("Secret"))
    for wl, _, c in containers():
        refs = c.get("envFrom", [])
        assert {r["configMapRef"]["name"] for r in refs if "configMapRef" in r} == cms == {"yiwang-config"}, wl
        assert {r["secretRef"]["name"] for r in refs if "secretRef" in r} == secrets == {"yiwang-secrets"}, wl


def test_example_settings_are_accepted_by_the_node() -> None:
    cm = k8s_by("ConfigMap")["yiwang-config"]["data"]
    sec = k8s_by("Secret")["yiwang-secrets"]["stringData"]
    s = Settings.from_env({**cm, **sec})
    assert str(s.data_dir) == DATA_DIR and s.database_url.startswith("postgresql+psycopg://")
    assert s.broker_url and s.broker_url.startswith("redis://")
    values, _ = env_example()
    for name, svc in yiwang_services().items():
        env = {k: interpolate(str(v), values) for k, v in svc["environment"].items()}
        s = Settings.from_env(env)
        assert s.node_id == values["YIWANG_NODE_ID"] and str(s.data_dir) == DATA_DIR, name
        assert s.database_url == (f"postgresql+psycopg://{values['POSTGRES_USER']}:{values['POSTGRES_PASSWORD']}"
                                  f"@postgres:5432/{values['POSTGRES_DB']}")
        assert s.broker_url == "redis://redis:6379/0"


def test_secret_example_holds_only_placeholders() -> None:
    (sec,) = k8s_by("Secret").values()
    assert "data" not in sec, "use stringData placeholders, never encoded values"
    data = sec["stringData"]
    assert {"DATABASE_URL", "YIWANG_ID_HASH_KEY"} <= set(data)
    for k, v in data.items():
        assert v == "" or "CHANGE-ME" in v, k
    text = (K8S / "secret.example.yaml").read_text("utf-8")
    assert "EXAMPLE ONLY" in text


# --- probes and health checks ----------------------------------------------------------------------

def _python_snippets() -> list[tuple[str, str]]:
    out = []
    for name, svc in compose()["services"].items():
        test = svc.get("healthcheck", {}).get("test", [])
        if test[:3] == ["CMD", "python", "-c"]:
            out.append((f"compose {name}", test[3]))
    for wl, _, c in containers():
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            cmd = c.get(probe, {}).get("exec", {}).get("command", [])
            if cmd[:2] == ["python", "-c"]:
                out.append((f"k8s {wl} {probe}", cmd[2]))
    out.append(("Dockerfile HEALTHCHECK", json.loads(instructions("HEALTHCHECK")[-1].split(" CMD ", 1)[1])[2]))
    return out


def test_http_probes_ready_on_readyz_and_live_on_healthz() -> None:
    """Readiness asks the dependencies (/readyz); liveness only the process (/healthz), so a
    database outage takes pods out of the service without restarting them all."""
    http_probes = 0
    for wl, _, c in containers():
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")):
            http = c.get(probe, {}).get("httpGet")
            if http:
                http_probes += 1
                assert http["path"] == path, (wl, probe)
                assert ports.get(http["port"], http["port"]) == 8000, (wl, probe)
    assert http_probes >= 2
    api = next(c for wl, _, c in containers() if wl == "yiwang-api")
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    fed = next(c for wl, _, c in containers() if wl == "yiwang-federation")
    assert fed["readinessProbe"]["tcpSocket"]["port"] == "grpc"  # mTLS gRPC: no HTTP to ask
    assert "127.0.0.1:8000/readyz" in " ".join(compose()["services"]["api"]["healthcheck"]["test"])
    assert "127.0.0.1:8000/healthz" in instructions("HEALTHCHECK")[-1]


def test_compose_health_and_start_order() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "worker", "federation"):
        assert services[name]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                                "redis": {"condition": "service_healthy"},
                                                "migrate": {"condition": "service_completed_successfully"}}, name
    for name, svc in services.items():
        if name != "migrate":
            assert svc["healthcheck"]["test"], name
    for name, svc in yiwang_services().items():
        assert f"yiwang-data:{DATA_DIR}" in svc["volumes"], name
        assert svc["environment"]["YIWANG_DATA_DIR"] == DATA_DIR
    assert "yiwang-data" in compose()["volumes"]


@pytest.mark.parametrize("where,code", _python_snippets(), ids=[w for w, _ in _python_snippets()])
def test_health_check_snippets_compile_and_import(where: str, code: str) -> None:
    tree = ast.parse(code)
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            for a in n.names:
                assert importlib.util.find_spec(a.name) is not None, f"{where}: no module {a.name}"
        elif isinstance(n, ast.ImportFrom):
            mod = importlib.import_module(n.module or "")
            for a in n.names:
                assert hasattr(mod, a.name), f"{where}: {n.module} has no {a.name}"


# --- security and resources ---------------------------------------------------------------------------

def test_pods_run_as_non_root_with_limits() -> None:
    user = instructions("USER")[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0
    for wl, pod, c in containers():
        assert pod["securityContext"]["runAsNonRoot"] is True, wl
        assert pod["securityContext"]["runAsUser"] == int(user), wl
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, wl
        res = c["resources"]
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(res[part]), (wl, part)
        # a read-only root filesystem needs a writable /tmp
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        assert "emptyDir" in vols[mounts["/tmp"]], wl


def test_federation_identity_is_persistent_and_shared_with_the_api() -> None:
    pvcs = k8s_by("PersistentVolumeClaim")
    claims = {}
    for wl, pod, c in containers():
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        if DATA_DIR in mounts:
            claims[wl] = vols[mounts[DATA_DIR]].get("persistentVolumeClaim", {}).get("claimName")
    assert claims["yiwang-federation"] in pvcs  # keys under YIWANG_DATA_DIR/federation survive restarts
    assert claims["yiwang-api"] == claims["yiwang-federation"]  # the API signs with the same identity
    assert "ReadWriteMany" in pvcs[claims["yiwang-api"]]["spec"]["accessModes"]
    sts_text = (K8S / "statefulset-federation.yaml").read_text("utf-8")
    assert "Secret" in sts_text and "YIWANG_DATA_DIR/federation" in sts_text  # the why is written down


# --- Dockerfile ------------------------------------------------------------------------------------

def test_dockerfile() -> None:
    froms = instructions("FROM")
    assert froms and all(f.split()[0] == "python:3.11-slim" for f in froms)
    assert any(re.search(r"pip install \.(\s|$)", r) for r in instructions("RUN"))
    assert json.loads(instructions("ENTRYPOINT")[-1]) == ["yiwang"]
    assert json.loads(instructions("CMD")[-1]) == ["node", "run", "--host", "0.0.0.0", "--port", "8000"]
    assert instructions("USER")[-1] not in ("root", "0", "0:0")
    assert json.loads(instructions("VOLUME")[-1]) == [DATA_DIR]
    assert f"YIWANG_DATA_DIR={DATA_DIR}" in " ".join(instructions("ENV"))
    assert "/healthz" in instructions("HEALTHCHECK")[-1]
    assert "8000" in instructions("EXPOSE")[-1].split()


def test_build_context_keeps_what_pip_needs() -> None:
    for needed in ("pyproject.toml", "README.md", "node/cli.py", "node/persistence/migrations/env.py",
                   "node/domain/data/cn-public-holidays.json", "federation/pb/v1/federation_pb2.py"):
        assert (ROOT / needed).exists(), needed
        assert not dockerignored(needed), needed
    for dropped in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", "var/demo/yiwang.db", "bench/intake.py",
                    "node/__pycache__/cli.cpython-311.pyc", "deploy/compose.yaml"):
        assert dockerignored(dropped), dropped
    for src in instructions("COPY"):
        if not src.startswith("--from"):
            assert src.split()[0] == ".", "the build copies the filtered context"
