"""Readers that turn external inputs into documents: repositories (local, git, tarball, installed
Python distributions), The-Stack-style Parquet, and Common Crawl WARC/WET."""
