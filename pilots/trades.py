"""Round trips, as a pilot's record reads them: the pure builder lives in
:mod:`routing.engine.round_trips`, shared with the copied trades the group
page lists (the journal may not import ``pilots``)."""

from routing.engine.round_trips import RoundTrip, RoundTrips, RowFill, round_trips_from_fills

__all__ = ["RoundTrip", "RoundTrips", "RowFill", "round_trips_from_fills"]
