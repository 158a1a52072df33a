"""The roles a monitor can play besides finding things live in ``swisscheese.core.roles``."""

from swisscheese.core.roles import Decoded as Decoded
from swisscheese.core.roles import Decoder as Decoder
from swisscheese.core.roles import Normalizer as Normalizer
from swisscheese.core.roles import View as View

__all__ = ["Decoded", "Decoder", "Normalizer", "View"]
