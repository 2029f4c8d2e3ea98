/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_FRAME_BOUNDARIES_H
#define INCLUDED_SEMDACOM_FRAME_BOUNDARIES_H

#include <gnuradio/tags.h>
#include <pmt/pmt.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace semdacom {

struct frame_boundary {
    int offset;     // relative to the start of this work call
    uint64_t frame; // frame number starting there
};

/*!
 * Frame boundaries inside [nread, nread + n) of input 0 (docs/architecture.md §4): the
 * given `frame` tags (already fetched by the block), or every frame_len samples when
 * frame_len > 0. Tag values that are not non-negative integers are skipped.
 */
inline void find_frame_boundaries(const std::vector<gr::tag_t>& frame_tags,
                                  uint64_t nread,
                                  int frame_len,
                                  int n,
                                  std::vector<frame_boundary>& out)
{
    out.clear();
    if (frame_len > 0) {
        const uint64_t fl = static_cast<uint64_t>(frame_len);
        const uint64_t first = (nread + fl - 1) / fl * fl;
        for (uint64_t s = first; s < nread + static_cast<uint64_t>(n); s += fl) {
            out.push_back({ static_cast<int>(s - nread), s / fl });
        }
        return;
    }
    for (const auto& t : frame_tags) {
        uint64_t f;
        if (pmt::is_uint64(t.value)) {
            f = pmt::to_uint64(t.value);
        } else if (pmt::is_integer(t.value) && pmt::to_long(t.value) >= 0) {
            f = static_cast<uint64_t>(pmt::to_long(t.value));
        } else {
            continue;
        }
        out.push_back({ static_cast<int>(t.offset - nread), f });
    }
}

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_FRAME_BOUNDARIES_H */
