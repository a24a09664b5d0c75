"""Benchmark decontamination (DeepSeek's 10-gram / short-string exact-match rule).

Library API (no Ray here; the pipeline stage and the CLI distribute it):
- benchmarks.load_benchmark / load_benchmarks / parse_benchmark_specs / default_benchmarks
- index.build_index(benchmarks, DecontConfig) -> DecontIndex; DecontIndex.match(text) -> list[Hit]
- scan.scan_records(index, records) -> (hits, counts)
- report.build_report(...) / report.write_reports(report, out_dir)
- fetch.fetch_benchmarks(to_dir, urls=None)
"""
