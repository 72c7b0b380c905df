"""System tags for new runs: who, from where, at which git commit (reference §9)."""

from __future__ import annotations

import getpass
import json
import os
import sys

USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
PARENT_RUN_ID = "mlflow.parentRunId"
RUN_NAME = "mlflow.runName"
NOTE = "mlflow.note.content"

_git_cache: dict[str, str | None] = {}


def current_user() -> str:
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def source_name() -> str:
    return sys.argv[0] if sys.argv and sys.argv[0] else "<console>"


def _read_ref(git_dir: str, ref: str) -> str | None:
    path = os.path.join(git_dir, *ref.split("/"))
    if os.path.isfile(path):
        with open(path) as fh:
            return fh.read().strip()
    packed = os.path.join(git_dir, "packed-refs")
    if os.path.isfile(packed):
        with open(packed) as fh:
            for line in fh:
                parts = line.strip().split(" ")
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0]
    return None


def git_commit(path: str) -> str | None:
    """The HEAD commit of the git work tree holding ``path`` (read from .git, no subprocess)."""
    directory = os.path.dirname(os.path.abspath(path)) if not os.path.isdir(path) else os.path.abspath(path)
    if directory in _git_cache:
        return _git_cache[directory]
    commit = None
    probe = directory
    for _ in range(64):
        dot_git = os.path.join(probe, ".git")
        if os.path.isfile(dot_git):  # worktree or submodule: "gitdir: <path>"
            with open(dot_git) as fh:
                content = fh.read().strip()
            if content.startswith("gitdir:"):
                dot_git = os.path.join(probe, content.split(":", 1)[1].strip())
        if os.path.isdir(dot_git):
            head_file = os.path.join(dot_git, "HEAD")
            if os.path.isfile(head_file):
                with open(head_file) as fh:
                    head = fh.read().strip()
                if head.startswith("ref:"):
                    common = dot_git
                    common_file = os.path.join(dot_git, "commondir")
                    if os.path.isfile(common_file):
                        with open(common_file) as fh:
                            common = os.path.join(dot_git, fh.read().strip())
                    commit = _read_ref(dot_git, head[4:].strip()) or _read_ref(common, head[4:].strip())
                else:
                    commit = head or None
            break
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    _git_cache[directory] = commit
    return commit


def default_run_tags() -> dict[str, str]:
    """Tags every fluent run starts with; ``MLFLOW_RUN_CONTEXT`` (a JSON object) adds more."""
    tags = {USER: current_user(), SOURCE_NAME: source_name(), SOURCE_TYPE: "LOCAL"}
    script = sys.argv[0] if sys.argv else ""
    if script and os.path.isfile(script):
        commit = git_commit(script)
        if commit:
            tags[GIT_COMMIT] = commit
    extra = os.environ.get("MLFLOW_RUN_CONTEXT")
    if extra:
        try:
            tags.update({str(k): str(v) for k, v in json.loads(extra).items()})
        except (ValueError, AttributeError):
            pass
    return tags
