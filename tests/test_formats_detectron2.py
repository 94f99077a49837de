"""detectron2 lines (shapes from the detectron2/fvcore sources and published logs)."""

from __future__ import annotations

import math

from exporter.events import Checkpoint, Config, Eval, Progress
from exporter.formats.detectron2 import PARSERS, Detectron2Parser

LINE = (
    "[04/05 01:30:24 d2.utils.events]:  eta: 0:03:35  iter: 19  total_loss: 1.36  loss_cls: 0.7  loss_box_reg: 0.5  "
    "time: 0.3636  last_time: 0.3500  data_time: 0.1102  last_data_time: 0.0900  lr: 0.0002  max_mem: 433M"
)


def test_module_exports_its_parser() -> None:
    assert PARSERS == (Detectron2Parser,)


def test_training_line_with_prefix() -> None:
    [event] = Detectron2Parser().parse(LINE)
    assert isinstance(event, Progress)
    assert (event.iteration, event.loss) == (19, 1.36)
    assert (event.iteration_seconds, event.data_seconds) == (0.3636, 0.1102)  # not last_time/last_data_time
    assert event.total_iterations is None  # the eta does not give a reliable total
    assert event.time is None  # the yearless prefix is not turned into a time


def test_training_line_without_prefix_and_older_fields() -> None:
    [event] = Detectron2Parser().parse("eta: 0:00:01  iter: 89999  total_loss: nan  time: 0.3000  data_time: 0.0100")
    assert event.iteration == 89999 and math.isnan(event.loss)


def test_config_max_iter_is_in_printed_counter_terms() -> None:
    parser = Detectron2Parser()
    [config] = parser.parse("  MAX_ITER: 90000")
    assert isinstance(config, Config) and config.total_iterations == 89999
    [config] = parser.parse("max_iter: 1000")
    assert config.total_iterations == 999
    [config] = parser.parse("  EVAL_PERIOD: 5000")
    assert config.eval_interval == 5000
    assert parser.parse("  EVAL_PERIOD: 0") == []
    assert parser.parse("  MAX_ITER: 0") == []


def test_inference_opens_and_closes_eval() -> None:
    parser = Detectron2Parser()
    parser.parse(LINE)
    events = [
        event
        for line in [
            "[04/05 01:40:00 d2.evaluation.evaluator]: Start inference on 5000 batches",
            "[04/05 01:40:10 d2.evaluation.evaluator]: Inference done 11/5000. Dataloading: 0.0010 s/iter. "
            "Inference: 0.0700 s/iter. Eval: 0.0001 s/iter. Total: 0.0711 s/iter. ETA=0:05:55",
            "[04/05 01:46:00 d2.evaluation.evaluator]: Total inference time: 0:05:49.123 (0.070 s / iter per device, "
            "on 1 devices)",
        ]
        for event in parser.parse(line)
    ]
    assert [(type(e), e.done, e.iteration) for e in events] == [(Eval, False, 19), (Eval, False, 19), (Eval, True, 19)]


def test_checkpoint_iteration_from_file_name_or_last_iteration() -> None:
    parser = Detectron2Parser()
    [event] = parser.parse("[04/05 01:40:00 fvcore.common.checkpoint]: Saving checkpoint to ./output/model_0004999.pth")
    assert isinstance(event, Checkpoint) and (event.iteration, event.path) == (4999, "./output/model_0004999.pth")
    parser.parse(LINE)
    [event] = parser.parse("Saving checkpoint to ./output/model_final.pth")
    assert (event.iteration, event.path) == (19, "./output/model_final.pth")


def test_lines_without_an_iteration_are_ignored() -> None:
    parser = Detectron2Parser()
    assert parser.parse("eta: 0:00:01  iter: ?  time: 0.3") == []
    assert parser.parse("[04/05 01:29:58 detectron2]: Running with full config:") == []
