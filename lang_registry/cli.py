"""`corpus langs detect|list|add` (plug-in for the `corpus` CLI; also `python -m lang_registry.cli`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator

from lang_registry.add import AddError, AddRequest, add_language
from lang_registry.detect import PREFIX_BYTES, detect
from lang_registry.registry import ENV_VAR, load_registry


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def iter_files(paths: list[str]) -> Iterator[tuple[str, str]]:
    """(path to print, path used for vendored rules: relative to the directory that was walked)."""
    for root in paths:
        if os.path.isdir(root):
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for fn in sorted(filenames):
                    full = os.path.join(dirpath, fn)
                    if os.path.islink(full) and not os.path.exists(full):
                        continue
                    yield full, os.path.relpath(full, root)
        else:
            yield root, root


def _quiet_broken_pipe(fn):  # type: ignore[no-untyped-def]
    """`corpus langs detect big/ | head` must not end in a traceback."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_quiet_broken_pipe
def cmd_detect(args: argparse.Namespace) -> int:
    reg = load_registry(args.registry)
    rc = 0
    for shown, rel in iter_files(args.paths):
        try:
            with open(shown, "rb") as fh:
                data = fh.read(PREFIX_BYTES)
        except OSError as exc:
            print(f"skip {shown}: {exc.strerror or exc}", file=sys.stderr)
            rc = 1
            continue
        d = detect(rel, data, reg)
        if args.json:
            line = {"path": shown, "language": d.language, "method": d.method,
                    "vendored": d.vendored, "generated": d.generated, "binary": d.binary}
            if d.outside is not None:  # Linguist's name for a file outside the 338 (`go.mod`: Go Module)
                line["linguist"] = {"language": d.outside[0], "type": d.outside[1]}
            print(json.dumps(line, ensure_ascii=False))
        else:
            print(f"{shown}\t{d.language or (f'- (Linguist: {d.outside[0]})' if d.outside else '-')}")
    return rc


@_quiet_broken_pipe
def cmd_list(args: argparse.Namespace) -> int:
    reg = load_registry(args.registry)
    for name in reg.names():
        e = reg.get(name)
        rules = list(e.extensions) + list(e.filenames) + list(e.filename_patterns)
        if args.json:
            print(json.dumps({"name": e.name, "type": e.type, "extensions": list(e.extensions),
                              "filenames": list(e.filenames), "grammar": e.grammar}, ensure_ascii=False))
        else:
            grammar = e.grammar or "-"
            if e.grammar and e.grammar in reg.unsafe_grammars:
                grammar += " (unsafe: not used for detection)"
            print(f"{e.name}\t{','.join(rules) or '-'}\t{grammar}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    block = None
    if args.block_comment:
        parts = args.block_comment.split(",", 1)
        if len(parts) != 2:
            print("error: --block-comment takes OPEN,CLOSE, e.g. '/*,*/'", file=sys.stderr)
            return 2
        block = (parts[0], parts[1])
    req = AddRequest(
        name=args.name, extensions=_split(args.extensions), filenames=_split(args.filenames),
        interpreters=_split(args.interpreters), aliases=_split(args.aliases), grammar=args.grammar,
        line_comment=args.comment, block_comment=block, type=args.type,
        ambiguous_with=_split(args.ambiguous_with), patterns=list(args.pattern or []))
    try:
        diff, warnings = add_language(req, args.registry, dry_run=args.dry_run)
    except AddError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(diff, end="")
    print(("would add" if args.dry_run else "added") + f" {req.name} to {args.registry or 'the registry'}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    langs = subparsers.add_parser("langs", help="language registry: detect, list, add",
                                  description="The registry of the 338 DeepSeek-Coder-V2 languages.")
    sub = langs.add_subparsers(dest="langs_command", required=True)
    reg_help = f"registry YAML file (default: ${ENV_VAR} or the packaged lang_registry/data/languages.yaml)"

    p = sub.add_parser("detect", help="detect the language of files (directories are walked)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object per line with method and flags")
    p.add_argument("--registry", help=reg_help)
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("list", help="print the registry: name, extensions/file names, tree-sitter grammar")
    p.add_argument("--json", action="store_true")
    p.add_argument("--registry", help=reg_help)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("add", help="add a language to a registry file (validated; prints the diff)")
    p.add_argument("name")
    p.add_argument("--extensions", action="append", help="comma-separated, e.g. .x,.y")
    p.add_argument("--filenames", action="append", help="comma-separated exact file names")
    p.add_argument("--interpreters", action="append", help="shebang interpreters, comma-separated")
    p.add_argument("--aliases", action="append", help="modeline / alias names, comma-separated")
    p.add_argument("--grammar", help="tree-sitter-language-pack grammar name (must load)")
    p.add_argument("--comment", help="line-comment token, e.g. '//'")
    p.add_argument("--block-comment", help="block comment OPEN,CLOSE, e.g. '/*,*/'")
    p.add_argument("--type", default="programming", choices=["programming", "markup", "data", "prose"])
    p.add_argument("--ambiguous-with", action="append",
                   help="existing languages that share an extension with this one (otherwise a clash fails)")
    p.add_argument("--pattern", action="append",
                   help="regex that marks this language's content on shared extensions (repeatable)")
    p.add_argument("--registry", help=reg_help)
    p.add_argument("--dry-run", action="store_true", help="validate and show the diff without writing")
    p.set_defaults(func=cmd_add)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="corpus")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
