"""Getting a project onto this machine: local directories, git repositories (local or remote, at a
``version``), ``#subdirectory`` and ``.zip`` archives; and what git says about it for the run's tags.

- A local directory runs in place. When it lies in a git work tree, the run records the commit of
  ``HEAD``, and a *dirty* tree (changes to tracked files not committed) is noted: the recorded commit
  is then not exactly the code that ran.
- A local git repository with ``version`` (a branch, tag or commit) is cloned (sharing its objects)
  into a temporary directory and checked out there; the user's working tree is never touched.
- A remote repository (``https://``, ``ssh://``, ``git://``, ``user@host:path``), or a local bare
  repository, is kept as a bare clone in the project cache (``FLUVIAL_PROJECT_CACHE``, default
  ``~/.fluvial/projects``): the first run clones it, later runs fetch what changed (a commit already
  in the cache needs no fetch at all), and each run checks its version out into a temporary directory
  that is removed when the run ends.

git runs as the ``git`` command, never prompting for credentials (configure a credential helper or
SSH keys for private repositories).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from fluvial.exceptions import ExecutionException

CACHE_VARIABLE = "FLUVIAL_PROJECT_CACHE"
LOCAL_TIMEOUT = 300.0  # seconds for a git command that works on local files
NETWORK_TIMEOUT = 3600.0  # seconds for a clone or fetch
_REMOTE_SCHEMES = ("http", "https", "ssh", "git", "git+ssh", "ssh+git")
_SCP_LIKE = re.compile(r"^[\w.+-]+@[\w.-]+:(?!//)")
_HEX = re.compile(r"[0-9a-fA-F]{7,40}")

_logger = logging.getLogger(__name__)


@dataclass
class FetchedProject:
    """A project ready to run: its local directory and where it came from."""

    directory: str
    source_name: str  # the value of mlflow.source.name
    commit: str | None = None
    branch: str | None = None  # set when ``version`` named a branch
    repo_url: str | None = None
    dirty: bool = False  # the work tree that runs in place has uncommitted changes to tracked files
    work_tree: str | None = None
    temporary: str | None = None  # a checkout or extraction to delete when the run ends

    def cleanup(self) -> None:
        if self.temporary:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None


def split_uri(uri: str) -> tuple[str, str]:
    """``(uri, subdirectory)`` for ``uri#subdirectory``; the subdirectory is relative and stays
    inside the project (no ``..``)."""
    uri = str(uri).strip().strip("'\"")
    base, sep, subdirectory = uri.partition("#")
    subdirectory = subdirectory.strip("/") if sep else ""
    if subdirectory and (subdirectory.startswith("/") or ".." in Path(subdirectory).parts):
        raise ExecutionException(f"The project subdirectory {subdirectory!r} must be a relative path inside the "
                                 "project (no '..').")
    return base, subdirectory


def cache_root() -> Path:
    configured = os.environ.get(CACHE_VARIABLE)
    return Path(configured).expanduser().resolve() if configured else Path.home() / ".fluvial" / "projects"


# ---- git ------------------------------------------------------------------------------------------


def _git_env() -> dict[str, str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE"):
        env.pop(name, None)
    return env


def git(args: Sequence[str], cwd: str | os.PathLike[str] | None = None, *, timeout: float = LOCAL_TIMEOUT,
        check: bool = True, what: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``git args`` and return the finished process; with ``check``, a failure raises
    ExecutionException with git's last error line."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              env=_git_env(), timeout=timeout)
    except FileNotFoundError:
        raise ExecutionException("Running a project from a git repository needs the git command, which is not "
                                 "installed.") from None
    except subprocess.TimeoutExpired:
        raise ExecutionException(f"{what or 'git ' + ' '.join(args)} did not finish within {timeout:.0f} s.") from None
    if check and proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise ExecutionException(f"{what or 'git ' + ' '.join(args)} failed: {detail}")
    return proc


def _out(args: Sequence[str], cwd: str | os.PathLike[str]) -> str | None:
    """git's stripped output, or None when git fails or is not installed."""
    try:
        proc = git(args, cwd, check=False)
    except ExecutionException:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def work_tree_root(path: str) -> str | None:
    """The top directory of the git work tree holding ``path``, or None."""
    if shutil.which("git") is None:
        return None
    top = _out(["rev-parse", "--show-toplevel"], path)
    return os.path.realpath(top) if top else None


def is_bare_repository(path: str) -> bool:
    if not (os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(os.path.join(path, "objects"))):
        return False
    return _out(["rev-parse", "--is-bare-repository"], path) == "true"


def head_commit(path: str) -> str | None:
    return _out(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], path) or None


def is_dirty(path: str) -> bool:
    """Whether tracked files of the work tree have uncommitted changes (untracked files don't count:
    runs often write outputs into the project directory)."""
    status = _out(["status", "--porcelain", "--untracked-files=no"], path)
    return bool(status)


def origin_url(path: str) -> str | None:
    return _out(["config", "--get", "remote.origin.url"], path) or None


def resolve_version(repo: str | os.PathLike[str], version: str | None) -> str | None:
    """The commit ``version`` (branch, tag, commit; None: HEAD) names in ``repo``, or None."""
    ref = version or "HEAD"
    if ref.startswith("-"):
        return None
    return _out(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], repo) or None


def is_branch(repo: str | os.PathLike[str], version: str | None) -> bool:
    if not version or version.startswith("-"):
        return False
    return _out(["rev-parse", "--verify", "--quiet", f"refs/heads/{version}"], repo) is not None


def checkout(source: str | os.PathLike[str], commit: str, url_for_submodules: str | None = None) -> str:
    """A new temporary directory with ``commit`` of the repository ``source`` checked out (objects are
    shared with ``source``, not copied)."""
    target = tempfile.mkdtemp(prefix="fluvial-project-")
    try:
        git(["clone", "--quiet", "--shared", "--no-checkout", str(source), target], what="cloning the project")
        git(["checkout", "--quiet", "--detach", commit], target, what=f"checking out {commit}")
        if os.path.isfile(os.path.join(target, ".gitmodules")):
            if url_for_submodules:
                git(["remote", "set-url", "origin", url_for_submodules], target)
            git(["submodule", "update", "--init", "--recursive"], target, timeout=NETWORK_TIMEOUT,
                what="fetching the project's submodules")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def cached_clone(url: str, version: str | None) -> tuple[Path, str]:
    """(bare clone of ``url`` in the project cache, commit of ``version``), cloning or fetching as
    needed."""
    mirror = cache_root() / "git" / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".git")
    with _locked(mirror):
        if not (mirror / "HEAD").is_file():
            shutil.rmtree(mirror, ignore_errors=True)
            partial = mirror.with_name(mirror.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            _logger.info("Cloning %s into the project cache %s", url, mirror)
            try:
                git(["clone", "--bare", "--quiet", "--", url, str(partial)], timeout=NETWORK_TIMEOUT,
                    what=f"cloning {url}")
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            os.replace(partial, mirror)
        elif not (version and _HEX.fullmatch(version) and resolve_version(mirror, version)):
            fetched = git(["fetch", "--quiet", "--prune", "--tags", "origin", "+refs/heads/*:refs/heads/*"], mirror,
                          timeout=NETWORK_TIMEOUT, check=False)
            if fetched.returncode != 0:
                detail = (fetched.stderr.strip().splitlines() or ["?"])[-1]
                if resolve_version(mirror, version) is None:
                    raise ExecutionException(f"Could not update the cached clone of {url}: {detail}")
                _logger.warning("Could not update the cached clone of %s (%s); using the cached copy", url, detail)
        else:
            _logger.info("Using the cached clone of %s (commit %s is already there)", url, version)
        commit = resolve_version(mirror, version)
        if commit is None and version and not version.startswith("-"):
            # not a branch or tag: a commit the server may still hand out by id, or another ref
            fetched = git(["fetch", "--quiet", "origin", "--end-of-options", version], mirror,
                          timeout=NETWORK_TIMEOUT, check=False)
            if fetched.returncode == 0:
                commit = resolve_version(mirror, "FETCH_HEAD")
                if commit:
                    git(["update-ref", f"refs/fluvial/{commit}", commit], mirror)
        if commit is None:
            raise ExecutionException(f"Unable to checkout version '{version}' of git repo {url}: it is not a branch, "
                                     "tag or commit of that repository." if version else
                                     f"The git repository {url} has no commits.")
    return mirror, commit


# ---- fetching a project ---------------------------------------------------------------------------


def _local_path(uri: str) -> str | None:
    """The local path a project URI names (a plain path, ``file:///abs`` or ``file://localhost/abs``),
    or None."""
    if _SCP_LIKE.match(uri):
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path) if parsed.netloc in ("", "localhost") else None
    return uri if parsed.scheme == "" else None


def is_remote_git_uri(uri: str) -> bool:
    return urlparse(uri).scheme.lower() in _REMOTE_SCHEMES or bool(_SCP_LIKE.match(uri))


def _subdir(root: str, subdirectory: str, uri: str) -> str:
    path = os.path.join(root, subdirectory) if subdirectory else root
    if not os.path.isdir(path):
        raise ExecutionException(f"Could not find subdirectory {subdirectory} of {uri}")
    return path


def _source_name(top: str, directory: str) -> str:
    relative = os.path.relpath(directory, top)
    return f"file://{top}" + ("" if relative == "." else "#" + relative.replace(os.sep, "/"))


def fetch_project(uri: str, version: str | None = None) -> FetchedProject:
    """Bring the project ``uri`` (at ``version``) onto this machine."""
    base, subdirectory = split_uri(uri)
    if not base:
        raise ExecutionException("The project URI is empty.")
    local = _local_path(base)
    if base.lower().endswith(".zip"):
        return _fetch_zip(uri, base, local, subdirectory, version)
    if local is not None and os.path.exists(local):
        local = os.path.realpath(local)
        if not os.path.isdir(local):
            raise ExecutionException(f"The project URI {uri} names a file, not a directory or a .zip archive.")
        if is_bare_repository(local):
            return _fetch_remote(uri, local, subdirectory, version)
        return _fetch_local(uri, local, subdirectory, version)
    if is_remote_git_uri(base):
        return _fetch_remote(uri, base, subdirectory, version)
    if local is not None:
        raise ExecutionException(f"No project at {uri}: {local} does not exist (a project is a local directory, a "
                                 "git repository URI or a .zip archive).")
    raise ExecutionException(f"Unsupported project URI {uri}: use a local directory, a git repository URI "
                             f"(schemes {', '.join(_REMOTE_SCHEMES)} or user@host:path) or a .zip archive.")


def _fetch_local(uri: str, path: str, subdirectory: str, version: str | None) -> FetchedProject:
    directory = _subdir(path, subdirectory, uri)
    top = work_tree_root(path)
    if version is None:
        if top is None:
            return FetchedProject(directory, path + (f"#{subdirectory}" if subdirectory else ""))
        return FetchedProject(directory, _source_name(top, directory), commit=head_commit(top),
                              repo_url=origin_url(top), dirty=is_dirty(top), work_tree=top)
    if top is None:
        raise ExecutionException("Setting a version is only supported for Git project URIs: "
                                 f"{path} is not in a git repository.")
    commit = resolve_version(top, version)
    if commit is None:
        raise ExecutionException(f"Unable to checkout version '{version}' of git repo {top}: it is not a branch, "
                                 "tag or commit of that repository.")
    temporary = checkout(top, commit, origin_url(top))
    relative = os.path.relpath(directory, top)
    try:
        checked_out = _subdir(os.path.normpath(os.path.join(temporary, relative)), "", uri)
    except ExecutionException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise ExecutionException(f"Could not find subdirectory {relative} of {top} at version '{version}'") from None
    return FetchedProject(checked_out, _source_name(top, directory), commit=commit,
                          branch=version if is_branch(top, version) else None,
                          repo_url=origin_url(top) or top, temporary=temporary)


def _fetch_remote(uri: str, url: str, subdirectory: str, version: str | None) -> FetchedProject:
    mirror, commit = cached_clone(url, version)
    temporary = checkout(mirror, commit, url)
    try:
        directory = _subdir(temporary, subdirectory, uri)
    except ExecutionException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return FetchedProject(directory, uri, commit=commit, branch=version if is_branch(mirror, version) else None,
                          repo_url=url, temporary=temporary)


def _fetch_zip(uri: str, base: str, local: str | None, subdirectory: str, version: str | None) -> FetchedProject:
    if version is not None:
        raise ExecutionException("Setting a version is only supported for Git project URIs, not .zip archives.")
    temporary = tempfile.mkdtemp(prefix="fluvial-project-")
    try:
        if local is not None and os.path.isfile(local):
            archive = local
            source = os.path.abspath(local)
        elif urlparse(base).scheme in ("http", "https"):
            archive = os.path.join(temporary, ".download.zip")
            try:
                with urllib.request.urlopen(base, timeout=300) as response, open(archive, "wb") as fh:
                    shutil.copyfileobj(response, fh)
            except OSError as exc:
                raise ExecutionException(f"Unable to retrieve ZIP file {base}: {exc}") from None
            source = base
        else:
            raise ExecutionException(f"No project archive at {base}.")
        extracted = os.path.join(temporary, "project")
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(extracted)
        except zipfile.BadZipFile as exc:
            raise ExecutionException(f"{base} is not a valid .zip archive: {exc}") from None
        directory = _subdir(extracted, subdirectory, uri)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return FetchedProject(directory, source + (f"#{subdirectory}" if subdirectory else ""), temporary=temporary)


__all__ = ["CACHE_VARIABLE", "FetchedProject", "cache_root", "cached_clone", "checkout", "fetch_project", "git",
           "head_commit", "is_bare_repository", "is_branch", "is_dirty", "is_remote_git_uri", "origin_url",
           "resolve_version", "split_uri", "work_tree_root"]
