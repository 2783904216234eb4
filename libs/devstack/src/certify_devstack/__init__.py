"""The development stack: certify's services as local processes (``make run``, ``make demo``, tests, benchmarks).

``processes.ServiceProcess`` runs one service on a loopback port; ``stack`` starts them all on embedded defaults
(SQLite, in-process caches, the sandbox) and ``demo`` certifies a sample through the public API.
"""
