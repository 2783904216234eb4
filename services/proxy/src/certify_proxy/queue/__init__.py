"""The durable job queue: enqueue, claim under a lease, run, retry, dead-letter."""
