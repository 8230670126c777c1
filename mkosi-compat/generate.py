#!/usr/bin/env python3
"""Writes mkosi-compat/corpus/<case>/expected.json: what mkosi 14 itself resolves for each case.

For every case directory, a copy is made in a temporary directory and mkosi 14's own parser is run
there (cwd = the copy, since mkosi 14 reads drop-ins from the shell's directory), with the case's
`args` file (one command-line argument per line) before the verb `summary`. mkosi's attribute names
are turned into kiln's key names with a mapping exported from kiln's settings table, and values into
kiln's JSON conventions (see README.md). Host-dependent values become placeholders ($CASE, $HOST_…,
$MKOSI_DEFAULT_MIRROR for Debian's default mirror, which is the archive this machine's own apt uses)
so that the stored files are machine-independent and name no host the machine reaches.

    python3 mkosi-compat/generate.py            # rewrite every expected.json
    python3 mkosi-compat/generate.py --check    # exit 1 if a stored file differs from mkosi 14
    python3 mkosi-compat/generate.py CASE…      # only these cases

Needs mkosi 14 (apt-get install mkosi) and a compiled kiln (npx tsc -p .).
"""
import argparse
import concurrent.futures
import enum
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
MKOSI_MODULE_DIR = "/usr/lib/python3/dist-packages"
# The environment both mkosi (here) and kiln (in test/compat/corpus.test.ts) resolve in: a PATH where
# no tool is found (so tool-dependent defaults do not depend on the machine) and one variable that
# Environment=NAME passes through.
ENVIRONMENT = {"PATH": "/nonexistent/kiln-compat", "KILN_COMPAT_FROM_HOST": "passed through"}
PLACEHOLDER_CASE = "$CASE"
PLACEHOLDER_MIRROR = "$MKOSI_DEFAULT_MIRROR"
NOT_COPIED = ("expected.json", "args")


def read_args(case_dir: Path) -> list:
    """The case's extra command line: one argument per line; blank lines and # comments are skipped."""
    file = case_dir / "args"
    if not file.exists():
        return []
    return [line for line in file.read_text().split("\n") if line.strip() and not line.startswith("#")]


# ---------------------------------------------------------------------------------------------------
# Child mode: runs inside the copied case directory, imports mkosi and prints its resolved values.


def resolve_here(args: list) -> dict:
    sys.path.insert(0, MKOSI_MODULE_DIR)
    import mkosi  # noqa: E402  (only importable after the path is set)

    host = {"used_distribution": False, "used_release": False}
    real_detect = mkosi.detect_distribution

    def load_distribution(ns):
        # mkosi 14's load_distribution(), recording whether the host's values were taken.
        if ns.distribution is not None and not isinstance(ns.distribution, mkosi.Distribution):
            ns.distribution = mkosi.Distribution[ns.distribution]
        if ns.distribution is None or ns.release is None:
            d, r = real_detect()
            if ns.distribution is None:
                ns.distribution = d
                host["used_distribution"] = True
            if ns.distribution == d and ns.release is None:
                ns.release = r
                host["used_release"] = True
        if ns.distribution is None:
            mkosi.die("Couldn't detect distribution.")
        return ns

    mkosi.load_distribution = load_distribution
    namespace = mkosi.parse_args(args + ["summary"])["default"]
    mirror_is_default = namespace.mirror is None
    config = mkosi.load_args(namespace)

    cwd = os.getcwd()

    def plain(value):
        if isinstance(value, enum.Enum):
            return str(value)
        if isinstance(value, Path):
            return os.path.join(cwd, value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    values = {name: plain(value) for name, value in vars(config).items()}
    return {
        "values": values,
        "cwd": cwd,
        "mirrorIsDefault": mirror_is_default,
        "hostDistribution": host["used_distribution"],
        "hostRelease": host["used_release"],
        "hostArchitecture": __import__("platform").machine(),
        "hostKvm": mkosi.qemu_check_kvm_support(),
    }


# ---------------------------------------------------------------------------------------------------
# Parent mode.


def kiln_table() -> list:
    result = subprocess.run(
        ["node", str(HERE / "table.mjs")], check=True, capture_output=True, text=True, cwd=HERE.parent
    )
    return json.loads(result.stdout)


def run_mkosi(case_dir: Path) -> dict:
    # mkosi 14 is imported once, here, and each case resolved in a fork of this process: importing it
    # costs more CPU than resolving a case, and a fork starts each case from the same clean state.
    with tempfile.TemporaryDirectory(prefix="kiln-compat-") as tmp:
        work = Path(os.path.realpath(tmp)) / case_dir.name
        shutil.copytree(case_dir, work, symlinks=True, ignore=shutil.ignore_patterns(*NOT_COPIED))
        args = read_args(case_dir)
        errors = Path(tmp) / "stderr"
        out_read, out_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(out_read)
                err_fd = os.open(errors, os.O_WRONLY | os.O_CREAT, 0o600)
                os.dup2(err_fd, 2)
                os.chdir(work)
                os.environ.clear()
                os.environ.update(ENVIRONMENT)
                data = json.dumps(resolve_here(args)).encode()
                with os.fdopen(out_write, "wb") as out:
                    out.write(data)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) and e.code else 1
            except BaseException:
                __import__("traceback").print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        os.close(out_write)
        with os.fdopen(out_read, "rb") as out_file:
            stdout = out_file.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            stderr = errors.read_text(errors="replace").strip() if errors.exists() else ""
            raise SystemExit(f"{case_dir.name}: mkosi 14 refused the case:\n{stderr}")
        return json.loads(stdout)


# Parsed by mkosi 14, then deleted from its configuration with a deprecation warning.
DROPPED_BY_LOAD_ARGS = {"boot_protocols"}


def to_kiln_json(table: list, resolved: dict) -> dict:
    values = resolved["values"]
    cwd = resolved["cwd"]
    distribution = values["distribution"]
    release = values["release"]
    subdir_from = f"/{distribution}~{release}"
    subdir_to = "/{}~{}".format(
        "$HOST_DISTRIBUTION" if resolved["hostDistribution"] else distribution,
        "$HOST_RELEASE" if resolved["hostRelease"] else release,
    )

    def machine_independent(value):
        if isinstance(value, str):
            if value == cwd or value.startswith(cwd + "/"):
                value = PLACEHOLDER_CASE + value[len(cwd):]
            return value.replace(subdir_from, subdir_to)
        if isinstance(value, list):
            return [machine_independent(v) for v in value]
        if isinstance(value, dict):
            return {k: machine_independent(v) for k, v in value.items()}
        return value

    expected = {}
    for row in table:
        dest = row["mkosi"]
        if not dest or dest in DROPPED_BY_LOAD_ARGS:
            continue  # kiln-only keys, and mkosi 14's that it parses but keeps no value of
        if dest not in values:
            raise SystemExit(f"kiln's table maps {row['key']}= to mkosi attribute {dest!r}, which mkosi 14 does not have")
        value = values[dest]
        key = row["key"]
        if row["metavar"] == "BYTES" and value == 0:
            value = None  # mkosi 14 gives 0 for an unset size; kiln gives null
        elif row["kind"] == "list" and value is None:
            value = []
        elif key == "Password" and value is not None:
            value = "(hidden)"  # kiln never prints secrets
        elif key == "Mirror" and resolved["mirrorIsDefault"] and value is not None and distribution == "debian":
            # Debian's default is the archive this machine's apt reaches: its host name stays out of
            # the repository. The other distributions' defaults are stored as they are.
            value = PLACEHOLDER_MIRROR
        elif key == "Distribution" and resolved["hostDistribution"]:
            value = "$HOST_DISTRIBUTION"
        elif key == "Release" and resolved["hostRelease"]:
            value = "$HOST_RELEASE"
        elif key == "Architecture" and value == resolved["hostArchitecture"]:
            value = "$HOST_ARCH"
        elif key == "QemuKvm" and value == resolved["hostKvm"]:
            value = "$HOST_KVM"
        expected[key] = machine_independent(value)
    return expected


def render(expected: dict) -> str:
    return json.dumps(expected, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--resolve-here":
        rest = sys.argv[2:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        print(json.dumps(resolve_here(rest)))
        return 0

    parser = argparse.ArgumentParser(description="Record what mkosi 14 resolves for the compat corpus.")
    parser.add_argument("--check", action="store_true", help="compare with the stored files instead of writing them")
    parser.add_argument("cases", nargs="*", help="case directory names (default: all)")
    options = parser.parse_args()

    table = kiln_table()
    sys.path.insert(0, MKOSI_MODULE_DIR)
    import mkosi  # noqa: F401,E402  (imported before the forks, which share it)

    names = options.cases or sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    stale = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = dict(zip(names, pool.map(lambda name: run_mkosi(CORPUS / name), names)))
    for name in names:
        text = render(to_kiln_json(table, results[name]))
        target = CORPUS / name / "expected.json"
        if options.check:
            stored = json.loads(target.read_text()) if target.exists() else None
            if stored != json.loads(text):
                keys = sorted(k for k in json.loads(text) if stored is None or stored.get(k) != json.loads(text)[k])
                stale.append(f"{name}: {', '.join(keys) if stored is not None else 'expected.json is missing'}")
        elif not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"wrote {target.relative_to(HERE.parent)}")
    if stale:
        print("expected.json differs from what mkosi 14 resolves (run python3 mkosi-compat/generate.py):", file=sys.stderr)
        for line in stale:
            print(f"  {line}", file=sys.stderr)
        return 1
    if options.check:
        print(f"{len(names)} cases match mkosi 14")
    return 0


if __name__ == "__main__":
    sys.exit(main())
