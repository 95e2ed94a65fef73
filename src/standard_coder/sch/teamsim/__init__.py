"""The developer-team simulator: real git repositories plus the true coding time per commit.

``team`` writes the repositories and ``truth.json``; ``schedule`` is the minute-level coding
process of one developer, ``codegen`` the synthetic code changes. (Not to be confused with
``standard_coder.forecasting.montecarlo``, the sprint forecast's Monte Carlo.)
"""
