"""Monitoring: each event's volume and freshness judged against its own seasonal history.

`detector` is pure (counts in, findings out); the run wiring, the stored hourly counts and the
settings live with the stages that own them (execution, results, config).
"""

from eventqa.monitoring.detector import (
    BucketVerdict,
    Direction,
    Exclusion,
    FreshnessFinding,
    Seasonality,
    VolumeFinding,
    VolumeSettings,
    judge_freshness,
    judge_volume,
)

__all__ = [
    "BucketVerdict",
    "Direction",
    "Exclusion",
    "FreshnessFinding",
    "Seasonality",
    "VolumeFinding",
    "VolumeSettings",
    "judge_freshness",
    "judge_volume",
]
