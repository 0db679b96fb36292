"""Synthetic corpora for recipes/synth_en: sentences (WordNet), TTS voices, the corpus plan and its
degraded test conditions. Nothing outside that recipe (and the tests) imports this package."""
