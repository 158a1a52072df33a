"""What a layer's detectors read of a text: the views a policy's normaliser and decoder hand them.

A layer with the ``unicode`` and ``obfuscation`` rules (the default policy's input and retrieved
layers) screens the normalised text and every decoded view of it, each normalised, with all of
its other rules; its decoder reads what ``guard.decoder_inputs`` gives, as here. Measuring a
detector on disguised text the way a served policy scores it means scoring these views and
keeping the highest.
"""

from __future__ import annotations

from swisscheese.guard import decoder_inputs
from swisscheese.monitors.obfuscation import ObfuscationConfig, ObfuscationMonitor
from swisscheese.monitors.unicode import UnicodeConfig, UnicodeMonitor

__all__ = ["layer_views"]

_NORMALIZER = UnicodeMonitor(UnicodeConfig())
_DECODER = ObfuscationMonitor(ObfuscationConfig())


def layer_views(text: str) -> tuple[str, ...]:
    """The normalised ``text`` and each decoded view of it, normalised, each once (``text``
    itself is among them only if normalising leaves it as it is)."""
    view = _NORMALIZER.normalize(text)
    decoded = (
        _NORMALIZER.normalize(d.text).text
        for source in decoder_inputs(text, view)
        for d in _DECODER.decode(source.text)
    )
    return tuple(dict.fromkeys((view.text, *decoded)))
