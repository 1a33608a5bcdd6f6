"""Hypothesis profiles: "ci" (the default, a few seconds) and "long" (HYPOTHESIS_PROFILE=long)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=200, stateful_step_count=40, deadline=None)
settings.register_profile(
    "long",
    max_examples=5000,
    stateful_step_count=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
