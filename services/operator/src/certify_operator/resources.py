"""The custom resources: API group ``ops.certify.dev`` (a domain the project would own), version v1alpha1.

The YAML definitions live in ``k8s/certify/crds/``; this module names them for the handlers.
"""

from __future__ import annotations

GROUP = "ops.certify.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
WALLETS = "certifywallets"
DEAD_LETTERS = "deadletters"
WALLET_KIND = "CertifyWallet"
DEAD_LETTER_KIND = "DeadLetter"
#: Label naming the CertifyWallet (the certify installation) a DeadLetter was mirrored for.
WALLET_LABEL = f"{GROUP}/wallet"


def dead_letter_name(wallet: str, dead_letter_id: int) -> str:
    """The DeadLetter resource of one dead letter: deterministic, so mirroring twice creates nothing new."""
    return f"{wallet}-dl-{dead_letter_id}"
