"""fairseq's simple progress bar, written from ``fairseq/logging/progress_bar.py`` (``SimpleProgressBar.log`` formats
``"{}:  {:5d} / {:d} {}".format(prefix, i + 1, size, key=value, ...)`` and ``.print`` ``"{} | {}"`` with
``key value`` pairs) and ``fairseq_cli/train.py`` (``train_inner`` stats with ``num_updates``)."""

from __future__ import annotations

import pytest

from exporter.events import Config, Eval, Progress
from exporter.formats.fairseq import FairseqParser
from exporter.pipeline import Pipeline
from exporter.sources import Record

INNER = ("2021-03-01 12:00:00 | INFO | train_inner | epoch 001:    100 / 1234 loss=9.213, nll_loss=9.1, ppl=549.3, "
         "wps=12345, ups=3.2, wpb=3840, bsz=128, num_updates=100, lr=1e-05, gnorm=2.1, train_wall=30, gb_free=10.2, "
         "wall=35")


def test_train_inner_counts_updates_and_times_them_from_ups() -> None:
    pipeline = Pipeline()
    events = pipeline.feed(Record(INNER, None, 1, "f.log"))
    assert pipeline.format == "fairseq"
    (progress,) = events
    assert isinstance(progress, Progress)
    assert progress.iteration == 100 and progress.epoch == 0 and progress.loss == pytest.approx(9.213)
    assert progress.iteration_seconds == pytest.approx(1 / 3.2)


def test_legacy_lines_validation_and_max_update() -> None:
    parser = FairseqParser()
    (legacy,) = parser.parse("| epoch 010:   3000 / 8223 loss=3.1, ppl=8.6")
    assert isinstance(legacy, Progress) and legacy.iteration == 3000 and legacy.batches_per_epoch == 8223
    assert legacy.global_iteration == 9 * 8223 + 3000
    (end,) = parser.parse("epoch 001 | loss 9.0 | ppl 512 | wps 12000 | ups 3.1 | num_updates 1234 | lr 1e-05")
    assert isinstance(end, Progress) and end.iteration == 1234
    (valid,) = parser.parse("epoch 001 | valid on 'valid' subset | loss 8.9 | nll_loss 8.8 | num_updates 1234")
    assert isinstance(valid, Eval) and valid.iteration == 1234 and valid.loss == pytest.approx(8.9)
    (config,) = parser.parse("{'max_update': 100000, 'lr': [0.0005]}")
    assert isinstance(config, Config) and config.total_iterations == 100000
    assert parser.parse("Namespace(arch='transformer', max_update=300000)")[0].total_iterations == 300000
    assert parser.parse("epoch 001: begin training") == []
