"""The web process's notification publisher: off the request path, coalesced, never fatal."""
from __future__ import annotations

import threading
import time

from node.tasks.dispatch import PostCommitLinker, CoalescingPublisher


def _wait(cond, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_ids_committed_close_together_go_out_in_one_message():
    sent: list[list[int]] = []
    pub = CoalescingPublisher(sent.append, linger=0.3)
    for i in range(1, 6):
        pub([i])
    _wait(lambda: sent)
    assert sent == [[1, 2, 3, 4, 5]]
    pub([6, 7])
    _wait(lambda: len(sent) == 2)
    assert sent[1] == [6, 7]


def test_the_caller_never_waits_for_the_broker():
    release = threading.Event()
    sent: list[list[int]] = []

    def slow(ids: list[int]) -> None:
        release.wait(5)
        sent.append(ids)

    pub = CoalescingPublisher(slow, linger=0.0)
    t = time.monotonic()
    for i in range(100):
        pub([i])
    assert time.monotonic() - t < 1.0 and not sent
    release.set()
    _wait(lambda: sum(map(len, sent)) == 100)
    assert [i for batch in sent for i in batch] == list(range(100))


def test_a_failed_send_is_logged_and_later_ids_still_go_out(caplog):
    sent: list[list[int]] = []

    def flaky(ids: list[int]) -> None:
        if ids == [1]:
            raise ConnectionError("broker down")
        sent.append(ids)

    pub = CoalescingPublisher(flaky, linger=0.0)
    pub([1])
    _wait(lambda: "could not enqueue notifications [1]" in caplog.text)
    pub([2])
    _wait(lambda: sent == [[2]])


def test_flush_sends_what_is_queued_before_exit():
    sent: list[list[int]] = []
    pub = CoalescingPublisher(sent.append, linger=10.0)
    pub([1, 2])
    pub.flush()
    assert sent == [[1, 2]]


def test_the_post_commit_linker_links_once_at_start_and_once_per_burst_of_commits():
    links: list[float] = []
    linker = PostCommitLinker(lambda: links.append(time.monotonic()), linger=0.2)
    linker()  # the first commit: the thread starts and links (what an earlier process left, and this)
    _wait(lambda: len(links) == 1)
    for _ in range(50):  # a burst within the linger: one more link for all of them
        linker()
    _wait(lambda: len(links) == 2)
    time.sleep(0.5)
    assert len(links) == 2
    linker.flush()


def test_a_failed_link_is_retried_without_another_commit(caplog):
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database restarting")

    linker = PostCommitLinker(flaky, linger=0.0, retry=0.05)
    linker()
    _wait(lambda: len(calls) == 2)
    assert "could not link queued audit entries" in caplog.text
    linker.flush()
