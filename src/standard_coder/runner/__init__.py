"""The runner: cache-aware, resumable pipelines (domain-free; imports nothing heavy here).

Public API (import from the modules, so a no-op rerun loads only what it needs):
    - :mod:`standard_coder.runner.stage`: ``Stage``, ``Pipeline`` (definitions).
    - :mod:`standard_coder.runner.context`: ``StageContext`` (what ``run(ctx)`` sees).
    - :mod:`standard_coder.runner.engine`: ``run_pipeline(...) -> RunResult``,
      ``plan_pipeline(...) -> list[StagePlan]``, ``validate_pipeline``.
    - :mod:`standard_coder.runner.command`: ``CommandStage`` (a command as a stage's ``run``).
    - :mod:`standard_coder.runner.commandfile`: ``load_command_pipeline`` (``[[stages]]`` files).
    - :mod:`standard_coder.runner.front`: ``load_pipeline``, ``main(argv, builtins) -> int``.
    - :mod:`standard_coder.runner.progress`: ``track``; :mod:`~.events`: sinks.
    - :mod:`standard_coder.runner.overrides`: ``apply_overrides``, ``parse_override`` (what a
      builder does with ``--set``).
"""
