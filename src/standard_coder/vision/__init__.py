"""Image classification on the runner: datasets, small models, a resumable training loop and
FiftyOne-importable predictions.

The package knows nothing of the CLI or the config schema: :mod:`standard_coder.pipelines.vision`
builds its option objects from ``[vision]`` and wires the stages.
"""
