#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Learned source coding of MU-ASCC ([1], Sec. II-B and III-A); no GNU Radio here.

* :mod:`.data` -- Fashion-MNIST from its idx files.
* :mod:`.models` -- variable-rate scale hyperprior (gain units), classifier E, semantic decoder Q.
* :mod:`.bitstream` -- packetised stream format and the guarded rANS decoder.
* :mod:`.codec` -- :class:`LearnedCodec`: ``encode(images, rate_index) -> list[bytes]`` and
  ``decode(list[bytes], rate_index) -> images`` (+ erasures), ``classify``.
* :mod:`.metrics` -- 1-MS-SSIM fitted to small images, MSE, PSNR.
* :mod:`.train` -- training of all networks (seeded, resumable, tqdm).
* :mod:`.evaluate` -- rate table and per-point metrics, BD-rate.
* :mod:`.distortion_fit` -- Monte-Carlo bit flips and the logistic fit of eqs. (12)/(13).
* :mod:`.classical` -- :class:`ClassicalCodec`, HEVC intra (x265) in HEIF: the BPG stand-in of
  the separate source-channel coding benchmark (same API as the learned codec).
"""
