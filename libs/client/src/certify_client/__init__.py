"""certify's client: the REST API, x402 payment by a local key, portable proofs and their independent verifier."""
