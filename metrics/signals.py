"""Signals metrics sends for apps above it (which metrics never imports).

``import_succeeded`` is sent after an import job's transaction commits,
with ``job_id``, ``backend_id``, ``window_start`` and ``window_end`` (aware
UTC; both None when the file held no samples). Costs listens to refresh the
allocation of the days the window touched.
"""

from django.dispatch import Signal

import_succeeded = Signal()
