"""Short-lived trees go where writing thousands of small files is cheap (runtime/scratch.py)."""

from __future__ import annotations

import os

from shipyard.runtime import scratch


def test_shipyard_scratch_names_the_folder_for_trees(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIPYARD_SCRATCH", str(tmp_path))
    scratch._fast_root.cache_clear()
    try:
        made = scratch.scratch_dir("shipyard-checks-")
        assert made.parent == tmp_path and made.name.startswith("shipyard-checks-")
        assert oct(made.stat().st_mode & 0o777) == "0o700"      # private, as mkdtemp makes it
    finally:
        scratch._fast_root.cache_clear()


def test_without_a_setting_memory_is_used_only_when_it_has_room(monkeypatch):
    monkeypatch.delenv("SHIPYARD_SCRATCH", raising=False)
    scratch._fast_root.cache_clear()
    try:
        root = scratch._fast_root()
        if root is not None:
            st = os.statvfs(root)
            assert root == "/dev/shm" and st.f_bavail * st.f_frsize >= scratch._MIN_FREE
    finally:
        scratch._fast_root.cache_clear()
