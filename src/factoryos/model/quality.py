"""Sample quality as OPC UA status classes."""

from enum import IntEnum

import numpy as np


class Quality(IntEnum):
    """The OPC UA status class of a sample (the top two bits of a StatusCode's top byte).

    Stored as ``uint8``: 0x00 good, 0x40 uncertain, 0x80 bad.
    """

    GOOD = 0x00
    UNCERTAIN = 0x40
    BAD = 0x80


QUALITY_DTYPE = np.uint8
