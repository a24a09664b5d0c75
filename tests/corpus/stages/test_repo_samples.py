"""repo_samples local first: the same documents as shuffling everything, a full-text shuffle only for
repositories that span parts, resume after a killed run with the same bytes."""

from __future__ import annotations

import json
import random
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus import storage
from corpus.engine.context import RunContext
from corpus.engine.parts import commit_part, commit_uri, list_parts, part_uri
from corpus.engine.runner import InProcessRunner
from corpus.ops.shuffle import ROUTE, Bucket, Shuffled, bucket_files, read_bucket, shuffle, string_route
from corpus.records import DOC_SCHEMA, Doc, docs_to_table
from corpus.stages.repo_samples import RepoSamplesConfig, RepoSamplesStage, build_samples
from corpus.stats import StageStats
from corpus.storage import PartWriter

# ------------------------------------------------------------------ the reference: the old stage


def _old_route_by_repo(table: pa.Table, part: int) -> pa.Table:
    repos = table.column("repo").to_pylist()
    ids = table.column("id").to_pylist()
    return table.append_column(ROUTE, pa.array(string_route([r if r is not None else "\0" + i for r, i in zip(repos, ids)])))


def _old_build_bucket(files: Bucket, out_path: str, seed: int, max_chars: int, registry_path: str | None, part_key: str) -> dict:
    from lang_registry import load_registry

    registry = load_registry(registry_path)

    def comment(language, path):
        return registry.path_comment(language, path) if language else f"# path: {path}"

    stats = StageStats()
    table = read_bucket(files) if files else DOC_SCHEMA.empty_table()
    rows = table.to_pylist()
    stats.add_in(len(rows), sum(r["size"] for r in rows))
    by_repo: dict[tuple, list[dict]] = {}
    web: list[dict] = []
    for r in rows:
        (web.append(r) if r["repo"] is None else by_repo.setdefault((r["source"], r["repo"]), []).append(r))
    with PartWriter(out_path, DOC_SCHEMA) as w:
        for key in sorted(by_repo):
            samples = build_samples(by_repo[key], seed, max_chars, comment)
            w.write(docs_to_table(samples))
            stats.add_kept(len(by_repo[key]), sum(f["size"] for f in by_repo[key]), out=len(samples))
        if web:
            web_table = pa.Table.from_pylist(sorted(web, key=lambda r: r["id"]), schema=DOC_SCHEMA)
            w.write(web_table)
            stats.add_kept(web_table.num_rows, sum(r["size"] for r in web))
    commit_part(out_path, part_key, stats)
    return stats.to_json()


def _old_run(ctx: RunContext, inputs: list[str], config: RepoSamplesConfig) -> StageStats:
    """The stage before local first: every document through one shuffle by repository."""
    shuffled = shuffle(ctx, inputs, _old_route_by_repo, None, "by_repo", target_bytes=config.bucket_bytes)
    total = StageStats()
    for b in range(shuffled.n_buckets):
        s = _old_build_bucket(bucket_files(shuffled, b), part_uri(ctx.stage_uri, b), ctx.seed, config.max_chars, config.registry, f"ref:{b}")
        total.merge(StageStats.from_json(s))
    return total


# --------------------------------------------------------------------------------------- helpers


def _write_parts(root, parts: list[list[Doc]]) -> list[str]:
    uris = []
    for i, docs in enumerate(parts):
        uri = str(root / f"in-{i:02d}.parquet")
        pq.write_table(docs_to_table(docs), uri)
        uris.append(uri)
    return uris


def _rows(stage_uri: str) -> list[dict]:
    return [r for p in list_parts(stage_uri) for r in pq.read_table(p).to_pylist()]


def _bag(rows: list[dict]) -> Counter:
    return Counter(json.dumps(r, sort_keys=True) for r in rows)


def _reference(tmp_path, inputs: list[str], config: RepoSamplesConfig, seed: int = 1234) -> tuple[list[dict], StageStats]:
    ctx = RunContext(str(tmp_path / "ref"), stage_name="repo_samples", seed=seed)
    stats = _old_run(ctx, inputs, config)
    return _rows(ctx.stage_uri), stats


def _file(source: str, repo: str | None, path: str, text: str, language: str | None = "Python", **meta) -> Doc:
    return Doc(source=source, domain="code" if repo else "text", repo=repo, path=path, text=text, language=language, meta=meta)


def _part_bytes(stage_uri: str) -> dict[str, bytes]:
    return {storage.basename(p): storage.read_bytes(p) for p in list_parts(stage_uri)}


# ------------------------------------------------------------------------------ (a) local only


def test_repositories_within_parts_need_no_text_shuffle(tmp_path, monkeypatch) -> None:
    parts = [
        [_file("gh", "a", f"src/m{i}.py", f"a = {i}\n" * 20) for i in range(4)]
        + [_file("web", None, f"https://x.org/{k}", f"page {k}\n", language=None) for k in range(3)]
        + [_file("gh", "b", "lib.rs", "fn main() {}\n", "Rust", github={"stars": 3})],
        [_file("gh", "c", f"c{i}.go", f"package c{i}\n" * 5, "Go") for i in range(3)] + [_file("pypi", "a", "a/__init__.py", "x = 1\n")],
        [_file("web", None, f"https://y.org/{k}", f"other {k}\n", language=None) for k in range(2)],
    ]
    inputs = _write_parts(tmp_path, parts)
    config = RepoSamplesConfig(bucket_bytes=200)  # the old stage: many buckets
    ref_rows, ref_stats = _reference(tmp_path, inputs, config)

    reads: list[tuple[str, list | None]] = []
    real_read = storage.read_table
    monkeypatch.setattr(storage, "read_table", lambda uri, columns=None: reads.append((uri, columns)) or real_read(uri, columns))
    ctx = RunContext(str(tmp_path / "out"), stage_name="repo_samples", stage_key="k")
    stats = RepoSamplesStage(config).run(ctx, inputs)

    assert not storage.exists(ctx.scratch("by_repo")) and not storage.exists(ctx.scratch("split"))  # no full-text shuffle
    assert ctx.load_step("by_repo") is None and ctx.load_step("spans") == {"spans": None, "rows": 0}
    # Each input part: its source and repo columns once (spans), all its columns once (local).
    assert sorted((u, tuple(c) if c else None) for u, c in reads if u in inputs) == sorted(
        [(u, ("source", "repo")) for u in inputs] + [(u, tuple(DOC_SCHEMA.names)) for u in inputs])
    assert [storage.basename(p) for p in list_parts(ctx.stage_uri)] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert _bag(_rows(ctx.stage_uri)) == _bag(ref_rows)
    assert stats.to_json() == ref_stats.to_json() and stats.out_records == 4 + 5  # 4 repositories, 5 web pages
    stats.check("repo_samples")
    # Output part i holds the documents of input part i: repositories by (source, repo), then web pages by id.
    first = pq.read_table(part_uri(ctx.stage_uri, 0)).to_pylist()
    assert [r["repo"] for r in first] == ["a", "b", None, None, None]
    assert [r["id"] for r in first[2:]] == sorted(d.id for d in parts[0][4:7])
    second = pq.read_table(part_uri(ctx.stage_uri, 1)).to_pylist()
    assert [(r["source"], r["repo"]) for r in second] == [("gh", "c"), ("pypi", "a")]  # same repo name, another source: not split


# ------------------------------------------------------------------------- (b) randomized


def _random_corpus(rng: random.Random) -> list[list[Doc]]:
    """3-6 parts; repositories in one part or split over 2-3; some big enough to be cut; web pages;
    a repository name shared by two sources; a path repeated in a split repository (ties in path order)."""
    n_parts = rng.randint(3, 6)
    parts: list[list[Doc]] = [[] for _ in range(n_parts)]
    langs = [("Python", "py"), ("Rust", "rs"), ("Go", "go"), (None, "txt")]
    for r in range(rng.randint(8, 16)):
        source = rng.choice(["gh", "gh", "pypi"])
        repo = f"org/r{r % 10}"  # r and r+10 share a name, maybe from another source
        n_files = rng.choice([1, 2, 5, 12, 30])
        spread = rng.sample(range(n_parts), rng.choice([1, 1, 2, 3])) if n_parts > 1 else [0]
        github = {"stars": rng.randint(0, 9), "forks": 1} if rng.random() < 0.4 else None
        for f in range(n_files):
            lang, ext = rng.choice(langs)
            text = "".join(rng.choice("abc xyz\n") for _ in range(rng.randint(5, 400)))
            meta = {"github": github} if github else {}
            doc = Doc(source=source, domain="code", repo=repo, path=f"d{f % 4}/f{f}.{ext}", text=text, language=lang, meta=meta)
            parts[rng.choice(spread)].append(doc)
        if len(spread) > 1 and rng.random() < 0.5:  # the same path in two parts of one repository
            for p in spread[:2]:
                parts[p].append(Doc(source=source, domain="code", repo=repo, path="dup.py", text=f"# copy in part {p}\n", language="Python"))
    for k in range(rng.randint(0, 8)):
        parts[rng.randrange(n_parts)].append(Doc(source="web", domain="text", path=f"https://w/{k}", text=f"web page {k}\n" * rng.randint(1, 5)))
    for docs in parts:
        rng.shuffle(docs)
    return parts


@pytest.mark.parametrize("seed", range(6))
def test_randomized_same_documents_and_totals_as_shuffling_everything(tmp_path, seed) -> None:
    rng = random.Random(seed)
    inputs = _write_parts(tmp_path, _random_corpus(rng))
    # Cut repositories (max_chars) and one or many buckets in both implementations.
    config = RepoSamplesConfig(max_chars=[600, 2000, 10**6][seed % 3], bucket_bytes=[300, 32 << 20][seed % 2])
    ref_rows, ref_stats = _reference(tmp_path, inputs, config, seed=seed)
    ctx = RunContext(str(tmp_path / "out"), stage_name="repo_samples", seed=seed, stage_key="k")
    stats = RepoSamplesStage(config).run(ctx, inputs)
    rows = _rows(ctx.stage_uri)
    assert _bag(rows) == _bag(ref_rows)
    assert stats.to_json() == ref_stats.to_json()
    stats.check("repo_samples")
    assert len(rows) == stats.out_records
    # Split repositories are built after the local parts, each in one of them only.
    n = len(inputs)
    local = {(r["source"], r["repo"]) for p in list_parts(ctx.stage_uri)[:n] for r in pq.read_table(p).to_pylist()}
    shuffled = {(r["source"], r["repo"]) for p in list_parts(ctx.stage_uri)[n:] for r in pq.read_table(p).to_pylist()}
    assert not local & shuffled
    spread: dict[tuple, set[int]] = {}
    for i, uri in enumerate(inputs):
        for r in pq.read_table(uri, columns=["source", "repo"]).to_pylist():
            if r["repo"] is not None:
                spread.setdefault((r["source"], r["repo"]), set()).add(i)
    assert shuffled == {k for k, v in spread.items() if len(v) > 1}
    assert storage.exists(ctx.scratch("by_repo")) == bool(shuffled)


# ------------------------------------------------------------------------------------ (c) resume


def _split_corpus(tmp_path) -> list[str]:
    return _write_parts(tmp_path, _random_corpus(random.Random(3)))


def test_rebuilds_a_deleted_part_with_the_same_bytes(tmp_path) -> None:
    inputs = _split_corpus(tmp_path)
    stage = RepoSamplesStage(RepoSamplesConfig(max_chars=2000, bucket_bytes=300))
    ctx = RunContext(str(tmp_path / "out"), stage_name="repo_samples", stage_key="k1")
    first = stage.run(ctx, inputs)
    before = _part_bytes(ctx.stage_uri)
    n = len(inputs)
    assert len(before) > n  # some repositories span parts: bucket parts after the local ones
    split_local = next(i for i in range(n) if storage.read_json(commit_uri(part_uri(ctx.stage_uri, i)))["split_rows"])
    for i in (split_local, len(before) - 1):  # a local part that gave rows to the shuffle, and a bucket part
        storage.remove(part_uri(ctx.stage_uri, i))
        storage.remove(commit_uri(part_uri(ctx.stage_uri, i)))
    untouched = part_uri(ctx.stage_uri, (split_local + 1) % n)
    mtime = storage.size(untouched), (tmp_path / "out" / "repo_samples" / storage.basename(untouched)).stat().st_mtime_ns
    again = stage.run(ctx, inputs)
    assert again.to_json() == first.to_json()
    assert _part_bytes(ctx.stage_uri) == before
    assert (storage.size(untouched), (tmp_path / "out" / "repo_samples" / storage.basename(untouched)).stat().st_mtime_ns) == mtime


class _KilledAfter(InProcessRunner):
    """Runs `budget` tasks, then fails like a killed driver."""

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def map(self, fn, arg_list, **kwargs):
        kwargs.pop("order", None)  # one task at a time: the submission order is this loop's
        out = []
        for args in arg_list:
            if self.budget <= 0:
                raise KeyboardInterrupt("killed")
            self.budget -= 1
            out.append(super().map(fn, [args], **kwargs)[0])
        return out


def test_a_run_killed_at_any_task_resumes_to_the_same_bytes(tmp_path) -> None:
    inputs = _split_corpus(tmp_path)
    stage = RepoSamplesStage(RepoSamplesConfig(max_chars=2000, bucket_bytes=3000))
    clean_ctx = RunContext(str(tmp_path / "clean"), stage_name="repo_samples", stage_key="k1")
    clean = stage.run(clean_ctx, inputs)
    expected = _part_bytes(clean_ctx.stage_uri)
    counter = _KilledAfter(10**9)
    stage.run(RunContext(str(tmp_path / "count"), stage_name="repo_samples", stage_key="k1", runner=counter), inputs)
    n_tasks = 10**9 - counter.budget
    assert n_tasks > 3 * len(inputs)  # spans maps and reducers, span lists, local parts, by_repo maps, buckets
    for budget in sorted({1, 2, n_tasks - 1, *range(3, n_tasks, max(1, n_tasks // 8))}):
        out = tmp_path / f"killed-{budget}"
        with pytest.raises(KeyboardInterrupt):
            stage.run(RunContext(str(out), stage_name="repo_samples", stage_key="k1", runner=_KilledAfter(budget)), inputs)
        ctx = RunContext(str(out), stage_name="repo_samples", stage_key="k1")
        assert stage.run(ctx, inputs).to_json() == clean.to_json(), budget
        assert _part_bytes(ctx.stage_uri) == expected, budget


def test_a_saved_step_of_another_computation_is_not_trusted(tmp_path) -> None:
    inputs = _split_corpus(tmp_path)
    stage = RepoSamplesStage(RepoSamplesConfig(max_chars=2000, bucket_bytes=300))
    ctx = RunContext(str(tmp_path / "out"), stage_name="repo_samples", stage_key="k1")
    stage.run(ctx, inputs)
    assert ctx.load_step("spans") is not None and ctx.load_step("by_repo") is not None
    other = RunContext(str(tmp_path / "out"), stage_name="repo_samples", stage_key="k2")
    assert other.load_step("spans") is None and other.load_step("by_repo") is None


def test_no_inputs_no_parts(tmp_path) -> None:
    ctx = RunContext(str(tmp_path / "out"), stage_name="repo_samples", stage_key="k")
    assert RepoSamplesStage().run(ctx, []).to_json() == StageStats().to_json()


def test_spans_shuffle_is_routed_by_part(tmp_path) -> None:
    """Part i reads from step spans exactly the keys of its repositories that occur in another part."""
    parts = [[_file("gh", "x", "1.py", "a"), _file("gh", "y", "1.py", "b")], [_file("gh", "x", "2.py", "c")],
             [_file("gh", "y", "3.py", "d"), _file("gh", "x", "3.py", "e"), _file("gh", "z", "z.py", "f")]]
    inputs = _write_parts(tmp_path, parts)
    ctx = RunContext(str(tmp_path / "out"), stage_name="repo_samples", stage_key="k")
    RepoSamplesStage().run(ctx, inputs)
    spans = Shuffled.from_json(ctx.load_step("spans")["spans"])
    key = {name: int(string_route([f"gh\0{name}"])[0]) for name in "xyz"}
    got = [sorted(read_bucket(spans.part(i, 3), ["key"]).column("key").to_pylist()) for i in range(3)]
    assert got == [sorted([key["x"], key["y"]]), [key["x"]], sorted([key["x"], key["y"]])]
    # Parts 0-1 hold nothing of their own, part 2 holds z; x and y are built in the one bucket after them.
    assert [[r["repo"] for r in pq.read_table(p).to_pylist()] for p in list_parts(ctx.stage_uri)] == [[], [], ["z"], ["x", "y"]]
