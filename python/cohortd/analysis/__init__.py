"""Analyses over the same segments and bitmaps as evaluation: breakdowns, population over time, ..."""
