"""Predictive scoring: a calibrated likelihood to convert, trained on the workspace's own history.

``train.train_model`` learns from features as of past cut-offs (``features``, ``labels``), picks
LightGBM or logistic regression on time-based validation (``learners``), calibrates
(``calibrate``) and stores a versioned artefact without pickle (``artefact``);
``predict.predict_contacts`` writes probability, priority and top factors (``factors``) per
contact and warns on drift. See docs/predictive.md.

The package is ``predictive``, not ``predict``: importing a subpackage binds its name on the
parent package, and a ``leadscore.predict`` package would hide the library function
``leadscore.predict(...)`` (the same verb as the CLI command). ``reports`` is plural for the same
reason.
"""
