"""The certify Kubernetes operator: CertifyWallet and DeadLetter custom resources (kopf)."""
