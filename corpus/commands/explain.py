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
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from corpus.records import Doc, Drop
    from corpus.stages.filter import FilterConfig
    from corpus.stages.langid import LangIdConfig

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

    from corpus.ingest.limits import Limits
    from corpus.stages.filter import FilterConfig
    from corpus.ingest.kinds.base import resolve_uri
    from corpus.stages.langid import LangIdConfig
    from corpus.stages.redact import RedactConfig

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
    from corpus.ingest.files import has_bad_encoding, printable_path
    from corpus.ingest.repos import read_local_file, walk_local_repo
    from corpus.records import Drop

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
    from corpus.records import Doc

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
        from corpus.stages.filter import FilterStage
        from corpus.stages.langid import LangIdStage

        self.configs = configs
        self.langid = LangIdStage(configs.langid)
        self.filter = FilterStage(configs.filter)
        from corpus.stages.redact import RedactStage

        self.redact = RedactStage(configs.redact)
        self.redact.setup()
        self.langid.setup()
        self.filter.setup()

    def explain_paths(self, paths: list[str], repo: str | None = None,
                      root: str | os.PathLike | None = None) -> Iterator[dict[str, Any]]:
        from corpus.records import Drop

        for item in read_paths(paths, self.configs.max_file_bytes, repo, root):
            yield _refused(item, "ingest") if isinstance(item, Drop) else self.explain_doc(item)

    def explain_doc(self, doc: Doc) -> dict[str, Any]:
        from corpus.filters.signals import code_signals
        from corpus.records import docs_to_table
        from corpus.stages.langid import NOTEBOOK, NOTEBOOK_UNPARSABLE

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
        from corpus.filters.syntax import syntax_error_fraction

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


def _line(repo: str | None, path: str, language: str | None, method: str | None, signals: dict) -> dict[str, Any]:
    return {"path": path, "repo": repo, "language": language, "method": method, "signals": signals,
            "rules": [], "decision": "kept", "stage": None, "reasons": [], "detail": ""}


def _refused(drop: Drop | dict, stage: str) -> dict[str, Any]:
    """A file a stage before the filter refused (ingest: binary, undecodable, too large, ...)."""
    d = drop.row() if not isinstance(drop, dict) else drop
    out = _line(d["repo"], d["path"], None, None, {"size": d["size"]})
    out.update(decision="dropped", stage=stage, reasons=[d["reason"]], detail=d["detail"])
    return out


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain", help="why local files would be kept or dropped (langid + filter)",
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
                   help="repository name in the output (default: the name of the repository root's folder)")
    p.set_defaults(func=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    import yaml

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
