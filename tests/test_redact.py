"""The redactor's short-lived secrets: a venue's WebSocket token or JWT is masked for as long as it can be used, and
forgotten after, so a bot making one per connection or message keeps a bounded set."""

from __future__ import annotations

import math
import sys
import threading
import time

from bot.redact import MASK, Redactor

TOKEN = "eyJhbGciOiJFUzI1NiJ9.short-lived-0"


def test_a_short_lived_secret_is_masked_for_its_time_then_forgotten_when_another_comes():
    now = [0.0]
    redactor = Redactor(clock=lambda: now[0])
    redactor.add(TOKEN, ttl_s=120)
    assert redactor.redact(f"refused {TOKEN}") == f"refused {MASK}"
    assert redactor.redact_event({"reason": TOKEN}) == {"reason": MASK}
    assert redactor.redact_data([TOKEN]) == [MASK]
    now[0] = 119.0
    assert redactor.redact(TOKEN) == MASK
    now[0] = 121.0
    redactor.add("eyJhbGciOiJFUzI1NiJ9.short-lived-1", ttl_s=120)
    assert redactor.redact(TOKEN) == TOKEN  # expired: forgotten
    assert redactor.redact("eyJhbGciOiJFUzI1NiJ9.short-lived-1") == MASK


def test_one_a_second_for_hours_keeps_only_those_still_valid():
    now = [0.0]
    redactor = Redactor(clock=lambda: now[0])
    for n in range(3600):
        now[0] = float(n)
        redactor.add(f"{TOKEN}-{n}", ttl_s=120)
    assert redactor.redact(f"{TOKEN}-10") == f"{TOKEN}-10"
    assert redactor.redact(f"{TOKEN}-3500") == MASK
    assert redactor.short_lived_count() <= 121


def test_added_again_its_time_starts_anew_and_a_lasting_secret_is_never_forgotten():
    now = [0.0]
    redactor = Redactor(clock=lambda: now[0])
    redactor.add(TOKEN, ttl_s=math.inf)  # in use: until replaced
    redactor.add("sk-config-secret-0123", ttl_s=None)
    redactor.add("sk-config-secret-0123", ttl_s=5)  # a config secret stays known for good
    now[0] = 10_000.0
    redactor.add("other-token-0123456", ttl_s=1)
    assert redactor.redact(TOKEN) == MASK and redactor.redact("sk-config-secret-0123") == MASK
    redactor.add(TOKEN, ttl_s=60)  # replaced: it stays valid for a while, then it is forgotten
    now[0] = 10_061.0
    redactor.add("other-token-6543210", ttl_s=1)
    assert redactor.redact(TOKEN) == TOKEN and redactor.redact("sk-config-secret-0123") == MASK


def test_a_short_value_is_not_remembered():
    redactor = Redactor()
    redactor.add("abc", ttl_s=60)
    assert redactor.redact("abc") == "abc" and redactor.short_lived_count() == 0


def test_a_secret_added_while_another_thread_masks_text_never_breaks_it():
    """Secrets are added at run time (a plugin's URL when it starts, a rotation, a venue's token) while worker threads
    log and write masked text: masking never fails with "Set changed size during iteration"."""
    redactor = Redactor()
    for n in range(300):
        redactor.add(f"sk-config-secret-{n:04d}")
    failures: list[BaseException] = []
    done = threading.Event()

    def mask() -> None:
        while not done.is_set():
            try:
                redactor.redact("a log line without a secret " * 4)
            except RuntimeError as exc:
                failures.append(exc)
                return

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    reader = threading.Thread(target=mask)
    reader.start()
    try:
        for n in range(2000):
            redactor.add(f"sk-rotated-secret-{n:05d}")
            redactor.add_url_password(f"p{n % 100}")
            time.sleep(0)
            if failures:
                break
    finally:
        done.set()
        reader.join()
        sys.setswitchinterval(interval)
    assert failures == []
    assert redactor.redact("sk-rotated-secret-01999 and https://u:p99@h") == "*** and https://u:***@h"
