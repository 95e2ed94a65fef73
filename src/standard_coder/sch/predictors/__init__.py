"""Effort predictors: MDN and quantile regression (``estimator``) and the multitask model
(``multitask``: coding and delivery effort), each an sklearn-style estimator that
``EffortModel`` wraps. Importing the package registers ``multitask`` in
``estimator.PREDICTORS`` (the module imports ``estimator`` for its base class, so the
registration cannot live there without an import cycle)."""

from standard_coder.sch.predictors import multitask as _multitask  # noqa: F401  (registers)
