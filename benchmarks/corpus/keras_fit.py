"""Keras 3 ``fit`` with validation every epoch (torch backend), CPU only. ``python keras_fit.py EPOCHS [VERBOSE]``
(``verbose=2``: one line per epoch, what Keras recommends for a log file)."""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from _stall import maybe_stall  # noqa: E402


class Stalling(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        maybe_stall()


rng = np.random.default_rng(0)
x = rng.normal(size=(64000, 256)).astype("float32")
y = rng.integers(0, 10, size=64000)
model = keras.Sequential([keras.Input((256,)), keras.layers.Dense(2048, activation="relu"),
                           keras.layers.Dense(1024, activation="relu"), keras.layers.Dense(10)])
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
model.fit(x, y, batch_size=64, epochs=epochs, validation_split=0.2, callbacks=[Stalling()],
          verbose=int(sys.argv[2]) if len(sys.argv) > 2 else 1)
