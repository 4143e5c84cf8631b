"""Label Studio tasks out, seed annotations back in: the annotation round trip for any schema.

Why this package: retraining for another conflict needs ``annotations.jsonl`` with exact
character offsets, but analysts label in a tool (Label Studio) or a spreadsheet, not in
JSON. One package owns both directions, so the keys a task carries out (``doc_id``,
``start``, ``end``, ``sentence``, ...) are exactly the keys read back, and the records
written are checked by the seed loader itself before anything is kept.

Out (``framing annotate export``, module ``export``): :func:`label_config` turns a ``schema.yaml`` into a
labeling config (frames and attributions as ``<Choices>``, descriptions as hints);
:func:`build_tasks` turns segmented sentences (and, optionally, model probabilities) into
Label Studio tasks with pre-annotations; :func:`spread_order` puts the sentences the model
is least sure of first, spread over sources and articles; :func:`write_export` writes the
folder atomically.

In (``framing annotate import``), in three modules: :func:`read_labels` (``read``) reads a Label Studio JSON (or
JSON-MIN) export or the filled-in ``tasks.csv``; :func:`import_annotations` (``seeds``) checks every
label by the seed loader's rules (``check``), keeps the good ones and lists the bad ones, sets aside
sentences two annotators labelled differently for adjudication (with Cohen's kappa), and
writes a seeds folder (``articles/``, ``schema.yaml``, ``sources.csv``,
``annotations.jsonl``, ``agreement/``, ``CHECKSUMS.sha256``) that appears whole or not at
all.

May import: ``model`` and ``training`` (the seed loader, checksums); no Label Studio SDK:
these are files in Label Studio's documented JSON and CSV formats.
"""

from training.labelstudio.check import cohen_kappa
from training.labelstudio.common import ATTRIBUTION, FRAME, ORDERS, SCHEMA_FILE, LabelStudioError, check_out_folder
from training.labelstudio.export import (
    ExportArticle,
    Unit,
    build_tasks,
    label_config,
    normalise_newlines,
    safe_doc_ids,
    spread_order,
    uncertainty_margin,
    write_export,
)
from training.labelstudio.read import read_labels
from training.labelstudio.seeds import ImportResult, import_annotations

__all__ = [
    "ATTRIBUTION",
    "FRAME",
    "ORDERS",
    "SCHEMA_FILE",
    "ExportArticle",
    "ImportResult",
    "LabelStudioError",
    "Unit",
    "build_tasks",
    "check_out_folder",
    "cohen_kappa",
    "import_annotations",
    "label_config",
    "normalise_newlines",
    "read_labels",
    "safe_doc_ids",
    "spread_order",
    "uncertainty_margin",
    "write_export",
]
