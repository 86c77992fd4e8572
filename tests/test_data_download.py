"""Downloads from a local mirror (127.0.0.1 only), verification, the data CLI and images_from_files."""
from __future__ import annotations

import gzip
import io
import re
import shutil
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data import (DownloadError, download, load_dataset, verify)
from core.cli import data as cli
from core.data.images import images_from_files


# every cache write of the module goes to a temporary folder (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("isolated_cache")



# --- downloads (local server on 127.0.0.1 only) ------------------------------------------------

class _Server:
    """A tiny HTTP server for a folder, with optional Range support and a request log."""

    def __init__(self, root: Path, honor_range: bool = True):
        outer = self
        self.root, self.honor_range, self.log = Path(root), honor_range, []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = (outer.root / self.path.lstrip("/")).resolve()
                if outer.root.resolve() not in path.parents or not path.is_file():
                    self.send_error(404)
                    return
                data, rng, start = path.read_bytes(), self.headers.get("Range"), 0
                if rng and outer.honor_range:
                    start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                # Logged before the body is written: once the client has the last byte it may check
                # the log at once, and a log appended afterwards would race with it.
                outer.log.append((self.path, rng, len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    servers = []

    def start(root, **kw):
        servers.append(_Server(root, **kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_download_thyroid_and_kdd_from_a_mirror(shared_data, serve, tmp_path):
    server = serve(shared_data)
    checks = download("thyroid", tmp_path, progress=False, base_url=server.url)
    assert [c.status for c in checks] == ["ok"] and checks[0].path == tmp_path / "odds" / "thyroid.mat"
    assert (tmp_path / "odds/thyroid.mat").read_bytes() == (shared_data / "odds/thyroid.mat").read_bytes()
    assert int(load_dataset("thyroid", tmp_path).y.sum()) == 93
    checks = download("kdd99", tmp_path, progress=False, base_url=server.url + "/")
    assert [c.status for c in checks] == ["ok", "ok"]
    for rel in ("kddcup99/kddcup.data_10_percent.gz", "kddcup99/kddcup.names"):
        assert (tmp_path / rel).read_bytes() == (shared_data / rel).read_bytes()
    assert load_dataset("kdd99", tmp_path).X.shape == (494021, 118)
    n_requests = len(server.log)
    download("thyroid", tmp_path, progress=False, base_url=server.url)  # present and valid: no request
    assert len(server.log) == n_requests
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize("honor_range", [True, False])
def test_download_resumes_a_partial_file(shared_data, serve, tmp_path, honor_range):
    server = serve(shared_data, honor_range=honor_range)
    source = (shared_data / "odds/thyroid.mat").read_bytes()
    part = tmp_path / "odds" / "thyroid.mat.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(source[:10000])
    download("thyroid", tmp_path, progress=False, base_url=server.url)
    assert (tmp_path / "odds/thyroid.mat").read_bytes() == source and not part.exists()
    (path, rng, served), = server.log
    assert rng == "bytes=10000-"
    assert served == (len(source) - 10000 if honor_range else len(source))  # only the rest, when supported


def test_download_checks_the_content_md5_of_regzipped_idx_files(shared_data, serve, tmp_path):
    """A mirror whose .gz wrapper differs from ours still passes: MNIST's published md5 is of the content."""
    mirror = tmp_path / "mirror" / "mnist"
    mirror.mkdir(parents=True)
    for f in (shared_data / "mnist").iterdir():
        data = gzip.decompress(f.read_bytes()) if "labels" in f.name else None
        if data is not None:
            (mirror / f.name).write_bytes(gzip.compress(data, compresslevel=1, mtime=1))
        else:
            shutil.copyfile(f, mirror / f.name)
    checks = download("mnist", tmp_path / "data", progress=False, base_url=f"{serve(tmp_path / 'mirror').url}")
    details = {c.path.name: c.detail for c in checks}
    assert "uncompressed content" in details["t10k-labels-idx1-ubyte.gz"]
    assert details["t10k-images-idx3-ubyte.gz"] == "sha256 matches"


def test_download_checksum_mismatch_leaves_nothing(shared_data, serve, tmp_path):
    bad = bytearray((shared_data / "odds/thyroid.mat").read_bytes())
    bad[5000] ^= 0xFF
    (tmp_path / "mirror" / "odds").mkdir(parents=True)
    (tmp_path / "mirror" / "odds" / "thyroid.mat").write_bytes(bytes(bad))
    server = serve(tmp_path / "mirror")
    with pytest.raises(DownloadError, match="Checksum mismatch.*thyroid.mat"):
        download("thyroid", tmp_path / "data", progress=False, base_url=server.url)
    assert not list((tmp_path / "data").rglob("*.mat*"))


def test_download_unreachable_host_says_copy_by_hand(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(DownloadError) as info:
        download("thyroid", tmp_path, progress=False, base_url=url)
    msg = str(info.value)
    assert f"{url}/odds/thyroid.mat" in msg and "copy the file by hand" in msg and str(tmp_path) in msg


def test_download_without_public_source():
    with pytest.raises(DownloadError, match="no public download"):
        download("cifar10_exact", progress=False)
    assert download("digits", progress=False) == []


# --- verify and the CLI --------------------------------------------------------------------------

def test_verify(shared_data, tmp_path):
    assert [c.status for c in verify("thyroid", shared_data)] == ["ok"]
    assert all(c.status == "ok" for c in verify("mnist", shared_data))
    (tmp_path / "odds").mkdir()
    (tmp_path / "odds" / "thyroid.mat").write_bytes((shared_data / "odds/thyroid.mat").read_bytes()[:-1])
    (c,) = verify("thyroid", tmp_path)
    assert c.failed and c.status == "mismatch"
    assert [c.status for c in verify("arrhythmia", tmp_path)] == ["missing"]


def test_cli(shared_data, serve, tmp_path, capsys):
    assert cli.main(["list", "--data-dir", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"kdd99\s+tabular\s+118\s+yes", out) and re.search(r"coil100\s+image\s+3x128x128\s+no", out)
    assert cli.main(["verify", "thyroid", "arrhythmia", "--data-dir", str(shared_data)]) == 0
    server = serve(shared_data)
    assert cli.main(["download", "thyroid", "--data-dir", str(tmp_path), "--base-url", server.url, "--quiet"]) == 0
    assert "sha256 matches" in capsys.readouterr().out
    assert cli.main(["download", "cifar10_exact", "--data-dir", str(tmp_path), "--quiet"]) == 1
    assert cli.main(["verify", "arrhythmia", "--data-dir", str(tmp_path)]) == 1
    assert cli.main(["download", "--help"]) == 0
    assert "--base-url" in capsys.readouterr().out
    assert cli.main(["download", "no-such-set"]) == 2


# --- images_from_files ---------------------------------------------------------------------------

def test_images_from_files(tmp_path):
    png = tmp_path / "red.png"
    Image.new("RGB", (40, 20), (255, 0, 0)).save(png)
    jpg = io.BytesIO()
    Image.new("L", (16, 16), 128).save(jpg, format="JPEG")
    transparent = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(transparent, format="PNG")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("b.png", png.read_bytes())
        zf.writestr("a.jpg", jpg.getvalue())
        zf.writestr("notes.txt", "skipped")

    X, names = images_from_files([png, ("grey.jpg", jpg.getvalue()), transparent.getvalue(),
                                  ("batch.zip", archive.getvalue())], size=(10, 12), channels=3)
    assert X.shape == (5, 3, 10, 12) and X.dtype == np.uint8
    assert names == ["red.png", "grey.jpg", "image_2", "batch.zip/a.jpg", "batch.zip/b.png"]
    assert X[0, :, 5, 6].tolist() == [255, 0, 0] and abs(int(X[1, 0, 5, 5]) - 128) <= 2
    assert X[2].min() == 255  # transparent -> white
    grey, _ = images_from_files(png, size=(8, 8), channels=1, input_range=(0, 16))
    assert grey.shape == (1, 1, 8, 8) and grey.dtype == np.float32 and 0 < grey.max() <= 16
    with pytest.raises(ValueError, match="broken.png"):
        images_from_files([("broken.png", b"not an image")], size=(8, 8), channels=3)
    with pytest.raises(ValueError, match="channels"):
        images_from_files([png], size=(8, 8), channels=2)
