"""The handler's sys.path as on AWS's Python runtime: the task root, then the layers' Python paths."""

from __future__ import annotations

import sys

from runtime import loader


def test_task_root_then_layer_paths_that_exist(tmp_path, monkeypatch):
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = tmp_path / "opt" / "python" / "lib" / version / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", ["/already"])
    loader._set_path(str(tmp_path / "task"), str(tmp_path / "opt"))
    assert sys.path == [str(tmp_path / "task"), str(site), str(tmp_path / "opt" / "python"), "/already"]


def test_missing_layer_directories_are_not_added(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", ["/already"])
    loader._set_path(str(tmp_path / "task"), str(tmp_path / "no-layers"))
    assert sys.path == [str(tmp_path / "task"), "/already"]
