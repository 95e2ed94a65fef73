"""Delivery effort: pull requests (open -> merge time, review rounds, comments, CI failures, their
commits) read from a PR file, turned into the multitask model's inputs and scored.

``prs`` reads and validates the file (schema in docs/delivery-effort.md), ``data`` joins PRs to
the change dataset, ``metrics`` scores the delivery head on held-out PRs.
"""
