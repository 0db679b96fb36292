"""Recipes: the stage runner, the stages every corpus shares, and RESULTS.md."""
