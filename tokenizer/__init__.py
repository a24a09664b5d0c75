"""BPE tokenizer, FIM, packing, mixture and Parquet token shards (plain library: no Ray, no project imports).

See docs/tokenizer.md for the formats and the choices made.
"""

from .bpe import (
    BOS,
    EOS,
    FIM_BEGIN,
    FIM_END,
    FIM_HOLE,
    SPECIAL_TOKENS,
    CorpusTokenizer,
    SpecialIds,
    TokenizerError,
    load_tokenizer,
    save_tokenizer,
    train_bpe,
    wrap_tokenizer,
)
from .chunks import (
    CHUNK_SCHEMA,
    Chunk,
    chunk_budget,
    chunk_document,
    eval_group,
    materialize,
    token_byte_lengths,
)
from .config import ShardConfig
from .encode import EncodedDoc, encode_documents, split_of
from .fim import FimConfig, FimResult, apply_fim, undo_fim, undo_fim_ids
from .mixture import DEEPSEEK_CODER_V2_MIXTURE, MixturePlan, plan_mixture, share_warnings
from .packing import Packer, order_key, pack_rows
from .shards import (
    SHARD_SCHEMA,
    assemble_manifest,
    build_shards,
    encode_chunks,
    expand_copies,
    n_ranges_for,
    pack_bucket,
    tokens_by_domain,
)

__all__ = [
    "BOS", "EOS", "FIM_BEGIN", "FIM_END", "FIM_HOLE", "SPECIAL_TOKENS", "CorpusTokenizer", "SpecialIds",
    "TokenizerError", "load_tokenizer", "save_tokenizer", "train_bpe", "wrap_tokenizer",
    "EncodedDoc", "encode_documents", "split_of", "FimConfig", "FimResult", "apply_fim", "undo_fim",
    "undo_fim_ids", "DEEPSEEK_CODER_V2_MIXTURE", "MixturePlan", "plan_mixture", "order_key", "pack_rows",
    "Packer", "SHARD_SCHEMA", "ShardConfig", "build_shards", "tokens_by_domain",
    "CHUNK_SCHEMA", "Chunk", "chunk_budget", "chunk_document", "eval_group", "materialize",
    "token_byte_lengths", "share_warnings", "assemble_manifest", "encode_chunks", "expand_copies", "n_ranges_for",
    "pack_bucket",
]
