"""Reading and writing tables, and what a library call may not do to its process: files
get the permissions the caller's umask gives, torch keeps the caller's thread count."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest
import torch

import lookalike
from lookalike.errors import InputError
from lookalike.io import read_table, write_table

SRC = Path(lookalike.__file__).parent


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test (tests own their process; the library may not)."""
    before = os.umask(0o022)
    os.umask(before)

    def set_to(value: int) -> None:
        os.umask(value)

    yield set_to
    os.umask(before)


def test_train_sample_save_leave_umask_and_threads_as_the_caller_set_them(mixed_frame, tmp_path, umask):
    umask(0o027)  # not the usual 022: the files below must follow the caller's setting
    threads = torch.get_num_threads()
    torch.set_num_threads(3)  # neither the default here nor the 1 a small batch once forced
    try:
        during = []
        g = lookalike.train(mixed_frame, max_epochs=1, seed=0, progress=False,
                            on_progress=lambda p: during.append(torch.get_num_threads()))
        csv = g.sample(50, seed=0, out=tmp_path / "s.csv")
        model = g.save(tmp_path / "m.lookalike")
        assert during and set(during) == {3}  # training ran with the caller's threads
        assert torch.get_num_threads() == 3
        assert os.umask(0o027) == 0o027  # (reading the umask means setting it: same value back)
    finally:
        torch.set_num_threads(threads)
    written = [csv, model, *tmp_path.glob("*.json"), *tmp_path.glob("*.parquet")]
    assert len(written) >= 4  # the CSV, its .meta.json, the model and its QA tables
    assert {p.name: _mode(p) for p in written} == {p.name: 0o640 for p in written}
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_written_files_are_readable_by_others_under_the_usual_umask(tmp_path, umask):
    umask(0o022)
    out = write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.parquet")
    assert _mode(out) == 0o644


def test_a_folder_of_tables_gets_the_usual_folder_permissions(tmp_path, umask):
    from lookalike.io import atomic_dir

    umask(0o022)
    with atomic_dir(tmp_path / "tables") as staging:
        write_table(pd.DataFrame({"a": [1]}), staging / "a.csv")
    assert _mode(tmp_path / "tables") == 0o755 and _mode(tmp_path / "tables" / "a.csv") == 0o644


@pytest.mark.parametrize("folder", ["a-file", "/proc"])
def test_an_output_that_cannot_be_written_is_an_error_naming_it(tmp_path, folder):
    if folder == "a-file":
        (tmp_path / "a-file").write_text("not a folder")
        folder = tmp_path / "a-file"
    elif not Path(folder).is_dir():
        pytest.skip("no /proc here")
    target = Path(folder) / "out.csv"
    with pytest.raises(InputError, match="out.csv"):
        write_table(pd.DataFrame({"a": [1]}), target)
    assert not target.exists()


def test_nested_columns_are_refused_naming_them(tmp_path):
    df = pd.DataFrame({"tags": [["a", "b"], ["c"]], "attrs": [{"k": 1}, {"k": 2}], "n": [1, 2]})
    df.to_parquet(tmp_path / "nested.parquet")
    with pytest.raises(InputError, match="'tags', 'attrs'.*nested"):
        read_table(tmp_path / "nested.parquet")


def test_the_library_sets_no_process_wide_state():
    """The umask, torch's thread count and ``sys.modules`` belong to the process: no library
    call changes them (only processes that are ours set their own threads: a server job
    at its start, a generation worker of a process pool or Ray when it loads its model).
    And no test-only host is let past the server's host check."""
    found = []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        rel = path.relative_to(SRC).as_posix()
        for needle in ("os.umask(", 'sys.modules["__main__"]', "testserver", "set_num_threads("):
            if needle in text and not (needle == "set_num_threads(" and rel in ("server/tasks.py", "distributed.py")):
                found.append(f"{rel}: {needle}")
    assert not found
