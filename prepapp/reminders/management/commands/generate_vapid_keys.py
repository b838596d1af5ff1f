"""Print a fresh VAPID key pair for Web Push. The keys are printed, never written anywhere."""

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_key_pair() -> tuple[str, str]:
    """(public, private): the uncompressed P-256 point and the raw 32-byte secret, base64url without padding."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url(public), _b64url(private)


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair as environment variables. Put them in the deployment's "
        "environment (or .env, which is not committed); keep the private key secret."
    )

    def handle(self, *args, **options):
        public, private = new_key_pair()
        self.stdout.write(f"VAPID_PUBLIC_KEY={public}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}")
        self.stderr.write(
            "Set both in the environment of the web, worker and beat processes. Changing the keys later "
            "invalidates every browser's subscription: patients must turn notifications on again."
        )
