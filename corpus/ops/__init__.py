"""Distributed algorithms over runner tasks and files: the shuffle, connected components, MinHash."""
