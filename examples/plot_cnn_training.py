"""
Convolutional network: the seed's CNN, training curves
======================================================

The seed's Keras CNN with only the imports changed, trained on scikit-learn's 8x8 digits
(``padding="same"`` so that two poolings fit an 8x8 image), with 10% of the rows held out
for validation; the curves are the ``History`` that ``fit`` returns.
"""

import matplotlib.pyplot as plt
import numpy as np

from scalegen.datasets import load_digits
from scalegen.nn import Sequential
from scalegen.nn.layers import Conv2D, Dense, Flatten, MaxPooling2D

x, y = load_digits()
model = Sequential(seed=0)
model.add(Conv2D(32, (3, 3), activation="relu", padding="same", input_shape=(8, 8, 1)))
model.add(MaxPooling2D((2, 2)))
model.add(Conv2D(64, (3, 3), activation="relu", padding="same"))
model.add(MaxPooling2D((2, 2)))
model.add(Flatten())
model.add(Dense(128, activation="relu"))
model.add(Dense(10, activation="softmax"))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=15, batch_size=32, validation_split=0.1, verbose=0)
print(f"validation accuracy after 15 epochs: {history.history['val_accuracy'][-1]:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
epochs = np.arange(1, 16)
for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
    ax.plot(epochs, history.history[key], marker="o", label=f"training {key}")
    ax.plot(epochs, history.history[f"val_{key}"], marker="s", label=f"validation {key}")
    ax.set_xlabel("epoch")
    ax.set_title(key)
    ax.legend()
fig.suptitle("the seed's CNN on the digits, trained by scalegen.nn")
plt.show()
