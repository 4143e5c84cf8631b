"""The classifier itself: what a saved model is and how it reads text.

Lives here: the label schema (``schema``), text segmentation and cleaning (``text``), the
context builder every entry point shares (``context``), the classifier and its save/load
(``classifier``), the TF-IDF heads that travel with it (``tfidf``), the ONNX backends
(``onnx_backend``), per-source profiles (``profiles``) and the BentoML store (``store``).

May import: third-party libraries only. This is the bottom layer: training, serving and
eval all import it, and it imports none of them.
"""
