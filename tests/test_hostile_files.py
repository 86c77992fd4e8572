"""Hostile user files (issue 11): archives (zip bombs, lying headers, traversal names), images (decompression bombs,
huge dimensions), tables and arrays (lying .npy headers, strings, non-finite values), the output CSV, and the same
cases through the app's Score page path. Generated at test time, small on disk."""
import csv
import io
import os
import pickle
import re
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.archive import ArchiveError, ZipLimits, _read_capped, read_zip_members
from core.data.images import images_from_files, read_images
from core.data.readers import read_samples
from core.data.tables import scores_csv

REPO = Path(__file__).resolve().parents[1]


def one_line_without_paths(message: str, *folders: Path) -> None:
    assert "\n" not in message and " at 0x" not in message
    for folder in folders:
        assert str(folder) not in message



# ---------------------------------------------------------------- archives

@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A zip holding one 1 GiB member of zeros named a.png (about 1 MB), written as a stream."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("a.png", "w", force_zip64=True) as member:
            for _ in range(1024):
                member.write(chunk)
    return path


def test_a_zip_bomb_member_is_skipped_on_its_header(bomb, monkeypatch):
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: opened.append(a) or 1 / 0)
    members, skipped = read_zip_members(bomb, "bomb.zip", {".png"})
    assert members == [] and not opened
    assert skipped[0][0] == "bomb.zip/a.png" and "1,024 MiB" in skipped[0][1] and "cap" in skipped[0][1]


MEMORY_SCRIPT = """
import re, sys, types
pkg = types.ModuleType("core"); pkg.__path__ = [sys.argv[1] + "/core"]; sys.modules["core"] = pkg
from core.data.readers import read_samples
X, names, problems = read_samples(sys.argv[2], (1, 8, 8), (0, 16))
print(len(X), "|".join(str(p) for p in problems))
print(int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) // 1024)
"""


def test_reading_a_zip_bomb_keeps_peak_memory_small(bomb):
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(REPO), str(bomb)], capture_output=True,
                         text=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert lines, out.stderr[-2000:]
    count, problems = lines[0].split(" ", 1)
    assert count == "0" and "bomb.zip/a.png" in problems and "cap" in problems
    assert int(lines[1]) < 300, f"peak RSS {lines[1]} MB"


def _zip(members: dict, **kw) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, **kw) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def png(size=(8, 8), value=128) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, format="PNG")
    return buf.getvalue()


def test_archive_caps_on_total_and_count():
    three = _zip({f"{i}.png": os.urandom(900_000) for i in range(3)})
    limits = ZipLimits(member_bytes=1 << 20, total_bytes=2 << 20)
    with pytest.raises(ArchiveError, match="uncompressed; the cap"):
        read_zip_members(three, "three.zip", {".png"}, limits)
    many = _zip({f"{i}.png": b"" for i in range(10_001)}, compresslevel=1)
    t = time.perf_counter()
    with pytest.raises(ArchiveError, match="10,001 entries"):
        read_zip_members(many, "many.zip", {".png"})
    assert time.perf_counter() - t < 1  # refused from the end record, before the directory is parsed


def test_a_zip_whose_directory_claims_100_mib_is_refused_before_parsing():
    data = bytearray(_zip({"a.png": png()}))
    end = data.rfind(b"PK\x05\x06")
    data[end + 12: end + 16] = struct.pack("<L", 100 << 20)
    with pytest.raises(ArchiveError, match="directory"):
        read_zip_members(bytes(data), "dir.zip", {".png"})


def test_the_streaming_count_stops_at_the_cap_whatever_the_header_said():
    stream = io.BytesIO(bytes(10 << 20))
    assert _read_capped(stream, 1 << 20) is None and stream.tell() <= (1 << 20) + (1 << 20)
    assert _read_capped(io.BytesIO(b"abc"), 3) == b"abc"


def test_a_lying_size_header_gives_a_skipped_member_not_a_big_read():
    data = bytearray(_zip({"a.png": bytes(4 << 20), "b.png": png()}))
    central = data.find(b"PK\x01\x02")
    local = data.find(b"PK\x03\x04")
    data[central + 24: central + 28] = struct.pack("<L", 1000)  # claims 1000 bytes uncompressed
    data[local + 22: local + 26] = struct.pack("<L", 1000)
    members, skipped = read_zip_members(bytes(data), "liar.zip", {".png"}, ZipLimits(member_bytes=1 << 20))
    assert [m for m, _ in members] == ["liar.zip/b.png"]
    assert skipped[0][0] == "liar.zip/a.png" and "corrupt" in skipped[0][1]


def test_unsafe_encrypted_and_corrupt_members_are_skipped_one_by_one():
    data = bytearray(_zip({"../../etc/evil.png": png(), "/abs.png": png(), "ok.png": png(), "enc.png": png(),
                           "broken.png": os.urandom(5000)}))
    for sig, flag_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):  # mark enc.png encrypted
        at = -1
        while (at := data.find(sig, at + 1)) >= 0:
            name_len = struct.unpack("<H", data[at + (28 if sig == b"PK\x01\x02" else 26):][:2])[0]
            name_at = at + (46 if sig == b"PK\x01\x02" else 30)
            if data[name_at: name_at + name_len] == b"enc.png":
                data[at + flag_at] |= 1
    # corrupt broken.png's compressed bytes (its CRC will not match)
    local = data.find(b"broken.png") + len("broken.png")
    data[local + 100: local + 200] = bytes(100)
    members, skipped = read_zip_members(bytes(data), "mix.zip", {".png"})
    assert [m for m, _ in members] == ["mix.zip/ok.png"]
    reasons = dict(skipped)
    assert "unsafe" in reasons["mix.zip/../../etc/evil.png"] and "unsafe" in reasons["mix.zip//abs.png"]
    assert "encrypted" in reasons["mix.zip/enc.png"] and "corrupt" in reasons["mix.zip/broken.png"]


def test_a_corrupt_zip_is_reported_as_a_corrupt_archive(tmp_path):
    data = _zip({"a.png": png(), "b.png": png()})
    for bad in (data[: len(data) // 2], b"PK\x03\x04" + os.urandom(300)):
        with pytest.raises(ValueError, match="not a readable zip archive") as err:
            images_from_files([("photos.zip", bad)], size=(8, 8), channels=1)
        assert "not a readable image" not in str(err.value)
    (tmp_path / "photos.zip").write_bytes(data[:-30])
    X, names, problems = read_samples(tmp_path / "photos.zip", (1, 8, 8), (0, 16))
    assert len(X) == 0 and "not a readable zip archive" in problems[0].reason
    one_line_without_paths(str(problems[0]), tmp_path)


# ---------------------------------------------------------------- images

def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's first step)."""
    data = bytearray(png((1, 1)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_image_bombs_and_huge_dimensions_are_refused_before_decoding():
    t = time.perf_counter()
    X, names, problems = read_images([("wide.png", png_claiming(5000, 5000)), ("bomb.png", png_claiming(10**5, 10**5)),
                                      ("fine.png", png())], size=(8, 8), channels=1)
    assert time.perf_counter() - t < 2 and names == ["fine.png"]
    reasons = {p.file: p.reason for p in problems}
    assert "5000x5000" in reasons["wide.png"] and "too large" in reasons["bomb.png"]


def test_non_images_get_a_plain_reason_and_eps_is_never_opened():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"
    X, names, problems = read_images([("x.png", b"not an image"), ("x.eps.png", eps),
                                      ("p.png", pickle.dumps([1])), ("ok.png", png())], size=(8, 8), channels=1)
    assert names == ["ok.png"] and len(problems) == 3
    for p in problems:
        assert "not an image this lab reads" in p.reason and "0x" not in p.reason and "BytesIO" not in p.reason
    with pytest.raises(ValueError, match="x.png"):  # the strict wrapper still raises for the first bad file
        images_from_files([("x.png", b"junk"), ("ok.png", png())], size=(8, 8), channels=1)


# ---------------------------------------------------------------- tables and arrays

def _npy_claiming(shape) -> bytes:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': %r, }" % (tuple(shape),)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(64)


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


NPY_CASES = {
    "header claiming 238 GiB": (_npy_claiming((10_647_523_329, 3)), r"238.0 GiB\); the cap"),
    "truncated": (_npy(np.ones((100, 3)))[:-80], "truncated"),
    "strings": (_npy(np.array([["a", "b", "c"]])), "text"),
    "bytes": (_npy(np.array([[b"a", b"b", b"c"]])), "bytes"),
    "complex": (_npy(np.ones((2, 3), complex)), "complex"),
    "objects": (_npy(np.array([{}, 1, None], dtype=object)), "Python objects"),
    "records": (_npy(np.zeros(2, dtype=[("a", "f4"), ("b", "f4"), ("c", "f4")])), "structured"),
    "dates": (_npy(np.array(["2020-01-01"] * 3, dtype="datetime64[D]")), "dates"),
    "empty": (_npy(np.zeros((0, 3))), "no samples"),
    "one number": (_npy(np.float64(3.0)), "single number"),
    "pickle renamed .npy": (pickle.dumps(np.ones((2, 3))), "not a .npy file"),
    "wrong width": (_npy(np.ones((2, 4))), r"shape \(samples, 3\)"),
}


@pytest.mark.parametrize("case", sorted(NPY_CASES))
def test_bad_npy_files_are_refused_from_their_header(case):
    data, match = NPY_CASES[case]
    t = time.perf_counter()
    X, names, problems = read_samples([("bad.npy", data), ("good.npy", _npy(np.ones((2, 3))))], (3,))
    assert time.perf_counter() - t < 2
    assert names == ["good.npy[0]", "good.npy[1]"] and X.dtype == np.float32
    assert len(problems) == 1 and problems[0].file == "bad.npy" and re.search(match, problems[0].reason)


def test_csv_header_detection_and_empty_tables():
    X, names, problems = read_samples([("plain.csv", b"1,2,3\n4,5,6\n")], (3,))
    assert names == ["plain.csv:1", "plain.csv:2"] and X[0].tolist() == [1, 2, 3] and not problems
    X, names, _ = read_samples([("named.csv", b"a,b,c\n1,2,3\n4,5,6\n")], (3,))
    assert names == ["named.csv:1", "named.csv:2"] and X[1].tolist() == [4, 5, 6]
    for data, match in ((b"a,b,c\n", "no data rows"), (b"", "empty"), (b"\n\n", "empty"),
                        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"), (b"x,1,2\ny,3,4\n", "column.*text")):
        X, names, problems = read_samples([("t.csv", data)], (3,))
        assert len(X) == 0 and re.search(match, problems[0].reason), problems


def test_csv_feature_names_pick_and_order_columns():
    data = b"id,c,a,b\nr1,3,1,2\nr2,6,4,5\n"
    X, _, problems = read_samples([("t.csv", data)], (3,), feature_names=["a", "b", "c"])
    assert X.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert problems[0].level == "warning" and "'id'" in problems[0].reason


def test_non_finite_and_huge_values():
    data = b"a,b\n1,2\ninf,1\n3,nan\n1e38,1\n1e39,1\n4,x\n5,6\n"
    X, names, problems = read_samples([("v.csv", data)], (2,))
    assert names == ["v.csv:1", "v.csv:4", "v.csv:7"] and np.isfinite(X).all()
    text = " | ".join(f"{p.level}: {p.reason}" for p in problems)
    assert "row(s) 2, 3 hold NaN or infinite" in text and "row(s) 5 hold numbers beyond 32-bit" in text
    assert "row(s) 6: text" in text and "warning: row(s) 4 hold values larger than 1e+06" in text
    # with the training range known, "far" is relative to it
    X, _, problems = read_samples([("r.csv", b"0.5,0.5\n50,0.5\n")], (2,), ([0, 0], [1, 1]))
    assert len(X) == 2 and [p.level for p in problems] == ["warning"] and "row(s) 2" in problems[0].reason


def test_image_models_read_arrays_images_and_zips_and_warn_outside_the_range(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    np.save(folder / "a.npy", np.full((2, 8, 8), 20.0))  # (N, H, W) for a 1-channel model; above 16
    (folder / "b.png").write_bytes(png())
    (folder / "c.zip").write_bytes(_zip({"d.png": png(), "e.txt": b"notes"}))
    (folder / "f.png").write_bytes(b"broken")
    (folder / "g.csv").write_text(",".join(["1"] * 64) + "\n")
    (folder / "notes.md").write_text("hello")
    X, names, problems = read_samples(folder, (1, 8, 8), (0, 16))
    assert names == ["a.npy[0]", "a.npy[1]", "b.png", "c.zip/d.png", "g.csv:1"] and X.shape == (5, 1, 8, 8)
    assert 0 < X[2].max() <= 16
    levels = {p.file: p.level for p in problems}
    assert levels == {"a.npy": "warning", "f.png": "error", "notes.md": "error", "c.zip/e.txt": "error"}
    for p in problems:
        one_line_without_paths(str(p), tmp_path)


def test_a_tabular_model_given_an_image_says_so():
    X, names, problems = read_samples([("photo.png", png())], (6,))
    assert len(X) == 0 and "tabular" in problems[0].reason


# ---------------------------------------------------------------- output

def test_scores_csv_quotes_what_needs_quoting():
    names = ["plain", "with,comma", 'with "quotes"', "with\nnewline", "=cmd()"]
    text = scores_csv(names, [1.0, 2.5, float("inf"), 0.125, 3], [1, 0, 1, None, 0])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "score", "label"]
    # a name a spreadsheet would run as a formula is written as text (OWASP: a leading single quote)
    assert [r[0] for r in rows[1:]] == names[:4] + ["'=cmd()"] and rows[3][1] == "inf" and rows[4][2] == ""


# ---------------------------------------------------------------- the same cases through the app's Score page path

class _Uploaded(io.BytesIO):
    """What Streamlit's file_uploader hands the Score page: bytes with a name."""

    def __init__(self, name, data):
        super().__init__(data)
        self.name = name


def _stub_model(shape, input_range=None):
    """What app.score.uploads.read_uploads reads of a model: its input shape, pixel range and scaler kind."""
    from types import SimpleNamespace

    return SimpleNamespace(input_shape_=shape, config_=SimpleNamespace(input_range=input_range),
                           scaler_=SimpleNamespace(kind="zscore"))


@pytest.mark.parametrize("case", sorted(NPY_CASES))
def test_the_app_reads_the_bad_npy_cases_through_the_same_reader(case):
    from app.score.uploads import problem_list, read_uploads

    data, match = NPY_CASES[case]
    X, names, problems, _ = read_uploads([_Uploaded("bad.npy", data), _Uploaded("good.npy", _npy(np.ones((2, 3))))],
                                         _stub_model((3,)))
    assert names == ["good.npy[0]", "good.npy[1]"]
    assert len(problems) == 1 and re.search(match, problems[0].reason)
    one_line_without_paths(problem_list(problems, "error"))


def test_the_app_reads_hostile_images_and_archives_through_the_same_reader(bomb):
    from app.score.uploads import problem_list, read_uploads

    files = [_Uploaded("bomb.zip", bomb.read_bytes()), _Uploaded("wide.png", png_claiming(5000, 5000)),
             _Uploaded("x.png", b"not an image"), _Uploaded("p.png", pickle.dumps([1])),
             _Uploaded("corrupt.zip", b"PK\x03\x04" + bytes(40)), _Uploaded("ok.png", png())]
    t = time.perf_counter()
    X, names, problems, _ = read_uploads(files, _stub_model((1, 8, 8), (0, 16)), polarity="auto")
    assert time.perf_counter() - t < 10 and names == ["ok.png"] and X.shape == (1, 1, 8, 8)
    listed = problem_list(problems, "error")
    for name in ("bomb.zip", "wide.png", "x.png", "p.png", "corrupt.zip"):
        assert f"`{name}" in listed, listed
    one_line_without_paths(listed.replace("\n", " "))


# ---------------------------------------------------------------- only regular files (issue 19, item 6)

@pytest.fixture
def no_hang():
    """Fails the test instead of hanging it, should a reader ever open a FIFO (open() blocks until a writer)."""
    import signal

    def alarm(signum, frame):
        raise TimeoutError("a reader blocked (it opened a FIFO)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="POSIX only")
def test_fifos_and_devices_are_refused_by_name_and_never_opened(tmp_path, no_hang):
    folder = tmp_path / "batch"
    folder.mkdir()
    os.mkfifo(folder / "pipe.png")
    os.mkfifo(folder / "pipe.csv")
    (folder / "zero.csv").symlink_to("/dev/zero")
    (folder / "zero.png").symlink_to("/dev/zero")
    (folder / "gone.npy").symlink_to(tmp_path / "nowhere.npy")
    (folder / "bad.npy").write_bytes(_npy_claiming((-2, 3)))
    (folder / "good.csv").write_text(",".join(["1"] * 64) + "\n")
    (folder / "ok.png").write_bytes(png())
    X, names, problems = read_samples(folder, (1, 8, 8), (0, 16))
    assert names == ["good.csv:1", "ok.png"] and X.shape == (2, 1, 8, 8)
    reasons = {p.file: p.reason for p in problems}
    assert set(reasons) == {"batch/pipe.png", "batch/pipe.csv", "batch/zero.csv", "batch/zero.png",
                            "batch/gone.npy", "bad.npy"}, reasons
    assert "FIFO" in reasons["batch/pipe.png"] and "device" in reasons["batch/zero.png"]
    assert "broken link" in reasons["batch/gone.npy"] and "negative dimension" in reasons["bad.npy"]
    for p in problems:
        one_line_without_paths(str(p), tmp_path)
    # named directly, alone or among good files, through every public reader
    X, names, problems = read_samples([folder / "pipe.csv", folder / "zero.png", folder / "ok.png"], (1, 8, 8),
                                      (0, 16))
    assert names == ["ok.png"] and [p.file for p in problems] == ["pipe.csv", "zero.png"]
    X, names, problems = read_images([folder / "pipe.png", folder / "zero.png", folder / "ok.png"], (8, 8), 1)
    assert names == ["ok.png"] and all("not a regular file" in p.reason for p in problems)
    from core.data.tables import TableError, read_csv_table, read_npy_array

    for reader, path in ((read_csv_table, folder / "zero.csv"), (read_npy_array, folder / "pipe.csv")):
        with pytest.raises(TableError, match="not a regular file"):
            reader(path)
    with pytest.raises(OSError, match="not a regular file"):
        read_zip_members(folder / "zero.csv", "zero.csv")


def test_links_fifos_and_devices_inside_a_zip_are_skipped_with_their_reason():
    import stat

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for member, mode, data in (("link.png", stat.S_IFLNK | 0o777, b"/dev/zero"),
                                   ("pipe.png", stat.S_IFIFO | 0o644, b""), ("ok.png", stat.S_IFREG | 0o644, png())):
            info = zipfile.ZipInfo(member)
            info.create_system, info.external_attr = 3, mode << 16
            zf.writestr(info, data)
    members, skipped = read_zip_members(buf.getvalue(), "a.zip", {".png"})
    assert [m for m, _ in members] == ["a.zip/ok.png"]
    assert dict(skipped) == {"a.zip/link.png": "a symbolic link in the archive, not a regular file; skipped",
                             "a.zip/pipe.png": "a FIFO in the archive, not a regular file; skipped"}


# ---------------------------------------------------------------- outputs: names, formulas, depth

def test_duplicate_names_are_told_apart():
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        with pytest.warns(UserWarning, match="Duplicate name"):
            for value in (10, 200, 30):
                zf.writestr("d.png", png(value=value))
    X, names, problems = read_samples([("a.zip", data.getvalue()), ("b.png", png()), ("b.png", png(value=3))],
                                      (1, 8, 8), (0, 255))
    assert names == ["a.zip/d.png", "a.zip/d.png#2", "a.zip/d.png#3", "b.png", "b.png#2"] and not problems
    assert X[:, 0, 0, 0].tolist() == [10, 200, 30, 128, 3]  # each name still its own sample, in order
    from core.data.messages import distinct

    assert distinct(["x", "x#2", "x", "x"]) == ["x", "x#2", "x#3", "x#4"]


def test_formula_prefixes_are_neutralised_in_every_csv_written():
    from app.score.uploads import problems_csv
    from core.data.messages import Problem

    names = ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain", "a=b"]
    rows = list(csv.reader(io.StringIO(scores_csv(names, [1.0] * len(names)))))[1:]
    assert [r[0] for r in rows] == ["'" + n for n in names[:6]] + ["plain", "a=b"]
    assert rows[0][1] == "1"  # numbers are numbers: only text cells are quoted this way
    rows = list(csv.reader(io.StringIO(problems_csv([Problem("=cmd|' /C calc'!A0", "x")]).decode())))
    assert rows[1][0] == "'=cmd|' /C calc'!A0"


HOSTILE_NAME = "evil\x1b[2J\x1b]0;owned\x07\u202egnp.exe\u2066\x85.png"


def test_control_and_bidi_characters_are_escaped_when_shown():
    from app.score.uploads import problem_list, shown
    from core.data.messages import Problem, printable

    text = printable(HOSTILE_NAME)
    assert text == "evil\\x1b[2J\\x1b]0;owned\\x07\\u202egnp.exe\\u2066\\x85.png"
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    assert printable("Café ü 日本.png") == "Café ü 日本.png"  # ordinary non-ASCII names stay as they are
    listed = problem_list([Problem(HOSTILE_NAME + "`x`", "bad")], "error")
    assert "\x1b" not in listed and "\u202e" not in listed and listed.count("`") == 2
    assert shown("a`b") == "a'b"


def test_the_cli_prints_hostile_names_escaped(tmp_path, capsys):
    from core import MirroredAE
    from core.cli import main as cli_main
    from core.data import load_dataset

    model = tmp_path / "digits"
    MirroredAE(preset="digits", epochs=1, device="cpu").fit(load_dataset("digits").X_train[:64]).save(model)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / HOSTILE_NAME).write_bytes(png())
    (folder / ("bad" + HOSTILE_NAME)).write_bytes(b"junk")
    (folder / "=HYPERLINK(1).png").write_bytes(png())
    assert cli_main(["score", "--checkpoint", str(model), "--input", str(folder)]) == 1
    out, err = capsys.readouterr()
    for text in (out, err):
        assert "\x1b" not in text and "\u202e" not in text and "\x85" not in text
    assert "evil\\x1b[2J" in out and "badevil\\x1b[2J" in err
    assert "'=HYPERLINK(1).png" in out
    assert cli_main(["score", "--checkpoint", str(model), "--input", str(folder), "--output",
                     str(tmp_path / "s.csv")]) == 1
    rows = list(csv.reader(open(tmp_path / "s.csv", newline="", encoding="utf-8")))
    assert "'=HYPERLINK(1).png" in [r[0] for r in rows]


def _png16(values) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(values, np.uint16)).save(buf, "PNG")
    return buf.getvalue()


def test_16_bit_images_are_read_at_their_depth_not_saturated():
    assert Image.open(io.BytesIO(_png16(np.full((8, 8), 32768)))).mode == "I;16"
    X, names, problems = read_images([("mid.png", _png16(np.full((8, 8), 32768))),
                                      ("top.png", _png16(np.full((8, 8), 65535))), ("8bit.png", png(value=64))],
                                     (8, 8), 1, (0, 16))
    assert not problems and names == ["mid.png", "top.png", "8bit.png"]
    np.testing.assert_allclose(X[0], 8.0, atol=0.01)  # half of 16, not 16 (what convert("L") gave: white)
    np.testing.assert_allclose(X[1], 16.0, atol=1e-4)
    np.testing.assert_allclose(X[2], 64 * 16 / 255, atol=1e-4)
    ramp = np.tile(np.arange(8, dtype=np.uint16) * 9000, (8, 1))
    X, _, _ = read_images([("ramp.png", _png16(ramp))], (8, 8), 3, (0, 255))
    assert X.shape == (1, 3, 8, 8) and np.all(np.diff(X[0, 0, 0]) > 0) and X.max() < 255  # depth kept
    buf = io.BytesIO()
    Image.fromarray(np.ones((8, 8), np.float32)).save(buf, "TIFF")
    _, names, problems = read_images([("float.tif", buf.getvalue())], (8, 8), 1)
    assert not names and "floating-point pixels" in problems[0].reason
