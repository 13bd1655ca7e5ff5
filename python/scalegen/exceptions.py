"""The exceptions and warnings scalegen raises, for ``except`` clauses and warning filters.

Once scikit-learn is imported, scalegen raises subclasses of both its class and
scikit-learn's namesake (``NotFittedError``, ``ConvergenceWarning``), so handlers written for
either catch them; scalegen never imports scikit-learn itself.
"""

from __future__ import annotations

from .utils._base import ConvergenceWarning, NotFittedError
from .utils._limits import LimitError
from .utils._validation import InvalidParameterError

__all__ = ["ConvergenceWarning", "InvalidParameterError", "LimitError", "NotFittedError"]
