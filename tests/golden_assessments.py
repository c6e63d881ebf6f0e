"""Golden assessment outputs: the sha256 of the exact bytes ``myositis-cds assess --format json`` writes.

The safety net for speed work (issue 15): any change to validation, the engine or the JSON output
changes a digest. Two sets of records are assessed as of :data:`TODAY`, each through the real CLI
(in this process, ``main([...])``) so the bytes are the ones a user gets:

- every ``examples/*.json`` as a single record (indented JSON and its final newline);
- :data:`GENERATED` patients from the benchmarks' seeded generator (``benchmarks/synthetic.py``,
  seed :data:`SEED`), written as one ``patient-records@1`` batch and assessed as a batch (one JSON
  line per patient, streamed).

The digest file :data:`GOLDEN_FILE` holds one ``sha256  name`` line per record (the examples and
the first :data:`CHECKED` generated patients) and, for the concatenated bytes of the examples plus
the first N generated patients, one ``sha256  *all-N*`` line for N = :data:`CHECKED` and
N = :data:`GENERATED`. The default test checks :data:`CHECKED` patients (≈ 10 s);
``python -m tests.golden_assessments --check`` checks all :data:`GENERATED`.

Regenerate (only when the output is meant to change, e.g. a new knowledge pack, and after reading
the differences): ``make golden`` (``python -m tests.golden_assessments --write``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson

from myositis_cds.entrypoints.cli import main as cli_main

__all__ = [
    "CHECKED",
    "GENERATED",
    "GOLDEN_FILE",
    "SEED",
    "compare",
    "compute",
    "format_digests",
    "read_digests",
]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # the benchmarks' generator is the one the test uses

from synthetic import TODAY, generate_patient  # noqa: E402

GOLDEN_FILE = ROOT / "tests" / "golden" / "assessments.sha256"
SEED = 20261121
CHECKED = 2_000
"""Generated patients checked record by record in the default test suite."""
GENERATED = 10_000
"""Generated patients whose overall digest is stored (checked by ``--check``)."""
REGENERATE = "make golden  (or: .venv/bin/python -m tests.golden_assessments --write)"


def _cli_output(argv: list[str], out: Path) -> bytes:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli_main([*argv, "--format", "json", "--as-of", TODAY.isoformat(), "--out", str(out)])
    if code != 0:
        msg = f"myositis-cds {' '.join(argv)} exited {code}: {stderr.getvalue()}"
        raise AssertionError(msg)
    return out.read_bytes()


def _example_outputs(workdir: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted((ROOT / "examples").glob("*.json")):
        yield f"examples/{path.name}", _cli_output(["assess", str(path)], workdir / "example.json")


def _generated_outputs(n: int, workdir: Path) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(SEED)
    documents = [generate_patient(rng, i) for i in range(n)]
    batch = workdir / "batch.json"
    with batch.open("wb") as out:
        out.write(b'{"format": "myositis-cds/patient-records@1", "records": [\n')
        out.write(b",\n".join(orjson.dumps(d) for d in documents))
        out.write(b"\n]}\n")
    lines = _cli_output(["assess", str(batch)], workdir / "batch-out.jsonl").splitlines(keepends=True)
    if len(lines) != n:
        msg = f"the batch of {n} generated patients gave {len(lines)} output lines"
        raise AssertionError(msg)
    for document, line in zip(documents, lines, strict=True):
        yield f"generated/{document['id']}", line


def compute(generated: int, *, per_record: int = CHECKED) -> dict[str, str]:
    """Digests of the examples and of ``generated`` patients: per record (the examples and the first
    ``per_record`` patients) and ``*all-N*`` over the concatenated bytes for N = ``per_record`` (when
    reached) and N = ``generated``."""
    digests: dict[str, str] = {}
    overall = hashlib.sha256()
    with tempfile.TemporaryDirectory() as tmp:
        outputs = [*_example_outputs(Path(tmp)), *_generated_outputs(generated, Path(tmp))]
    examples = sum(name.startswith("examples/") for name, _ in outputs)
    for position, (name, data) in enumerate(outputs):
        overall.update(data)
        count = position + 1 - examples
        if count <= per_record:
            digests[name] = hashlib.sha256(data).hexdigest()
        if count in {per_record, generated}:
            digests[f"*all-{count}*"] = overall.hexdigest()
    return digests


def format_digests(digests: dict[str, str]) -> str:
    header = (f"# sha256 of `myositis-cds assess --format json --as-of {TODAY}` output: each example\n"
              f"# (single record), generated patients (seed {SEED}, one batch, one line each);\n"
              f"# *all-N*: examples + first N. Regenerate only when the output is meant to change:\n"
              f"# {REGENERATE}\n")
    return header + "".join(f"{digest}  {name}\n" for name, digest in digests.items())


def read_digests(path: Path = GOLDEN_FILE) -> dict[str, str]:
    digests: dict[str, str] = {}
    for line in path.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            digest, name = line.split("  ", 1)
            digests[name] = digest
    return digests


def compare(expected: dict[str, str], actual: dict[str, str]) -> str | None:
    """None when every digest in ``actual`` matches; otherwise what changed and how to regenerate."""
    changed = [n for n in actual if n in expected and expected[n] != actual[n]]
    added = [n for n in actual if n not in expected]
    missing = [n for n in expected if n not in actual and not n.startswith("*all-")]
    if not (changed or added or missing):
        return None
    parts = [f"{len(changed)} changed, {len(added)} new, {len(missing)} missing record(s) against "
             f"{GOLDEN_FILE.relative_to(ROOT)}"]
    for label, names in (("changed", changed), ("new", added), ("missing", missing)):
        if names:
            shown = ", ".join(names[:20]) + (f", … ({len(names) - 20} more)" if len(names) > 20 else "")
            parts.append(f"{label}: {shown}")
    parts.append("If the assessment output is meant to change (e.g. a new knowledge pack), look at the "
                 f"differences (e.g. `myositis-cds assess examples/<name>.json --format json`), then run: "
                 f"{REGENERATE}")
    return "\n".join(parts)


def _main() -> int:
    parser = argparse.ArgumentParser(description="Golden assessment digests (issue 15).")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"regenerate {GOLDEN_FILE.name}")
    mode.add_argument("--check", action="store_true",
                      help=f"compare all {GENERATED:,} generated patients (the overall digest)")
    args = parser.parse_args()
    os.environ["MYOSITIS_CDS_TODAY"] = TODAY.isoformat()  # as the test suite pins it
    actual = compute(GENERATED)
    if args.write:
        GOLDEN_FILE.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN_FILE.write_text(format_digests(actual), "utf-8")
        sys.stdout.write(f"wrote {len(actual)} digests to {GOLDEN_FILE}\n")
        return 0
    problem = compare(read_digests(), actual)
    sys.stdout.write((problem or f"identical: {len(actual)} digests") + "\n")
    return 1 if problem else 0


if __name__ == "__main__":
    raise SystemExit(_main())
