"""requirements.lock, which the Dockerfile installs from (hash-checked, nothing else), still
covers pyproject.toml: every runtime dependency and everything it pulls in is pinned at a
version its dependents accept, with hashes, and nothing only the tests need is in the image.
When this fails after a change to the dependencies, run ``make lock``."""

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from settings import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _locked() -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes)."""
    pins: dict[str, tuple[Version, int]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match.group(1))
            pins[name] = (Version(match.group(2)), 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def test_every_runtime_dependency_and_what_it_needs_is_pinned_with_hashes() -> None:
    locked = _locked()
    problems: list[str] = []
    todo = [(Requirement(text), "pyproject.toml") for text in _project()["dependencies"]]
    seen: set[str] = set()
    while todo:
        requirement, wanted_by = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # not for this platform or Python (the image's: Linux, CPython 3.11)
        name = canonicalize_name(requirement.name)
        if name not in locked:
            problems.append(f"{name} ({requirement.specifier or 'any'}, wanted by {wanted_by}) is not in the lock")
            continue
        version, hashes = locked[name]
        if requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{name}=={version} in the lock, but {wanted_by} wants {requirement.specifier}")
        if hashes == 0:
            problems.append(f"{name} has no hash in the lock")
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:  # what it needs, from the metadata of the copy installed here (same names, any version)
            needs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in needs:
            need = Requirement(text)
            extras = requirement.extras or {""}
            if need.marker is None or any(need.marker.evaluate({"extra": extra}) for extra in extras):
                todo.append((Requirement(str(need).split(";")[0]), name))
    assert not problems, "requirements.lock is out of date (run make lock):\n" + "\n".join(sorted(set(problems)))


def test_nothing_only_the_tests_need_goes_into_the_image() -> None:
    locked = _locked()
    runtime = {canonicalize_name(Requirement(text).name) for text in _project()["dependencies"]}
    dev_only = {canonicalize_name(Requirement(text).name) for text in _project()["optional-dependencies"]["dev"]}
    assert sorted((dev_only - runtime) & set(locked)) == []
