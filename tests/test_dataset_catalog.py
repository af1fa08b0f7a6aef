"""Dataset names: the catalog and suites, resolution (folder, data dir, cache) and a real
download from an ``http.server`` on 127.0.0.1, with its failures leaving nothing behind."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import socket
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pytest

import rankarena
from rankarena.data import BeirFolder
from rankarena.data.catalog import (
    DOWNLOAD_KEYS,
    REQUIRED_KEYS,
    DatasetEntry,
    dataset_cache_dir,
    expand_suites,
    is_public,
    load_dataset_catalog,
    load_suites,
    resolve_dataset,
)
from rankarena.errors import DataFormatError, RankarenaError, UnknownNameError
from rankarena.runs.pipeline import load_config

BEIR_18 = {
    "msmarco",
    "trec-covid",
    "nfcorpus",
    "bioasq",
    "nq",
    "hotpotqa",
    "fiqa",
    "signal1m",
    "trec-news",
    "robust04",
    "arguana",
    "webis-touche2020",
    "cqadupstack",
    "quora",
    "dbpedia-entity",
    "scidocs",
    "fever",
    "climate-fever",
    "scifact",
}  # 18 datasets; CQADupStack counts once, BioASQ, Signal-1M, TREC-NEWS, Robust04 are private
PRIVATE = {"bioasq", "signal1m", "trec-news", "robust04", "climate-fever-sentences"}
OFFICIAL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{}.zip"

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr when they are content."},
    {"_id": "d2", "title": "Dogs", "text": "Dogs bark at strangers."},
]
QUERIES = [{"_id": "q1", "text": "why do cats purr"}]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\n"


def beir_files() -> dict[str, bytes]:
    """The files of a tiny BEIR folder, by relative path."""
    return {
        "corpus.jsonl": "".join(json.dumps(d) + "\n" for d in CORPUS).encode(),
        "queries.jsonl": "".join(json.dumps(q) + "\n" for q in QUERIES).encode(),
        "qrels/test.tsv": QRELS.encode(),
    }


def write_beir_folder(folder: Path) -> Path:
    for relative, data in beir_files().items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    return folder


def beir_zip(prefix: str, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of the tiny BEIR folder with every member under ``prefix`` (``"name/"`` or "")."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        if prefix:
            archive.writestr(prefix, b"")  # the folder entry, as BEIR zips have
        for relative, data in beir_files().items():
            archive.writestr(prefix + relative, data)
    return buffer.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def entry(url: str, data: bytes | None = None) -> DatasetEntry:
    """A catalog entry for a zip served at ``url`` (md5 of ``data`` where given)."""
    made: DatasetEntry = {
        "url": url,
        "size": "1 KB",
        "licence": "CC0",
        "domain": "test",
        "splits": ["test"],
        "description": "a tiny BEIR folder served by the test",
    }
    if data is not None:
        made["md5"] = md5(data)
    return made


@dataclass
class Server:
    """A real HTTP server on 127.0.0.1 serving ``files`` (path -> bytes) and counting GETs."""

    base: str
    files: dict[str, bytes] = field(default_factory=dict)
    short: set[str] = field(default_factory=set)  # paths sent with a too-large Content-Length
    gets: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.gets.append(self.path)
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            claimed = 2 * len(body) if self.path in state.short else len(body)
            self.send_header("Content-Length", str(claimed))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # keep the test output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def dirs(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """An empty data dir and cache dir, set in the environment; returns (data, cache)."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    monkeypatch.setenv("RANKARENA_DATA_DIR", str(data))
    monkeypatch.setenv("RANKARENA_CACHE_DIR", str(cache))
    return data, cache


def one_line_error(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


def assert_nothing_left(cache: Path, name: str) -> None:
    """Neither the final folder nor any temporary file or folder is left in the cache."""
    folder = cache / "datasets"
    assert not (folder / name).exists()
    assert not folder.exists() or list(folder.iterdir()) == []


# ------------------------------------------------------------------------- catalog and suites


def test_every_catalog_entry_has_the_required_keys():
    catalog = load_dataset_catalog()
    assert BEIR_18 | {"climate-fever-sentences"} <= set(catalog)
    for name, item in catalog.items():
        assert set(REQUIRED_KEYS) <= set(item), name
        assert isinstance(item["description"], str) and item["description"], name
        assert "\n" not in item["description"], name
        assert item["splits"] and set(item["splits"]) <= {"train", "dev", "test"}, name
        if "md5" in item:
            assert re.fullmatch(r"[0-9a-f]{32}", item["md5"]), name
        if name in PRIVATE:
            assert item["public"] is False and "url" not in item and not is_public(item), name
        else:
            assert set(DOWNLOAD_KEYS) <= set(item) and is_public(item), name
            assert item["url"] == OFFICIAL.format(name), name
            assert re.fullmatch(r"\d+(\.\d+)? (MB|GB)", item["size"]), name
            assert "md5" in item, name  # the BEIR README lists one for every zip
    assert catalog["scifact"]["md5"] == "5f7d1de60b170fc8027bb7898e2efca1"
    assert "local" in catalog["climate-fever-sentences"]["description"].lower()


def test_every_suite_names_catalog_entries():
    catalog = load_dataset_catalog()
    text = resources.files("rankarena.registries").joinpath("suites.toml").read_text()
    raw = tomllib.loads(text)
    suites = load_suites()
    assert {"beir", "beir-small", "quickstart", "local"} <= set(suites)
    for name, suite in raw.items():
        assert isinstance(suite["description"], str) and suite["description"], name
        assert suites[name] == suite["datasets"] and suites[name], name
        assert set(suites[name]) <= set(catalog), name
        assert len(set(suites[name])) == len(suites[name]), name
    public = {n for n, item in catalog.items() if is_public(item)}
    assert set(suites["beir"]) == public - {"msmarco"} and len(suites["beir"]) == 14
    assert suites["quickstart"] == ["scifact"]
    assert suites["local"] == ["scifact", "climate-fever-sentences"]


def test_expand_suites_keeps_order_and_drops_repeats():
    assert expand_suites(["arguana", "suite:local", "scifact", "x/y"]) == [
        "arguana",
        "scifact",
        "climate-fever-sentences",
        "x/y",
    ]
    assert expand_suites(["a", "suite:s"], suites={"s": ["b", "a"]}) == ["a", "b"]


def test_unknown_suite_lists_the_suites():
    with pytest.raises(UnknownNameError) as info:
        expand_suites(["suite:nope"])
    assert one_line_error(info) == (
        "unknown suite 'nope'; known: " + ", ".join(sorted(load_suites()))
    )
    with pytest.raises(UnknownNameError, match="did you mean 'beir-small'"):
        expand_suites(["suite:beir-smal"])


# ------------------------------------------------------------------------- local resolution


def test_an_existing_folder_is_returned_as_is(tmp_path, dirs):
    folder = write_beir_folder(tmp_path / "mine")
    assert resolve_dataset(str(folder)) == folder
    assert resolve_dataset("mine", base=tmp_path) == folder
    assert resolve_dataset("../mine", base=tmp_path / "data") == folder
    # a folder named like a catalog entry wins over the catalog
    scifact = write_beir_folder(tmp_path / "scifact")
    assert resolve_dataset("scifact", base=tmp_path) == scifact


def test_a_path_that_is_not_a_folder(tmp_path, dirs):
    with pytest.raises(DataFormatError) as info:
        resolve_dataset("./nope", base=tmp_path)
    assert (
        one_line_error(info)
        == f"{tmp_path / 'nope'}: not a folder (expected a BEIR dataset folder)"
    )


def test_unknown_name_lists_the_catalog_names(dirs):
    with pytest.raises(UnknownNameError) as info:
        resolve_dataset("scifcat")
    message = one_line_error(info)
    assert message.startswith("unknown dataset 'scifcat' (did you mean 'scifact'?); known: ")
    assert message.endswith(", ".join(sorted(load_dataset_catalog())))


def test_a_name_resolves_through_the_data_dir(dirs):
    data, cache = dirs
    folder = write_beir_folder(data / "scifact")
    write_beir_folder(cache / "datasets" / "scifact")  # the data dir comes first
    assert resolve_dataset("scifact") == folder
    dataset = BeirFolder(resolve_dataset("scifact", download=False))
    assert dataset.name == "scifact" and dataset.corpus.ids == ["d1", "d2"]


def test_a_name_resolves_through_the_cache(dirs, monkeypatch):
    _, cache = dirs
    monkeypatch.delenv("RANKARENA_DATA_DIR")
    assert dataset_cache_dir() == cache / "datasets"
    folder = write_beir_folder(cache / "datasets" / "nfcorpus")
    assert resolve_dataset("nfcorpus", download=False) == folder


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("RANKARENA_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert dataset_cache_dir() == tmp_path / ".cache" / "rankarena" / "datasets"


def test_private_dataset_says_where_to_put_it(dirs):
    data, cache = dirs
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("robust04")
    assert one_line_error(info) == (
        "dataset 'robust04' is not downloadable (no public url); put its BEIR folder at "
        f"{data / 'robust04'} or {cache / 'datasets' / 'robust04'}"
    )


def test_no_download_when_downloading_is_off(dirs, server):
    data, _ = dirs
    catalog = {"tiny": entry(server.url("/tiny.zip"))}
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("tiny", download=False, catalog=catalog)
    message = one_line_error(info)
    assert "downloading is off" in message and str(data / "tiny") in message
    assert server.gets == []


# ------------------------------------------------------------------------- downloads


@pytest.mark.parametrize("prefix", ["tiny/", "", "other-name/"])
def test_download_unzips_a_readable_folder(dirs, server, prefix):
    _, cache = dirs
    data = beir_zip(prefix)
    server.files["/tiny.zip"] = data
    catalog = {"tiny": entry(server.url("/tiny.zip"), data)}
    folder = resolve_dataset("tiny", catalog=catalog, show_progress=False)
    assert folder == cache / "datasets" / "tiny"
    assert sorted(p.name for p in (cache / "datasets").iterdir()) == ["tiny"]  # no leftovers
    dataset = BeirFolder(folder)
    assert dataset.corpus.ids == ["d1", "d2"]
    assert dataset.queries("test").ids == ["q1"]
    assert dataset.qrels("test").table.num_rows == 1
    # the second time it comes from the cache: no request
    assert resolve_dataset("tiny", catalog=catalog) == folder
    assert server.gets == ["/tiny.zip"]


def test_download_draws_a_progress_bar(dirs, server, capsys):
    data = beir_zip("tiny/")
    server.files["/tiny.zip"] = data
    resolve_dataset("tiny", catalog={"tiny": entry(server.url("/tiny.zip"))}, show_progress=True)
    captured = capsys.readouterr()
    assert "downloading tiny" in captured.err and captured.out == ""


def test_md5_mismatch_keeps_nothing(dirs, server):
    data, cache = dirs
    server.files["/tiny.zip"] = beir_zip("tiny/")
    catalog = {"tiny": entry(server.url("/tiny.zip"), b"other bytes")}
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("tiny", catalog=catalog, show_progress=False)
    message = one_line_error(info)
    assert f"has md5 {md5(server.files['/tiny.zip'])}, expected {md5(b'other bytes')}" in message
    assert str(data / "tiny") in message and str(cache / "datasets" / "tiny") in message
    assert_nothing_left(cache, "tiny")


def test_http_404_says_where_to_put_the_folder(dirs, server):
    data, cache = dirs
    url = server.url("/missing.zip")
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("tiny", catalog={"tiny": entry(url)}, show_progress=False)
    assert one_line_error(info) == (
        f"dataset 'tiny' could not be downloaded from {url} (HTTP 404 Not Found); "
        f"put its BEIR folder at {data / 'tiny'} or {cache / 'datasets' / 'tiny'}"
    )
    assert_nothing_left(cache, "tiny")


def test_connection_refused_says_where_to_put_the_folder(dirs, monkeypatch):
    _, cache = dirs
    monkeypatch.delenv("RANKARENA_DATA_DIR")
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tiny.zip"
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("tiny", catalog={"tiny": entry(url)}, show_progress=False)
    message = one_line_error(info)
    assert message.startswith(f"dataset 'tiny' could not be downloaded from {url} (")
    assert message.endswith(
        f"put its BEIR folder at $RANKARENA_DATA_DIR/tiny or {cache / 'datasets' / 'tiny'}"
    )
    assert "refused" in message.lower()
    assert_nothing_left(cache, "tiny")


def test_interrupted_download_keeps_nothing(dirs, server):
    _, cache = dirs
    data = beir_zip("tiny/")
    server.files["/tiny.zip"] = data
    server.short.add("/tiny.zip")
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("tiny", catalog={"tiny": entry(server.url("/tiny.zip"))})
    assert f"connection closed after {len(data)} of {2 * len(data)} bytes" in one_line_error(info)
    assert_nothing_left(cache, "tiny")


def test_not_a_zip_keeps_nothing(dirs, server):
    _, cache = dirs
    server.files["/tiny.zip"] = b"<html>a login page, not a zip</html>"
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("tiny", catalog={"tiny": entry(server.url("/tiny.zip"))})
    assert "is not a readable zip" in one_line_error(info)
    assert_nothing_left(cache, "tiny")


def test_interrupted_extraction_keeps_nothing(dirs, server):
    """A member that fails its CRC check half-way through extraction: the members already
    extracted are in the temporary folder only, and that is removed."""
    _, cache = dirs
    data = bytearray(beir_zip("tiny/", zipfile.ZIP_STORED))
    last = beir_files()["qrels/test.tsv"]
    at = bytes(data).rindex(last)  # the stored bytes of the last member
    data[at] ^= 0xFF
    server.files["/tiny.zip"] = bytes(data)
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("tiny", catalog={"tiny": entry(server.url("/tiny.zip"))})
    assert "is not a readable zip (Bad CRC-32" in one_line_error(info)
    assert_nothing_left(cache, "tiny")


def test_zip_without_a_beir_folder_keeps_nothing(dirs, server):
    _, cache = dirs
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tiny/readme.txt", "no corpus here")
    server.files["/tiny.zip"] = buffer.getvalue()
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("tiny", catalog={"tiny": entry(server.url("/tiny.zip"))})
    assert "holds no BEIR folder (corpus.jsonl)" in one_line_error(info)
    assert_nothing_left(cache, "tiny")


# ------------------------------------------------------------------------- integration

CONFIG = """
[run]
datasets = {datasets}
metrics = ["ndcg@10"]

[systems.bm25]
retriever = "bm25"
"""


def write_config(tmp_path: Path, datasets: list[str]) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(CONFIG.format(datasets=json.dumps(datasets)))
    return path


def test_run_config_resolves_a_name_through_the_data_dir(tmp_path, monkeypatch, scifact_dir):
    monkeypatch.setenv("RANKARENA_DATA_DIR", str(scifact_dir.parent))
    monkeypatch.setenv("RANKARENA_CACHE_DIR", str(tmp_path / "cache"))
    config = load_config(write_config(tmp_path, ["scifact"]))
    assert config.datasets == [str(scifact_dir.absolute())]
    assert BeirFolder(config.datasets[0]).qrels("test").table.num_rows == 339
    if (scifact_dir.parent / "climate-fever-sentences").is_dir():
        config = load_config(write_config(tmp_path, ["suite:local"]))
        assert [Path(d).name for d in config.datasets] == ["scifact", "climate-fever-sentences"]


def test_run_config_paths_keep_their_keys(tmp_path, dirs):
    write_beir_folder(tmp_path / "sets" / "mine")
    (tmp_path / "conf").mkdir()
    absolute = str(tmp_path / "sets" / "mine")
    config = load_config(write_config(tmp_path / "conf", ["../sets/mine", absolute]))
    assert config.datasets == [str((tmp_path / "conf" / "../sets/mine").resolve()), absolute]


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ("scifcat", "[run] datasets: unknown dataset 'scifcat' (did you mean 'scifact'?)"),
        ("suite:nope", "[run] datasets: unknown suite 'nope'; known: "),
        ("bioasq", "[run] datasets: dataset 'bioasq' is not downloadable"),
        ("../nope", "[run] datasets: "),
    ],
)
def test_run_config_dataset_errors_name_the_file(tmp_path, dirs, dataset, message):
    path = write_config(tmp_path, [dataset])
    with pytest.raises(DataFormatError) as info:
        load_config(path)
    assert one_line_error(info).startswith(f"{path}: {message}")


def test_beir_dataset_source_takes_a_name(dirs):
    data, _ = dirs
    write_beir_folder(data / "scifact")
    dataset = rankarena.plugin_manager().datasets.create("beir", path="scifact")
    assert dataset.path == data / "scifact" and dataset.corpus.ids == ["d1", "d2"]


def test_unwritable_cache_is_one_line(dirs, server, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RANKARENA_CACHE_DIR", str(blocker))
    with pytest.raises(RankarenaError) as info:
        resolve_dataset("tiny", catalog={"tiny": entry(server.url("/tiny.zip"))})
    assert f"cannot write to the cache {blocker / 'datasets'}" in one_line_error(info)
    assert server.gets == []
