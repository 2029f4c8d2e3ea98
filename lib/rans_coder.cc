/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * rANS after F. Giesen's rans64 (public domain) with the bypass extension used by
 * compressai; see rans_coder.h for the stream format.
 */

#include <gnuradio/semdacom/rans_coder.h>
#include <algorithm>
#include <stdexcept>
#include <string>

namespace gr {
namespace semdacom {

namespace {
constexpr int PRECISION = 16;
constexpr int BYPASS_PRECISION = 4;
constexpr int32_t MAX_BYPASS_VAL = (1 << BYPASS_PRECISION) - 1;
constexpr uint64_t RANS64_L = 1ull << 31;
//! Longest bypass escape accepted by the decoder (nibbles): 32 bits of raw value.
constexpr int32_t MAX_BYPASS_NIBBLES = 8;

struct sym_t {
    uint32_t start;
    uint32_t range;
    bool bypass;
};

inline void
enc_put(uint64_t& x, std::vector<uint32_t>& words, uint32_t start, uint32_t freq)
{
    const uint64_t x_max = ((RANS64_L >> PRECISION) << 32) * freq;
    if (x >= x_max) {
        words.push_back(static_cast<uint32_t>(x));
        x >>= 32;
    }
    x = ((x / freq) << PRECISION) + (x % freq) + start;
}

inline void enc_put_bits(uint64_t& x, std::vector<uint32_t>& words, uint32_t val)
{
    const uint64_t freq = 1ull << (16 - BYPASS_PRECISION);
    const uint64_t x_max = ((RANS64_L >> 16) << 32) * freq;
    if (x >= x_max) {
        words.push_back(static_cast<uint32_t>(x));
        x >>= 32;
    }
    x = (x << BYPASS_PRECISION) | val;
}

//! Word reader that returns zeros past the end of the stream (and remembers it did).
struct reader {
    const uint8_t* data;
    size_t nbytes;
    size_t pos = 0;
    bool overrun = false;

    uint32_t next()
    {
        uint32_t w = 0;
        if (pos + 4 <= nbytes) {
            w = static_cast<uint32_t>(data[pos]) |
                (static_cast<uint32_t>(data[pos + 1]) << 8) |
                (static_cast<uint32_t>(data[pos + 2]) << 16) |
                (static_cast<uint32_t>(data[pos + 3]) << 24);
        } else {
            for (size_t i = 0; pos + i < nbytes && i < 4; ++i) {
                w |= static_cast<uint32_t>(data[pos + i]) << (8 * i);
            }
            overrun = true;
        }
        pos += 4;
        return w;
    }
};

inline uint32_t dec_get_bits(uint64_t& x, reader& rd)
{
    const uint32_t val = static_cast<uint32_t>(x & ((1u << BYPASS_PRECISION) - 1));
    x >>= BYPASS_PRECISION;
    if (x < RANS64_L) {
        x = (x << 32) | rd.next();
    }
    return val;
}
} // namespace

rans_coder::rans_coder(const std::vector<std::vector<int32_t>>& cdfs,
                       const std::vector<int32_t>& sizes,
                       const std::vector<int32_t>& offsets)
{
    if (cdfs.size() != sizes.size() || cdfs.size() != offsets.size() || cdfs.empty()) {
        throw std::invalid_argument(
            "rans_coder: need as many sizes and offsets as cdfs (>= 1)");
    }
    for (size_t t = 0; t < cdfs.size(); ++t) {
        const auto size = sizes[t];
        const auto& c = cdfs[t];
        if (size < 2 || static_cast<size_t>(size) > c.size()) {
            throw std::invalid_argument("rans_coder: cdf " + std::to_string(t) +
                                        " has a bad size");
        }
        if (c[0] != 0 || c[size - 1] != (1 << PRECISION)) {
            throw std::invalid_argument("rans_coder: cdf " + std::to_string(t) +
                                        " must run from 0 to 65536");
        }
        for (int32_t j = 0; j + 1 < size; ++j) {
            if (c[j + 1] <= c[j]) {
                throw std::invalid_argument("rans_coder: cdf " + std::to_string(t) +
                                            " is not strictly increasing");
            }
        }
        d_start.push_back(static_cast<int32_t>(d_cdf.size()));
        d_cdf.insert(d_cdf.end(), c.begin(), c.begin() + size);
        d_sizes.push_back(size);
        d_offsets.push_back(offsets[t]);
    }
}

const uint32_t* rans_coder::cdf_of(int32_t t, const char* who) const
{
    if (t < 0 || t >= static_cast<int32_t>(d_sizes.size())) {
        throw std::invalid_argument(std::string("rans_coder::") + who +
                                    ": table index out of range");
    }
    return d_cdf.data() + d_start[t];
}

void rans_coder::encode(const int32_t* symbols,
                        const int32_t* indexes,
                        size_t n,
                        std::string& out) const
{
    std::vector<sym_t> syms;
    syms.reserve(n + n / 4 + 4);
    for (size_t i = 0; i < n; ++i) {
        const int32_t t = indexes[i];
        const uint32_t* cdf = cdf_of(t, "encode");
        const int32_t max_value = d_sizes[t] - 2;
        int32_t value = symbols[i] - d_offsets[t];
        uint32_t raw_val = 0;
        if (value < 0) {
            raw_val = static_cast<uint32_t>(-2 * static_cast<int64_t>(value) - 1);
            value = max_value;
        } else if (value >= max_value) {
            raw_val = static_cast<uint32_t>(2 * static_cast<int64_t>(value - max_value));
            value = max_value;
        }
        syms.push_back({ cdf[value], cdf[value + 1] - cdf[value], false });
        if (value == max_value) {
            int32_t n_bypass = 0;
            while (n_bypass < MAX_BYPASS_NIBBLES &&
                   (raw_val >> (n_bypass * BYPASS_PRECISION)) != 0) {
                ++n_bypass;
            }
            int32_t val = n_bypass;
            while (val >= MAX_BYPASS_VAL) {
                syms.push_back({ static_cast<uint32_t>(MAX_BYPASS_VAL), 0, true });
                val -= MAX_BYPASS_VAL;
            }
            syms.push_back({ static_cast<uint32_t>(val), 0, true });
            for (int32_t j = 0; j < n_bypass; ++j) {
                const uint32_t v = (raw_val >> (j * BYPASS_PRECISION)) & MAX_BYPASS_VAL;
                syms.push_back({ v, 0, true });
            }
        }
    }
    uint64_t x = RANS64_L;
    std::vector<uint32_t> words; // written backwards
    words.reserve(syms.size() / 2 + 4);
    for (auto it = syms.rbegin(); it != syms.rend(); ++it) {
        if (it->bypass) {
            enc_put_bits(x, words, it->start);
        } else {
            enc_put(x, words, it->start, it->range);
        }
    }
    words.push_back(static_cast<uint32_t>(x >> 32));
    words.push_back(static_cast<uint32_t>(x));
    const size_t base = out.size();
    out.resize(base + 4 * words.size());
    size_t p = base;
    for (auto it = words.rbegin(); it != words.rend(); ++it) {
        const uint32_t w = *it;
        out[p++] = static_cast<char>(w & 0xff);
        out[p++] = static_cast<char>((w >> 8) & 0xff);
        out[p++] = static_cast<char>((w >> 16) & 0xff);
        out[p++] = static_cast<char>((w >> 24) & 0xff);
    }
}

bool rans_coder::decode(const uint8_t* data,
                        size_t nbytes,
                        const int32_t* indexes,
                        size_t n,
                        int32_t bound,
                        int32_t* out) const
{
    reader rd{ data, nbytes };
    uint64_t x = rd.next();
    x |= static_cast<uint64_t>(rd.next()) << 32;
    bool clean = true;
    for (size_t i = 0; i < n; ++i) {
        const int32_t t = indexes[i];
        const uint32_t* cdf = cdf_of(t, "decode");
        const int32_t size = d_sizes[t];
        const int32_t max_value = size - 2;
        const uint32_t cum = static_cast<uint32_t>(x & ((1u << PRECISION) - 1));
        // First entry greater than cum, minus one: cdf[s] <= cum < cdf[s + 1].
        const int32_t s =
            static_cast<int32_t>(std::upper_bound(cdf, cdf + size, cum) - cdf) - 1;
        const uint32_t start = cdf[s];
        const uint32_t freq = cdf[s + 1] - start;
        x = freq * (x >> PRECISION) + (x & ((1u << PRECISION) - 1)) - start;
        if (x < RANS64_L) {
            x = (x << 32) | rd.next();
        }
        int64_t value = s;
        if (s == max_value) {
            int32_t val = static_cast<int32_t>(dec_get_bits(x, rd));
            int32_t n_bypass = val;
            while (val == MAX_BYPASS_VAL && n_bypass <= MAX_BYPASS_NIBBLES) {
                val = static_cast<int32_t>(dec_get_bits(x, rd));
                n_bypass += val;
            }
            if (n_bypass > MAX_BYPASS_NIBBLES) {
                clean = false; // a corrupted escape: keep the value at the table's edge
                n_bypass = 0;
            }
            uint32_t raw_val = 0;
            for (int32_t j = 0; j < n_bypass; ++j) {
                raw_val |= dec_get_bits(x, rd) << (j * BYPASS_PRECISION);
            }
            value = raw_val >> 1;
            if (raw_val & 1) {
                value = -value - 1;
            } else {
                value += max_value;
            }
        }
        value += d_offsets[t];
        out[i] = static_cast<int32_t>(std::clamp<int64_t>(value, -bound, bound));
    }
    return clean && !rd.overrun;
}

} // namespace semdacom
} // namespace gr
