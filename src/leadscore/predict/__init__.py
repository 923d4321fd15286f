"""Predictive scoring: a calibrated likelihood to convert, trained on the workspace's own history.

``train.train_model`` learns from features as of past cut-offs (``features``, ``labels``), picks
LightGBM or logistic regression on time-based validation (``learners``), calibrates
(``calibrate``) and stores a versioned artefact without pickle (``artefact``);
``predict.predict_contacts`` writes probability, priority and top factors (``factors``) per
contact and warns on drift. See docs/predictive.md.

Why this module is callable: the library's front door offers ``leadscore.predict(...)`` (the
same verb as the CLI command), but once this package is imported Python binds the name
``leadscore.predict`` to it, hiding the library function. Calling the package therefore
forwards to ``leadscore.library.predict``, so both spellings keep working.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from leadscore.library import predict

        return predict(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
