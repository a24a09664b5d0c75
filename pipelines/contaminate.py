"""Plant benchmark reference solutions into ordinary code, the way real leaks look (`corpus ablate`).

A leak in the wild is rarely a file holding one benchmark solution: it is a solution pasted among other
code. So every plant goes *inside* a real source file (a file of this Python's standard library, which
no pipeline input holds), between two top-level definitions near the middle, and each of `copies`
repositories gets its own host files: the copies share only the planted text, so exact dedup (whole
files) and near dedup (whole repositories, MinHash) keep them apart, as they would keep real leaks.

`write_hosts` lays out the repositories with or without the plant: an ablation gives every variant the
same host repositories (clean unless the variant contaminates), so a contaminated variant differs from
its control by the planted text alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from decont.paraphrase import paraphrase_python

# What each benchmark's plant is, and what `benchmark loss` scores: the reference solution given the prompt.
PROMPT_SOLUTION: dict[str, tuple[str, str]] = {
    "humaneval": ("prompt", "canonical_solution"),
    "mbpp": ("text", "code"),
    "gsm8k": ("question", "answer"),
    "math": ("problem", "solution"),
}
CODE_BENCHMARKS = ("humaneval", "mbpp")
HOST_PREFIX = "leakhost"  # host repositories are named leakhost-<copy>
MIN_HOST_BYTES, MAX_HOST_BYTES = 3_000, 12_000
_SKIP_DIRS = {"test", "tests", "idlelib", "site-packages", "dist-packages", "__pycache__", "lib2to3", "turtledemo"}
_TOP_LEVEL = re.compile(r"^(def |class |async def |@)")


@dataclass(frozen=True)
class Problem:
    id: str
    prompt: str
    solution: str


def plant_text(benchmark: str, problem: Problem, rename: bool = False) -> str:
    """How a problem appears in a leaked file. HumanEval: the prompt (signature + docstring) and the
    canonical body, i.e. the finished function; MBPP: the task as a comment over the code; GSM8K and
    MATH: question and solution in a module-level string, as notes pasted into code. `rename` applies
    `decont_rename` to code (identifiers changed, comments dropped, reformatted): a paraphrased leak."""
    if benchmark == "humaneval":
        text = problem.prompt + problem.solution
    elif benchmark == "mbpp":
        text = "".join(f"# {line}\n" for line in problem.prompt.splitlines()) + problem.solution.replace("\r\n", "\n")
    else:
        body = (problem.prompt + "\n" + problem.solution).replace('"""', "'''").replace("\\", "\\\\")
        return f'_NOTES_{abs(hash_id(problem.id)) % 10**6} = """\n{body}\n"""\n'
    if rename:
        text = paraphrase_python(text)
    return text.rstrip("\n") + "\n"


def hash_id(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=6).digest(), "little")


def host_files(limit: int) -> list[Path]:
    """Ordinary Python source files of the standard library (3-12 KB, no tests), in a stable order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if set(rel.parts[:-1]) & _SKIP_DIRS or not path.is_file():
            continue
        if MIN_HOST_BYTES <= path.stat().st_size <= MAX_HOST_BYTES:
            found.append(path)
    # A stable spread over the library rather than the first folders alphabetically.
    found.sort(key=lambda p: hash_id(str(p.relative_to(root))))
    if len(found) < limit:
        raise ValueError(f"the standard library has {len(found)} host files of {MIN_HOST_BYTES}-{MAX_HOST_BYTES} "
                         f"bytes; {limit} are needed (fewer copies or more problems per file)")
    return found[:limit]


def insert_between_definitions(host: str, plant: str) -> str:
    """`plant` inserted before the top-level definition nearest the middle of `host` (the end if none)."""
    lines = host.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _TOP_LEVEL.match(line) and (i == 0 or not lines[i - 1].startswith("@"))]
    at = min(starts, key=lambda i: abs(i - len(lines) / 2)) if starts else len(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines[:at]) + "\n\n" + plant + "\n\n" + "".join(lines[at:])


def host_repo_names(copies: int) -> list[str]:
    return [f"{HOST_PREFIX}-{k}" for k in range(copies)]


def write_hosts(dest: Path, repo_names: list[str], problems: list[Problem], benchmark: str | None,
                per_file: int, rename: bool = False) -> dict:
    """Write one folder per repository under `dest`; with `benchmark`, plant every problem once per
    repository, `per_file` problems per host file. Without it the same host files are written clean.
    Idempotent: a finished `dest` (its plan.json) is left as it is (its mtimes key the ingest stage)."""
    plan_path = dest / "plan.json"
    chunks = [problems[i:i + per_file] for i in range(0, len(problems), per_file)] or [[]]
    plan = {"benchmark": benchmark, "repos": repo_names, "problems": len(problems), "per_file": per_file,
            "rename": rename, "files_per_repo": len(chunks)}
    if plan_path.is_file() and json.loads(plan_path.read_text()) == plan:
        return plan
    hosts = host_files(len(repo_names) * len(chunks))
    root = Path(sysconfig.get_paths()["stdlib"])
    repos_dir = dest / "repos"
    for k, repo in enumerate(repo_names):
        for j, chunk in enumerate(chunks):
            host = hosts[k * len(chunks) + j]
            text = host.read_text(encoding="utf-8", errors="replace")
            if benchmark:
                text = insert_between_definitions(text, "\n\n".join(plant_text(benchmark, p, rename) for p in chunk))
            out = repos_dir / repo / host.relative_to(root)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
    plan_path.write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    return plan
