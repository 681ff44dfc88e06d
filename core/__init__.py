"""cloudfence core: spec, intent, verification, plugins and the Pulumi layer.

`Segmentation` is imported lazily so that the CLI and the pure layers never
pay for importing Pulumi.
"""

from typing import Any

__all__ = ["Segmentation"]


def __getattr__(name: str) -> Any:
    if name == "Segmentation":
        from core.component import Segmentation

        return Segmentation
    raise AttributeError(name)
