"""The layout of an output folder (OUT): every file and folder name the project writes, named once.

    OUT/
      _RUN_LOCK.json                 one run at a time (corpus.engine.lock)
      README.md                      dataset card: `datasets.load_dataset(OUT, stage)` (corpus.hfcard)
      <stage>/                       one folder per stage, in STAGE_ORDER
        part-NNNNN.parquet           the stage's output parts
        _SUCCESS.json                the stage's commit: key, parts, stats (written last)
        _dropped/part-NNNNN.parquet  quarantined rows, one per dropped record
        _steps/                      a global stage's finished steps (resume)
      shards/manifest.json           the token shards' manifest (docs/contracts.md)
      shards/__provenance/*.parquet    per shard row and segment: the document piece it holds (tokenizer/provenance.py)
      reports/                       stats.json, run.json, index.html + summary.json, decontamination.*, recall.json
      logs/run.log                   the run's log
      _tmp/<stage>/                  scratch, deleted when the stage commits
"""

from __future__ import annotations

# The stages of the default graph in pipeline order (pipelines/graph.py builds them; the run report
# orders its rows by it without importing the pipeline).
STAGE_ORDER = ("ingest", "langid", "redact", "dedup_exact", "recall", "filter", "decont", "repo_samples", "dedup_near", "shards")

RUN_LOCK = "_RUN_LOCK.json"
DATASET_CARD = "README.md"
SUCCESS = "_SUCCESS.json"
DROPPED_DIR = "_dropped"
STEPS_DIR = "_steps"
SCRATCH_DIR = "_tmp"
REPORTS_DIR = "reports"
LOGS_DIR = "logs"
RUN_LOG = "run.log"
MANIFEST = "manifest.json"
PROVENANCE_DIR = "__provenance"  # OUT/shards/__provenance/<split>-RRRRR.parquet, one per pack range; HF datasets skips
# "__" folders, so `load_dataset("parquet", data_dir="OUT/shards")` still gives the shards alone

STATS_REPORT = "stats.json"
RUN_REPORT = "run.json"
HTML_REPORT = "index.html"
SUMMARY_REPORT = "summary.json"
