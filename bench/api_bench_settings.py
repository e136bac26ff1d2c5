"""Settings of the API benchmark's server only: production settings from the
environment, plus the URLconf that adds the hand-written twin views. Never
used by the portal itself."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_bench_urls"
