"""Fuzz every input message port of every block in a running flowgraph.

For each port, hypothesis draws messages (``fuzz_strategies``: random PMTs, random and
truncated PDUs, mutated valid messages, valid streams with flipped bits) and interleaves valid
ones. After every message the test asserts: the block dealt with it within ``HANG_S`` (no hang),
GNU Radio's log (stdout/stderr, captured) shows no thread ending on an exception, a data
message gave exactly one result, a rejected control message left the state as it was, and a
valid one was taken and changed the state.
"""

from __future__ import annotations

import time

import pmt
import pytest
from fuzz_strategies import cap_seq, mutated_dict, mutated_pdu, random_pdus, random_pmts
from fuzz_targets import EXAMPLES, PORTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HANG_S = 20.0
#: Log text of a thread that ended on an exception (C++ thread_body_wrapper, Python traceback).
DEATH_SIGNS = ("thread_body_wrapper", "Traceback (most recent call last)", "terminate called")


def _wait(cond, timeout: float = HANG_S) -> bool:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            return False
        time.sleep(0.001)
    return True


@st.composite
def fuzz_messages(draw, port) -> object:
    """A message for ``port``: any PMT, a PDU-like pair, or a valid message mutated (keys
    replaced/removed/added for a dict; meta mutated, payload truncated, extended, retyped or
    bits flipped for a PDU), the mutation twice as likely as each of the others."""
    base = port.valid(draw)
    kind = draw(st.integers(0, 3))
    if kind == 0 or not pmt.is_dict(base) or pmt.is_null(base):
        msg = draw(random_pmts() if kind % 2 == 0 else random_pdus())
    elif kind == 1:
        msg = draw(random_pdus())
    elif pmt.is_pair(base) and pmt.is_uniform_vector(pmt.cdr(base)):
        msg = draw(mutated_pdu(base))
    else:
        msg = draw(mutated_dict(base))
    return cap_seq(msg) if port.name == "cmd" else msg


def send(t, name: str, msg, stats: dict, capfd, *, valid: bool) -> None:
    port = t.ports[name]
    h0, s0, a0, o0 = port.handled(), port.state(), port.accepted(), port.outputs()
    t.post(name, msg)
    stats["messages"] += 1
    done = _wait(lambda: port.handled() > h0)
    log = capfd.readouterr()
    text = log.out + log.err
    if any(sign in text for sign in DEATH_SIGNS):
        stats["thread_deaths"] += 1
        raise AssertionError(f"{t.name}.{name}: a thread died:\n{text[-2000:]}")
    if not done:
        stats["hangs"] += 1
        raise AssertionError(f"{t.name}.{name}: message not handled in {HANG_S} s")
    if port.kind == "data":
        if not _wait(lambda: port.outputs() >= o0 + 1):
            stats["lost"] += 1
            raise AssertionError(f"{t.name}.{name}: a message in gave no result out")
        return
    taken = port.accepted() > a0
    if taken and hasattr(t, "note_accepted"):
        t.note_accepted(msg)
    s1 = port.state()
    if not taken and s1 != s0:
        stats["state_corrupted"] += 1
        raise AssertionError(f"{t.name}.{name}: a rejected message changed the state")
    if valid and (not taken or s1 == s0):
        stats["state_corrupted"] += 1
        raise AssertionError(f"{t.name}.{name}: a valid message did not update the state")


@pytest.mark.parametrize(("block", "port"), PORTS, ids=[f"{b}.{p}" for b, p in PORTS])
def test_port_survives_fuzz(block: str, port: str, targets, fuzz_stats, capfd) -> None:
    t = targets(block)
    p = t.ports[port]
    stats = fuzz_stats[(block, port)]
    fuzz, valid = fuzz_messages(p), st.composite(lambda draw: p.valid(draw))()  # built once

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data) -> None:
        send(t, port, data.draw(fuzz, label="fuzz"), stats, capfd, valid=False)
        if data.draw(st.integers(0, 2)) == 0:  # interleave a valid message
            send(t, port, data.draw(valid, label="valid"), stats, capfd, valid=True)

    run()
