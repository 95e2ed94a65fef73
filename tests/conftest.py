"""Suite-wide test settings.

Property tests run on 2 CPU cores shared with other jobs: Hypothesis's wall-clock checks
(per-example deadline, "input generation is slow") would fail them for load, not for a bug.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "shared-cores", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-cores")
