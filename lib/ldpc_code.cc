/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/semdacom/ldpc_code.h>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace gr {
namespace semdacom {

namespace {
std::vector<long> numbers_of(const std::string& line)
{
    std::istringstream is(line);
    std::vector<long> v;
    long x;
    while (is >> x) {
        v.push_back(x);
    }
    if (!is.eof()) {
        throw std::runtime_error("alist: not a number in line '" + line + "'");
    }
    return v;
}
} // namespace

ldpc_code::ldpc_code(int n, const std::vector<std::vector<int>>& rows) : d_n(n)
{
    if (n < 2 || rows.empty()) {
        throw std::invalid_argument("ldpc_code: need n >= 2 and at least one check");
    }
    build(rows);
}

void ldpc_code::build(const std::vector<std::vector<int>>& rows_in)
{
    d_m = static_cast<int>(rows_in.size());
    d_row_ptr.assign(1, 0);
    d_col_idx.clear();
    d_max_row_deg = 0;
    for (const auto& r : rows_in) {
        std::vector<int> row(r);
        for (int c : row) {
            if (c < 0 || c >= d_n) {
                throw std::invalid_argument("ldpc_code: column index out of range");
            }
        }
        std::sort(row.begin(), row.end());
        // GF(2): a column listed twice cancels.
        std::vector<int> clean;
        for (size_t i = 0; i < row.size();) {
            size_t j = i;
            while (j < row.size() && row[j] == row[i]) {
                j++;
            }
            if ((j - i) % 2 == 1) {
                clean.push_back(row[i]);
            }
            i = j;
        }
        d_col_idx.insert(d_col_idx.end(), clean.begin(), clean.end());
        d_row_ptr.push_back(static_cast<int>(d_col_idx.size()));
        d_max_row_deg = std::max(d_max_row_deg, static_cast<int>(clean.size()));
    }
    prepare_encoder();
}

void ldpc_code::prepare_encoder()
{
    // Triangular structure: the largest column of each row first appears in that row.
    std::vector<int> first_row(d_n, -1);
    for (int r = 0; r < d_m; r++) {
        for (int e = d_row_ptr[r]; e < d_row_ptr[r + 1]; e++) {
            if (first_row[d_col_idx[e]] < 0) {
                first_row[d_col_idx[e]] = r;
            }
        }
    }
    bool tri = true;
    std::vector<int> piv(d_m, -1);
    for (int r = 0; r < d_m && tri; r++) {
        if (d_row_ptr[r + 1] == d_row_ptr[r]) {
            tri = false;
            break;
        }
        int p = d_col_idx[d_row_ptr[r + 1] - 1]; // rows are sorted
        if (first_row[p] != r) {
            tri = false;
        }
        piv[r] = p;
    }
    d_info.clear();
    d_parity.clear();
    d_dense.clear();
    d_tri_rows.clear();
    if (tri) {
        d_triangular = true;
        std::vector<char> is_par(d_n, 0);
        for (int r = 0; r < d_m; r++) {
            is_par[piv[r]] = 1;
            d_parity.push_back(piv[r]);
            d_tri_rows.push_back(r);
        }
        for (int c = 0; c < d_n; c++) {
            if (!is_par[c]) {
                d_info.push_back(c);
            }
        }
        d_k = d_n - d_m;
        return;
    }

    // Dense Gauss-Jordan over GF(2), pivots taken from the last column down so that the
    // information bits are the first columns whenever H allows it.
    d_triangular = false;
    const int wn = (d_n + 63) / 64;
    std::vector<uint64_t> h(static_cast<size_t>(d_m) * wn, 0);
    for (int r = 0; r < d_m; r++) {
        for (int e = d_row_ptr[r]; e < d_row_ptr[r + 1]; e++) {
            int c = d_col_idx[e];
            h[static_cast<size_t>(r) * wn + c / 64] ^= uint64_t(1) << (c % 64);
        }
    }
    int rank = 0;
    std::vector<int> pivot_col;
    for (int c = d_n - 1; c >= 0 && rank < d_m; c--) {
        const int w = c / 64;
        const uint64_t bit = uint64_t(1) << (c % 64);
        int sel = -1;
        for (int r = rank; r < d_m; r++) {
            if (h[static_cast<size_t>(r) * wn + w] & bit) {
                sel = r;
                break;
            }
        }
        if (sel < 0) {
            continue;
        }
        if (sel != rank) {
            std::swap_ranges(h.begin() + static_cast<size_t>(sel) * wn,
                             h.begin() + static_cast<size_t>(sel + 1) * wn,
                             h.begin() + static_cast<size_t>(rank) * wn);
        }
        const uint64_t* prow = &h[static_cast<size_t>(rank) * wn];
        for (int r = 0; r < d_m; r++) {
            uint64_t* row = &h[static_cast<size_t>(r) * wn];
            if (r != rank && (row[w] & bit)) {
                for (int i = 0; i < wn; i++) {
                    row[i] ^= prow[i];
                }
            }
        }
        pivot_col.push_back(c);
        rank++;
    }
    std::vector<int> info_index(d_n, -1);
    std::vector<char> is_par(d_n, 0);
    for (int c : pivot_col) {
        is_par[c] = 1;
    }
    for (int c = 0; c < d_n; c++) {
        if (!is_par[c]) {
            info_index[c] = static_cast<int>(d_info.size());
            d_info.push_back(c);
        }
    }
    d_k = d_n - rank;
    d_words = (d_k + 63) / 64;
    d_dense.assign(static_cast<size_t>(rank) * std::max(d_words, 1), 0);
    for (int j = 0; j < rank; j++) {
        d_parity.push_back(pivot_col[j]);
        const uint64_t* row = &h[static_cast<size_t>(j) * wn];
        for (int c : d_info) {
            if (row[c / 64] & (uint64_t(1) << (c % 64))) {
                int i = info_index[c];
                d_dense[static_cast<size_t>(j) * d_words + i / 64] ^= uint64_t(1)
                                                                      << (i % 64);
            }
        }
    }
}

ldpc_code ldpc_code::from_alist_text(const std::string& text)
{
    std::istringstream is(text);
    std::vector<std::vector<long>> lines;
    std::string line;
    while (std::getline(is, line)) {
        auto v = numbers_of(line);
        if (!v.empty()) {
            lines.push_back(v);
        }
    }
    if (lines.size() < 4 || lines[0].size() != 2 || lines[1].size() != 2) {
        throw std::runtime_error("alist: header must be 'n m' and 'dmax_col dmax_row'");
    }
    const long n = lines[0][0], m = lines[0][1];
    if (n < 2 || m < 1 || n > (1L << 24) || m > (1L << 24)) {
        throw std::runtime_error("alist: bad sizes");
    }
    if (lines[2].size() != static_cast<size_t>(n) ||
        lines[3].size() != static_cast<size_t>(m)) {
        throw std::runtime_error("alist: degree lines do not match n and m");
    }
    if (lines.size() < static_cast<size_t>(4 + n)) {
        throw std::runtime_error("alist: missing column lines");
    }
    std::vector<std::vector<int>> rows(m);
    for (long c = 0; c < n; c++) {
        long deg = 0;
        for (long r1 : lines[4 + c]) {
            if (r1 == 0) {
                continue; // padding
            }
            if (r1 < 1 || r1 > m) {
                throw std::runtime_error("alist: row index out of range");
            }
            rows[r1 - 1].push_back(static_cast<int>(c));
            deg++;
        }
        if (deg != lines[2][c]) {
            throw std::runtime_error("alist: column degree mismatch");
        }
    }
    for (long r = 0; r < m; r++) {
        if (static_cast<long>(rows[r].size()) != lines[3][r]) {
            throw std::runtime_error("alist: row degree mismatch");
        }
    }
    return ldpc_code(static_cast<int>(n), rows);
}

ldpc_code ldpc_code::from_alist_file(const std::string& path)
{
    std::ifstream f(path);
    if (!f) {
        throw std::runtime_error("alist: cannot open " + path);
    }
    std::stringstream ss;
    ss << f.rdbuf();
    return from_alist_text(ss.str());
}

ldpc_code ldpc_code::from_qc(int mb, int nb, int z, const std::vector<int>& shifts)
{
    if (mb < 1 || nb <= mb || z < 1 ||
        shifts.size() != static_cast<size_t>(mb) * static_cast<size_t>(nb)) {
        throw std::invalid_argument("from_qc: need nb > mb >= 1, z >= 1, mb*nb shifts");
    }
    std::vector<std::vector<int>> rows(static_cast<size_t>(mb) * z);
    for (int i = 0; i < mb; i++) {
        for (int j = 0; j < nb; j++) {
            int s = shifts[static_cast<size_t>(i) * nb + j];
            if (s < 0) {
                continue;
            }
            s %= z;
            for (int t = 0; t < z; t++) {
                rows[static_cast<size_t>(i) * z + t].push_back(j * z + (t + s) % z);
            }
        }
    }
    return ldpc_code(nb * z, rows);
}

void ldpc_code::encode(const uint8_t* info, uint8_t* cw, int n_cw) const
{
    std::vector<uint64_t> packed(std::max(d_words, 1));
    for (int b = 0; b < n_cw; b++) {
        const uint8_t* in = info + static_cast<size_t>(b) * d_k;
        uint8_t* out = cw + static_cast<size_t>(b) * d_n;
        std::fill(out, out + d_n, 0);
        for (int i = 0; i < d_k; i++) {
            out[d_info[i]] = in[i] ? 1 : 0;
        }
        if (d_triangular) {
            for (size_t j = 0; j < d_parity.size(); j++) {
                const int r = d_tri_rows[j];
                const int p = d_parity[j];
                uint8_t x = 0;
                for (int e = d_row_ptr[r]; e < d_row_ptr[r + 1]; e++) {
                    x ^= out[d_col_idx[e]];
                }
                out[p] = x ^ out[p]; // out[p] was 0: x excludes it
            }
        } else {
            std::fill(packed.begin(), packed.end(), 0);
            for (int i = 0; i < d_k; i++) {
                if (in[i]) {
                    packed[i / 64] |= uint64_t(1) << (i % 64);
                }
            }
            for (size_t j = 0; j < d_parity.size(); j++) {
                const uint64_t* row = &d_dense[j * d_words];
                uint64_t acc = 0;
                for (int w = 0; w < d_words; w++) {
                    acc ^= row[w] & packed[w];
                }
                out[d_parity[j]] = static_cast<uint8_t>(__builtin_parityll(acc));
            }
        }
    }
}

int ldpc_code::syndrome_weight(const uint8_t* word) const
{
    int bad = 0;
    for (int r = 0; r < d_m; r++) {
        int x = 0;
        for (int e = d_row_ptr[r]; e < d_row_ptr[r + 1]; e++) {
            x ^= word[d_col_idx[e]] ? 1 : 0;
        }
        bad += x;
    }
    return bad;
}

std::string ldpc_code::to_alist() const
{
    std::vector<std::vector<int>> cols(d_n);
    for (int r = 0; r < d_m; r++) {
        for (int e = d_row_ptr[r]; e < d_row_ptr[r + 1]; e++) {
            cols[d_col_idx[e]].push_back(r);
        }
    }
    size_t dc = 0;
    for (const auto& c : cols) {
        dc = std::max(dc, c.size());
    }
    std::ostringstream os;
    os << d_n << " " << d_m << "\n" << dc << " " << d_max_row_deg << "\n";
    for (int c = 0; c < d_n; c++) {
        os << cols[c].size() << (c + 1 < d_n ? " " : "\n");
    }
    for (int r = 0; r < d_m; r++) {
        os << (d_row_ptr[r + 1] - d_row_ptr[r]) << (r + 1 < d_m ? " " : "\n");
    }
    for (int c = 0; c < d_n; c++) {
        for (size_t i = 0; i < dc; i++) {
            os << (i < cols[c].size() ? cols[c][i] + 1 : 0) << (i + 1 < dc ? " " : "\n");
        }
    }
    for (int r = 0; r < d_m; r++) {
        const int deg = d_row_ptr[r + 1] - d_row_ptr[r];
        for (int i = 0; i < d_max_row_deg; i++) {
            os << (i < deg ? d_col_idx[d_row_ptr[r] + i] + 1 : 0)
               << (i + 1 < d_max_row_deg ? " " : "\n");
        }
    }
    return os.str();
}

} // namespace semdacom
} // namespace gr
