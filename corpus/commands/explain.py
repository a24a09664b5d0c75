"""`corpus explain PATH...`: why the pipeline would keep or drop each local file, as one JSON line.

Nothing here decides anything: a file is read by ingest's reader (same decoding, binary and size
refusals), pushed as a one-row table through `LangIdStage.process` and `FilterStage.process`, and the
decision is what those stages return. The filter's `rule_results` only adds every rule's measured
value and threshold, passed or not, next to that decision.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from corpus import storage
from corpus.engine.parts import DROPPED_DIR
from corpus.filters.signals import code_signals
from corpus.filters.syntax import syntax_error_fraction
from corpus.ingest.files import has_bad_encoding, printable_path
from corpus.ingest.kinds.base import resolve_uri
from corpus.ingest.limits import Limits
from corpus.ingest.repos import read_local_file, walk_local_repo
from corpus.layout import MANIFEST
from corpus.provenance import iter_provenance
from corpus.records import Doc, Drop, docs_to_table
from corpus.stages.filter import FilterConfig, FilterStage
from corpus.stages.langid import NOTEBOOK, NOTEBOOK_UNPARSABLE, LangIdConfig, LangIdStage
from corpus.stages.redact import RedactConfig, RedactStage

SOURCE = "explain"


@dataclasses.dataclass(frozen=True)
class StageConfigs:
    langid: LangIdConfig
    filter: FilterConfig
    max_file_bytes: int
    redact: Any = None  # corpus.stages.redact.RedactConfig (None: its defaults)


def default_config_path() -> Path:
    """The packaged pipelines/default.yaml, found without importing `pipelines` (corpus must not)."""
    spec = find_spec("pipelines")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the pipelines package (and its default.yaml) is not installed; pass --config")
    return Path(list(spec.submodule_search_locations)[0]) / "default.yaml"


def load_stage_configs(path: str | os.PathLike | None = None) -> StageConfigs:
    """The langid and filter sections and the ingest file-size cap of a pipeline config. The
    sections are validated by the stages' own pydantic models, as `corpus run` validates them."""
    import yaml

    if path is None:
        source = default_config_path()
    else:
        try:  # `pkg:pipelines/default.yaml`, as `corpus run --config` and ingest's paths accept
            source = Path(resolve_uri(os.fspath(path)))
        except (ImportError, ValueError) as exc:
            raise FileNotFoundError(f"config {path}: no such package resource ({exc})") from None
    data = yaml.safe_load(source.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"config {source}: the top level must be a mapping")
    stages = data.get("stages") or {}
    max_bytes = (stages.get("ingest") or {}).get("max_file_bytes", Limits().max_file_bytes)
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
        raise ValueError(f"config {source}: stages.ingest.max_file_bytes must be a positive integer, not {max_bytes!r}")
    return StageConfigs(
        langid=LangIdConfig.model_validate(stages.get("langid") or {}),
        filter=FilterConfig.model_validate(stages.get("filter") or {}),
        max_file_bytes=max_bytes,
        redact=RedactConfig.model_validate(stages.get("redact") or {}),
    )


class PathError(ValueError):
    """A path argument that cannot be explained at all: it does not exist, or is outside `--root`."""


def git_work_tree(path: Path) -> Path | None:
    """The nearest folder at or above `path` holding a `.git` (a folder, or the file of a worktree or
    submodule): the repository root ingest would read the file from."""
    for folder in [path, *path.parents]:
        if os.path.lexists(folder / ".git"):
            return folder
    return None


def _located(given: str | os.PathLike) -> tuple[Path, bool]:
    """The absolute path of an argument and whether it is a folder. A folder (or a link to one) is
    resolved, as ingest reads a `kind: repos` folder; a file keeps its own name (a link is refused
    as ingest refuses it, not followed)."""
    if not os.path.lexists(given):
        raise PathError(f"{given}: no such file or directory")
    if os.path.isdir(given):
        return Path(given).resolve(), True
    return Path(os.path.abspath(given)), False


def _resolved(full: Path, is_dir: bool) -> Path:
    """Links resolved, but a file's own name kept: a linked file stays a link that ingest refuses."""
    return full.resolve() if is_dir else full.parent.resolve() / full.name


def repository_root(given: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The folder a path argument's repository paths are relative to: `root` when given (the path must
    be inside it), else the enclosing git work tree, else the folder itself for a folder, and for a
    file the working folder when it is inside it, else the file's parent."""
    full, is_dir = _located(given)
    if root is not None:
        base = Path(os.path.abspath(root))
        if not base.is_dir():
            raise PathError(f"--root {root}: not a folder")
        if not full.is_relative_to(base):  # the same folders, reached through links
            full, base = _resolved(full, is_dir), base.resolve()
        if not full.is_relative_to(base):
            raise PathError(f"{given}: not inside --root {root}")
        return base
    found = git_work_tree(full if is_dir else full.parent)
    if found is not None:
        return found
    if is_dir:
        return full
    return Path.cwd() if full.is_relative_to(Path.cwd()) else full.parent


def read_paths(paths: list[str], max_file_bytes: int, repo: str | None = None,
               root: str | os.PathLike | None = None) -> Iterator[Doc | Drop]:
    """Ingest's view of local paths, each relative to its repository root (`repository_root`), so
    `vendor/` and the like count as they would in the repository. A folder is read by ingest's own
    walker. A path that does not exist (or lies outside `root`) raises PathError before anything of
    it is yielded."""
    for given in paths:
        base = repository_root(given, root)
        full, is_dir = _located(given)
        if not full.is_relative_to(base):  # `root` was only reached through links
            full = _resolved(full, is_dir)
        name = repo or printable_path(base.name) or "local"
        rel = full.relative_to(base).as_posix()
        if is_dir:
            items = walk_local_repo(full, source=SOURCE, domain="code", repo=name, max_bytes=max_file_bytes)
            yield from items if rel == "." else (_under(item, rel, name) for item in items)
            continue
        if has_bad_encoding(rel):
            shown = printable_path(rel)
            yield Drop("bad_path_encoding", shown, SOURCE, name, 0, f"{name}/{shown}: file name is not valid UTF-8")
            continue
        yield read_local_file(full, rel, source=SOURCE, domain="code", repo=name, max_bytes=max_file_bytes)


def _under(item: Doc | Drop, prefix: str, repo: str) -> Doc | Drop:
    """An item of a walk of the repository's subfolder `prefix`, with its path from the repository root."""
    if isinstance(item, Doc):
        return dataclasses.replace(item, path=f"{prefix}/{item.path}", id="")  # id follows the path
    if item.path.startswith("/"):  # a drop of the whole walk, named by its absolute folder
        return item
    detail = item.detail
    if detail.startswith(f"{repo}/{item.path}"):
        detail = f"{repo}/{prefix}/{detail[len(repo) + 1:]}"
    return dataclasses.replace(item, path=f"{prefix}/{item.path}", detail=detail)


class Explainer:
    """The langid and filter stages of one pipeline config, set up once for many files."""

    def __init__(self, configs: StageConfigs) -> None:
        self.configs = configs
        self.langid = LangIdStage(configs.langid)
        self.filter = FilterStage(configs.filter)
        self.redact = RedactStage(configs.redact)
        self.redact.setup()
        self.langid.setup()
        self.filter.setup()

    def explain_paths(self, paths: list[str], repo: str | None = None,
                      root: str | os.PathLike | None = None) -> Iterator[dict[str, Any]]:
        for item in read_paths(paths, self.configs.max_file_bytes, repo, root):
            yield _refused(item, "ingest") if isinstance(item, Drop) else self.explain_doc(item)

    def explain_doc(self, doc: Doc) -> dict[str, Any]:
        ided = self.langid.process(docs_to_table([doc]))
        if ided.dropped.num_rows:
            drop = ided.dropped.to_pylist()[0]
            out = _refused(drop, "langid")
            if drop["reason"] == NOTEBOOK_UNPARSABLE:  # only notebooks get it
                out["language"] = NOTEBOOK
            return out
        # The filter sees the text as the pipeline does: after redaction.
        redacted = self.redact.process(ided.kept).kept
        row = redacted.to_pylist()[0]
        filtered = self.filter.process(redacted)
        try:  # a file whose checks raise is a `filter_error` drop above; its measures are then unknown
            rules = self.filter.rule_results(row)
            signals = dataclasses.asdict(code_signals(row["text"]))
        except Exception:  # noqa: BLE001
            rules, signals = [], {}
        signals.update(size=row["size"], vendored=row["vendored"], generated=row["generated"])

        signals["syntax_error_fraction"] = syntax_error_fraction(row["text"], row["language"])
        out = _line(row["repo"], row["path"], row["language"], row["lang_method"], signals)
        out["rules"] = [r.as_dict() for r in rules]
        out["redacted"] = json.loads(row["meta"] or "{}").get("redacted", {})
        if filtered.kept.num_rows:
            return out
        drop = filtered.dropped.to_pylist()[0]
        # The stage records the first failing check; any later ones are listed after it.
        others = [r.name for r in rules if not r.passed and r.name != drop["reason"]]
        out.update(decision="dropped", stage="filter", reasons=[drop["reason"], *dict.fromkeys(others)],
                   detail=drop["detail"])
        return out


# Without --run, every line says it is a re-evaluation (langid + filter now), not what a run decided.
REEVALUATION = "re-evaluation: ingest's reader, langid and filter applied now; later stages (dedup, recall, decont) not seen"


def _line(repo: str | None, path: str, language: str | None, method: str | None, signals: dict) -> dict[str, Any]:
    return {"path": path, "repo": repo, "language": language, "method": method, "signals": signals,
            "rules": [], "decision": "kept", "stage": None, "reasons": [], "detail": "", "from": REEVALUATION}


def _refused(drop: Drop | dict, stage: str) -> dict[str, Any]:
    """A file a stage before the filter refused (ingest: binary, undecodable, too large, ...)."""
    d = drop.row() if not isinstance(drop, dict) else drop
    out = _line(d["repo"], d["path"], None, None, {"size": d["size"]})
    out.update(decision="dropped", stage=stage, reasons=[d["reason"]], detail=d["detail"])
    return out


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain", help="why local files would be kept or dropped (langid + filter), or what a finished run decided (--run)",
        description="For each file (every file under a folder), one JSON line: the language and how it was "
                    "found, the quality signals, every rule with its measured value and threshold, and the "
                    "decision with its reasons, computed by the pipeline's own ingest reader, langid and filter "
                    "stages (see docs/explain.md).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (a folder is one repository)")
    p.add_argument("--config", default=None,
                   help="pipeline config (a path or pkg:PACKAGE/FILE) whose stages.langid, stages.filter and stages.ingest.max_file_bytes apply "
                        "(default: the packaged pipelines/default.yaml)")
    p.add_argument("--root", default=None, metavar="DIR",
                   help="the repository root: paths are made relative to it, as ingest sees a repository "
                        "(default: each path's enclosing git work tree, else a folder argument itself, else "
                        "the working folder)")
    p.add_argument("--repo", default=None,
                   help="repository name in the output (default: the name of the repository root's folder); with --run, "
                        "only that repository's records match")
    p.add_argument("--run", default=None, metavar="OUT",
                   help="answer from a finished run's own records in OUT (a folder or s3://...): the stage that dropped each "
                        "file with its reason and detail, or kept; PATH is the path the run stored (repository-relative, "
                        "REPO/PATH, a web page's URL) or a local file inside a repository")
    p.set_defaults(func=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    import yaml

    if args.run:
        return _explain_from_run(args)

    try:
        explainer = Explainer(load_stage_configs(args.config))
    except (OSError, ValueError, yaml.YAMLError) as exc:  # pydantic's ValidationError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for path in args.paths:  # one at a time: a missing path is reported and the others still explained
        try:
            for line in explainer.explain_paths([path], args.repo, args.root):
                print(json.dumps(line, ensure_ascii=False), flush=True)
        except PathError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            status = 2
    return status


# ------------------------------------------------------------------------------ from a finished run

# A stage's records are files until repo_samples concatenates them per repository.
REPO_SAMPLES = "repo_samples"
NO_SHARD_PROVENANCE = "the run's shards have no provenance files (written before provenance was recorded)"
NOT_IN_SHARDS = "in no shard row: its repository sample was dropped after repo_samples (see the stages after it)"
DUPLICATE_PREFIX = "duplicate of "  # dedup's drop detail: "duplicate of <id of the copy kept>"


@dataclasses.dataclass(frozen=True)
class Wanted:
    """One PATH argument: the record paths it can match (exact, or under a folder) and the repository."""

    given: str
    path: str
    repo: str | None
    folder: bool = False

    def matches(self, repo: str | None, path: str) -> bool:
        if self.repo is not None and repo != self.repo:
            return False
        if self.folder:
            return not self.path or path.startswith(self.path + "/")
        return path == self.path


def _wanted(given: str, repo: str | None, root: str | None) -> list[Wanted]:
    """A local file or folder is made repository-relative as ingest sees it; anything else is a stored path,
    also read as REPO/PATH."""
    if os.path.lexists(given) and (root is not None or not given.startswith(("http://", "https://"))):
        base = repository_root(given, root)
        full, is_dir = _located(given)
        if not full.is_relative_to(base):
            full = _resolved(full, is_dir)
        rel = full.relative_to(base).as_posix()
        return [Wanted(given, "" if rel == "." else rel, repo, folder=is_dir)]
    out = [Wanted(given, given, repo)]
    if repo is None and not given.startswith(("http://", "https://")):
        parts = given.split("/")  # REPO/PATH, where a repository name may hold a slash (pypi/lxml, owner/name)
        out += [Wanted(given, "/".join(parts[k:]), "/".join(parts[:k])) for k in range(1, len(parts))]
    return out


def _rows(uri: str, wanted: list[Wanted], columns: list[str]) -> list[dict[str, Any]]:
    """The rows of one part whose (repo, path) a wanted path matches, reading only `path` (and `repo`) of
    the row groups whose path statistics can hold one, then `columns` of the groups that matched."""
    pf = storage.parquet_file(uri)
    names = set(pf.schema_arrow.names)
    if "path" not in names:
        return []
    exact = [w.path for w in wanted if not w.folder]
    prefixes = [w.path for w in wanted if w.folder]
    col = pf.schema_arrow.names.index("path")
    out = []
    for g in range(pf.metadata.num_row_groups):
        st = pf.metadata.row_group(g).column(col).statistics
        if st is not None and st.has_min_max and not prefixes and not any(st.min <= p <= st.max for p in exact):
            continue  # no wanted path sorts inside this group's range
        keys = ["repo", "path"] if "repo" in names else ["path"]
        head = pf.read_row_group(g, columns=keys).to_pylist()
        hit = [i for i, r in enumerate(head) if any(w.matches(r.get("repo"), r["path"] or "") for w in wanted)]
        if not hit:
            continue
        extra = [c for c in columns if c in names and c not in keys]
        rest = pf.read_row_group(g, columns=extra).to_pylist() if extra else [{} for _ in head]
        out += [{**head[i], **rest[i]} for i in hit]
    return out


def _stage_parts(out: str) -> list[tuple[str, list[str], list[str]]]:
    """(stage, kept parts, dropped parts) in the run's order: kept parts as _SUCCESS.json names them,
    dropped parts from one listing of the stage's _dropped folder."""
    stats = storage.read_json(storage.join(out, "reports", "stats.json"))
    out_stages = []
    for name in stats.get("order") or list(stats.get("stages", {})):
        success = storage.join(out, name, "_SUCCESS.json")
        if not storage.exists(success):
            continue
        done = storage.read_json(success)
        kept = [storage.join(out, name, p) for p in done.get("parts", []) if p.endswith(".parquet")]
        folder = storage.join(out, name, DROPPED_DIR)
        dropped = [storage.join(folder, p) for p in storage.find(folder) if p.endswith(".parquet")] if storage.exists(folder) else []
        out_stages.append((name, kept, dropped))
    return out_stages


def _drop_detail(stage: str, row: dict[str, Any], out: str, kept_parts: list[str]) -> dict[str, Any]:
    """What a stage's drop row says, with its specifics: dedup's kept copy (looked up by id in the stage's
    kept parts), decont's benchmark items and n-gram, recall's scores."""
    detail = row.get("detail") or ""
    line: dict[str, Any] = {"decision": "dropped", "stage": stage, "reasons": [row["reason"]], "detail": detail}
    if detail.startswith(DUPLICATE_PREFIX):
        kept_id = detail[len(DUPLICATE_PREFIX):].strip()
        line["kept_copy"] = _by_id(kept_parts, kept_id) or {"id": kept_id}
    elif row["reason"] == "contaminated" and "; n-gram: " in detail:
        items, ngram = detail.split("; n-gram: ", 1)
        line["benchmark_items"] = [{"benchmark": b, "item": i} for b, _, i in (x.partition(":") for x in items.split(", "))]
        line["ngram"] = ngram
    elif row["reason"] == "not_recalled" and " scores " in detail:
        import re

        line["scores"] = {k: float(v) for k, v in re.findall(r"(\w+) ([0-9.]+)", detail.split(" scores ", 1)[1].split(";")[0])}
        # the text evidence the code gate and the math words read (recall stage version 7 on)
        line["evidence"] = {k: float(v) for k, v in re.findall(r"\b(code_tokens|math_words) ([0-9.]+)", detail)}
    return line


def _by_id(parts: list[str], doc_id: str) -> dict[str, Any] | None:
    """The kept copy's repository and path: the `id`, `repo`, `path` columns of the stage's parts only."""
    for uri in parts:
        t = storage.parquet_file(uri).read(columns=["id", "repo", "path"])
        ids = t.column("id").to_pylist()
        if doc_id in ids:
            i = ids.index(doc_id)
            return {"id": doc_id, "repo": t.column("repo")[i].as_py(), "path": t.column("path")[i].as_py()}
    return None


def explain_from_run(out: str, wanted: list[Wanted]) -> list[dict[str, Any]]:
    """Per wanted file found in the run: the stage whose _dropped rows hold it (reason, detail and its
    specifics), else `kept` with the last stage whose records still hold it. Reads `repo`/`path` (and
    the drop columns) of the row groups that can hold the paths; never a text column."""
    out = storage.normalize(out)
    # One line per record: a crawl's URL can be several records (a request dropped at ingest, the page).
    found: dict[tuple, dict[str, Any]] = {}
    reached: dict[tuple, tuple[str | None, str, str]] = {}
    for stage, kept_parts, dropped_parts in _stage_parts(out):
        for uri in dropped_parts:
            for row in _rows(uri, wanted, ["id", "reason", "detail", "size"]):
                key = (row.get("repo"), row["path"], row.get("id") or f"{stage}:{row['reason']}")
                if key not in found:
                    found[key] = {"path": row["path"], "repo": row.get("repo"), **_drop_detail(stage, row, out, kept_parts)}
        if stage == REPO_SAMPLES:
            break  # from here a record is a repository sample, not a file
        for uri in kept_parts:
            for row in _rows(uri, wanted, ["id"]):
                reached[(row.get("repo"), row["path"], row.get("id"))] = (row.get("repo"), row["path"], stage)
    lines = list(found.values())
    kept = [(repo, path, stage) for key, (repo, path, stage) in reached.items() if key not in found]
    rows = _shard_rows(out, {(repo, path) for repo, path, _ in kept}) if kept else {}
    for repo, path, stage in kept:
        line = {"path": path, "repo": repo, "decision": "kept", "stage": None, "reached": stage, "reasons": [], "detail": ""}
        if rows is None:
            line.update(shard=None, detail=NO_SHARD_PROVENANCE)
        else:
            held = rows.get((repo, path), {})
            line["shard"] = [{"file": name, "rows": sorted(r)} for name, r in sorted(held.items())]
            line["detail"] = "" if held else NOT_IN_SHARDS
        lines.append(line)
    for line in lines:
        line["from"] = f"run {out}"
    return sorted(lines, key=lambda x: (x["repo"] or "", x["path"], x["stage"] or ""))


def _shard_rows(out: str, files: set[tuple[str | None, str]]) -> dict[tuple, dict[str, set[int]]] | None:
    """(repo, path) -> {shard file: rows} from the shards' provenance files (a repository sample's rows
    name the files they hold; a web page or a file not sampled is its document's path); None when the
    run's shards have no provenance. Reads only the columns naming rows and documents."""
    shards_uri = storage.join(out, "shards")
    manifest_uri = storage.join(shards_uri, MANIFEST)
    if not storage.exists(manifest_uri) or "provenance" not in storage.read_json(manifest_uri):
        return None
    repos = {r for r, _ in files}
    hits: dict[tuple, dict[str, set[int]]] = {}
    for _, table in iter_provenance(shards_uri, columns=["shard", "row", "repo", "path", "files"]):
        cols = table.to_pydict()
        for shard, row, repo, path, held in zip(cols["shard"], cols["row"], cols["repo"], cols["path"], cols["files"]):
            if repo not in repos:
                continue
            for name in (held or [path]):
                if (repo, name) in files:
                    hits.setdefault((repo, name), {}).setdefault(shard, set()).add(int(row))
    return hits


def _explain_from_run(args: argparse.Namespace) -> int:
    if not storage.exists(storage.join(storage.normalize(args.run), "reports", "stats.json")):
        print(f"error: {args.run}: not a finished run (no reports/stats.json)", file=sys.stderr)
        return 2
    status = 0
    wanted_all: list[Wanted] = []
    for given in args.paths:
        try:
            wanted_all += _wanted(given, args.repo, args.root)
        except PathError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
    lines = explain_from_run(args.run, wanted_all)
    for line in lines:
        print(json.dumps(line, ensure_ascii=False), flush=True)
    seen = {(ln["repo"], ln["path"]) for ln in lines}
    for given in args.paths:
        if not any(w.given == given and any(w.matches(r, p) for r, p in seen) for w in wanted_all):
            print(f"error: {given}: no record of the run {args.run} has this path", file=sys.stderr)
            status = 2
    return status
