"""Services as real processes on loopback, for tests: the development stack's runner under the test kit's name."""

from __future__ import annotations

from certify_devstack.processes import ServiceProcess, free_port, log_dir, wait_until

__all__ = ["ServiceProcess", "free_port", "log_dir", "wait_until"]
