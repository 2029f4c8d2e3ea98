/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_LDPC_CODE_H
#define INCLUDED_SEMDACOM_LDPC_CODE_H

#include <gnuradio/semdacom/api.h>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * \brief A binary LDPC code given by its sparse parity-check matrix H (m x n), with a
 * systematic encoder.
 *
 * H is stored row by row (CSR: row_ptr, col_idx), the order the layered decoder walks
 * it. Codes come from an alist file (MacKay's format, as shipped by GNU Radio under
 * /usr/share/gnuradio/fec/ldpc/), from a quasi-cyclic base matrix of circulant shifts
 * lifted by Z, or from explicit check rows.
 *
 * Encoding: when every row r of H has a "pivot" (its largest column) that first appears
 * in row r, H is lower triangular in its pivot columns and a codeword is found by one
 * pass over the rows (p_r = XOR of the other bits of row r) in O(edges). This is the
 * case of the staircase (dual-diagonal) quasi-cyclic codes of the semdacom family. For
 * any other H the encoder reduces H over GF(2) once (Gauss-Jordan, bit-packed) and keeps
 * the dense map from the k information bits to the n - k parity bits. Redundant rows are
 * allowed: k = n - rank(H).
 */
class SEMDACOM_API ldpc_code
{
public:
    /*! n columns; rows[r] lists the columns of check r (duplicates cancel, GF(2)). */
    ldpc_code(int n, const std::vector<std::vector<int>>& rows);

    /*! Parse an alist file. Throws std::runtime_error on a malformed file. */
    static ldpc_code from_alist_file(const std::string& path);
    /*! Parse alist text. Throws std::runtime_error on malformed text. */
    static ldpc_code from_alist_text(const std::string& text);
    /*!
     * Lift an mb x nb base matrix of shifts (row-major, -1 = zero block, s >= 0 =
     * identity cyclically shifted by s mod z: row i of the block has its one in column (i
     * + s) % z).
     */
    static ldpc_code from_qc(int mb, int nb, int z, const std::vector<int>& shifts);

    int n() const { return d_n; }
    int m() const { return d_m; }
    int k() const { return d_k; }
    int edges() const { return static_cast<int>(d_col_idx.size()); }
    int max_row_degree() const { return d_max_row_deg; }
    bool triangular() const { return d_triangular; }
    const std::vector<int>& row_ptr() const { return d_row_ptr; }
    const std::vector<int>& col_idx() const { return d_col_idx; }
    /*! Columns holding the k information bits (ascending). */
    const std::vector<int>& info_positions() const { return d_info; }
    /*! Columns holding the n - k parity bits, in the order the encoder solves them. */
    const std::vector<int>& parity_positions() const { return d_parity; }

    /*! info: n_cw * k bits (0/1 bytes), cw: n_cw * n bits. */
    void encode(const uint8_t* info, uint8_t* cw, int n_cw) const;
    /*! Number of unsatisfied checks of one hard-decision word (n bits, nonzero byte = 1).
     */
    int syndrome_weight(const uint8_t* word) const;
    /*! Alist text of H. */
    std::string to_alist() const;

private:
    void build(const std::vector<std::vector<int>>& rows);
    void prepare_encoder();

    int d_n = 0;
    int d_m = 0;
    int d_k = 0;
    int d_max_row_deg = 0;
    bool d_triangular = false;
    std::vector<int> d_row_ptr;
    std::vector<int> d_col_idx;
    std::vector<int> d_info;
    std::vector<int> d_parity;
    // Triangular encoder: parity d_parity[r] = XOR over row d_tri_rows[r] minus itself.
    std::vector<int> d_tri_rows;
    // Dense encoder: parity j = parity of (d_dense[j] & packed info bits).
    int d_words = 0;
    std::vector<uint64_t> d_dense;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_LDPC_CODE_H */
