"""The one artifact format: round trip, kind check, half storage, clear errors."""
import pytest
import torch

from ganpaint.artifacts import ArtifactError, load_artifact, save_artifact


def test_round_trip_keeps_config_provenance_and_values(tmp_path):
    t = {"w": torch.randn(3, 4), "n": torch.tensor([1, 2, 3])}
    path = tmp_path / "a.safetensors"
    aid = save_artifact(path, t, kind="judge-segmenter", config={"labels": ["sky"]}, provenance={"seeds": [1, 2]})
    art = load_artifact(path, kind="judge-segmenter")
    assert art.id == aid and aid.startswith("judge-")
    assert art.config == {"labels": ["sky"]} and art.provenance == {"seeds": [1, 2]}
    assert torch.equal(art.tensors["w"], t["w"]) and torch.equal(art.tensors["n"], t["n"])


def test_half_storage_comes_back_as_float32(tmp_path):
    path = tmp_path / "h.safetensors"
    save_artifact(path, {"w": torch.full((2,), 0.1)}, kind="discriminator", half=True)
    w = load_artifact(path).tensors["w"]
    assert w.dtype == torch.float32 and torch.allclose(w, torch.full((2,), 0.1), atol=1e-3)


def test_wrong_kind_missing_and_foreign_files_are_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "d.safetensors"
    save_artifact(path, {"w": torch.zeros(1)}, kind="discriminator")
    with pytest.raises(ArtifactError, match="not a 'judge-segmenter'"):
        load_artifact(path, kind="judge-segmenter")
    with pytest.raises(ArtifactError, match="no file"):
        load_artifact(tmp_path / "missing.safetensors")
    save_file({"w": torch.zeros(1)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ArtifactError, match="not a ganpaint artifact"):
        load_artifact(tmp_path / "plain.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a file")
    with pytest.raises(ArtifactError, match="not a valid safetensors"):
        load_artifact(tmp_path / "junk.safetensors")
