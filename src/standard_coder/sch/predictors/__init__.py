"""Effort predictors: MDN and quantile regression, one training loop, sklearn-shaped wrappers."""
