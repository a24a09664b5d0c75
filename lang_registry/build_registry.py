"""Generate `lang_registry/data/languages.yaml` from GitHub Linguist's languages.yml and Pygments.

Usage: python -m lang_registry.build_registry --linguist PATH/languages.yml [--names supported_langs.txt]
       [--out lang_registry/data/languages.yaml] [--no-probe]

Every fact carries its source: `linguist:<name>`, `linguist-alias:<name>`, `pygments:<lexer>`, `curated`.
Run it again with a newer Linguist to refresh the table; curated decisions live in `curated.py`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from lang_registry import curated
from lang_registry.heuristic_rules import HEURISTICS
from lang_registry.linguist_rules import extension_rules

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = PACKAGE_DIR / "data" / "languages.yaml"
DEFAULT_NAMES = PACKAGE_DIR / "data" / "supported_langs.txt"
TYPES = ("programming", "markup", "data", "prose")


def _norm(name: str) -> str:
    return re.sub(r"[\s\-_]", "", name.lower())


def _expand_glob(glob: str) -> list[str]:
    """Expand Pygments' `[abc]` character classes: '*.php[345]' -> ['*.php3', '*.php4', '*.php5']."""
    m = re.search(r"\[([^\]]+)\]", glob)
    if not m:
        return [glob]
    out = []
    for ch in m.group(1):
        out.extend(_expand_glob(glob[: m.start()] + ch + glob[m.end():]))
    return out


def split_globs(globs: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Pygments file-name globs -> (extensions, exact filenames, other fnmatch patterns)."""
    exts, names, patterns = [], [], []
    for raw in globs:
        for g in _expand_glob(raw):
            if g.startswith("*.") and not any(c in g[2:] for c in "*?["):
                exts.append(g[1:])
            elif not any(c in g for c in "*?["):
                names.append(g)
            else:
                patterns.append(g)
    return exts, names, patterns


def _uniq(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [x for x in items if not (x in seen or seen.add(x))]


def load_pygments() -> tuple[dict[str, tuple], dict[str, tuple]]:
    from pygments.lexers import get_all_lexers

    by_name: dict[str, tuple] = {}
    by_alias: dict[str, tuple] = {}
    for name, aliases, globs, _mimes in get_all_lexers(plugins=False):
        by_name.setdefault(_norm(name), (name, aliases, globs))
        for a in aliases:
            by_alias.setdefault(_norm(a), (name, aliases, globs))
    return by_name, by_alias


def resolve_sources(names: list[str], ling: dict[str, dict]) -> dict[str, list[tuple[str, str]]]:
    """For each of the 338 names: the table entries its facts come from, as (kind, entry name)."""
    pyg_name, pyg_alias = load_pygments_cached()
    ling_ci = {k.lower(): k for k in ling}
    ling_alias: dict[str, str] = {}
    for k, v in ling.items():
        for a in v.get("aliases", []) or []:
            ling_alias.setdefault(a.lower(), k)
    out: dict[str, list[tuple[str, str]]] = {}
    for n in names:
        src: list[tuple[str, str]] = []
        if n in curated.SPELLING_MAP:
            kind, target = curated.SPELLING_MAP[n]
            if kind == "pygments":
                lex = pyg_name.get(_norm(target)) or pyg_alias.get(_norm(target))
                src.append(("pygments", lex[0]))
            elif kind == "linguist":
                src.append(("linguist", target))
            else:
                src.append(("curated", target))
        elif n.lower() in ling_ci:
            src.append(("linguist", ling_ci[n.lower()]))
        elif n.lower() in ling_alias:
            src.append(("linguist-alias", ling_alias[n.lower()]))
        else:
            lex = pyg_name.get(_norm(n)) or pyg_alias.get(_norm(n))
            if lex is None:
                raise SystemExit(f"no source for language {n!r}: add it to curated.SPELLING_MAP")
            src.append(("pygments", lex[0]))
        for eq in curated.LINGUIST_EQUIV.get(n, []):
            if eq in ling:
                src.append(("linguist-equivalent", eq))
        out[n] = src
    return out


def build_entry(name: str, sources: list[tuple[str, str]], ling: dict[str, dict]) -> dict[str, Any]:
    pyg_name, _ = load_pygments_cached()
    exts: list[str] = []
    files: list[str] = []
    patterns: list[str] = []
    interp: list[str] = []
    aliases: list[str] = []
    typ = None
    fact_src: dict[str, list[str]] = {"name": [], "extensions": [], "filenames": [], "interpreters": []}
    for kind, target in sources:
        tag = f"{kind}:{target}"
        fact_src["name"].append(tag)
        if kind in ("linguist", "linguist-alias", "linguist-equivalent"):
            e = ling[target]
            exts += e.get("extensions", []) or []
            files += e.get("filenames", []) or []
            interp += e.get("interpreters", []) or []
            aliases += [a for a in (e.get("aliases", []) or []) if a.lower() != name.lower()]
            if kind == "linguist-alias":
                aliases.append(target.lower())
            typ = typ or e.get("type")
            for f, vals in (("extensions", e.get("extensions")), ("filenames", e.get("filenames")),
                            ("interpreters", e.get("interpreters"))):
                if vals:
                    fact_src[f].append(tag)
        elif kind == "pygments":
            lex = pyg_name[_norm(target)]
            e2, f2, p2 = split_globs(list(lex[2]))
            exts += e2
            files += f2
            patterns += p2
            aliases += list(lex[1])
            if e2:
                fact_src["extensions"].append(tag)
            if f2 or p2:
                fact_src["filenames"].append(tag)
    extra = curated.EXTRA_FACTS.get(name, {})
    for field, target in (("extensions", exts), ("filenames", files), ("interpreters", interp)):
        if extra.get(field):
            target.extend(extra[field])
            fact_src[field].append("curated")
    typ = typ or extra.get("type") or curated.PYGMENTS_TYPES.get(name) or "programming"
    if name in curated.OVERLAP_SPLIT:
        exts, files = list(curated.OVERLAP_SPLIT[name][0]), list(curated.OVERLAP_SPLIT[name][1])
        patterns = []
        fact_src["extensions"] = fact_src["filenames"] = ["curated:overlap-split"]
    grammar = curated.GRAMMARS.get(name)
    line, block = comment_for(name)
    aliases = _uniq([a for a in aliases if a and a.lower() != name.lower()])
    return {
        "name": name,
        "type": typ,
        "extensions": _uniq(exts),
        "filenames": _uniq(files),
        "filename_patterns": _uniq(patterns),
        "interpreters": _uniq(interp),
        "aliases": aliases,
        "grammar": grammar,
        "line_comment": line,
        "block_comment": list(block) if block else None,
        "sources": {k: _uniq(v) for k, v in fact_src.items() if v}
        | {"grammar": ["curated"] if grammar else [], "comment": ["curated"]},
    }


_PYG_CACHE: tuple | None = None


def load_pygments_cached() -> tuple:
    global _PYG_CACHE
    if _PYG_CACHE is None:
        _PYG_CACHE = load_pygments()
    return _PYG_CACHE


def comment_for(name: str) -> tuple[str | None, tuple[str, str] | None]:
    if name in curated.COMMENT_OVERRIDES:
        return curated.COMMENT_OVERRIDES[name]
    for (line, block), members in curated.COMMENT_FAMILIES:
        if name in members.split("|"):
            return line, block
    return "#", None  # documented fallback: most remaining config / scripting languages use '#'


def probe_grammar(grammar: str, timeout: float = 5.0) -> str:
    """Load + parse ten foreign / degenerate inputs in a child process: 'ok', 'load-error' or 'hangs'."""
    code = (
        "import sys\nfrom tree_sitter_language_pack import get_parser\n"
        f"p = get_parser({grammar!r})\n"
        "for src in (b'hello\\n', b'hello', b'(' * 5000, b'{' * 5000 + b'\\n', b'\"' * 3000, b'<' * 3000,\n"
        "            b'x = [1, 2]; // c\\n{ \"a\": 1 }\\n', b'#include <a>\\nint main(){}\\n',\n"
        "            b'\\t\\n' * 2000, bytes(range(32, 127)) * 40):\n"
        "    p.parse(src)\nprint('ok')\n"
    )
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return "hangs"
    return "ok" if r.returncode == 0 and "ok" in r.stdout else "load-error"


def linguist_name_map(entries: list[dict]) -> dict[str, str]:
    """Linguist language name -> our name, from each entry's name sources (+ the heuristics' spellings)."""
    out: dict[str, str] = {}
    for e in entries:
        for tag in e["sources"].get("name", []):
            kind, target = tag.split(":", 1)
            if kind.startswith("linguist"):
                out.setdefault(target, e["name"])
    out.update(curated.LINGUIST_HEURISTIC_NAMES)
    return out


def ambiguity_table(entries: list[dict], ling: dict[str, dict], names: set[str],
                    heuristics: dict[str, Any] | None = None) -> dict[str, dict]:
    """Extensions claimed by several of the 338 (or shared with a Linguist language outside them)."""
    claims: dict[str, list[str]] = {}
    for e in entries:
        for x in e["extensions"]:
            claims.setdefault(x.lower(), []).append(e["name"])
    used_targets = {t for e in entries for s in e["sources"].get("name", []) for t in [s.split(":", 1)[1]]}
    outside: dict[str, list[str]] = {}
    for lname, v in ling.items():
        if lname in names or lname in used_targets:
            continue
        for x in v.get("extensions", []) or []:
            outside.setdefault(x.lower(), []).append(lname)
    for x, extra in curated.EXTRA_OUTSIDE.items():
        outside.setdefault(x.lower(), []).extend(extra)
    heur = {k.lower(): v for k, v in HEURISTICS.items()}
    table: dict[str, dict] = {}
    for ext in sorted(set(claims) | {k.lower() for k in curated.EXTENSION_ORDER}):
        cands = _uniq(claims.get(ext, []))
        outs = _uniq([o for o in outside.get(ext, []) if o not in names])
        order = curated.EXTENSION_ORDER.get(ext)
        if order is not None:
            outs = _uniq(outs + [o for o in order if o not in names])
            cands = _uniq([o for o in order if o in cands] + cands)
        rules_src = list(heur.get(ext, []))
        if ext in curated.LINGUIST_RULES:
            if heuristics is None:
                raise SystemExit(f"{ext}: Linguist's heuristics.yml is needed (--heuristics)")
            lrules = extension_rules(heuristics, ext, linguist_name_map(entries))
            if lrules is None:
                raise SystemExit(f"{ext}: no rules in Linguist's heuristics.yml")
            first = curated.OURS_FIRST.get(ext, 0)
            # Linguist's first, then ours for what it does not cover (except the few ours must precede).
            rules_src = rules_src[:first] + lrules.rules + rules_src[first:]
        if "XML" in cands and len(cands) > 1 and not any(r[0] == "XML" for r in rules_src):
            # Shared with XML (Qt .ts, MSBuild, ...): an XML declaration decides first.
            rules_src.insert(0, ("XML", r"\A\ufeff?\s*<\?xml\b"))
        elif cands == ["XML"] and outs and not rules_src:
            # Only XML among the 338, but a language outside them shares the extension (Typst .typ,
            # ReScript .res, ...): markup is XML, anything else is that other language -> null.
            rules_src = [("XML", r"\A\ufeff?\s*<"), (outs[0], r"\A")]
        cands = _uniq(cands + [r[0] for r in rules_src if r[0] in names])
        outs = _uniq(outs + [r[0] for r in rules_src if r[0] not in names])
        if not cands or (len(cands) < 2 and not rules_src):
            continue
        rules = [{"language": lang, "pattern": pat} for lang, pat in rules_src]
        table[ext] = {"candidates": cands, "outside": outs, "rules": rules}
        if ext in curated.NO_TREE_SITTER:
            table[ext]["tree_sitter"] = False
        if ext in curated.PREPROCESS:
            table[ext]["preprocess"] = curated.PREPROCESS[ext]
        if ext in curated.NO_DEFAULT:
            table[ext]["no_default"] = True
    return table


def case_sensitive_table(entries: list[dict]) -> dict[str, str]:
    """Exact-case extensions (curated) checked against the facts: the language must claim the extension."""
    by_name = {e["name"]: e for e in entries}
    for ext, name in curated.CASE_SENSITIVE.items():
        if ext.lower() not in [x.lower() for x in by_name[name]["extensions"]]:
            raise SystemExit(f"case-sensitive {ext}: {name} does not claim {ext.lower()}")
    return dict(curated.CASE_SENSITIVE)


def code_related_entries(ling: dict[str, dict], entries: list[dict]) -> list[dict[str, Any]]:
    """Code-related data / text kept with their own names (not among the 338); facts from Linguist."""
    taken = {x.lower() for e in entries for x in e["extensions"]}
    taken_files = {f for e in entries for f in e["filenames"]}
    out: list[dict[str, Any]] = []
    for name, spec in curated.CODE_RELATED.items():
        e = ling[name]
        drop = set(spec.get("drop", []))
        exts = [x for x in e.get("extensions") or [] if x not in drop and x.lower() not in taken]
        files = [f for f in e.get("filenames") or [] if f not in taken_files]
        taken.update(x.lower() for x in exts)
        taken_files.update(files)
        block = spec.get("block_comment")
        out.append({
            "name": name, "type": e.get("type") or "data", "extensions": exts, "filenames": files,
            "filename_patterns": [], "interpreters": [], "aliases": [], "grammar": None,
            "line_comment": spec.get("line_comment"), "block_comment": list(block) if block else None,
            "sources": {"name": [f"linguist:{name}"], "extensions": [f"linguist:{name}"], "comment": ["curated"]},
        })
    return out


def outside_filename_table(ling: dict[str, dict], entries: list[dict], related: list[dict],
                           sources: dict[str, list[tuple[str, str]]]) -> dict[str, list[str]]:
    """Linguist's exact file names of languages outside the 338 and outside the code-related table:
    `go.mod` -> [Go Module, data]. Detection stops there (Linguist's order: file name before extension),
    so such a file is reported under Linguist's name, never guessed from its extension (`.mod`)."""
    used = {src for srcs in sources.values() for kind, src in srcs if kind.startswith("linguist")}
    known = {e["name"] for e in [*entries, *related]}
    taken = {f for e in [*entries, *related] for f in e["filenames"]}
    taken_ci = {f.lower() for f in taken}
    out: dict[str, list[str]] = {}
    for name, e in ling.items():
        if name in used or name in known or e.get("group") in known:  # a group member goes by its group
            continue
        for f in e.get("filenames") or []:
            if f not in taken and f.lower() not in taken_ci:
                out.setdefault(f, [name, e.get("type") or "data"])
    return dict(sorted(out.items()))


def group_filename_table(ling: dict[str, dict], entries: list[dict], related: list[dict]) -> dict[str, str]:
    """Linguist's file names of a language outside the 338 whose Linguist `group` is one of ours or a
    code-related name: `pom.xml` (Maven POM) -> XML, `configure.ac` (M4Sugar) -> M4, `.npmrc` -> INI."""
    known = {e["name"] for e in [*entries, *related]}
    taken = {f for e in [*entries, *related] for f in e["filenames"]}
    out: dict[str, str] = {}
    for name, e in ling.items():
        group = e.get("group")
        if name in known or group not in known:
            continue
        for f in e.get("filenames") or []:
            if f not in taken:
                out.setdefault(f, group)
    return dict(sorted(out.items()))


def check_unique_owners(entries: list[dict]) -> None:
    """A file name or interpreter must name one language; shared extensions go to the ambiguity table."""
    for fld in ("filenames", "interpreters"):
        owner: dict[str, str] = {}
        for e in entries:
            for v in e[fld]:
                if v in owner:
                    raise SystemExit(f"{fld[:-1]} {v!r} claimed by {owner[v]} and {e['name']}: "
                                     "resolve it in curated.DROP_FACTS")
                owner[v] = e["name"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--linguist", required=True, help="path to Linguist's languages.yml")
    ap.add_argument("--names", default=str(DEFAULT_NAMES), help="the 338 names, one a line")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--heuristics", default=None,
                    help="Linguist's heuristics.yml (default: heuristics.yml or linguist_heuristics.yml beside --linguist)")
    ap.add_argument("--no-probe", action="store_true", help="skip probing grammars for hangs (faster)")
    args = ap.parse_args(argv)

    raw = Path(args.linguist).read_bytes()
    ling = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    heur_path = Path(args.heuristics) if args.heuristics else next(
        (p for p in (Path(args.linguist).with_name("heuristics.yml"), Path(args.linguist).with_name("linguist_heuristics.yml"))
         if p.is_file()), None)
    if heur_path is None:
        raise SystemExit("Linguist's heuristics.yml not found beside --linguist: pass --heuristics")
    heur_raw = heur_path.read_bytes()
    heuristics = yaml.load(heur_raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    names = [ln.rstrip("\n") for ln in Path(args.names).read_text(encoding="utf-8").splitlines() if ln.strip()]
    sources = resolve_sources(names, ling)
    entries = [build_entry(n, sources[n], ling) for n in names]
    # Interpreters several languages claim (before DROP_FACTS makes each name one owner): kept so a
    # generic shebang (node) does not overrule a file's own extension (.ts).
    claim: dict[str, list[str]] = {}
    for e in entries:
        for i in e["interpreters"]:
            claim.setdefault(i, []).append(e["name"])
    for e in entries:
        for fld, drop in curated.DROP_FACTS.get(e["name"], {}).items():
            e[fld] = [x for x in e[fld] if x not in drop]
    check_unique_owners(entries)
    for name in curated.NAME_PATTERNS:
        if name not in names:
            raise SystemExit(f"curated.NAME_PATTERNS: {name!r} is not one of the 338")
    owner = {i: e["name"] for e in entries for i in e["interpreters"]}
    shared_interpreters = {i: [owner[i]] + [n for n in names_ if n != owner[i]]
                           for i, names_ in sorted(claim.items()) if len(names_) > 1 and i in owner}

    import pygments
    import tree_sitter_language_pack  # noqa: F401  (probe needs it)

    grammar_status: dict[str, str] = {}
    for g in sorted({e["grammar"] for e in entries if e["grammar"]}):
        if g in curated.UNSAFE_GRAMMARS:
            grammar_status[g] = "hangs"
        elif args.no_probe:
            grammar_status[g] = "ok"
        else:
            grammar_status[g] = probe_grammar(g)
        print(f"grammar {g}: {grammar_status[g]}", file=sys.stderr)
    for e in entries:
        if e["grammar"] and grammar_status.get(e["grammar"]) == "load-error":
            e["grammar"] = None
    data = {
        "format": "coder-corpus-langs/1",
        "generated_by": "lang_registry/build_registry.py",
        "inputs": {
            "linguist_sha256": hashlib.sha256(raw).hexdigest(),
            "linguist_heuristics_sha256": hashlib.sha256(heur_raw).hexdigest(),
            "pygments": pygments.__version__,
            "tree_sitter_language_pack": "0.13.0",
            "names_sha256": hashlib.sha256(Path(args.names).read_bytes()).hexdigest(),
        },
        "unsafe_grammars": sorted(g for g, s in grammar_status.items() if s == "hangs"),
        "languages": entries,
        "ambiguous": ambiguity_table(entries, ling, set(names), heuristics),
        "case_sensitive": case_sensitive_table(entries),
        "shared_interpreters": shared_interpreters,
        "code_related": code_related_entries(ling, entries),
    }
    data["name_patterns"] = {k: list(v) for k, v in curated.NAME_PATTERNS.items()}
    data["related_paths"] = dict(curated.RELATED_PATHS)
    data["group_filenames"] = group_filename_table(ling, entries, data["code_related"])
    data["outside_filenames"] = outside_filename_table(ling, entries, data["code_related"], sources)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# GENERATED by lang_registry/build_registry.py from GitHub Linguist languages.yml + Pygments;\n"
        "# curated decisions come from lang_registry/curated.py. Regenerate instead of editing by hand\n"
        "# (except `corpus langs add`, which appends entries).\n"
    )
    out.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110,
                                           default_flow_style=None), encoding="utf-8")
    n_rule = sum(1 for e in entries if e["extensions"] or e["filenames"] or e["filename_patterns"])
    print(json.dumps({"languages": len(entries), "with_rule": n_rule,
                      "with_grammar": sum(1 for e in entries if e["grammar"]),
                      "ambiguous_extensions": len(data["ambiguous"])}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
