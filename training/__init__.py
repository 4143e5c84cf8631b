"""Annotations in, a trained model out.

Lives here: the annotation loaders and their validation (``annotations``), the dataset and
its leak-free folds (``dataset``), the team's article authoring format (``drafts``), the
validated training config (``config``), the training loop (``train``), the finished
artefact with its model card and provenance (``artefact``), and the annotation round trip
(``labelstudio``: Label Studio tasks out, labels back in as a seeds folder).

May import: ``model``. Never ``serving`` or ``eval``: evaluation trains through this package,
not the other way round.
"""
