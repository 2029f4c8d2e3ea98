/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_RANS_CODER_H
#define INCLUDED_SEMDACOM_RANS_CODER_H

#include <gnuradio/semdacom/api.h>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * \brief Indexed rANS entropy coder holding its CDF tables once (learned codec, MU-ASCC
 * [1] §II-B).
 *
 * Same stream format as compressai's RansEncoder/RansDecoder (64-bit rANS state, 32-bit
 * output words, 16-bit probability precision, 4-bit bypass coding of values outside a
 * table's range), so streams are byte-identical to compressai's for the same tables. The
 * difference is the interface: the tables are converted once at construction instead of
 * on every call, and a whole batch of streams is coded per call.
 *
 * Decoding is safe on any input: reads past the end of a stream return zero words, the
 * bypass escape is bounded to 32 bits per symbol and decoded values are clamped to
 * [-bound, bound], so corrupted or truncated streams cost at most O(symbols) work and
 * never touch memory outside the buffer.
 */
class SEMDACOM_API rans_coder
{
public:
    /*!
     * \param cdfs quantised CDFs (each starts at 0, ends at 1 << 16, strictly increasing
     * up to its size), one per table index. \param sizes number of valid entries of each
     * CDF (>= 2). \param offsets value of the first symbol of each table. \throws
     * std::invalid_argument on a malformed table.
     */
    rans_coder(const std::vector<std::vector<int32_t>>& cdfs,
               const std::vector<int32_t>& sizes,
               const std::vector<int32_t>& offsets);

    //! Number of tables.
    size_t tables() const { return d_sizes.size(); }

    /*!
     * Encode \p n symbols with the tables \p indexes (each in [0, tables())); appends the
     * stream (bytes) to \p out. \throws std::invalid_argument on an index out of range.
     */
    void encode(const int32_t* symbols,
                const int32_t* indexes,
                size_t n,
                std::string& out) const;

    /*!
     * Decode \p n symbols from \p nbytes bytes. Never fails on stream content.
     * \return true when the stream looked well formed (no bypass overflow and no read
     * past its end), false when it was visibly corrupted (the values are still written).
     */
    bool decode(const uint8_t* data,
                size_t nbytes,
                const int32_t* indexes,
                size_t n,
                int32_t bound,
                int32_t* out) const;

private:
    // Table t's CDF (d_sizes[t] entries); throws std::invalid_argument, naming the caller
    // `who`, when t is not a table index.
    const uint32_t* cdf_of(int32_t t, const char* who) const;

    std::vector<uint32_t> d_cdf; // all tables, concatenated
    std::vector<int32_t> d_start;
    std::vector<int32_t> d_sizes;
    std::vector<int32_t> d_offsets;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_RANS_CODER_H */
