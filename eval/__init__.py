"""How far the model can be trusted, measured: metrics, protocols, benchmarks and the report.

Lives here: classification metrics with bootstrap CIs (``metrics``), leave-one-source-out
and baselines (``evaluate``), leave-one-voice-out (``voices``), the whole-article protocols
(``articles``), annotator agreement (``agreement``), the learning curve
(``learning_curve``), whether active learning pays (``active_learning``), the report
(``report/``) and the speed and memory benchmarks (``bench/``).

May import: ``model`` and ``training`` (folds are trained here). ``serving`` only from
``bench``, which starts the real service and batch engine to time them.
"""
