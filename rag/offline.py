"""Keep every library off the network: no telemetry, no analytics, no hub look-ups."""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "ANONYMIZED_TELEMETRY": "False",  # chromadb
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}


def apply_offline_env() -> None:
    """Set the libraries' opt-outs, leaving any value the user set explicitly alone."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
