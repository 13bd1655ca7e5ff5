"""Training callbacks with Keras' protocol: ``History``, ``EarlyStopping``, ``ModelCheckpoint``."""

from __future__ import annotations

from ._callbacks import Callback, CallbackList, EarlyStopping, History, ModelCheckpoint

__all__ = ["Callback", "CallbackList", "EarlyStopping", "History", "ModelCheckpoint"]
