"""Measure a finished `corpus run` from its outputs (issue 10's "Measured" list).

    python pipelines/examples/measure_run.py OUT [--json OUT/reports/measure.json] [--negative-check]

Reads OUT/shards/manifest.json and the shards it lists, OUT/reports/stats.json, the parts named by the
`_SUCCESS.json` of filter, decont, repo_samples and dedup_near, and their `_dropped` parts. Prints and
(optionally) writes:

- languages that passed the filter stage (code-domain repository files) vs tokens per language in the
  shards: the manifest's per-file count (`file_language_tokens`) and, independently, whether the path
  header of at least one file of the language is found in the decoded shard text; missing languages
  are listed with what removed their files after the filter (decont, near dedup) if anything did;
- FIM examples made / complete in one row, counted from the shard ids (begin, hole, end sentinels in
  order inside one document segment of one row) beside the manifest's own figures; FIM share of code
  chunks (chunks = BOS tokens in code segments);
- achieved vs target mixture, from the shard segments (train split) beside the manifest;
- YAML and notebook files reaching the shards as text (a notebook body must not hold `"cells": [`);
- decontamination: each dropped file, and whether the other files of its repository reached the shards;
- optionally a negative check: a config whose only repository input is an unreachable git URL must
  exit non-zero (`--negative-check`; runs `corpus run` in-process on a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from corpus.layout import DROPPED_DIR, MANIFEST, REPORTS_DIR, STATS_REPORT, SUCCESS


def stage_parts(out: Path, stage: str) -> list[Path]:
    success = json.loads((out / stage / SUCCESS).read_text())
    return [out / stage / p for p in success["parts"]]


def dropped_rows(out: Path, stage: str) -> list[dict]:
    rows: list[dict] = []
    for p in sorted((out / stage / DROPPED_DIR).glob("part-*.parquet")):
        rows.extend(pq.read_table(p).to_pylist())
    return rows


def read_rows(paths: list[Path], columns: list[str]) -> list[dict]:
    rows: list[dict] = []
    for p in paths:
        rows.extend(pq.read_table(p, columns=columns).to_pylist())
    return rows


def scan_shards(out: Path, manifest: dict, code_sources: set[str], domain_of: dict[str, str]) -> dict:
    sp = manifest["special_tokens"]
    bos, eos, beg, hole, end = sp["bos"], sp["eos"], sp["fim_begin"], sp["fim_hole"], sp["fim_end"]
    seq_len = manifest["seq_len"]
    tok_by_label: Counter = Counter()
    train_by_domain: Counter = Counter()
    fim_begins = fim_complete = orphan_sentinels = 0
    code_chunks = code_fim_chunks = 0
    texts: list[list[int]] = []
    for shard in manifest["shards"]:
        table = pq.read_table(out / "shards" / shard["path"])
        for ids, offs, srcs, langs, n_pad in zip(*(table.column(c).to_pylist() for c in
                                                  ("input_ids", "doc_offsets", "doc_sources", "doc_languages", "n_pad"))):
            arr = np.asarray(ids, dtype=np.int64)
            assert arr.shape[0] == seq_len, f"{shard['path']}: row of {arr.shape[0]} ids"
            stop = seq_len - int(n_pad)
            bounds = list(offs) + [stop]
            for k, (src, lang) in enumerate(zip(srcs, langs)):
                seg = arr[bounds[k]:bounds[k + 1]]
                tok_by_label[lang] += int(seg.shape[0])
                if shard["split"] == "train":
                    train_by_domain[domain_of.get(src, "?")] += int(seg.shape[0])
                texts.append([int(x) for x in seg if x < bos])  # plain text ids only, for the header search
                b_pos = np.flatnonzero(seg == beg)
                h_pos = np.flatnonzero(seg == hole)
                e_pos = np.flatnonzero(seg == end)
                fim_begins += int(b_pos.shape[0])
                # complete: a begin followed by a hole, then an end, then EOS, all in this segment of this row
                for b in b_pos:
                    h = h_pos[h_pos > b]
                    e = e_pos[e_pos > b]
                    if h.shape[0] and e.shape[0] and h[0] < e[0] and np.any(seg[e[0]:] == eos):
                        fim_complete += 1
                first_b = b_pos[0] if b_pos.shape[0] else seg.shape[0]
                orphan_sentinels += int(np.sum(h_pos < first_b) + np.sum(e_pos < first_b))
                if src in code_sources:
                    starts = np.flatnonzero(seg == bos)
                    code_chunks += int(starts.shape[0])
                    code_fim_chunks += int(sum(1 for s in starts if s + 1 < seg.shape[0] and seg[s + 1] == beg))
    total_train = sum(train_by_domain.values())
    return {
        "tokens_by_chunk_label": dict(tok_by_label.most_common()),
        "train_tokens_by_domain": dict(train_by_domain),
        "achieved_from_shards": {d: round(n / total_train, 4) for d, n in sorted(train_by_domain.items())} if total_train else {},
        "fim": {"begins": fim_begins, "complete_in_one_row": fim_complete, "orphan_hole_or_end": orphan_sentinels,
                "complete_share": round(fim_complete / fim_begins, 4) if fim_begins else None,
                "code_chunks": code_chunks, "code_fim_chunks": code_fim_chunks,
                "fim_share_of_code_chunks": round(code_fim_chunks / code_chunks, 4) if code_chunks else None},
        "_texts": texts,
    }


def negative_check(python: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="neg_check_") as tmp:
        cfg = Path(tmp) / "neg.yaml"
        cfg.write_text("inputs:\n  - name: github\n    kind: repos\n    domain: code\n"
                       "    paths: ['https://127.0.0.1:9/x.git']\n")
        proc = subprocess.run([python, "-c", "import sys; from corpus.cli import main; sys.exit(main())", "run", str(cfg),
                               "--output", str(Path(tmp) / "out"), "--in-process"],
                              capture_output=True, text=True, timeout=600, env=dict(os.environ, GIT_TERMINAL_PROMPT="0"))
        msg = [ln for ln in proc.stderr.splitlines() if ln.strip() and "WARNING" not in ln[:40]]
        return {"config": "one repos input, paths [https://127.0.0.1:9/x.git]", "exit_code": proc.returncode,
                "passed": proc.returncode != 0, "stderr_last_lines": msg[-3:]}


def measure(out: Path, with_negative: bool = False) -> dict:
    manifest = json.loads((out / "shards" / MANIFEST).read_text())
    stats = json.loads((out / REPORTS_DIR / STATS_REPORT).read_text())

    filt = read_rows(stage_parts(out, "filter"), ["id", "source", "domain", "repo", "path", "language", "text"])
    domain_of = {r["source"]: r["domain"] for r in filt if r["repo"] is not None}
    domain_of.update({r["source"]: "text" for r in filt if r["repo"] is None and r["source"] not in domain_of})
    code_sources = {s for s, d in domain_of.items() if d == "code"}
    files = [r for r in filt if r["domain"] == "code" and r["repo"] is not None]
    passed = Counter(r["language"] or "" for r in files)

    decont_dropped = dropped_rows(out, "decont")
    near_dropped = dropped_rows(out, "dedup_near")
    samples = read_rows(stage_parts(out, "dedup_near"), ["id", "source", "repo", "text", "meta"])
    in_samples: dict[str, tuple[str, str]] = {}  # file id -> (language, header text)
    for s in samples:
        meta = json.loads(s["meta"] or "{}")
        for fid, lang, (start, body, _end) in zip(meta.get("file_ids", []), meta.get("languages", []), meta.get("spans", [])):
            in_samples[fid] = (lang or "", s["text"][start:body])
    removed_after = Counter()
    for r in files:
        if r["id"] not in in_samples:
            removed_after[r["language"] or ""] += 1
    expected = sorted(lang for lang in passed if any(in_samples.get(r["id"], ("",))[0] == lang or
                                                     (r["id"] in in_samples and (r["language"] or "") == lang) for r in files))

    scan = scan_shards(out, manifest, code_sources, domain_of)
    # decode the shard text once and look for each file's path header
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(out / "shards" / manifest["tokenizer"]["path"]))
    decoded = "\n".join(tok.decode_batch(scan.pop("_texts")))
    header_found: Counter = Counter()
    for lang, header in in_samples.values():
        if header and header in decoded:
            header_found[lang] += 1
    file_tokens = manifest.get("file_language_tokens", {})
    langs_table = []
    for lang in sorted(passed, key=lambda x: -passed[x]):
        langs_table.append({"language": lang or "(none)", "files_passed_filter": passed[lang],
                            "files_removed_after_filter": removed_after[lang],
                            "tokens_in_shards": file_tokens.get(lang, 0),
                            "train_tokens_as_chunk_label": scan["tokens_by_chunk_label"].get(lang, 0),
                            "files_with_path_header_in_shards": header_found[lang]})
    missing = [t["language"] for t in langs_table if t["files_passed_filter"] > t["files_removed_after_filter"]
               and (t["tokens_in_shards"] == 0 or t["files_with_path_header_in_shards"] == 0)]

    # YAML and notebooks as text
    nb = [r for r in files if r["language"] == "Jupyter Notebook"]
    yml = [r for r in files if r["language"] == "YAML"]
    nb_json = [r["path"] for r in nb if '"cells": [' in r["text"] or '"cell_type"' in r["text"]]
    nb_in_shards_json = 0
    for s in samples:
        meta = json.loads(s["meta"] or "{}")
        for lang, (_start, body, end) in zip(meta.get("languages", []), meta.get("spans", [])):
            if lang == "Jupyter Notebook" and '"cells": [' in s["text"][body:end]:
                nb_in_shards_json += 1
    text_checks = {
        "yaml_files_passed_filter": len(yml), "yaml_tokens_in_shards": file_tokens.get("YAML", 0),
        "yaml_files_with_header_in_shards": header_found["YAML"],
        "notebooks_passed_filter": len(nb), "notebook_tokens_in_shards": file_tokens.get("Jupyter Notebook", 0),
        "notebooks_with_header_in_shards": header_found["Jupyter Notebook"],
        "notebooks_still_json_after_filter": nb_json[:5], "notebook_spans_with_cells_json_in_samples": nb_in_shards_json,
        "notebook_example": (nb[0]["path"] + ": " + nb[0]["text"][:160]) if nb else None,
        "passed": bool(yml) and bool(nb) and file_tokens.get("YAML", 0) > 0 and file_tokens.get("Jupyter Notebook", 0) > 0
        and not nb_json and nb_in_shards_json == 0,
    }

    # decontamination costs only the contaminated file
    decont_checks = []
    dec_kept = {r["id"] for r in read_rows(stage_parts(out, "decont"), ["id"])}
    for d in decont_dropped:
        repo_files = [r for r in files if r["repo"] == d["repo"] and r["source"] == d["source"]]
        others = [r for r in repo_files if r["id"] != d["id"]]
        decont_checks.append({
            "repo": d["repo"], "path": d["path"], "detail": d["detail"], "repo_files_after_filter": len(repo_files),
            "other_files_kept_by_decont": sum(r["id"] in dec_kept for r in others),
            "other_files_in_repo_samples": sum(r["id"] in in_samples for r in others),
            "other_files_with_header_in_shards": sum(1 for r in others if r["id"] in in_samples and in_samples[r["id"]][1] in decoded),
            "passed": bool(others) and all(r["id"] in dec_kept for r in others),
        })

    fim_m = manifest.get("fim_examples", {})
    result = {
        "out": str(out),
        "stages": {k: {"in": v.get("in"), "kept": v.get("kept"), "out": v.get("out"), "dropped": v.get("dropped")}
                   for k, v in stats.get("stages", {}).items()},
        "totals": manifest.get("totals", {}),
        "languages": langs_table,
        "languages_expected_in_shards": len(expected),
        "languages_missing_from_shards": missing,
        "fim_manifest": fim_m,
        "fim_from_shards": scan["fim"],
        "fim_ok": (scan["fim"]["complete_share"] or 0) >= 0.99 and scan["fim"]["orphan_hole_or_end"] == 0
        and scan["fim"]["fim_share_of_code_chunks"] is not None and abs(scan["fim"]["fim_share_of_code_chunks"] - 0.5) <= 0.05,
        "mixture": {"target": manifest["mixture"]["target"], "achieved_manifest": manifest["mixture"]["achieved"],
                    "achieved_from_shards": scan["achieved_from_shards"], "train_tokens_by_domain": scan["train_tokens_by_domain"]},
        "warnings": manifest.get("warnings", []),
        "text_checks": text_checks,
        "decont": {"dropped": decont_checks, "near_dedup_dropped": [(d["source"], d["repo"], d["path"]) for d in near_dropped]},
        "tokens_by_chunk_label": scan["tokens_by_chunk_label"],
    }
    if with_negative:
        result["negative_check"] = negative_check(sys.executable)
    return result


def print_report(m: dict) -> None:
    print(f"run: {m['out']}  tokens {m['totals'].get('tokens')}  train {m['totals'].get('train_tokens')}  eval {m['totals'].get('eval_tokens')}")
    print(f"\n{'language':<22}{'files':>7}{'removed':>9}{'tokens':>10}{'label tok':>11}{'hdr found':>11}")
    for t in m["languages"]:
        print(f"{t['language']:<22}{t['files_passed_filter']:>7}{t['files_removed_after_filter']:>9}{t['tokens_in_shards']:>10}"
              f"{t['train_tokens_as_chunk_label']:>11}{t['files_with_path_header_in_shards']:>11}")
    print(f"\nlanguages that passed the filter and are missing from the shards: {m['languages_missing_from_shards'] or 'none'}")
    f, fm = m["fim_from_shards"], m["fim_manifest"]
    print(f"FIM (shards): {f['begins']} made, {f['complete_in_one_row']} complete in one row ({f['complete_share']}), "
          f"{f['orphan_hole_or_end']} orphan sentinels; share of code chunks {f['code_fim_chunks']}/{f['code_chunks']} = {f['fim_share_of_code_chunks']}")
    print(f"FIM (manifest): {fm}")
    print(f"FIM ok: {m['fim_ok']}")
    mx = m["mixture"]
    for d in sorted(set(mx["target"]) | set(mx["achieved_from_shards"])):
        print(f"mixture {d:<5} target {mx['target'].get(d, 0):.3f}  achieved (manifest) {mx['achieved_manifest'].get(d, 0):.3f}"
              f"  (shards) {mx['achieved_from_shards'].get(d, 0):.3f}")
    for w in m["warnings"]:
        print(f"warning: {w}")
    print(f"text checks: {json.dumps(m['text_checks'], ensure_ascii=False)}")
    print(f"decont: {json.dumps(m['decont'], ensure_ascii=False)}")
    if "negative_check" in m:
        print(f"negative check: {json.dumps(m['negative_check'])}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--negative-check", action="store_true")
    args = ap.parse_args(argv)
    m = measure(args.out, args.negative_check)
    print_report(m)
    if args.json:
        args.json.write_text(json.dumps(m, indent=1, ensure_ascii=False))
    ok = not m["languages_missing_from_shards"] and m["fim_ok"] and all(d["passed"] for d in m["decont"]["dropped"]) \
        and m.get("negative_check", {}).get("passed", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
