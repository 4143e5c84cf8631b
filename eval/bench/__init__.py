"""Speed and memory benchmarks, each against a named baseline measured in the same run.

``service`` (the real HTTP service under concurrent clients), ``inference`` (every inference
backend in its own process) and ``batch`` (``framing score`` against a naive loop) share
``harness``: machine facts, percentiles, memory sampling, the ``transformers.pipeline``
baseline on the model's own weights, seed inputs and the result file. Run each with
``python -m eval.bench.<name> --help``; results go to ``reports/bench/``.
"""
