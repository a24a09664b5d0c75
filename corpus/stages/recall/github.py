"""GitHub recall (DeepSeek-Coder-V2 §2: "the same pipeline on GitHub with two iterations"): a fastText
classifier of high-quality source code, trained on seed files against random repository files, scores
the repository files the filter's code rules would drop; the files it recalls carry `meta.recall` and
the filter keeps them. Part of the recall stage (`corpus/stages/recall/stage.py`), off by default.

Per part, one index task reads the repository files once and writes a scratch table of the rows the
loop needs, pretokenized: seeds, pool files and negative candidates (kind 0 / 1 / 2). Per iteration
one training task and one scoring task per part; the driver sees per-part counts only.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from classifiers import OTHER, RecallDataError, RecallParams, fasttext_line
from classifiers.model import train_to_file
from corpus import storage
from corpus.engine.parts import part_name
from corpus.filters.code_rules import check_code, load_rules
from corpus.stages.recall.common import (
    check_degenerate,
    load_model,
    make_pretokenize,
    score_spread,
    seed_task,
    sha256_file,
    warn_degenerate,
)

SEED, POOL, NEGATIVE = 0, 1, 2
LINES_SCHEMA = pa.schema([("row", pa.int32()), ("kind", pa.int8()), ("key", pa.uint64()), ("tokens", pa.int64()),
                          ("why", pa.string()), ("line", pa.large_string())])
RECALL_KIND = "github_code"  # meta.recall.kind of a recalled repository file (the filter keeps it)


def _stars(meta: str | None) -> int | None:
    try:
        gh = json.loads(meta).get("github") if meta else None
    except (TypeError, ValueError, AttributeError):
        return None
    stars = gh.get("stars") if isinstance(gh, dict) else None
    return stars if isinstance(stars, int) else None


def index_task(in_uri: str, part: int, out_uri: str, opts: dict[str, Any], key_bound: int) -> dict[str, Any]:
    """One read of a part's repository files: seeds (pass the code rules and the seed rule), the pool
    (fail a code rule; known language, not vendored/generated) and negative candidates (the rest,
    hash key under the bound), pretokenized."""
    from classifiers.code_prose import is_seed  # deferred: kept out of corpus --help
    from classifiers.sharded import sample_keys  # deferred: kept out of corpus --help

    rules = load_rules(opts["code_rules"])
    rule = opts["seed_rule"]
    t = storage.read_table(in_uri, columns=["id", "repo", "language", "vendored", "generated", "text", "meta"])
    ids, repos, langs, vend, gen, texts, metas = (t.column(c).to_pylist() for c in ("id", "repo", "language", "vendored", "generated", "text", "meta"))
    keys = sample_keys(ids, f"{opts['seed']}/github")
    pretokenize = make_pretokenize(opts["tokenizer"])
    rows, kinds, out_keys, tokens, whys, lines = [], [], [], [], [], []
    counts = {"files": 0, "seeds": {}, "pool": {}, "negative_candidates": 0}
    for i in range(t.num_rows):
        if repos[i] is None or langs[i] is None or vend[i] or gen[i]:
            continue  # web pages, and files the filter drops for reasons recall does not override
        counts["files"] += 1
        failed = check_code(texts[i], langs[i], rules)
        if failed is not None:
            kind, why = POOL, failed
        else:
            why = is_seed(texts[i], _stars(metas[i]), rule["min_prose_words"], rule["min_prose_share"], rule["min_stars"])
            kind = SEED if why else NEGATIVE
            if kind == NEGATIVE and keys[i] >= np.uint64(key_bound):
                continue
        if kind == NEGATIVE:
            counts["negative_candidates"] += 1
        else:
            bucket = counts["seeds" if kind == SEED else "pool"]
            bucket[why] = bucket.get(why, 0) + 1
        toks = pretokenize(texts[i])
        rows.append(i), kinds.append(kind), out_keys.append(keys[i]), tokens.append(len(toks)), whys.append(why)
        lines.append(fasttext_line(toks, opts["max_tokens"]))
    storage.write_table(out_uri, pa.table({"row": pa.array(rows, pa.int32()), "kind": pa.array(kinds, pa.int8()),
                                           "key": pa.array(out_keys, pa.uint64()), "tokens": pa.array(tokens, pa.int64()),
                                           "why": pa.array(whys, pa.string()), "line": pa.array(lines, pa.large_string())}, schema=LINES_SCHEMA))
    return counts


def count_task(in_uri: str) -> int:
    return int(storage.read_table(in_uri, columns=["repo"]).column("repo").is_valid().to_numpy(zero_copy_only=False).sum())


def train_task(lines_uris: list[str], known_uris: list[str | None], user_seeds_uri: str, n_neg: int, params_json: dict[str, Any],
               model_uri: str) -> dict[str, Any]:
    """Positives: seed files, user code seeds, and the pool files earlier iterations recalled;
    negatives: the `n_neg` negative candidates with the smallest keys (in part, row order) plus user
    `other` seeds."""
    pos: list[str] = []
    neg = []  # (key, part, row, line)
    for part, (uri, known_uri) in enumerate(zip(lines_uris, known_uris)):
        t = storage.read_table(uri, columns=["row", "kind", "key", "line"])
        kind = t.column("kind").to_numpy()
        lines = t.column("line").to_pylist()
        recalled = np.zeros(len(kind), dtype=bool)
        if known_uri is not None:
            recalled[kind == POOL] = storage.read_table(known_uri).column("first").to_numpy() > 0
        pos.extend(ln for ln, k, r in zip(lines, kind, recalled) if k == SEED or r)
        keys, rows = t.column("key").to_numpy(), t.column("row").to_numpy()
        neg.extend((int(keys[j]), part, int(rows[j]), lines[j]) for j in np.nonzero(kind == NEGATIVE)[0])
        neg = sorted(neg)[:n_neg]
    user = storage.read_table(user_seeds_uri)
    for lab, line in zip(user.column("label").to_pylist(), user.column("line").to_pylist()):
        if lab == "code":
            pos.append(line)
    negatives = [x[3] for x in sorted(neg, key=lambda x: (x[1], x[2]))]
    negatives += [ln for lab, ln in zip(user.column("label").to_pylist(), user.column("line").to_pylist()) if lab == OTHER]
    with tempfile.TemporaryDirectory(prefix="corpus-ghrecall-") as tmp:
        local = Path(tmp) / "model.bin"
        try:
            info = train_to_file({"code": pos, OTHER: negatives}, local, RecallParams(**params_json))
        except RecallDataError as exc:
            return {"error": str(exc), "positives": len(pos), "negatives": len(negatives)}
        digest = sha256_file(local)
        storage.upload_file(local, model_uri)
    return {"name": "github", "positives": len(pos), "negatives": len(negatives), "info": info.to_json(), "sha256": digest}


def score_task(lines_uri: str, model: list[str], prev_uri: str | None, it: int, threshold: float, out_uri: str) -> dict[str, Any]:
    """Score the part's pool files; `first` = the first iteration that recalled a file (0 = never),
    carried over from the previous iteration (a file once recalled stays a positive)."""
    t = storage.read_table(lines_uri, columns=["row", "kind", "tokens", "line"])
    pool = np.nonzero(t.column("kind").to_numpy() == POOL)[0]
    lines = t.column("line").take(pa.array(pool, pa.int64())).to_pylist()
    started = time.perf_counter()
    p = load_model(*model).score_lines(lines, ["code"])[:, 0] if lines else np.zeros(0, np.float32)
    seconds = time.perf_counter() - started
    prev = storage.read_table(prev_uri).column("first").to_numpy() if prev_uri else np.zeros(len(pool), np.int8)
    hit = p >= threshold
    first = np.where(prev > 0, prev, np.where(hit, it, 0)).astype(np.int8)
    storage.write_table(out_uri, pa.table({"row": pa.array(t.column("row").to_numpy()[pool], pa.int32()), "p": pa.array(p, pa.float32()),
                                           "first": pa.array(first, pa.int8())}))
    tokens = t.column("tokens").to_numpy()[pool]
    return {"scored": len(pool), "recalled_files": int(hit.sum()), "recalled_tokens": int(tokens[hit].sum()),
            "new_files": int((hit & (prev == 0)).sum()), "both": int((hit & (prev > 0)).sum()), "collected": int((first > 0).sum()),
            "collected_tokens": int(tokens[first > 0].sum()), "score_seconds": seconds,
            "p_min": [float(p.min())] if len(p) else None, "p_max": [float(p.max())] if len(p) else None}


def mark(metas: list[str | None], final_uri: str, threshold: float) -> list[str | None]:
    """`meta.recall` on the part's collected files (apply task): why each rejoins the corpus."""
    t = storage.read_table(final_uri)
    for row, p, first in zip(t.column("row").to_pylist(), t.column("p").to_pylist(), t.column("first").to_pylist()):
        if first <= 0:
            continue
        try:
            meta = json.loads(metas[row]) if metas[row] else {}
        except (TypeError, ValueError):
            meta = None
        if not isinstance(meta, dict):
            meta = {"meta_unparsed": metas[row]}
        meta["recall"] = {"kind": RECALL_KIND, "iteration": int(first), "probability": round(float(p), 5), "threshold": threshold}
        metas[row] = json.dumps(meta, sort_keys=True, ensure_ascii=False)
    return metas


def run_github(stage, ctx, inputs: list[str], report: dict[str, Any], params: dict[str, Any]) -> list[str] | None:
    """The GitHub loop over the parts; returns the per-part scratch files of the final recall (None
    when nothing was trained). Steps `github-prepare` and `github-iter-K` resume like the web loop."""
    from classifiers.sharded import key_threshold  # deferred: kept out of corpus --help

    cfg = stage.config.github
    S, n = ctx.scratch, len(inputs)
    lines = [S("github", "lines", part_name(i)) for i in range(n)]
    rep: dict[str, Any] = {"config": cfg.model_dump(mode="json")}
    report["github"] = rep
    prep = ctx.load_step("github-prepare")
    if prep is None:
        seeds = ctx.map(seed_task, [(cfg.seeds, stage.config.tokenizer, stage.config.fasttext.max_tokens, S("github", "seeds.parquet"),
                                     S("github", "seed_urls.parquet"))], desc="recall:github_seeds")[0]
        files = sum(ctx.map(count_task, [(u,) for u in inputs], desc="recall:github_count"))
        opts = {"code_rules": cfg.code_rules, "seed_rule": cfg.seed_rule.model_dump(), "seed": ctx.seed,
                "tokenizer": stage.config.tokenizer, "max_tokens": stage.config.fasttext.max_tokens}
        bound = key_threshold(cfg.max_negatives, files) if files else 0
        counts = ctx.map(index_task, [(inputs[i], i, lines[i], opts, bound) for i in range(n)], desc="recall:github_index")
        prep = {"user_seeds": seeds["files"], "files": sum(c["files"] for c in counts),
                "seeds": _sum([c["seeds"] for c in counts]), "pool": _sum([c["pool"] for c in counts]),
                "negative_candidates": sum(c["negative_candidates"] for c in counts), "user_counts": seeds["counts"]}
        ctx.save_step("github-prepare", prep)
    rep.update({k: prep[k] for k in ("user_seeds", "files", "seeds", "pool", "negative_candidates")})
    rep["iterations"] = []
    n_seed = sum(prep["seeds"].values()) + prep["user_counts"].get("code", 0)
    if not sum(prep["pool"].values()):
        rep["skipped"] = "no repository file fails a code rule: nothing to recall"
        return None
    if not n_seed:
        rep["skipped"] = "no seed files: no file meets the seed rule and no user seeds were given"
        return None
    collected = 0
    for it in range(1, cfg.iterations + 1):
        done = ctx.load_step(f"github-iter-{it}")
        if done is None:
            started = time.time()
            known = [S("github", f"iter-{it - 1}", part_name(i)) if it > 1 else None for i in range(n)]
            n_pos = n_seed + collected
            n_neg = min(prep["negative_candidates"], int(round(cfg.negatives_per_positive * n_pos)))
            model_uri = S("github", f"iter-{it}.bin")
            trained = ctx.map(train_task, [(lines, known, S("github", "seeds.parquet"), n_neg, params, model_uri)], desc="recall:github_train")[0]
            if "error" in trained:
                done = {"error": trained["error"]}
            else:
                scored = ctx.map(score_task, [(lines[i], [model_uri, trained["sha256"]], known[i], it, cfg.threshold,
                                               S("github", f"iter-{it}", part_name(i))) for i in range(n)], desc="recall:github_score")
                tot = {k: sum(s[k] for s in scored) for k in ("scored", "recalled_files", "recalled_tokens", "new_files", "both", "collected", "collected_tokens")}
                entry = {"iteration": it, "positives": trained["positives"], "negatives": trained["negatives"], "train": {"github": trained["info"]},
                         **tot, "score_spread": score_spread(scored), "seconds": round(time.time() - started, 2)}
                if it > 1:
                    entry["already_recalled_share"] = round(tot["both"] / tot["recalled_files"], 4) if tot["recalled_files"] else 0.0
                check_degenerate(entry, [trained], "github recall", "stages.recall.github.seeds, or a looser seed_rule")
                done = {"entry": entry}
            ctx.save_step(f"github-iter-{it}", done)
        if "error" in done:
            rep["skipped"] = done["error"]
            return None
        rep["iterations"].append(done["entry"])
        warn_degenerate(report, done["entry"])
        if "degenerate" in done["entry"]:
            # Its probabilities are noise around the prior: adding files on them would be a coin flip.
            rep["skipped"] = f"iteration {it}: the classifier is degenerate; no file is recalled"
            return None
        collected = done["entry"]["collected"]
    rep["collected_files"] = collected
    rep["collected_tokens"] = rep["iterations"][-1]["collected_tokens"]
    return [S("github", f"iter-{cfg.iterations}", part_name(i)) for i in range(n)]


def _sum(dicts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


