"""Keras 2 and Keras 3 progbars with ``Epoch N/M`` headers (shapes from the Keras sources and published logs)."""

from __future__ import annotations

import math

from exporter.events import Config, Eval, Progress
from exporter.formats.keras import PARSERS, KerasParser


def feed(lines: list[str], parser: KerasParser | None = None) -> list:
    parser = parser or KerasParser()
    return [event for line in lines for event in parser.parse(line)]


def test_module_exports_its_parser() -> None:
    assert PARSERS == (KerasParser,)


def test_header_sets_zero_based_epoch_and_total_epochs() -> None:
    parser = KerasParser()
    [config] = parser.parse("Epoch 3/10")
    assert isinstance(config, Config) and config.total_epochs == 10
    [event] = parser.parse(" 61/82 [=====================>........] - ETA: 37s - loss: 0.4123 - accuracy: 0.9012")
    assert (event.epoch, event.total_epochs, event.iteration, event.total_iterations) == (2, 10, 61, 82)
    assert event.batches_per_epoch == 82 and event.global_iteration == 2 * 82 + 61 and event.global_total == 820
    assert event.loss == 0.4123
    assert event.iteration_seconds is None  # Keras 2 prints only an ETA while the epoch runs


def test_repeated_header_does_not_repeat_config() -> None:
    assert len(feed(["Epoch 1/5", "Epoch 2/5"])) == 1


def test_keras2_end_of_epoch_line_with_step_time_and_val_loss() -> None:
    events = feed(
        [
            "Epoch 1/10",
            "82/82 [==============================] - 5s 61ms/step - loss: 0.3912 - accuracy: 0.91 - val_loss: 0.4100",
        ]
    )
    progress, evaluation = events[1], events[2]
    assert isinstance(progress, Progress) and math.isclose(progress.iteration_seconds, 0.061)
    assert progress.loss == 0.3912
    assert isinstance(evaluation, Eval) and evaluation.done and evaluation.loss == 0.41
    assert evaluation.iteration == 82


def test_keras2_backspaces_of_interactive_progbar_are_ignored() -> None:
    [event] = feed(["Epoch 1/2", " 10/82 [==>...........................] - ETA: 37s - loss: 0.5000\b\b\b\b\b"])[1:]
    assert event.loss == 0.5


def test_keras2_verbose_2_and_unknown_total() -> None:
    [_, event] = feed(["Epoch 1/3", "82/82 - 5s - loss: 0.3000 - 5s/epoch - 61ms/step"])
    assert (event.iteration, event.total_iterations, event.loss) == (82, 82, 0.3)
    assert math.isclose(event.iteration_seconds, 0.061)
    [_, event] = feed(["Epoch 1/3", "     61/Unknown - 5s 80ms/step - loss: 0.5000"])
    assert (event.iteration, event.total_iterations, event.batches_per_epoch) == (61, None, None)


def test_keras3_bar_running_and_finished() -> None:
    events = feed(
        [
            "Epoch 4/10",
            " 100/1000 ━━━━━━━━━━━━━━━━━━━━ 1:23 92ms/step - accuracy: 0.8000 - loss: nan",
            "1000/1000 ━━━━━━━━━━━━━━━━━━━━ 95s 94ms/step - accuracy: 0.9 - loss: 0.2000 - val_loss: inf",
        ]
    )
    running, finished, evaluation = events[1], events[2], events[3]
    assert (running.epoch, running.iteration, running.total_iterations) == (3, 100, 1000)
    assert math.isclose(running.iteration_seconds, 0.092) and math.isnan(running.loss)
    assert math.isclose(finished.iteration_seconds, 0.094) and finished.loss == 0.2
    assert isinstance(evaluation, Eval) and math.isinf(evaluation.loss)


def test_microsecond_and_second_step_units() -> None:
    [_, fast] = feed(["Epoch 1/1", "10/100 ━━━━━━━━━━━━━━━━━━━━ 0s 850us/step - loss: 1.0"])
    assert math.isclose(fast.iteration_seconds, 850e-6)
    [_, slow] = feed(["Epoch 1/1", "10/100 ━━━━━━━━━━━━━━━━━━━━ 9:00 6s/step - loss: 1.0"])
    assert slow.iteration_seconds == 6.0


def test_evaluate_bar_after_last_epoch_is_eval_not_training() -> None:
    events = feed(
        [
            "Epoch 2/2",
            "1000/1000 ━━━━━━━━━━━━━━━━━━━━ 95s 94ms/step - loss: 0.2000",
            " 50/313 ━━━━━━━━━━━━━━━━━━━━ 1s 2ms/step - accuracy: 0.97 - loss: 0.1000",
            "313/313 ━━━━━━━━━━━━━━━━━━━━ 1s 2ms/step - accuracy: 0.97 - loss: 0.1000",
        ]
    )
    assert [type(e) for e in events[1:]] == [Progress, Eval, Eval]
    assert [e.done for e in events[2:]] == [False, True]
    assert events[2].iteration == 2000


def test_bar_without_header_is_progress_without_epoch() -> None:
    [event] = KerasParser().parse("  5/20 [======>.......................] - ETA: 3s")
    assert (event.iteration, event.total_iterations, event.epoch, event.batches_per_epoch) == (5, 20, None, None)


def test_similar_lines_are_not_bars() -> None:
    parser = KerasParser()
    assert parser.parse("Epoch 3/10 finished") == []
    assert parser.parse("Epoch 0/10") == []
    assert parser.parse("step 61/74 | loss 3.2") == []
    assert parser.parse("2024/01/02 something") == []


def test_early_stopping_ends_the_run_at_its_epoch() -> None:
    parser = KerasParser()
    feed(["Epoch 2/10", "100/100 - 0s - 2ms/step - loss: 2.3075 - val_loss: 2.3136"], parser)
    config, end = parser.parse("Epoch 2: early stopping")
    assert isinstance(config, Config) and config.total_epochs == 2
    assert isinstance(end, Progress) and (end.global_iteration, end.global_total) == (200, 200)
    assert KerasParser().parse("Epoch 2: early stopping") == []  # no epoch's size known yet
    assert parser.parse("Epoch 0: early stopping") == []
