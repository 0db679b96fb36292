"""Corpus preparation: one module per corpus, each writing Kaldi data dirs (see STYLE.md)."""
