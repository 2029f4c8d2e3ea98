/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The Schmidl-Cox metric of semdacom.phy.sync in one pass (issue 23): the numpy reference
 * (sync._schmidl_cox_reference) makes some 25 passes over the buffer; this streams it
 * block by block through O(n) scratch, with the reference's sums in the reference's
 * order.
 */

#include <gnuradio/semdacom/schmidl_cox.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace gr {
namespace semdacom {

namespace {

/*
 * Blocks of n samples, b = 0, 1, ...: the sanitized samples (sr, si), their energies
 * ex = |r|^2 and the lag products conj(r[i]) r[i + n] (pr, pi), which need the samples of
 * block b + 1. The windows starting in block k are the suffix sums of block k plus the
 * prefix sums of block k + 1; one sweep over block k + 1 forms both its prefix sums (the
 * windows of block k) and its suffix sums (kept for the windows of block k + 1): six
 * independent running sums. M of a window in block k needs E of block k + 1, so samples
 * run two blocks ahead of the windows and M one block behind them.
 */
template <typename T>
class metric
{
public:
    metric(const std::complex<T>* r, size_t len, size_t n, double max_sample)
        : d_r(r),
          d_len(len),
          d_n(n),
          d_max(max_sample),
          // |r|^2 <= (max / 2)^2 proves |r| <= max without the modulus; a negative or NaN
          // maximum proves nothing (every sample takes the exact test)
          d_quick(max_sample >= 0.0 ? std::min(0.25 * max_sample * max_sample,
                                               std::numeric_limits<double>::max())
                                    : -1.0),
          d_scratch(18 * n)
    {
        double* s = d_scratch.data();
        for (int b = 0; b < 2; ++b) {
            d_sr[b] = s;
            d_si[b] = s + n;
            d_ex[b] = s + 2 * n;
            d_suf_e[b] = s + 3 * n;
            d_suf_r[b] = s + 4 * n;
            d_suf_i[b] = s + 5 * n;
            d_e[b] = s + 6 * n;
            s += 7 * n;
        }
        d_pr = s;
        d_pi = s + n;
        d_spill = reinterpret_cast<std::complex<double>*>(s + 2 * n);
    }

    void run(double* m, std::complex<double>* p)
    {
        const size_t n = d_n;
        const size_t count = schmidl_cox_count(d_len, n);
        const size_t ecount = count + n; // E(d) for d in [0, len - n]
        load(0);
        load(1);
        lags(0);
        suffix(0);
        for (size_t k = 0; k * n < ecount; ++k) {
            load(k + 2);
            lags(k + 1);
            sweep(k, count, p);
            if (k > 0) {
                finish(k - 1, count, m, p);
            }
        }
    }

private:
    // samples of block b (0 past the end) and their energies, junk neutralised and
    // recorded; overwrites block b - 2
    void load(size_t b)
    {
        const size_t n = d_n;
        double* __restrict sr = d_sr[b & 1];
        double* __restrict si = d_si[b & 1];
        double* __restrict ex = d_ex[b & 1];
        const size_t i0 = b * n;
        const size_t have = i0 < d_len ? std::min(n, d_len - i0) : 0;
        const T* __restrict r = reinterpret_cast<const T*>(d_r + i0);
        const double quick = d_quick;
        size_t doubtful = 0;
        for (size_t j = 0; j < have; ++j) {
            const double re = static_cast<double>(r[2 * j]);
            const double im = static_cast<double>(r[2 * j + 1]);
            const double e = re * re + im * im;
            sr[j] = re;
            si[j] = im;
            ex[j] = e;
            doubtful += !(e <= quick); // NaN, inf, or large: the exact test below
        }
        for (size_t j = have; j < n; ++j) {
            sr[j] = si[j] = ex[j] = 0.0;
        }
        if (doubtful == 0) {
            return;
        }
        for (size_t j = 0; j < have; ++j) {
            if (!(ex[j] <= quick) && !(std::hypot(sr[j], si[j]) <= d_max)) {
                sr[j] = si[j] = ex[j] = 0.0;
                d_bad.push_back(i0 + j);
            }
        }
    }

    // lag products conj(r[i]) r[i + n] of block b (samples of blocks b and b + 1)
    void lags(size_t b)
    {
        const double* __restrict ar = d_sr[b & 1];
        const double* __restrict ai = d_si[b & 1];
        const double* __restrict br = d_sr[(b + 1) & 1];
        const double* __restrict bi = d_si[(b + 1) & 1];
        double* __restrict pr = d_pr;
        double* __restrict pi = d_pi;
        for (size_t j = 0; j < d_n; ++j) {
            pr[j] = ar[j] * br[j] + ai[j] * bi[j];
            pi[j] = ar[j] * bi[j] - ai[j] * br[j];
        }
    }

    // suffix sums of block b (energies of block b, lag products in d_pr, d_pi)
    void suffix(size_t b)
    {
        const double* __restrict ex = d_ex[b & 1];
        double* __restrict ue = d_suf_e[b & 1];
        double* __restrict ur = d_suf_r[b & 1];
        double* __restrict ui = d_suf_i[b & 1];
        double se = 0.0, sr = 0.0, si = 0.0;
        for (size_t j = d_n; j-- > 0;) {
            se += ex[j];
            sr += d_pr[j];
            si += d_pi[j];
            ue[j] = se;
            ur[j] = sr;
            ui[j] = si;
        }
    }

    // E(d) and P(d) of the windows d = k n + j: the suffix sums of block k from j plus
    // the prefix sums of block k + 1 up to j - 1 (sync._window_sum's sums, in its order);
    // and the suffix sums of block k + 1 for the next block's windows
    void sweep(size_t k, size_t count, std::complex<double>* p)
    {
        const size_t n = d_n;
        const double* __restrict ue0 = d_suf_e[k & 1];
        const double* __restrict ur0 = d_suf_r[k & 1];
        const double* __restrict ui0 = d_suf_i[k & 1];
        double* __restrict ue1 = d_suf_e[(k + 1) & 1];
        double* __restrict ur1 = d_suf_r[(k + 1) & 1];
        double* __restrict ui1 = d_suf_i[(k + 1) & 1];
        const double* __restrict ex1 = d_ex[(k + 1) & 1];
        const double* __restrict pr1 = d_pr;
        const double* __restrict pi1 = d_pi;
        double* __restrict e = d_e[k & 1];
        const size_t d0 = k * n;
        const bool whole = d0 + n <= count; // P of every window of the block wanted
        double* __restrict w =
            reinterpret_cast<double*>(whole ? p + d0 : d_spill); // (re, im) pairs
        double pe = 0.0, qr = 0.0, qi = 0.0;                     // prefix sums
        double se = 0.0, sr = 0.0, si = 0.0;                     // suffix sums
        for (size_t j = 0, jb = n - 1; j < n; ++j, --jb) {
            e[j] = ue0[j] + pe;
            w[2 * j] = ur0[j] + qr;
            w[2 * j + 1] = ui0[j] + qi;
            pe += ex1[j];
            qr += pr1[j];
            qi += pi1[j];
            se += ex1[jb];
            sr += pr1[jb];
            si += pi1[jb];
            ue1[jb] = se;
            ur1[jb] = sr;
            ui1[jb] = si;
        }
        if (!whole && d0 < count) {
            std::copy(d_spill, d_spill + (count - d0), p + d0);
        }
    }

    // M(d) of the windows in block k (E of blocks k and k + 1 known); junk windows
    // invalid
    void finish(size_t k, size_t count, double* m, std::complex<double>* p)
    {
        const size_t n = d_n;
        const size_t d0 = k * n;
        if (d0 >= count) {
            return;
        }
        const size_t nm = std::min(n, count - d0);
        const double* __restrict e0 = d_e[k & 1];
        const double* __restrict e1 = d_e[(k + 1) & 1];
        const double* __restrict pp = reinterpret_cast<const double*>(p + d0);
        double* __restrict mm = m + d0;
        for (size_t j = 0; j < nm; ++j) {
            const double den = e0[j] * e1[j];
            const double re = pp[2 * j];
            const double im = pp[2 * j + 1];
            const double v = den > 0.0 ? (re * re + im * im) / den : 0.0;
            mm[j] = v < 1.0 ? v : 1.0;
        }
        // windows [d, d + 2n) holding a junk sample i: d in [i - 2n + 1, i]; the junk
        // samples up to last + 2n - 1 are known (samples run two blocks ahead), those
        // before d0 touch no window from d0 on; the intervals, in order, are merged
        const size_t last = d0 + nm - 1;
        while (d_next < d_bad.size() && d_bad[d_next] < d0) {
            ++d_next;
        }
        size_t done = d0;
        for (size_t t = d_next; t < d_bad.size() && d_bad[t] <= last + 2 * n - 1; ++t) {
            const size_t i = d_bad[t];
            const size_t hi = std::min(i, last) + 1;
            for (size_t d = std::max(i + 1 >= 2 * n ? i + 1 - 2 * n : 0, done); d < hi;
                 ++d) {
                m[d] = 0.0;
                p[d] = 0.0;
            }
            done = std::max(done, hi);
        }
    }

    const std::complex<T>* d_r;
    size_t d_len;
    size_t d_n;
    double d_max;
    double d_quick;
    std::vector<double> d_scratch;
    double* d_sr[2]; // samples, blocks b and b + 1 (by parity)
    double* d_si[2];
    double* d_ex[2]; // their energies
    double* d_pr;    // lag products of the block being swept
    double* d_pi;
    double* d_suf_e[2]; // suffix sums, blocks k and k + 1 (by parity)
    double* d_suf_r[2];
    double* d_suf_i[2];
    double* d_e[2];                // E of the windows, blocks k - 1 and k (by parity)
    std::complex<double>* d_spill; // P of a last, partly wanted block
    std::vector<size_t> d_bad;     // junk samples, in order
    size_t d_next = 0;             // first junk sample that may touch the windows to come
};

template <typename T>
void schmidl_cox_impl(const std::complex<T>* r,
                      size_t len,
                      size_t n,
                      double max_sample,
                      double* m,
                      std::complex<double>* p)
{
    if (n == 0) {
        throw std::invalid_argument("schmidl_cox: the half length n must be >= 1");
    }
    if (schmidl_cox_count(len, n) == 0) {
        return;
    }
    metric<T>(r, len, n, max_sample).run(m, p);
}

} // namespace

void schmidl_cox(const std::complex<float>* r,
                 size_t len,
                 size_t n,
                 double max_sample,
                 double* m,
                 std::complex<double>* p)
{
    schmidl_cox_impl(r, len, n, max_sample, m, p);
}

void schmidl_cox(const std::complex<double>* r,
                 size_t len,
                 size_t n,
                 double max_sample,
                 double* m,
                 std::complex<double>* p)
{
    schmidl_cox_impl(r, len, n, max_sample, m, p);
}

} // namespace semdacom
} // namespace gr
