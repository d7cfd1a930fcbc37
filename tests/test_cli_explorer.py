"""The explorer's CLI verbs on a tiny model folder: tables, files, and one-line errors."""
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from safetensors.torch import save_file

from ganpaint.cli import main
from ganpaint.paint.model import PaintModel


def size(path):
    with Image.open(path) as im:
        return im.size

SHIPPED_SEG = Path(__file__).resolve().parent.parent / "models" / "scenes" / "segmenter.safetensors"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GANPAINT_HOME", str(tmp_path / "home"))
    m = PaintModel.random(resolution=32, widths=(32, 32, 16, 16), seed=0)
    f = tmp_path / "tiny"
    f.mkdir()
    save_file({k: v.contiguous() for k, v in m.generator.state_dict().items()}, str(f / "generator.safetensors"))
    m.table.save(f / "concepts.json")
    (f / "model.json").write_text(json.dumps({"id": "tiny", "edit_layer": "layer4"}))
    return f


def test_units_prints_every_unit_and_writes_a_sheet_and_a_strip(folder, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    main(["units", "--model", str(folder), "--samples", "30", "--threads", "1", "--out", str(sheet)])
    out = capsys.readouterr().out
    assert "32 units" in out and out.count("\n") > 32 and size(sheet)[0] == 16 * 96
    strip = tmp_path / "u3.png"
    main(["units", "--model", str(folder), "--samples", "30", "--threads", "1", "--unit", "3", "--out", str(strip)])
    out = capsys.readouterr().out
    assert "top samples (seeds)" in out and size(strip) == (6 * 128 + 5 * 4, 128)
    with pytest.raises(SystemExit) as e:
        main(["units", "--model", str(folder), "--samples", "30", "--unit", "99"])
    assert e.value.code == 2 and "units 0…31" in capsys.readouterr().err


def test_verbs_that_need_a_segmenter_say_so(folder, capsys):
    for argv in (["placement", "--concept", "tree"], ["omissions"], ["artifacts"]):
        with pytest.raises(SystemExit) as e:
            main([*argv, "--model", str(folder), "--threads", "1"])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("ganpaint: error:") and ("segmenter" in err or "discriminator" in err), err


@pytest.mark.skipif(not SHIPPED_SEG.is_file(), reason="needs the shipped segmenter")
def test_placement_prints_the_grid_and_writes_the_map(folder, tmp_path, capsys):
    shutil.copy(SHIPPED_SEG, folder / "segmenter.safetensors")
    out = tmp_path / "map.png"
    main(["placement", "--model", str(folder), "--seed", "3", "--concept", "tree", "--threads", "1", "--out", str(out)])
    text = capsys.readouterr().out
    assert text.startswith("tree on seed 3:") and size(out) == (256, 256)
    with pytest.raises(SystemExit):
        main(["placement", "--model", str(folder), "--concept", "dragon", "--threads", "1"])
    assert "unknown concept 'dragon'" in capsys.readouterr().err
