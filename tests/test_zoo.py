"""Registry and pulls, against a file server on 127.0.0.1 (the real mirrors are never contacted)."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import socket
import threading
from pathlib import Path

import pytest
import torch

from ganpaint import cli, zoo
from ganpaint.paint.edit import Stroke, compose
from ganpaint.paint.model import PaintModel
from ganpaint.gan.networks import Generator, GeneratorConfig



REPO_MODELS = Path(__file__).resolve().parent.parent / "models"
OFFICIAL = {
    "bedroom": "d8a89ff1", "churchoutdoor": "7e701dd5", "conferenceroom": "21e85882", "diningroom": "3aa0ab80",
    "kitchen": "67f1e16c", "livingroom": "5ef336dd", "restaurant": "b8578299",
}


# ----------------------------------------------------------------------------- fixtures
class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.path in self.server.truncated:
            # promise the whole file, send half, hang up: a connection cut mid-download
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.truncated = {}, set()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    t.join()


@pytest.fixture
def refused_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connecting is refused at once
    return f"http://127.0.0.1:{port}/models"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    for var in ("GANPAINT_HOME", "GANPAINT_MIRROR", "GANPAINT_MODEL_URL", "GANPAINT_MODELS_DIR"):
        monkeypatch.delenv(var, raising=False)
    models, cache = tmp_path / "models", tmp_path / "cache"
    models.mkdir()
    return models, cache


def tiny_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(GeneratorConfig(16, (32, 32, 16), z_dim=32)).eval()


def checkpoint_bytes(G: Generator, layout: str) -> bytes:
    """G's weights as a torch file in one of the official layouts."""
    sd = G.state_dict()
    if layout == "wrapped":
        sd = {"state_dict": sd}
    elif layout == "features":  # the oldest release: features.{i} = layer{i+1}, output.*
        out = {}
        for k, v in sd.items():
            head, rest = k.split(".", 1)
            out[f"features.{int(head[5:]) - 1}.{rest}" if head.startswith("layer") else f"output.{rest}"] = v
        sd = out
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue()


def publish(server, models: Path, model_id: str, data: bytes, *, sources=None, concepts=None) -> str:
    """Serve `data` under its torch-hub name and register it in `models` like an official model."""
    h8 = hashlib.sha256(data).hexdigest()[:8]
    name = f"proggan_{model_id}-{h8}.pth"
    server.files[f"/models/{name}"] = data
    folder = models / model_id
    folder.mkdir()
    info = {
        "id": model_id, "title": model_id, "resolution": 16, "edit_layer": "layer4", "weights": name,
        "sha256_prefix": h8, "concepts": "concepts.json", "license": "test",
        "sources": sources if sources is not None else [f"{server.base}/models/{name}"],
    }
    (folder / "model.json").write_text(json.dumps(info))
    if concepts is not None:
        concepts.save(folder / "concepts.json")
    return name


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def paints(m: PaintModel) -> None:
    """A custom unit brush changes the image where it is painted."""
    h = m.features(m.z_for_seed(3))
    stroke = Stroke.from_dict({"units": [0, 1, 2, 3, 4, 5], "points": [[0.2, 0.2]], "radius": 0.1})
    alpha, value = compose([stroke], m.table, m.channels, m.layer_size)
    before, after = m.render(h), m.render(h, alpha, value)
    assert after.shape == (1, 3, m.resolution, m.resolution)
    assert (after - before).abs()[..., :8, :8].amax() > 1e-3


# ----------------------------------------------------------------------------- the official registry
def test_official_models_registered():
    entries = zoo.registry(REPO_MODELS, "/nonexistent-cache")
    for model_id, h8 in OFFICIAL.items():
        e = entries[model_id]
        assert e.weights_name == f"proggan_{model_id}-{h8}.pth"
        assert e.sha256_prefix == h8
        assert e.info["resolution"] == 256 and e.info["edit_layer"] == "layer4"
        assert e.info["sources"] == [f"https://dissect.csail.mit.edu/models/{e.weights_name}",
                                     f"http://gandissect.csail.mit.edu/models/{e.weights_name}"]
        assert e.info["license"]
    assert entries["churchoutdoor"].concepts_path == REPO_MODELS / "churchoutdoor" / "concepts.json"


def test_mirror_and_url_overrides(monkeypatch):
    e = zoo.registry(REPO_MODELS, "/nonexistent-cache")["bedroom"]
    monkeypatch.setenv("GANPAINT_MIRROR", "http://mirror.example/m/")
    assert zoo.source_urls(e) == ["http://mirror.example/m/proggan_bedroom-d8a89ff1.pth"]
    monkeypatch.setenv("GANPAINT_MODEL_URL", "http://elsewhere.example/x.pth")
    assert zoo.source_urls(e) == ["http://elsewhere.example/x.pth"]


# ----------------------------------------------------------------------------- pulls
@pytest.mark.parametrize("layout", ["plain", "wrapped", "features"])
def test_pull_verifies_loads_and_paints(server, dirs, layout):
    models, cache = dirs
    G = tiny_generator()
    name = publish(server, models, f"tiny{layout}", checkpoint_bytes(G, layout))
    assert zoo.available_models(models, cache) == {}

    path = zoo.pull(f"tiny{layout}", models_dir=models, cache_dir=cache, progress=False)
    assert path == cache / "weights" / name and path.is_file()
    assert leftovers(cache / "weights") == [name]  # no temporary file left beside it
    assert zoo.available_models(models, cache) == {f"tiny{layout}": (models / f"tiny{layout}", path)}

    m = zoo.load_model(f"tiny{layout}", models_dir=models, cache_dir=cache)
    z = torch.randn(2, 32)
    torch.testing.assert_close(m.generator(z), G(z), rtol=0, atol=0)
    assert m.table.concepts == {} and m.channels == 32  # no table: unit brushes still work
    paints(m)


def test_load_model_downloads_on_request(server, dirs):
    models, cache = dirs
    publish(server, models, "tiny", checkpoint_bytes(tiny_generator(), "plain"))
    with pytest.raises(zoo.ZooError, match="ganpaint models pull tiny"):
        zoo.load_model("tiny", models_dir=models, cache_dir=cache)
    m = zoo.load_model("tiny", models_dir=models, cache_dir=cache, download=True)
    assert m.id == "tiny" and m.resolution == 16


def test_second_mirror_used_when_first_is_down(server, dirs, refused_url):
    models, cache = dirs
    data = checkpoint_bytes(tiny_generator(), "plain")
    h8 = hashlib.sha256(data).hexdigest()[:8]
    name = f"proggan_tiny-{h8}.pth"
    publish(server, models, "tiny", data, sources=[f"{refused_url}/{name}", f"{server.base}/models/{name}"])
    assert zoo.pull("tiny", models_dir=models, cache_dir=cache, progress=False).name == name


def test_mirror_env_points_pulls_elsewhere(server, dirs, refused_url, monkeypatch):
    models, cache = dirs
    publish(server, models, "tiny", checkpoint_bytes(tiny_generator(), "plain"), sources=[refused_url + "/x.pth"])
    monkeypatch.setenv("GANPAINT_MIRROR", f"{server.base}/models")
    assert zoo.pull("tiny", models_dir=models, cache_dir=cache, progress=False).is_file()


def test_corrupted_download_is_refused_and_removed(server, dirs):
    models, cache = dirs
    name = publish(server, models, "tiny", checkpoint_bytes(tiny_generator(), "plain"))
    good = server.files[f"/models/{name}"]
    server.files[f"/models/{name}"] = good[:-1] + bytes([good[-1] ^ 0xFF])  # one flipped byte
    with pytest.raises(zoo.ZooError, match=r"does not start with .*deleted"):
        zoo.pull("tiny", models_dir=models, cache_dir=cache, progress=False)
    assert leftovers(cache / "weights") == []


def test_interrupted_download_leaves_no_half_file(server, dirs):
    models, cache = dirs
    name = publish(server, models, "tiny", checkpoint_bytes(tiny_generator(), "plain"))
    server.truncated.add(f"/models/{name}")
    with pytest.raises(zoo.ZooError, match="could not pull 'tiny'"):
        zoo.pull("tiny", models_dir=models, cache_dir=cache, progress=False)
    assert leftovers(cache / "weights") == []
    assert zoo.available_models(models, cache) == {}


def test_offline_pull_says_so_without_traceback(dirs, refused_url, capsys):
    models, cache = dirs
    folder = models / "tiny"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(
        {"id": "tiny", "weights": "proggan_tiny-00000000.pth", "sha256_prefix": "00000000",
         "sources": [f"{refused_url}/proggan_tiny-00000000.pth"]}))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["models", "pull", "tiny", "--models-dir", str(models), "--home", str(cache), "--quiet"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "connection refused" in err and "GANPAINT_MIRROR" in err and "by hand" in err
    assert "Traceback" not in err
    assert leftovers(cache / "weights") == []


# ----------------------------------------------------------------------------- user checkpoints
def test_pull_url_registers_own_checkpoint(server, dirs, capsys):
    models, cache = dirs
    G = tiny_generator(seed=5)
    server.files["/mine/my_church.pth"] = checkpoint_bytes(G, "wrapped")
    cli.main(["models", "pull", "--url", f"{server.base}/mine/my_church.pth", "--id", "mine", "--title", "Mine",
              "--models-dir", str(models), "--home", str(cache), "--quiet"])
    assert "registered 'mine'" in capsys.readouterr().out

    folder = cache / "models" / "mine"
    info = json.loads((folder / "model.json").read_text())
    digest = hashlib.sha256(server.files["/mine/my_church.pth"]).hexdigest()
    assert info["resolution"] == 16 and info["weights"] == "my_church.pth" and info["sha256_prefix"] == digest[:8]
    assert leftovers(folder) == ["model.json", "my_church.pth"]
    entry = zoo.registry(models, cache)["mine"]
    assert entry.origin == "user" and entry.title == "Mine"

    m = zoo.load_model("mine", models_dir=models, cache_dir=cache)
    z = torch.randn(1, 32)
    torch.testing.assert_close(m.generator(z), G(z), rtol=0, atol=0)
    paints(m)

    with pytest.raises(zoo.ZooError, match="already exists.*--force"):
        zoo.pull_url(f"{server.base}/mine/my_church.pth", "mine", models_dir=models, cache_dir=cache, progress=False)


def test_pull_url_refuses_what_is_not_a_generator(server, dirs):
    models, cache = dirs
    buf = io.BytesIO()
    torch.save({"fc.weight": torch.zeros(3, 3)}, buf)
    server.files["/classifier.pth"] = buf.getvalue()
    server.files["/cut.pth"] = checkpoint_bytes(tiny_generator(), "plain")
    server.truncated.add("/cut.pth")  # no hash in the name: only the load check can catch this one
    for path, why in (("/classifier.pth", "not a usable ProGAN generator"), ("/cut.pth", "not a usable ProGAN")):
        with pytest.raises(zoo.ZooError, match=why):
            zoo.pull_url(server.base + path, "bad", models_dir=models, cache_dir=cache, progress=False)
        assert leftovers(cache / "models") == []


def test_pull_url_checks_hash_in_file_name(server, dirs):
    models, cache = dirs
    server.files["/proggan_x-0123abcd.pth"] = checkpoint_bytes(tiny_generator(), "plain")
    with pytest.raises(zoo.ZooError, match="does not start with 0123abcd"):
        zoo.pull_url(server.base + "/proggan_x-0123abcd.pth", "x", models_dir=models, cache_dir=cache, progress=False)
    assert leftovers(cache / "models") == []


def test_pull_url_cannot_shadow_bundled_model(dirs):
    models, cache = dirs
    (models / "scenes").mkdir()
    (models / "scenes" / "model.json").write_text('{"id": "scenes"}')
    for bad_id, why in (("scenes", "already exists"), ("../evil", "must be lowercase")):
        with pytest.raises(zoo.ZooError, match=why):
            zoo.pull_url("http://127.0.0.1:1/x.pth", bad_id, models_dir=models, cache_dir=cache, progress=False)


# ----------------------------------------------------------------------------- list / info
def test_list_and_info_show_state_and_concept_table(server, dirs, capsys):
    models, cache = dirs
    table = PaintModel.random(resolution=16, widths=(32, 32, 16), seed=1).table
    publish(server, models, "tiny", checkpoint_bytes(tiny_generator(), "plain"), concepts=table)
    (models / "broken").mkdir()
    (models / "broken" / "model.json").write_text("{not json")  # skipped, does not hide the others

    args = ["--models-dir", str(models), "--home", str(cache)]
    cli.main(["models", "list", *args])
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("tiny"))
    assert row.split()[:5] == ["tiny", "16", "pull", "7", "brushes"]

    cli.main(["models", "pull", "tiny", "--quiet", *args])
    out = capsys.readouterr().out
    assert out.startswith("pulled tiny") and "verified" in out
    cli.main(["models", "list", *args])
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("tiny"))
    assert row.split()[2] == "here"

    cli.main(["models", "info", "tiny", "--units", "3", *args])
    out = capsys.readouterr().out
    assert "sha256      " in out and "7 brushes on layer4 (32 units)" in out
    tree = table.concepts["tree"]
    expected = ", ".join(f"{u} ({v:.1f})" for u, v in zip(tree.units[:3], tree.levels[:3]))
    assert any(line.split()[:2] == ["tree", "random"] and expected in line for line in out.splitlines())

    with pytest.raises(SystemExit):
        cli.main(["models", "info", "nope", *args])
    assert "unknown model 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["evil\n", "Evil", "../up", "a/b", "", "x" * 65, ".hidden"])
def test_pull_url_refuses_ids_that_are_not_plain_folder_names(server, dirs, bad):
    models, cache = dirs
    server.files["/mine/x.pth"] = checkpoint_bytes(tiny_generator(), "wrapped")
    with pytest.raises(zoo.ZooError, match="must be lowercase"):
        zoo.pull_url(f"{server.base}/mine/x.pth", bad, models_dir=models, cache_dir=cache, progress=False)
    assert leftovers(cache / "models") == []  # refused before any folder is made
