"""``framing score --engine ray``: a real local Ray session, an actor pool of model replicas.

One Ray session for the whole module (starting Ray costs seconds); the engine reuses an
already-initialised Ray and leaves it running, as it would on a cluster it did not start.
The contract under test: the Ray engine's outputs are identical to the local engine's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from serving.batch import CHECKPOINT_DIR, EXIT_OK, ScoreOptions, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")  # a declared dev dependency; present in CI
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield ray
    ray.shutdown()


def _corpus(tmp_path: Path, seed_articles: dict[str, str]) -> Path:
    texts = [t[:1500] for t in seed_articles.values()]
    rows = [{"id": f"a{i}", "text": texts[i % len(texts)], "source": f"src{i % 2}"} for i in range(6)]
    rows[5]["text"] = "Azerbaijan launched what it termed local anti-terrorist measures on Tuesday."
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"id": "bad", "text": ""}\n')
    return path


def test_ray_engine_outputs_equal_the_local_engine(tmp_path, trained_model, seed_articles, ray_session):
    model_dir = trained_model[0]
    corpus = _corpus(tmp_path, seed_articles)

    def score(out: Path, **kw) -> object:
        return run(
            ScoreOptions(inputs=[corpus], out=out, model=model_dir, chunk_size=2, progress=False, command=["t"], **kw)
        )

    local = score(tmp_path / "local")
    ray_res = score(tmp_path / "ray", engine="ray", replicas=2, keep_checkpoint=True)
    assert local.exit_code == ray_res.exit_code == 1  # the one bad record, in both
    assert ray_res.manifest["engine"] == "ray" and ray_res.manifest["counts"]["articles"] == 6
    assert pq.read_table(tmp_path / "ray" / "sentences.parquet").equals(
        pq.read_table(tmp_path / "local" / "sentences.parquet")
    )
    for name in ("sources.csv", "articles.csv", "rejects.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    # Ray checkpoints chunk by chunk like the local engine: 3 chunks of 2 articles.
    assert len(list((tmp_path / "ray" / CHECKPOINT_DIR).glob("chunk-*.sentences.parquet"))) == 3

    # ... and a run interrupted after one chunk resumes on Ray without re-scoring it.
    partial = tmp_path / "partial"
    (partial / CHECKPOINT_DIR).mkdir(parents=True)
    for f in (tmp_path / "ray" / CHECKPOINT_DIR).iterdir():
        if f.name.startswith("chunk-000000") or f.name == "fingerprint.json":
            (partial / CHECKPOINT_DIR / f.name).write_bytes(f.read_bytes())
    resumed = score(partial, engine="ray", replicas=1)
    assert resumed.manifest["run"]["resumed_articles"] == 2 and resumed.manifest["run"]["scored_articles"] == 4
    assert pq.read_table(partial / "sentences.parquet").equals(pq.read_table(tmp_path / "local" / "sentences.parquet"))
    assert resumed.exit_code != EXIT_OK
