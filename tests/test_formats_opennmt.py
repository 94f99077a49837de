"""OpenNMT-py lines, written from ``Statistics.output`` in onmt/utils/statistics.py at commit 97111d97, and the
0.x ``Epoch  1, 13400/37527;`` report."""

from __future__ import annotations

import pytest

from exporter.events import Progress
from exporter.formats.opennmt import OpenNmtParser

STEP = ("[2023-01-01 12:00:{s:02d},000 INFO] Step {step}/200000; acc: 45.2; ppl:  12.3; xent: 2.5; lr: 0.00070; "
        "sents:    1234; bsz:  567/ 890/12; 12345/23456 tok/s; {sec:6d} sec;")


def test_step_lines_give_the_total_and_the_seconds_between_reports() -> None:
    parser = OpenNmtParser()
    [first] = parser.parse(STEP.format(s=0, step=2400, sec=123))
    [second] = parser.parse(STEP.format(s=10, step=2450, sec=133))
    assert isinstance(first, Progress) and (first.iteration, first.total_iterations) == (2400, 200000)
    assert first.iteration_seconds is None  # the elapsed time is cumulative: one line alone gives no step time
    assert second.iteration_seconds == pytest.approx(10 / 50)
    [no_total] = OpenNmtParser().parse("[2023-01-01 12:00:00,000 INFO] Step 50; acc: 10.0; ppl: 900.1; xent: 6.8; "
                                       "lr: 0.00001; sents: 1; bsz: 1/1/1; 10/10 tok/s; 5 sec;")
    assert (no_total.iteration, no_total.total_iterations) == (50, None)


def test_legacy_epoch_lines_count_batches_within_the_epoch() -> None:
    [event] = OpenNmtParser().parse("[2017-06-01 10:00:00,000 INFO] Epoch  2, 13400/37527; acc:  40.12; ppl:  30.50; "
                                    "5432 src tok/s; 4321 tgt tok/s; 1234 s elapsed")
    assert isinstance(event, Progress)
    assert (event.iteration, event.epoch, event.batches_per_epoch) == (13400, 1, 37527)
    assert event.global_iteration == 37527 + 13400


def test_validation_lines_are_not_progress() -> None:
    parser = OpenNmtParser()
    assert parser.parse("[2023-01-01 12:05:00,000 INFO] Validation perplexity: 10.5") == []
    assert parser.parse("[2023-01-01 12:05:00,000 INFO] Saving checkpoint model_step_5000.pt") == []
