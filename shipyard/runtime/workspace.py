"""Git: the target repository, a worktree per run, safe file writes, idempotent commits, merge.

Each run works in its own worktree on branch `shipyard/<run-id>`, kept outside
the user's working copy (under the shipyard state directory) so that the
user's own tools never see it. Commits carry a `Shipyard-Step:` trailer: a node
re-run after a crash finds its commit instead of making a second one.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import RepoError, RunError

__all__ = ["BOT_EMAIL", "BOT_NAME", "Git", "RunWorkspace", "WriteResult", "normalize_path",
           "state_dir"]

BOT_NAME = "shipyard[bot]"
BOT_EMAIL = "shipyard@localhost"
_BOT = ["-c", f"user.name={BOT_NAME}", "-c", f"user.email={BOT_EMAIL}",
        "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]


# Variables that would point git at another repository or identity (set inside hooks,
# or by a user's shell): shipyard's git calls must not inherit them.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                      "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_NAMESPACE", "GIT_AUTHOR_NAME",
                      "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def state_dir() -> Path:
    """Per-user state (worktrees, caches): $SHIPYARD_HOME or ~/.local/state/shipyard."""
    base = os.environ.get("SHIPYARD_HOME") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "shipyard")
    return Path(base)


@dataclass(frozen=True)
class Git:
    """A git checkout; every call is `git -C <path> ...` in a subprocess."""

    path: Path

    def run(self, *args: str, check: bool = True, input: str | None = None) -> str:
        proc = subprocess.run(["git", "-C", str(self.path), *_BOT, *args], capture_output=True,
                              text=True, env=_git_env(), input=input, errors="replace",
                              check=False)
        if check and proc.returncode != 0:
            raise RunError(f"git {' '.join(args)} failed in {self.path}: "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def ok(self, *args: str) -> bool:
        return subprocess.run(["git", "-C", str(self.path), *args], capture_output=True,
                              env=_git_env(), check=False).returncode == 0

    # -- the user's repository --------------------------------------------------------------
    @classmethod
    def open_repo(cls, path: Path | str) -> Git:
        """The top level of the repository at `path`, or RepoError naming the fix."""
        p = Path(path).expanduser()
        if not p.exists():
            raise RepoError(f"{p} does not exist; pass --repo with the path of a git repository.")
        if not p.is_dir():
            raise RepoError(f"{p} is not a directory; pass --repo with a git repository folder.")
        probe = subprocess.run(["git", "-C", str(p), "rev-parse", "--show-toplevel"],
                               capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            raise RepoError(f"{p.resolve()} is not a git repository; run `git init` there and "
                            f"commit your code first, or pass --repo with a repository path.")
        git = cls(Path(probe.stdout.strip()).resolve())
        if not git.ok("rev-parse", "--verify", "HEAD"):
            raise RepoError(f"{git.path} has no commits yet; commit your code first "
                            f"(git add -A && git commit -m initial).")
        git.exclude(".shipyard/")
        return git

    def exclude(self, pattern: str) -> None:
        """Keep shipyard's own files out of `git status` without touching tracked files."""
        info = Path(self.run("rev-parse", "--git-common-dir").strip())
        if not info.is_absolute():
            info = self.path / info
        exclude = info / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        text = exclude.read_text() if exclude.exists() else ""
        if pattern not in text.splitlines():
            exclude.write_text(text + ("" if text.endswith("\n") or not text else "\n")
                               + pattern + "\n")

    def current_branch(self) -> str:
        name = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
        if not name:
            raise RepoError(f"{self.path} is on a detached HEAD; check out the branch the "
                            f"change should merge into (git switch main).")
        return name

    def dirty_files(self) -> list[str]:
        out = self.run("status", "--porcelain", "--untracked-files=all")
        return [line[3:] for line in out.splitlines() if line.strip()]

    def ensure_clean(self) -> None:
        dirty = self.dirty_files()
        if dirty:
            shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
            raise RepoError(f"{self.path} has uncommitted changes ({shown}); commit or stash "
                            f"them first so the run starts from a known base.")

    def sha(self, ref: str = "HEAD") -> str:
        out = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if not out.strip():
            raise RepoError(f"{ref!r} is not a commit in {self.path}; pass an existing ref.")
        return out.strip()

    def user_email(self) -> str | None:
        """The human's identity — read without the bot `-c user.email` that `run` adds."""
        proc = subprocess.run(["git", "-C", str(self.path), "config", "user.email"],
                              capture_output=True, text=True, env=_git_env(), check=False)
        return proc.stdout.strip() or None

    def tracked_files(self, ref: str = "HEAD") -> list[str]:
        return self.run("ls-tree", "-r", "--name-only", ref).splitlines()

    def diff(self, base: str, head: str = "HEAD") -> str:
        """The real diff: no attribute of the head (`-diff`, textconv) can hide a file."""
        from .gittree import PLAIN_DIFF, PLAIN_GIT, fold_binary

        return fold_binary(self.run(*PLAIN_GIT, "diff", *PLAIN_DIFF, f"{base}..{head}"))

    def changed_files(self, base: str, head: str = "HEAD") -> list[str]:
        return self.run("diff", "--name-only", "--no-renames", f"{base}..{head}").splitlines()

    def branch_exists(self, branch: str) -> bool:
        return self.ok("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")

    def find_step_commit(self, base: str, step: str) -> str | None:
        """The commit base..HEAD whose `Shipyard-Step` trailer equals `step`, if any."""
        out = self.run("log", "--format=%H%x00%(trailers:key=Shipyard-Step,valueonly)%x01",
                       f"{base}..HEAD")
        for record in out.split("\x01"):
            if "\x00" in record:
                sha, value = record.strip().split("\x00", 1)
                if value.strip() == step:
                    return sha
        return None


# Policy is changed by humans, not by the change under review: an agent that edits
# shipyard.toml or CI could switch off the very gates that review it.
_PROTECTED = {"shipyard.toml": "shipyard.toml is policy; only a human changes it",
              ".shipyard": ".shipyard/ is shipyard's own state",
              ".github/workflows": "CI workflows are not changed by agents"}


def normalize_path(rel: str) -> str:
    """`rel` as git would store it, case-folded: `./a//b/`, `a/./b`, `A\\b` all become `a/b`.

    Case-folded because macOS and Windows filesystems are case-insensitive: there,
    `Shipyard.TOML` *is* shipyard.toml."""
    return posixpath.normpath(rel.replace("\\", "/")).strip("/").casefold()


def _protected(rel: str) -> str | None:
    norm = normalize_path(rel)
    for prefix, why in _PROTECTED.items():
        if norm == prefix or norm.startswith(prefix + "/"):
            return why
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteResult:
    written: tuple[str, ...]
    deleted: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]  # (path, why)


@dataclass(frozen=True)
class RunWorkspace:
    """The worktree of one run."""

    repo: Git
    run_id: str
    base_sha: str
    root: Path | None = None  # where the run's worktree lives; default under state_dir()

    @property
    def branch(self) -> str:
        return f"shipyard/{self.run_id}"

    @property
    def path(self) -> Path:
        if self.root is not None:
            return self.root
        digest = hashlib.sha256(str(self.repo.path).encode()).hexdigest()[:8]
        return state_dir() / "worktrees" / f"{self.repo.path.name}-{digest}" / self.run_id

    @property
    def git(self) -> Git:
        return Git(self.path)

    def exists(self) -> bool:
        return (self.path / ".git").exists()

    def ensure(self) -> Path:
        """Create (or re-attach) the worktree; idempotent, never resets the branch."""
        if self.exists():
            return self.path
        self.repo.run("worktree", "prune")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.repo.branch_exists(self.branch):
            self.repo.run("worktree", "add", "--force", str(self.path), self.branch)
        else:
            self.repo.run("worktree", "add", "-b", self.branch, str(self.path), self.base_sha)
        return self.path

    def remove(self, *, delete_branch: bool = False) -> None:
        if self.exists():
            self.repo.run("worktree", "remove", "--force", str(self.path), check=False)
        self.repo.run("worktree", "prune", check=False)
        if delete_branch and self.repo.branch_exists(self.branch):
            self.repo.run("branch", "-D", self.branch, check=False)

    def head(self) -> str:
        return self.git.sha("HEAD")

    # -- safe writes ------------------------------------------------------------------------
    def resolve_inside(self, rel: str) -> Path:
        """The absolute path of `rel` inside the worktree, or PathEscape-style ValueError."""
        if not rel or rel.strip() != rel or "\x00" in rel:
            raise ValueError("empty or malformed path")
        if os.path.isabs(rel) or rel.startswith("~"):
            raise ValueError("absolute paths are not allowed")
        parts = Path(rel).parts
        if ".." in parts:
            raise ValueError("'..' leaves the worktree")
        if any(p.casefold() == ".git" for p in parts):
            raise ValueError("writing into a .git directory or file is not allowed")
        protected = _protected(rel)
        if protected:
            raise ValueError(protected)
        root = Path(os.path.realpath(self.path))
        target = Path(os.path.realpath(root / rel))  # follows symlinks, also in parents
        if target != root and root not in target.parents:
            raise ValueError(f"resolves outside the worktree (to {target})")
        if target != root and (why := _protected(str(target.relative_to(root)))):
            raise ValueError(f"{why} (reached through a symlink)")
        return root / rel

    def apply(self, files: Iterable[tuple[str, str]], delete: Iterable[str] = ()) -> WriteResult:
        """Write whole files and delete files inside the worktree; anything unsafe is refused
        (and reported), never raised: a model's bad path is a finding, not a crash."""
        written, deleted, refused = [], [], []
        submodules = self._submodule_paths()
        for rel, content in files:
            try:
                path = self._writable(rel, submodules)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content if content.endswith("\n") or not content
                                else content + "\n", encoding="utf-8")
            except (ValueError, OSError) as exc:
                refused.append((rel, str(exc)))
                continue
            written.append(rel)
        for rel in delete:
            try:
                path = self._writable(rel, submodules)
                if path.is_file() or path.is_symlink():
                    path.unlink()
                    deleted.append(rel)
            except (ValueError, OSError) as exc:
                refused.append((rel, str(exc)))
        ignored = self._ignored(written)
        for rel in ignored:  # git would silently leave them out of the commit
            (self.path / rel).unlink(missing_ok=True)
            refused.append((rel, "is ignored by .gitignore, so it would never reach the commit"))
        written = [w for w in written if w not in ignored]
        return WriteResult(written=tuple(written), deleted=tuple(deleted), refused=tuple(refused))

    def refusal(self, rel: str) -> str | None:
        """Why a write to `rel` would be refused (None: it would not), without writing."""
        try:
            path = self._writable(rel, self._submodule_paths())
        except (ValueError, OSError) as exc:
            return str(exc)
        if any(p.exists() and not p.is_dir() for p in path.parents):
            return "a parent of it is a file"
        if self._ignored([rel]):
            return "is ignored by .gitignore, so it would never reach the commit"
        return None

    def _writable(self, rel: str, submodules: list[str]) -> Path:
        path = self.resolve_inside(rel)
        norm = posixpath.normpath(rel)
        if any(norm == s or norm.startswith(s + "/") for s in submodules):
            raise ValueError("is inside a git submodule; change the submodule's own repository")
        if path.is_symlink():
            raise ValueError("is a symlink; not writing through it")
        if path.is_dir():
            raise ValueError("is a directory")
        return path

    def _submodule_paths(self) -> list[str]:
        out = self.git.run("ls-files", "--stage", check=False)
        return [line.split("\t", 1)[1] for line in out.splitlines()
                if line.startswith("160000 ") and "\t" in line]

    def _ignored(self, paths: list[str]) -> list[str]:
        if not paths:
            return []
        out = self.git.run("check-ignore", "--no-index", "--stdin", check=False,
                           input="\n".join(paths) + "\n")
        return [p for p in out.splitlines() if p in paths]

    def write_doc(self, rel: str, text: str) -> Path:
        """Write a shipyard artifact (trusted path) into the worktree."""
        path = self.resolve_inside(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def commit_step(self, step: str, message: str, *, trailers: dict[str, str] | None = None) -> str:
        """Commit everything under a `Shipyard-Step` trailer; returns the existing commit if
        this step was already committed (a node re-run after a crash)."""
        existing = self.git.find_step_commit(self.base_sha, step)
        if existing:
            return existing
        self.git.run("add", "-A")
        lines = [message.strip(), "", f"Shipyard-Run: {self.run_id}", f"Shipyard-Step: {step}"]
        lines += [f"{k}: {v}" for k, v in (trailers or {}).items()]
        self.git.run("commit", "--allow-empty", "--no-verify", "-q", "-F", "-",
                     input="\n".join(lines) + "\n")
        return self.head()

    def merge_into(self, base_branch: str, message: str,
                   finalize: Callable[[Path], None] | None = None, *,
                   expected_head: str | None = None) -> str:
        """Merge the run branch into `base_branch` with a merge commit; returns its sha.

        The merge commit is made in the worktree (detached), then the base branch is
        moved to it: fast-forward in the user's checkout when that branch is checked out
        and clean, otherwise by compare-and-swap `update-ref`. With `expected_head`, a
        run branch at any other commit is refused before anything is merged.
        """
        tip = self.repo.sha(f"refs/heads/{base_branch}")
        g = self.git
        branch_head = self.head()
        if expected_head is not None and branch_head != expected_head:
            raise RunError(f"{self.branch} is at {branch_head[:12]}, not the {expected_head[:12]} "
                           f"G7 checked against the G6 approval; nothing was merged.")
        g.run("checkout", "-q", "--detach", tip)
        try:
            g.run("merge", "--no-ff", "--no-edit", "-q", "-m", message, branch_head)
        except RunError as exc:
            g.run("merge", "--abort", check=False)
            g.run("checkout", "-q", self.branch, check=False)
            raise RunError(f"merging {self.branch} into {base_branch} conflicts: {exc}. "
                           f"Resolve by hand or start a new run from the new base.") from exc
        if finalize is not None:
            # Edits that must be made against the base as it is *now* (CHANGELOG, ADR
            # numbers), so two runs merged one after the other do not conflict.
            finalize(self.path)
            g.run("add", "-A")
            g.run("commit", "--amend", "--no-edit", "--no-verify", "-q")
        merge_sha = g.sha("HEAD")
        g.run("checkout", "-q", self.branch)
        checked_out = self.repo.run("symbolic-ref", "--quiet", "--short", "HEAD",
                                    check=False).strip()
        if checked_out == base_branch:
            if self.repo.dirty_files():
                raise RunError(f"{self.repo.path} has uncommitted changes on {base_branch}; "
                               f"commit or stash them, then `shipyard resume {self.run_id}`.")
            self.repo.run("merge", "--ff-only", "-q", merge_sha)
        else:
            self.repo.run("update-ref", f"refs/heads/{base_branch}", merge_sha, tip)
        return merge_sha
