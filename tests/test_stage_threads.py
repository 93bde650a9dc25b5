"""The live pipeline's engine on real threads: live hand-offs keep the newest item, lossless ones keep every item in
order, the end is never lost, and an error in any thread stops them all and reaches the caller."""

from __future__ import annotations

import threading
import time

from l2m_edge.runtime.stage_threads import END, Handoff, StageThreads


def test_a_live_handoff_drops_its_oldest_item_but_never_the_end() -> None:
    handoff = Handoff(size=1, lossless=False, stop=threading.Event())
    for item in range(5):
        handoff.put(item)
    assert (handoff.get(), handoff.dropped) == (4, 4)
    handoff.put(END)
    handoff.put(99)  # arrives after the end: dropped, the end stays
    assert handoff.get() is END


def test_a_stopped_handoff_gives_the_end_instead_of_waiting() -> None:
    stop = threading.Event()
    handoff = Handoff(size=1, lossless=True, stop=stop)
    threading.Timer(0.3, stop.set).start()
    t0 = time.monotonic()
    assert handoff.get() is END
    assert time.monotonic() - t0 < 5


def test_lossless_stages_pass_every_item_in_order_through_a_slow_stage() -> None:
    def produce(emit) -> None:  # noqa: ANN001
        for item in range(50):
            emit(item)

    def slow_square(item: int) -> int:
        time.sleep(0.002)
        return item * item

    engine = StageThreads(produce, [("square", slow_square), ("negate", lambda item: -item)], size=2, lossless=True)
    try:
        out = list(engine.run())
    finally:
        engine.close()
    assert out == [-(item * item) for item in range(50)] and engine.dropped == 0 and engine.error is None


def test_live_stages_behind_a_slow_consumer_drop_stale_items_and_still_end() -> None:
    def produce(emit) -> None:  # noqa: ANN001
        for item in range(200):
            emit(item)
            time.sleep(0.001)

    engine = StageThreads(produce, [("same", lambda item: item)], size=1, lossless=False)
    out = []
    try:
        for item in engine.run():
            out.append(item)
            time.sleep(0.02)  # the consumer is 20× slower than the producer
    finally:
        engine.close()
    assert out == sorted(out) and len(out) < 100 and engine.dropped + len(out) == 200
    assert out[-1] >= 190  # the end came after the newest items, not after a backlog


def test_an_error_in_a_stage_stops_every_thread_and_reaches_the_caller() -> None:
    produced = []

    def produce(emit) -> None:  # noqa: ANN001
        item = 0
        while True:  # a live source never ends by itself
            emit(item)
            produced.append(item)
            item += 1

    def fail_at_ten(item: int) -> int:
        if item == 10:
            raise ValueError("the backend refused frame 10")
        return item

    engine = StageThreads(produce, [("infer-under-test", fail_at_ten)], size=2, lossless=True)
    try:
        out = list(engine.run())
    finally:
        engine.close()
    assert isinstance(engine.error, ValueError) and "frame 10" in str(engine.error) and out == list(range(len(out))) and len(out) <= 10
    assert not any(thread.name == "infer-under-test" for thread in threading.enumerate())
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count  # the producer stopped too
