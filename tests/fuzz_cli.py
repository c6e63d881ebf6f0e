"""A bounded, seeded fuzz of every command that reads a file (issue 13).

Each mutant — example records, FHIR Bundles, NDJSON exports and cohort CSVs changed at the byte
level (flips, cuts, insertions, surrogate and invalid UTF-8 bytes) and at the JSON level (a value
replaced by a hostile one: deep nesting, huge numbers, NaN, NUL and lone-surrogate escapes, dates
in year 1 or 9999, a JSON string holding the record, a list for an object...) — is given to the
real command line (``main``, in this process). The oracle: exit 0, or exit 2 with a message naming
the input; never a traceback, never an internal error (exit 1), and the process's peak memory
stays under 500 MB.

``python -m tests.fuzz_cli --mutants 2000 --seed 1`` runs a larger campaign and prints its figures
as JSON (``tests/e2e/test_cli_fuzz.py`` runs a small one in ``make test``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
BUNDLES = sorted((ROOT / "tests" / "fixtures" / "fhir" / "examples").glob("*.json"))
BULK = ROOT / "tests" / "fixtures" / "fhir" / "bulk"
COMMANDS = ("assess", "timeline", "plot", "titers", "import-fhir", "worklist", "cohort")
MAX_RSS_KIB = 500 * 1024

__all__ = ["COMMANDS", "Campaign", "peak_rss_kib", "run_campaign"]


def peak_rss_kib() -> int:
    """This process's peak resident memory (KiB) since it started its program: ``VmHWM``, not
    ``ru_maxrss``, which Linux carries over from the parent that spawned it (pytest's own)."""
    try:
        for line in Path("/proc/self/status").read_text("ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

_HOSTILE: tuple[Callable[[random.Random, Any], Any], ...] = (
    lambda r, v: f"__NEST_{r.choice((65, 100, 1000, 5000, 100_000))}__",
    lambda r, v: r.choice((10**400, -(10**30), 1e308, -0.0, 2**63, 0.1e-320)),
    lambda r, v: r.choice(("", " ", "x" * 100_000, "\u0000", "a\u0000b", "\ud800", "\udfff",
                           "\u202e", "=HYPERLINK(\"x\")", "\r\n=1+1", "ﬀ" * 50)),
    lambda r, v: r.choice(("0001-01-01", "9999-12-31", "0000-00-00", "2026-02-29", "2024-02-29",
                           "1899-12-31", "2026-11-22", "20261121", "0")),
    lambda r, v: r.choice((None, True, False, [], {}, [[]], {"": {}})),
    lambda r, v: json.dumps(v) if v is not None else "null",
    lambda r, v: [v, v] if not isinstance(v, list) else {"0": v},
    lambda r, v: -v if isinstance(v, int | float) and not isinstance(v, bool) else r.random() * 1e9,
)


_NEST = re.compile(r'"__NEST_(\d+)__"')


def _paths(value: Any) -> Iterator[tuple[Any, ...]]:
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        here, item = stack.pop()
        yield here
        if isinstance(item, dict):
            stack.extend(((*here, key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend(((*here, index), child) for index, child in enumerate(item))


def _replace(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = new
    return document


def mutate_json(rng: random.Random, document: Any) -> bytes:
    """A JSON-level mutant: 1-3 values replaced by hostile ones (escapes kept as escapes)."""
    document = json.loads(json.dumps(document))
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(list(_paths(document)))
        parent: Any = document
        for part in path:
            parent = parent[part]
        if rng.random() < 0.2 and isinstance(parent, dict) and parent:  # a key, not a value
            key = rng.choice(list(parent))
            parent[rng.choice(("\u0000", "\ud800", key + "_x", "", "records"))] = parent.pop(key)
            continue
        document = _replace(document, path, rng.choice(_HOSTILE)(rng, parent))
    text = _NEST.sub(lambda m: "[" * int(m.group(1)) + "]" * int(m.group(1)),
                     json.dumps(document, allow_nan=True))
    if rng.random() < 0.1:
        text = text.replace("1", rng.choice(("NaN", "Infinity", "1e999", "01")), 1)
    return text.encode("utf-8", "surrogatepass" if rng.random() < 0.5 else "backslashreplace")


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def mutate_mild(rng: random.Random, document: Any) -> bytes:
    """A mutant that may still be a valid record, so that it reaches the rules, the statistics and
    the plots: numbers at their extremes, dates at the ends of the accepted range, optional parts
    removed, lists emptied or repeated many times."""
    document = json.loads(json.dumps(document))
    for _ in range(rng.randint(1, 4)):
        path = rng.choice(list(_paths(document)))
        parent: Any = document
        for part in path[:-1]:
            parent = parent[part]
        value = parent[path[-1]] if path else document
        if isinstance(value, bool) or not path:
            continue
        if isinstance(value, int | float):
            new: Any = rng.choice((0, 0.0, 1e-9, 1e12, value * 1000, value / 1000, 10, 80, 3))
        elif isinstance(value, str) and _DATE.match(value):
            new = rng.choice(("1900-01-01", "1900-01-02", "2026-11-21", "2026-11-20", "2000-02-29",
                              "1969-12-31"))
        elif isinstance(value, list):
            new = rng.choice(([], value * rng.choice((2, 50, 300)), value[:1]))
        elif isinstance(value, dict) and isinstance(parent, dict):
            parent.pop(path[-1])
            continue
        else:
            continue
        parent[path[-1]] = new
    return json.dumps(document).encode()


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """A byte-level mutant: flips, cuts, insertions, duplications, hostile byte sequences."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out += b"{"
        at = rng.randrange(len(out))
        kind = rng.randrange(7)
        if kind == 0:
            out[at] = rng.randrange(256)
        elif kind == 1:
            del out[at:at + rng.randint(1, 64)]
        elif kind == 2:
            out[at:at] = rng.choice((b"\xed\xa0\x80", b"\\ud800", b"\\u0000", b"\xff\xfe", b"\x00",
                                     b"\xef\xbb\xbf", b"[" * 70, b"{\"a\":" * 70, b"\r", b"\"",
                                     b"\\", b"9" * 400, b"-", b"}", b","))
        elif kind == 3:
            del out[at:]
        elif kind == 4:
            out[at:at] = out[max(0, at - 200):at]
        elif kind == 5:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        else:
            out = bytearray(out.replace(b"\n", b"\r\n", 1))
    return bytes(out)


def _record_mutant(rng: random.Random, *, batch: bool = False) -> bytes:
    records = [json.loads(p.read_text("utf-8")) for p in rng.sample(EXAMPLES, 3)]
    document: Any = ({"format": "myositis-cds/patient-records@1", "records": records} if batch
                     else records[0])
    choice = rng.random()
    if choice < 0.4:
        return mutate_mild(rng, document)
    if choice < 0.75:
        return mutate_json(rng, document)
    return mutate_bytes(rng, json.dumps(document, indent=rng.choice((None, 1))).encode())


def _csv_mutant(rng: random.Random) -> bytes:
    groups = ("anti-Mi-2-positive DM", "anti-Mi-2-negative DM", "IMNM")
    lines = ["patient,group,calcinosis,ck_peak,sex"]
    lines += [f"p{n},{rng.choice(groups)},{rng.choice(('yes', 'no', ''))},"
              f"{rng.lognormvariate(7, 1):.1f},{rng.choice('fm')}" for n in range(30)]
    return mutate_bytes(rng, ("\n".join(lines) + "\n").encode())


@dataclass
class Case:
    """One command line, its inputs written into ``folder``, and the path its message must name."""

    argv: list[str]
    named: str


def make_case(command: str, rng: random.Random, folder: Path) -> Case:
    if command in ("assess", "timeline", "plot"):
        path = folder / "record.json"
        path.write_bytes(_record_mutant(rng, batch=rng.random() < 0.3))
        extra = {"assess": ["--format", rng.choice(("json", "text"))],
                 "timeline": ["--format", rng.choice(("csv", "json"))],
                 "plot": ["--out", str(folder / "plots")]}[command]
        return Case([command, str(path), *extra], str(path))
    if command == "titers":
        path = folder / "records"
        path.mkdir()
        for n in range(2):
            (path / f"r{n}.json").write_bytes(_record_mutant(rng))
        return Case(["titers", str(path), "--format", "json"], str(path))
    if command == "import-fhir":
        if rng.random() < 0.5:
            path = folder / "bundle.json"
            bundle = json.loads(rng.choice(BUNDLES).read_text("utf-8"))
            data = (mutate_json(rng, bundle) if rng.random() < 0.6
                    else mutate_bytes(rng, json.dumps(bundle).encode()))
            path.write_bytes(data)
        else:
            path = folder / "export"
            shutil.copytree(BULK, path)
            target = rng.choice(sorted(path.glob("*.ndjson")))
            target.write_bytes(mutate_bytes(rng, target.read_bytes()))
        return Case(["import-fhir", str(path), "--out", str(folder / "out.json"),
                     "--report", str(folder / "report.json")], str(path))
    if command == "worklist":
        path = folder / "records"
        path.mkdir()
        for example in rng.sample(EXAMPLES, 2):
            shutil.copy(example, path)
        (path / "mutant.json").write_bytes(_record_mutant(rng, batch=rng.random() < 0.3))
        return Case(["worklist", str(path), "--engine", "local", "--no-progress", "--out",
                     str(folder / "w.csv")], str(path))
    if rng.random() < 0.5:
        path = folder / "cohort.csv"
        path.write_bytes(_csv_mutant(rng))
        return Case(["cohort", "table1", str(path), "--format", rng.choice(("csv", "json"))],
                    str(path))
    path = folder / "records"
    path.mkdir()
    for n in range(3):
        (path / f"r{n}.json").write_bytes(_record_mutant(rng))
    return Case(["cohort", rng.choice(("table1", "features")), str(path)], str(path))


@dataclass
class Campaign:
    command: str
    seed: int
    mutants: int = 0
    exits: dict[int, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    max_rss_kib: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "seed": self.seed, "mutants": self.mutants,
                "exits": {str(k): v for k, v in sorted(self.exits.items())},
                "failures": self.failures, "seconds": round(self.seconds, 1),
                "max_rss_mib": round(self.max_rss_kib / 1024, 1)}


def _call(argv: list[str]) -> tuple[int | None, str, str]:
    from myositis_cds.entrypoints.cli import main  # noqa: PLC0415 - after the environment is set

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | None = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except Exception:  # an escaped exception is what the fuzz looks for
            err.write("Traceback (uncaught):\n" + traceback.format_exc())
            code = None
    return code, out.getvalue(), err.getvalue()


def run_campaign(command: str, *, mutants: int, seed: int) -> Campaign:
    """``mutants`` cases of ``command``; each failure keeps its argv, exit and stderr's end."""
    os.environ.setdefault("MYOSITIS_CDS_TODAY", "2026-11-21")
    os.environ.pop("MYOSITIS_CDS_DEBUG", None)
    rng = random.Random(f"{command}:{seed}")
    campaign = Campaign(command=command, seed=seed)
    started = time.perf_counter()
    for number in range(mutants):
        with tempfile.TemporaryDirectory(prefix="myositis-fuzz-") as tmp:
            case = make_case(command, rng, Path(tmp))
            code, _out, err = _call(case.argv)
        campaign.mutants += 1
        campaign.exits[code if code is not None else -1] = \
            campaign.exits.get(code if code is not None else -1, 0) + 1
        problem = None
        if code not in (0, 2):
            problem = f"exit {code}"
        elif "Traceback" in err:
            problem = "traceback"
        elif code == 2 and case.named not in err:
            problem = "the message does not name the input"
        if problem is not None:
            campaign.failures.append({"mutant": number, "problem": problem, "argv": case.argv[:1],
                                      "stderr": err[-1500:]})
    campaign.seconds = time.perf_counter() - started
    campaign.max_rss_kib = peak_rss_kib()
    return campaign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--command", choices=COMMANDS, action="append")
    parser.add_argument("--mutants", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    results = [run_campaign(c, mutants=args.mutants, seed=args.seed).to_dict()
               for c in (args.command or COMMANDS)]
    sys.stdout.write(json.dumps(results, indent=1) + "\n")
    over = any(r["max_rss_mib"] * 1024 > MAX_RSS_KIB for r in results)
    return 1 if over or any(r["failures"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
