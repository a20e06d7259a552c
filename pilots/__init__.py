"""Pilots: verified, risk-adjusted records of traders others can follow (issue 11).

Pure modules (no Django, no I/O, no clock): :mod:`pilots.trades` (round trips
from fills), :mod:`pilots.stats` (a record's statistics), :mod:`pilots.ranking`
(the published score and listing rules), :mod:`pilots.bars` (market data bars),
:mod:`pilots.verification` (per-row checks) and :mod:`pilots.anomalies`
(statistical flags for manual review). :mod:`pilots.exports` and
:mod:`pilots.market_data` read files; ``manage.py pilot_stats`` prints a report.
"""
