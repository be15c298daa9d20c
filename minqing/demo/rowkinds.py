"""Marks on generated rows shared by the event generator and the export writers: missing times, bad-row kinds."""

from __future__ import annotations

MISSING = -1  # a missing time (times are int64 seconds since 1970-01-01, naive China local time)

# Bad-row kinds (0 = a valid row): the generator draws them, the writers render the format-dependent ones.
BAD_MISSING_ID = 1
BAD_MISSING_TIME = 2
BAD_UNPARSEABLE_TIME = 3
BAD_IMPOSSIBLE_DATE = 4
BAD_CLOSED_BEFORE_REPORTED = 5
BAD_UNKNOWN_CATEGORY = 6
BAD_UNKNOWN_STATUS = 7
BAD_COORDINATES = 8
BAD_GRID_CODE = 9
BAD_KIND_NAMES: dict[int, str] = {
    BAD_MISSING_ID: "missing source id",
    BAD_MISSING_TIME: "missing report time",
    BAD_UNPARSEABLE_TIME: "unparseable report time",
    BAD_IMPOSSIBLE_DATE: "impossible report date",
    BAD_CLOSED_BEFORE_REPORTED: "closed before reported",
    BAD_UNKNOWN_CATEGORY: "unknown category text",
    BAD_UNKNOWN_STATUS: "unknown status text",
    BAD_COORDINATES: "non-numeric coordinates",
    BAD_GRID_CODE: "grid code that does not exist",
}
