"""Channel number <-> centre frequency (MHz) for the 2.4, 5 and 6 GHz bands.

Channel numbers repeat across bands (channel 1 exists in 2.4 GHz and in
6 GHz), so a channel number alone is ambiguous. The registry and alerts keep
the frequency as the truth; channel numbers are for people and for elements
such as the DS Parameter Set that only carry a number in their own band.
"""

from __future__ import annotations

BAND_2G = "2.4GHz"
BAND_5G = "5GHz"
BAND_6G = "6GHz"


def frequency_to_channel(freq_mhz: int) -> int | None:
    """Channel number of a centre frequency, or None outside the three bands."""
    if freq_mhz == 2484:
        return 14
    if 2412 <= freq_mhz <= 2472 and (freq_mhz - 2407) % 5 == 0:
        return (freq_mhz - 2407) // 5
    if freq_mhz == 5935:  # 6 GHz channel 2, the odd one out
        return 2
    if 5955 <= freq_mhz <= 7115 and (freq_mhz - 5950) % 5 == 0:
        return (freq_mhz - 5950) // 5
    if 5000 < freq_mhz <= 5925 and (freq_mhz - 5000) % 5 == 0:
        return (freq_mhz - 5000) // 5
    if 4910 <= freq_mhz <= 4980 and (freq_mhz - 4000) % 5 == 0:  # Japan 4.9 GHz
        return (freq_mhz - 4000) // 5
    return None


def channel_to_frequency(channel: int, band: str | None = None) -> int | None:
    """Centre frequency of a channel number.

    Without a band, 1-14 are 2.4 GHz and 32-177 are 5 GHz (the registry's
    convention: 6 GHz must be given as frequencies).
    """
    if band is None:
        band = BAND_2G if 1 <= channel <= 14 else BAND_5G
    if band == BAND_2G:
        if channel == 14:
            return 2484
        if 1 <= channel <= 13:
            return 2407 + 5 * channel
        return None
    if band == BAND_5G:
        if 32 <= channel <= 177:
            return 5000 + 5 * channel
        if 182 <= channel <= 196:
            return 4000 + 5 * channel
        return None
    if band == BAND_6G:
        if channel == 2:
            return 5935
        if 1 <= channel <= 233:
            return 5950 + 5 * channel
        return None
    raise ValueError(f"unknown band {band!r}")


def band_of(freq_mhz: int) -> str | None:
    """The band a frequency lies in."""
    if 2400 <= freq_mhz <= 2500:
        return BAND_2G
    if 4900 <= freq_mhz < 5925:
        return BAND_5G
    if 5925 <= freq_mhz <= 7125:
        return BAND_6G
    return None


def element_channel_frequency(channel: int, heard_freq_mhz: int | None) -> int | None:
    """Frequency of a channel number that an element (DS, HT operation, CSA)
    announces, interpreted in the band the frame was heard in.

    A number that does not exist in that band (channel 149 "heard" on
    2.4 GHz, because some drivers report a stale radiotap frequency right
    after a hop) is read with the default convention instead: the AP knows
    its channel better than a stale radio header does.
    """
    band = band_of(heard_freq_mhz) if heard_freq_mhz else None
    freq = channel_to_frequency(channel, band) if band is not None else None
    return freq if freq is not None else channel_to_frequency(channel)


# Regulatory domain JP (the first deployment), as centre frequencies in MHz.
JP_24 = tuple(2407 + 5 * c for c in range(1, 14))
JP_W52 = tuple(5000 + 5 * c for c in (36, 40, 44, 48))
JP_W53 = tuple(5000 + 5 * c for c in (52, 56, 60, 64))
JP_W56 = tuple(5000 + 5 * c for c in range(100, 145, 4))
JP_6G = tuple(5950 + 5 * c for c in range(1, 94, 4))  # 5955..6415 MHz, 20 MHz channels
JP_ALL = JP_24 + JP_W52 + JP_W53 + JP_W56 + JP_6G
