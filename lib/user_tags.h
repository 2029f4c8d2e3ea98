/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_USER_TAGS_H
#define INCLUDED_SEMDACOM_USER_TAGS_H

#include <gnuradio/tags.h>
#include <pmt/pmt.h>

namespace gr {
namespace semdacom {

/*
 * Per-user tag routing through the antenna streams (docs/blocks/implementation_notes.md):
 * superposition_beamformer copies the tags of user 0's input to every antenna output, as
 * they are, and carries the tags of user i > 0 on antenna output 0 wrapped as
 * ("semdacom_user_tag", (i, key, value)); miso_channel sends `frame` tags of antenna 0 to
 * every user output, unwraps user tags onto their user's output, and sends the remaining
 * tags of antenna 0 (user 0's) to user output 0. Each user's receiver thus sees the frame
 * tags and its own transmitter's tags.
 */

inline const pmt::pmt_t& user_tag_key()
{
    static const pmt::pmt_t key = pmt::intern("semdacom_user_tag");
    return key;
}

inline const pmt::pmt_t& frame_tag_key()
{
    static const pmt::pmt_t key = pmt::intern("frame");
    return key;
}

/*!
 * ("semdacom_csi", (u64 origin . u64 seq)) at the first sample of a frame whose channel
 * is new: the CSI message of that origin and seq describes it. A receiver that has not
 * had that CSI message yet waits for it before it decodes the frame (the message and the
 * stream travel apart; issue 23: with many frames in flight the stream overtook the
 * message).
 */
inline const pmt::pmt_t& csi_tag_key()
{
    static const pmt::pmt_t key = pmt::intern("semdacom_csi");
    return key;
}

//! The tag \p t of user \p user wrapped for antenna output 0.
inline gr::tag_t wrap_user_tag(const gr::tag_t& t, int user)
{
    gr::tag_t w;
    w.offset = t.offset;
    w.key = user_tag_key();
    w.value = pmt::make_tuple(pmt::from_long(user), t.key, t.value);
    w.srcid = t.srcid;
    return w;
}

/*!
 * The user (0 <= user < k) of a wrapped tag, with the original tag in \p out; -1 when \p
 * t is not a well-formed user tag (it is then handled as an ordinary tag).
 */
inline int unwrap_user_tag(const gr::tag_t& t, int k, gr::tag_t& out)
{
    if (!pmt::eq(t.key, user_tag_key()) || !pmt::is_tuple(t.value) ||
        pmt::length(t.value) != 3) {
        return -1;
    }
    const pmt::pmt_t user = pmt::tuple_ref(t.value, 0);
    const pmt::pmt_t key = pmt::tuple_ref(t.value, 1);
    if (!pmt::is_integer(user) || !pmt::is_symbol(key)) {
        return -1;
    }
    const long u = pmt::to_long(user);
    if (u < 0 || u >= k) {
        return -1;
    }
    out.offset = t.offset;
    out.key = key;
    out.value = pmt::tuple_ref(t.value, 2);
    out.srcid = t.srcid;
    return static_cast<int>(u);
}

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_USER_TAGS_H */
