"""The TradingView-style webhook: alerts from a charting platform as a
second leader source of a copy group (issue 13)."""
