"""The one artifact format: round trip, kind check, half storage, clear errors."""
import pytest
import torch

from ganpaint.gan.artifacts import ArtifactError, load_artifact, save_artifact


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


# ----------------------------------------------------------------------------- files from before the format
def test_old_segmenter_files_load_with_the_id_they_always_had(tmp_path):
    import hashlib
    import json

    from safetensors.torch import save_file

    from ganpaint.segmenters.segmenter import UNet, UNetConfig, load_segmenter
    from ganpaint.world.world import CLASSES

    net = UNet(UNetConfig(CLASSES, widths=(4, 8), size=16))
    path = tmp_path / "old.safetensors"
    cfg = {"labels": list(net.config.labels), "widths": [4, 8], "size": 16}
    save_file({k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}, str(path),
              metadata={"format": "ganpaint-unet-segmenter", "config": json.dumps(cfg), "extra": json.dumps({"steps": 3})})
    art = load_artifact(path, kind="unet-segmenter")
    old_id = f"unet-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}"  # how ids were computed
    assert art.id == old_id == load_segmenter(path).id
    assert art.config == cfg and art.provenance == {"steps": 3}
    with pytest.raises(ArtifactError, match="not a 'encoder'"):
        load_artifact(path, kind="encoder")


def test_old_encoder_files_load_as_encoders(tmp_path):
    import json

    from safetensors.torch import save_file

    path = tmp_path / "enc.safetensors"
    info = {"config": {"resolution": 32}, "steps": 7}
    save_file({"w": torch.ones(2, dtype=torch.float16)}, str(path), metadata={"ganpaint": json.dumps(info)})
    art = load_artifact(path, kind="encoder")
    assert art.kind == "encoder" and art.config == {"resolution": 32} and art.provenance == {"steps": 7}
    assert art.tensors["w"].dtype == torch.float32


def test_bare_weights_are_read_only_as_a_generator(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "generator.safetensors"
    save_file({"w": torch.zeros(1)}, str(path))
    assert load_artifact(path, kind="generator").config == {}
    for kind in (None, "encoder"):
        with pytest.raises(ArtifactError, match="not a ganpaint artifact"):
            load_artifact(path, kind=kind)


def test_generators_round_trip_and_a_wrong_config_is_refused(tmp_path):
    from ganpaint.gan.checkpoint import CheckpointError, load_generator, save_generator, state_dict_sha256
    from ganpaint.gan.networks import Generator, GeneratorConfig

    G = Generator(GeneratorConfig(16, (16, 8, 8)))
    path = tmp_path / "g.safetensors"
    gid = save_generator(G, path, provenance={"steps": 5})
    art = load_artifact(path, kind="generator")
    assert gid.startswith("generator-") and art.config == G.config.to_dict() and art.provenance == {"steps": 5}
    assert state_dict_sha256(load_generator(path)) == state_dict_sha256(G)
    save_artifact(path, G.state_dict(), kind="generator", config={**G.config.to_dict(), "z_dim": 256})
    with pytest.raises(CheckpointError, match="declares"):
        load_generator(path)
    save_artifact(path, G.state_dict(), kind="encoder")
    with pytest.raises(CheckpointError, match="not a generator"):
        load_generator(path)


@pytest.mark.parametrize("name, kind", [("generator", "generator"), ("encoder", "encoder"),
                                        ("segmenter", "unet-segmenter")])
def test_the_shipped_networks_load_through_the_one_loader(name, kind):
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "models" / "scenes" / f"{name}.safetensors"
    art = load_artifact(path, kind=kind)
    assert art.kind == kind and art.tensors and all(not v.is_floating_point() or v.dtype == torch.float32
                                                    for v in art.tensors.values())
