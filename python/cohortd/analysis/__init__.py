"""Analyses over the same segments and bitmaps as evaluation: breakdowns, population over time,
backtest, retention, funnels, journeys (one module per analysis)."""
