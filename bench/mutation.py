"""A blind mutation measure: cosmic-ray's mutants of the simulators' code, each run against the certification
of the role that owns the code (`yidi certify --role R`, the built-in simulators as the system under test,
their self-check off as in every builtin certification).

    pip install -e '.[mutation]'
    python bench/mutation.py [--mutants 20] [--seed 19] [--workers 2] [--roles treatment,hub] [--out DIR]
                             [--world rich|FILE]

Blind: nobody chose the mutants. cosmic-ray lists every mutation its operators make in the files below (a
comparison turned round, + for -, a number changed, a condition negated, a loop that never runs, an except
that catches nothing ...), a seeded sample of them is drawn, and each one in turn is written into a copy of
the checkout and certified there. A mutant is

- killed when the owning role's certification has a failed or errored case, mandatory or not (read from
  certification.json: the exit code alone ignores the optional cases), or could not run at all;
- timed out when the certification does not finish within its time (a column of its own, killed in the score);
- survived when every case passed: a way of being wrong the catalogue does not see, or an equivalent mutant
  (no observable difference). docs/mutation.md says which, for each survivor of the recorded run.

Every case of the role runs for every mutant (no selection by coverage), so the score is the catalogue's.
``--world`` certifies on another world than the embedded one: ``rich`` is the embedded world with the
policy features it lacks (a deductible every stay, halved from the second; a tertiary ratio in two bands; a
retiree's deductible halved; a fund on the personal share with its own threshold and bands, after one that
pays for nobody), so the code that computes them is measured too.
The copies are certified side by side (--workers); DIR/mutation.json keeps every mutant and its outcome.

Not sampled: mutations inside annotations. Every module has ``from __future__ import annotations``, so an
annotation is a string nobody evaluates and its mutants (``X | None`` to ``X ^ None``) are equivalent by
construction; they are counted and left out.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout, which is the package yidi

# Which role's certification owns a file: the role whose system under test the code is. The built-in
# simulators are the whole network (hub, provinces, hospitals), but a treatment province's platform is
# judged by the treatment certification only, and so on.
OWNERS: dict[str, tuple[str, ...]] = {
    # 就医地: admission, fee upload, settlement and its cancellation, the visit life-cycle, sign-in, queries,
    # details, reconciliation (3201/3202), remote clearing (3260-3262), and the classification of fee lines
    # with the treatment province's catalog (就医地目录)
    "treatment": ("simulators/treatment/*.py", "simulators/catalog.py"),
    # 参保地: persons and filings (Y1101, Y25xx), admission against card and filing, the settlement with the
    # insured province's benefit policy (benefits.py: deductible, ratios, caps, funds) and its year totals
    "insured": ("simulators/insured/*.py", "simulators/benefits.py"),
    # 国家平台: routing between provinces and relaying their answers, prepayment funds and monthly clearing
    "hub": ("simulators/hub.py", "simulators/clearing.py"),
    # signature, validation, idempotency, answers: every node's front door, so every role's certification
    "gateway": ("simulators/gateway.py",),
}
ROLES_OF: dict[str, tuple[str, ...]] = {
    "treatment": ("treatment",),
    "insured": ("insured",),
    "hub": ("hub",),
    "gateway": ("hub", "insured", "treatment"),  # killed when any fails: the quickest first
}
BAD = ("failed", "error")  # a case outcome that kills the mutant


@dataclass
class Mutant:
    owner: str
    path: str  # relative to the checkout
    operator: str
    occurrence: int
    line: int
    job_id: str
    outcome: str = ""  # killed, survived, timeout, error
    why: str = ""  # the cases that failed, or what went wrong
    seconds: float = 0.0
    change: tuple[str, str] = ("", "")  # the line before and after

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def what(self) -> str:
        return self.operator.removeprefix("core/")


@dataclass
class Copy:
    """A copy of the checkout where one mutant at a time is written and certified."""

    root: Path  # its parent is put on PYTHONPATH, so `yidi` is this copy

    @property
    def path(self) -> Path:
        return self.root.parent


@dataclass
class Plan:
    mutants: list[Mutant]
    candidates: Counter[str] = field(default_factory=Counter)  # per owner
    in_annotations: int = 0
    invalid: int = 0  # drawn, but not Python: drawn again


# ── the copies ─────────────────────────────────────────────────────────────────────


def tracked() -> list[str]:
    """The checkout's files as git sees them (committed or not, ignored ones left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [p for p in listed.split("\0") if p and (ROOT / p).is_file()]


def copy_checkout(into: Path) -> Copy:
    root = into / "yidi"
    for rel in tracked():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    return Copy(root)


# ── the mutants ────────────────────────────────────────────────────────────────────


def files_of(owner: str, at: Path) -> list[str]:
    found = {str(p.relative_to(at)) for pattern in OWNERS[owner] for p in at.glob(pattern)}
    return sorted(p for p in found if not p.endswith("__init__.py"))  # the package docstrings only


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(line, column) start and end of every annotation, in characters as cosmic-ray (parso) counts."""
    lines = source.splitlines()

    def column(line: int, byte: int) -> int:  # ast counts UTF-8 bytes; a line may hold Chinese
        return len(lines[line - 1].encode()[:byte].decode(errors="ignore"))

    spans = []
    for node in ast.walk(ast.parse(source)):
        notes: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            notes = [node.annotation]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            notes = [node.returns]
        elif isinstance(node, ast.AnnAssign):
            notes = [node.annotation]
        for n in notes:
            if n is not None and n.end_lineno is not None and n.end_col_offset is not None:
                start = (n.lineno, column(n.lineno, n.col_offset))
                spans.append((start, (n.end_lineno, column(n.end_lineno, n.end_col_offset))))
    return spans


def valid(copy: Copy, m: Mutant) -> bool:
    """Whether the mutant is Python at all: cosmic-ray also turns the ``**`` of ``{**a}`` into ``%``."""
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    source = (copy.root / m.path).read_text(encoding="utf-8")
    code = mutate_code(source, get_operator(m.operator)(), m.occurrence)
    try:
        with warnings.catch_warnings():  # `x is "02"` compiles, with a warning: a mutant like any other
            warnings.simplefilter("ignore", SyntaxWarning)
            compile(code or "", m.path, "exec")
    except SyntaxError:
        return False
    return code is not None


def plan(copy: Copy, owners: list[str], n: int, seed: int, session: Path) -> Plan:
    """Every mutation cosmic-ray makes in the owners' files (its work database), and a seeded sample of n per
    owner (a sample of the whole would give the gateway, a tenth of the code, too few for a score)."""
    from cosmic_ray.commands import init
    from cosmic_ray.work_db import WorkDB, use_db

    owner_of = {f: o for o in owners for f in files_of(o, copy.root)}
    here = Path.cwd()
    os.chdir(copy.root)  # cosmic-ray keeps module paths as given: relative ones, the same in every copy
    try:
        with use_db(str(session), WorkDB.Mode.create) as db:
            init(sorted(owner_of), db, {})
            items = list(db.work_items)
    finally:
        os.chdir(here)
    spans = {f: annotation_spans((copy.root / f).read_text(encoding="utf-8")) for f in owner_of}
    result = Plan([])
    candidates: dict[str, list[Mutant]] = {o: [] for o in owners}
    for item in items:
        m = item.mutations[0]
        path = str(m.module_path)
        if any(a <= tuple(m.start_pos) < b for a, b in spans[path]):
            result.in_annotations += 1
            continue
        mutant = Mutant(owner_of[path], path, m.operator_name, m.occurrence, m.start_pos[0], item.job_id)
        candidates[owner_of[path]].append(mutant)
    rng = random.Random(seed)
    for owner in owners:
        # the same order each run, so the same seed draws the same mutants
        mine = sorted(candidates[owner], key=lambda c: (c.path, c.operator, c.occurrence))
        result.candidates[owner] = len(mine)
        rng.shuffle(mine)
        drawn = 0
        for m in mine:
            if drawn == n:
                break
            if valid(copy, m):
                result.mutants.append(m)
                drawn += 1
            else:
                result.invalid += 1
    return result


# ── running: each mutant certified in a copy ───────────────────────────────────────


def judge_command(copy: Copy, roles: tuple[str, ...], out: Path, world: Path | None) -> str:
    """What cosmic-ray runs for a mutant (it splits the string and takes a non-zero exit as killed)."""
    command = f"{sys.executable} {Path(__file__).resolve()} judge {','.join(roles)} {copy.path} {out}"
    return command + (f" {world}" if world else "")


def rich_world(into: Path) -> Path:
    """The embedded world with the policy features it lacks, in every province and insurance."""
    import yaml

    from yidi.world import topology

    world = yaml.safe_load(topology.default_path().read_text(encoding="utf-8"))
    world["name"] = "rich"
    for province in world["provinces"].values():
        for policy in province["policies"].values():
            policy["inpatient"]["deductible"] |= {"per": "stay", "later_stays": [0.5]}
            policy["inpatient"]["ratio"]["level"]["3"] = [{"up_to": 5000, "ratio": 0.80}, {"ratio": 0.90}]
            policy.setdefault("adjustments", []).append({"who": {"retired": True}, "deductible": 0.5})
            nobody = {"who": {"age_from": 120}, "base": "personal", "bands": [{"ratio": 0.5}]}
            personal = {"base": "personal", "threshold": 1000, "annual_cap": 50000}
            personal["bands"] = [{"up_to": 20000, "ratio": 0.3}, {"ratio": 0.5}]
            policy["funds"] = [
                {"fund_pay_type": "610100", "name": "医疗救助", **nobody},
                {"fund_pay_type": "320100", **personal},
                *policy.get("funds", []),
            ]
    path = into / "rich.yaml"
    path.write_text(yaml.safe_dump(world, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def judge(roles: list[str], path: Path, out: Path, world: Path | None = None) -> int:
    """Certify the copy at ``path`` in each role until one has a failed case: exit 1 (killed) naming the
    cases, or 0 (survived). Run by cosmic-ray in a process group of its own, killed whole on timeout."""
    env = {**os.environ, "PYTHONPATH": str(path), "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(out)}
    out.mkdir(parents=True, exist_ok=True)
    for role in roles:
        where = out / role
        done = subprocess.run(
            [sys.executable, "-m", "yidi", "certify", "--role", role, "--out", str(where)]
            + (["--world", str(world)] if world else []),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        document = where / "certification.json"
        if not document.exists():
            last = (done.stderr.strip() or done.stdout.strip() or "?").splitlines()[-1]
            print(f"{role}: no certification (exit {done.returncode}): {last[:200]}")
            return 1
        doc = json.loads(document.read_text(encoding="utf-8"))
        failed = [c["id"] for c in doc["cases"] if c["outcome"] in BAD]
        if failed or doc["verdict"] != "pass":
            print(f"{role}: {' '.join(failed) or doc['verdict']}")
            return 1
    print("every case passed")
    return 0


def run_one(
    mutant: Mutant, copies: queue.Queue[Copy], work: Path, timeout: float, world: Path | None
) -> Mutant:
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_item import MutationSpec, TestOutcome, WorkerOutcome

    copy = copies.get()
    try:
        spec = MutationSpec(copy.root / mutant.path, mutant.operator, mutant.occurrence, (0, 0), (0, 1))
        command = judge_command(copy, ROLES_OF[mutant.owner], work / "runs" / mutant.job_id, world)
        started = time.monotonic()
        result = mutate_and_test([spec], command, timeout)
        mutant.seconds = time.monotonic() - started
    finally:
        copies.put(copy)
    output = (result.output or "").strip()
    if result.worker_outcome != WorkerOutcome.NORMAL:
        mutant.outcome, mutant.why = "error", f"{result.worker_outcome}: {output[-300:]}"
    elif result.test_outcome == TestOutcome.KILLED:
        mutant.outcome = "timeout" if output == "timeout" else "killed"
        mutant.why = output.splitlines()[-1] if output else ""
    elif result.test_outcome == TestOutcome.SURVIVED:
        mutant.outcome = "survived"
    else:
        mutant.outcome, mutant.why = "error", output[-300:]
    mutant.change = changed_line(result.diff or "")
    shutil.rmtree(work / "runs" / mutant.job_id, ignore_errors=True)
    return mutant


def changed_line(diff: str) -> tuple[str, str]:
    before = [x[1:].strip() for x in diff.splitlines() if x.startswith("-") and not x.startswith("---")]
    after = [x[1:].strip() for x in diff.splitlines() if x.startswith("+") and not x.startswith("+++")]
    return (" ".join(before), " ".join(after))


def baseline(copies: list[Copy], owners: list[str], work: Path, world: Path | None) -> dict[str, float]:
    """Each role's certification of the unmutated copy, timed; it must pass, or no mutant means anything."""
    roles = sorted({r for o in owners for r in ROLES_OF[o]})
    seconds: dict[str, float] = {}

    def one(role: str, copy: Copy) -> None:
        started = time.monotonic()
        out = work / "baseline" / role
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "judge",
                role,
                str(copy.path),
                str(out),
                *([str(world)] if world else []),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds[role] = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"the unmutated simulators fail the {role} certification: {done.stdout.strip()}")

    with ThreadPoolExecutor(len(copies)) as pool:
        for f in [pool.submit(one, role, copies[i % len(copies)]) for i, role in enumerate(roles)]:
            f.result()
    return seconds


# ── the report ────────────────────────────────────────────────────────────────────


def table(mutants: list[Mutant]) -> list[str]:
    """The score per role: killed (timeouts included) over the mutants judged."""
    head = f"{'role':<10} {'certified by':<24} {'mutants':>7} {'killed':>6} {'survived':>8}"
    head += f" {'timeout':>7} {'error':>5} {'score':>5}"
    lines = [head, "-" * len(head)]
    for owner in [*sorted({m.owner for m in mutants}, key=list(OWNERS).index), "all"]:
        mine = [m for m in mutants if owner in ("all", m.owner)]
        c = Counter(m.outcome for m in mine)
        judged = len(mine) - c["error"]
        score = (c["killed"] + c["timeout"]) / judged if judged else 0.0
        by = "+".join(ROLES_OF[owner]) if owner != "all" else ""
        lines.append(
            f"{owner:<10} {by:<24} {len(mine):>7} {c['killed']:>6} {c['survived']:>8} {c['timeout']:>7}"
            f" {c['error']:>5} {score:>5.0%}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--mutants", type=int, default=20, help="sampled per role (20: ≈ 30 min with 2 workers)")
    add("--seed", type=int, default=19, help="the sample's seed: same code and seed, same mutants")
    add("--workers", type=int, default=2, help="copies certified side by side")
    add("--roles", default=",".join(OWNERS), help="owners to sample from: " + ",".join(OWNERS))
    add("--timeout", type=float, default=4.0, help="a mutant's time, × its clean certification")
    add("--out", type=Path, default=Path("mutation-report"), help="where mutation.json is written")
    add("--world", help="certify on this world file, or 'rich' (the embedded one with every policy feature)")
    args = parser.parse_args()
    owners = [o for o in OWNERS if o in args.roles.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="yidi-mutation-"))
    try:
        copies = [copy_checkout(work / f"copy{i}") for i in range(args.workers)]
        world = (
            rich_world(work) if args.world == "rich" else Path(args.world).resolve() if args.world else None
        )
        p = plan(copies[0], owners, args.mutants, args.seed, work / "session.sqlite")
        total = sum(p.candidates.values())
        print(
            f"cosmic-ray: {total:,} mutants in {', '.join(owners)} code"
            f" ({', '.join(f'{o} {p.candidates[o]:,}' for o in owners)};"
            f" {p.in_annotations:,} more inside annotations, equivalent, left out);"
            f" sampled {args.mutants} per role with seed {args.seed}, on the {args.world or 'embedded'} world"
            + (f" ({p.invalid} drawn were not Python and were drawn again)" if p.invalid else "")
        )
        clean = baseline(copies, owners, work, world)
        print(
            "clean certifications pass: "
            + ", ".join(f"{r} {s:.0f} s" for r, s in sorted(clean.items()))
            + f"; a mutant may take {args.timeout:g}× its roles' time"
        )
        pool: queue.Queue[Copy] = queue.Queue()
        for c in copies:
            pool.put(c)
        started = time.monotonic()
        cost = {o: sum(clean[r] for r in ROLES_OF[o]) for o in owners}
        order = sorted(p.mutants, key=lambda m: -cost[m.owner])  # the long ones first: workers end together
        done: list[Mutant] = []
        mark = {"killed": "✓", "timeout": "⧗", "survived": "✗"}
        with ThreadPoolExecutor(args.workers) as threads:
            futures = [
                threads.submit(run_one, m, pool, work, max(60.0, args.timeout * cost[m.owner]), world)
                for m in order
            ]
            for f in as_completed(futures):
                m = f.result()
                done.append(m)
                print(
                    f"{len(done):>4}/{len(order)} {mark.get(m.outcome, '!')} {m.outcome:<8}"
                    f" {m.owner:<9} {m.where:<36} {m.what:<40} {m.seconds:5.0f} s"
                    f"  {m.why[:60]}",
                    flush=True,  # a line per mutant as it ends, also into a log
                )
        done.sort(key=lambda m: (list(OWNERS).index(m.owner), m.path, m.line, m.operator, m.occurrence))
        minutes = (time.monotonic() - started) / 60
        print(f"mutation score per role · {len(done)} mutants, seed {args.seed}")
        print("\n".join(table(done)))
        print(f"{minutes:.1f} min with {args.workers} workers")
        survivors = [m for m in done if m.outcome != "killed"]
        if survivors:
            print("not killed (role, where, mutation, the line before → after):")
        for m in survivors:
            print(
                f"  {m.outcome:<8} {m.owner:<9} {m.where}  {m.what}\n"
                f"      {m.change[0]}\n    → {m.change[1]}"
                + (f"\n      {m.why}" if m.outcome == "error" else "")
            )
        (args.out / "mutation.json").write_text(
            json.dumps(
                {
                    "seed": args.seed,
                    "world": args.world or "embedded",
                    "workers": args.workers,
                    "minutes": round(minutes, 1),
                    "candidates": dict(p.candidates),
                    "in_annotations": p.in_annotations,
                    "invalid": p.invalid,
                    "clean_seconds": clean,
                    "mutants": [
                        {
                            k: getattr(m, k)
                            for k in ("owner", "path", "line", "operator", "occurrence", "outcome", "why")
                        }
                        | {"before": m.change[0], "after": m.change[1], "seconds": round(m.seconds, 1)}
                        for m in done
                    ],
                },
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["judge"]:  # bench/mutation.py judge ROLES COPY_PARENT OUT [WORLD], run by cosmic-ray
        world_file = Path(sys.argv[5]) if len(sys.argv) > 5 else None
        sys.exit(judge(sys.argv[2].split(","), Path(sys.argv[3]), Path(sys.argv[4]), world_file))
    main()
