"""Corpus preparation: one module per corpus, each writing Kaldi data dirs (data_prep.common has
what they share); data_prep.lm_text prepares LM text; data_prep.synth makes synth_en's synthetic corpus."""
