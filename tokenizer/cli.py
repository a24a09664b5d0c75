"""`corpus tokenizer ...`: train / info / encode / shards (plug-in per docs/contracts.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from .bpe import TokenizerError, load_tokenizer, save_tokenizer, train_bpe, wrap_tokenizer
from .config import ShardConfig
from .shards import build_shards

log = logging.getLogger(__name__)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tokenizer", help="train / inspect the BPE tokenizer, build token shards")
    sub = parser.add_subparsers(dest="tokenizer_command", required=True)

    train = sub.add_parser("train", help="train a DeepSeek-style byte-level BPE on a corpus")
    train.add_argument("--input", required=True, help="Parquet part(s), JSONL(.gz) or a folder of text files")
    train.add_argument("--vocab-size", type=int, default=32000, help="learned tokens (bytes + merges); specials follow")
    train.add_argument("--total-vocab-size", type=int, default=None, help="pad with reserved specials to this size")
    train.add_argument("--min-frequency", type=int, default=2)
    train.add_argument("--max-token-length", type=int, default=32)
    train.add_argument("--max-bytes", type=float, default=None, help="stop reading input after this many bytes")
    train.add_argument("--text-column", default="text")
    train.add_argument("--output", required=True, help="path of the tokenizer.json to write")
    train.add_argument("--hf-config", action="store_true",
                       help="also write tokenizer_config.json (for transformers.AutoTokenizer.from_pretrained)")
    train.set_defaults(func=_train)

    info = sub.add_parser("info", help="validate a tokenizer.json and print its special ids and size")
    info.add_argument("tokenizer")
    info.set_defaults(func=_info)

    enc = sub.add_parser("encode", help="encode text as a document would be (no specials from text)")
    enc.add_argument("--tokenizer", required=True)
    enc.add_argument("text", nargs="?", help="text (default: stdin)")
    enc.set_defaults(func=_encode)

    shards = sub.add_parser("shards", help="single-process: document records -> FIM -> mixture -> shards")
    shards.add_argument("--input", required=True, help="Parquet parts with the document schema, or JSONL")
    shards.add_argument("--tokenizer", required=True)
    shards.add_argument("--output", required=True, help="shard folder (gets manifest.json)")
    shards.add_argument("--seq-len", type=int, default=4097)
    shards.add_argument("--rows-per-shard", type=int, default=1024)
    shards.add_argument("--seed", type=int, default=1234)
    shards.add_argument("--fim-rate", type=float, default=0.5)
    shards.add_argument("--fim-mode", choices=["psm", "spm"], default="psm")
    shards.add_argument("--fim-spm-rate", type=float, default=0.0)
    shards.add_argument("--fim-domains", default="code", help="comma-separated domains that get FIM")
    shards.add_argument("--eval-fraction", type=float, default=0.01)
    shards.add_argument("--mixture", default="code=0.6,math=0.1,text=0.3")
    shards.add_argument("--max-repeat", type=float, default=4.0)
    shards.add_argument("--no-bos", action="store_true", help="do not prepend BOS to documents")
    shards.add_argument("--fast", action="store_true", help="use the tiktoken encoder if it matches on a sample")
    shards.add_argument("--fast-check-mbytes", type=float, default=5.0)
    shards.set_defaults(func=_shards)


def _train(args: argparse.Namespace) -> int:
    from .inputs import iter_texts  # deferred: off `corpus --help`

    max_bytes = int(args.max_bytes) if args.max_bytes else None
    t0 = time.perf_counter()
    try:
        tok = train_bpe(
            iter_texts(args.input, args.text_column, max_bytes),
            args.vocab_size,
            min_frequency=args.min_frequency,
            max_token_length=args.max_token_length,
            total_vocab_size=args.total_vocab_size,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = save_tokenizer(tok, args.output, hf_config=args.hf_config)
    info = wrap_tokenizer(tok)
    print(json.dumps({"output": str(path), "vocab_size": info.vocab_size, "special_tokens": info.specials.as_dict(),
                      "seconds": round(time.perf_counter() - t0, 2)}))
    return 0


def _info(args: argparse.Namespace) -> int:
    from .fast_encode import build_fast_encoder  # deferred: off `corpus --help`

    try:
        tok = load_tokenizer(args.tokenizer)
    except (OSError, ValueError, TokenizerError, Exception) as exc:  # noqa: BLE001 - report any bad file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"path": str(tok.path), "sha256": tok.sha256, "vocab_size": tok.vocab_size,
                      "special_tokens": tok.specials.as_dict(),
                      "fast_encoder": build_fast_encoder(tok) is not None}, ensure_ascii=False))
    return 0


def _encode(args: argparse.Namespace) -> int:
    tok = load_tokenizer(args.tokenizer)
    text = args.text if args.text is not None else sys.stdin.read()
    ids = tok.encode_plain([text])[0]
    print(json.dumps({"ids": ids, "tokens": [tok.plain.id_to_token(i) for i in ids]}, ensure_ascii=False))
    return 0


def _parse_mixture(spec: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in spec.split(","):
        if part.strip():
            name, _, share = part.partition("=")
            out[name.strip()] = float(share)
    return out


def _shards(args: argparse.Namespace) -> int:
    from .fast_encode import choose_encoder  # deferred: off `corpus --help`
    from .inputs import iter_records  # deferred: off `corpus --help`

    tok = load_tokenizer(args.tokenizer)
    records = list(iter_records(args.input))
    encoder, encoder_report = None, {"name": "tokenizers"}
    if args.fast:
        # Checked on an evenly spread sample (up to --fast-check-mbytes), not assumed.
        step = max(1, len(records) // 2000)
        sample = [r.get("text") for r in records[::step]]
        encoder, encoder_report = choose_encoder(tok, sample, int(args.fast_check_mbytes * 1e6))
        if encoder is None:
            log.warning("using tokenizers: %s", encoder_report)
    config = ShardConfig(seq_len=args.seq_len, rows_per_shard=args.rows_per_shard, fim_rate=args.fim_rate,
                         fim_mode=args.fim_mode, fim_spm_rate=args.fim_spm_rate,
                         fim_domains=[d for d in args.fim_domains.split(",") if d], add_bos=not args.no_bos,
                         eval_fraction=args.eval_fraction, mixture=_parse_mixture(args.mixture), max_repeat=args.max_repeat)
    manifest = build_shards(records, tok, Path(args.output), seed=args.seed, config=config, encoder=encoder,
                            extra={"encoder": encoder_report})
    print(json.dumps({"output": args.output, "totals": manifest["totals"], "mixture": manifest["mixture"]}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m tokenizer.cli tokenizer train ...`) until `corpus` wires the plug-in."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="corpus")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
