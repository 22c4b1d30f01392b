"""Shared pytest settings: one modest hypothesis profile for the property tests.

Examples are kept few and unhurried (no deadline: the reference kernels loop
in Python, and CI shares 2 cores) so the whole kernel suite stays well under a
minute. HYPOTHESIS_PROFILE=thorough runs ten times as many.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "course", max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("course"),
                          max_examples=400, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "course"))
