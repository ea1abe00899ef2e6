"""Finding rule files: a policy directory, the layers it is built on, and the built-in policies.

A policy is a directory of ``*.rxp`` files, one of which declares ``policy <name> … end`` with
``built on <layer>`` for each shared layer; a layer is a sibling directory whose files declare
``layer <name> … end``. Syntax and structure are checked per file and all problems of all files
are reported together.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean, read_text
from rxpolicy.language import ast
from rxpolicy.language.check import LayerKind, LayerSources, PolicySources
from rxpolicy.language.grammar import package_data_dir
from rxpolicy.language.source import SourceFile
from rxpolicy.language.sources import REGISTRY_FILE, SourceRegistry, load_registry

__all__ = ["rule_file_name", "source_line", "BuiltinPolicy", "OriginalPath", "RegistryReader", "RuleFileParser", "RuleFileReader", "builtin_policies",
           "builtin_rules_dir", "display_path", "display_paths", "policies_input_files", "policy_input_files", "policy_sources", "read_from_disk", "read_registry_from_disk", "read_rule_files",
           "registry_beside", "registry_file",
           "resolve_policy_dir", "split_policy_year"]

RULE_SUFFIX = ".rxp"


def builtin_rules_dir() -> Path:
    """The directory that holds the built-in policies and layers."""
    return package_data_dir("rules")


def display_path(path: Path) -> str:
    """A path as messages show it: relative to the working directory, or ``rules/…`` for a built-in file."""
    return display_paths([path])[0]


def display_paths(paths: list[Path]) -> list[str]:
    """:func:`display_path` of each path, the working directory resolved once for all of them.

    Each resolve costs a system call per path component, and the cache key of every `rxpolicy eval` names
    every rule file as messages show it.
    """
    bases = ((Path.cwd().resolve(), ""), (_builtin_rules_resolved(), "rules/"))
    shown = []
    for path in paths:
        resolved = path.resolve()
        for base, prefix in bases:
            if resolved.is_relative_to(base):
                shown.append(prefix + str(resolved.relative_to(base)))
                break
        else:
            shown.append(str(path))
    return shown


@functools.cache
def _builtin_rules_resolved() -> Path:
    return builtin_rules_dir().resolve()


def rule_file_name(path: Path) -> str:
    """A rule file's name independent of the working directory: ``<layer>/<file>``, ``rules/…`` when built in.

    A layer or policy is the directory named after it, so its name and the file name identify the file;
    receipts (with the file's hash) and the decisions' ``line`` use this, never a path that changes
    with the directory rxpolicy runs in.
    """
    directory = path.resolve().parent
    name = f"{directory.name}/{path.name}"
    return f"rules/{name}" if directory.parent == _builtin_rules_resolved() else name


#: Reads one rule file: its path → (the path messages show, its text); raises :class:`RxError` when unreadable.
RuleFileReader = Callable[[Path], tuple[str, str]]


def read_from_disk(path: Path) -> tuple[str, str]:
    """The default :data:`RuleFileReader`: the file on disk, shown as :func:`display_path` shows it."""
    shown = display_path(path)
    return shown, read_text(path, shown, kind="rule file")


#: Parses one rule file (:func:`rxpolicy.language.lower.parse_rule_file`, or a cache in front of it).
RuleFileParser = Callable[[SourceFile], ast.RuleFile]

#: For files read from a copy of a rules directory: the path each copied file stands for (its original).
OriginalPath = Callable[[Path], Path]


def _same(path: Path) -> Path:
    return path


def read_rule_files(directory: Path, read: RuleFileReader = read_from_disk,
                    parse: RuleFileParser | None = None, *,
                    original: OriginalPath = _same) -> tuple[list[ast.RuleFile], list[Diagnostic]]:
    """Parse every rule file of a directory, in name order; problems of all files are returned.

    ``read`` gives each file's text and ``parse`` parses it (default: ``lower.parse_rule_file``): the language
    server passes the unsaved text of the editor's open files, and a cache so that only the file being typed
    in is parsed again. ``original`` maps a file of a copied directory to the file it is a copy of, so that its
    name (in receipts and fingerprints) is the original's: the service's worker processes compile a snapshot.
    """
    if parse is None:
        from rxpolicy.language.lower import parse_rule_file  # here: it brings Lark, which a cached policy never needs

        parse = parse_rule_file
    files: list[ast.RuleFile] = []
    problems: list[Diagnostic] = []
    for path in sorted(directory.glob(f"*{RULE_SUFFIX}")):
        if path.is_dir():
            problems.append(Diagnostic(code="RX001", message=f"{display_path(path)} is a directory, but its name ends "
                                       f"in {RULE_SUFFIX} like a rule file's",
                                       help=f"rename the directory: every *{RULE_SUFFIX} in a policy directory is "
                                            "read as a rule file"))
            continue
        try:
            shown, text = read(path)
            files.append(parse(SourceFile(path=shown, text=text, name=rule_file_name(original(path)))))
        except RxError as error:
            problems.extend(error.diagnostics)
    return files, problems


@attrs.frozen(kw_only=True)
class BuiltinPolicy:
    """A policy shipped with rxpolicy: its name and directory."""

    name: str
    directory: Path


def builtin_policies() -> tuple[BuiltinPolicy, ...]:
    """The built-in policies: rule directories that declare a policy (not the shared layers).

    Read once per process (they ship with rxpolicy): every policy name is resolved through them, and
    reading their files each time made finding a loaded policy again cost a millisecond.
    """
    return _builtin_policies()


@functools.cache
def _builtin_policies() -> tuple[BuiltinPolicy, ...]:
    found = []
    for directory in sorted(p for p in builtin_rules_dir().iterdir() if p.is_dir()):
        if any("\npolicy " in "\n" + f.read_text(encoding="utf-8") for f in directory.glob(f"*{RULE_SUFFIX}")):
            found.append(BuiltinPolicy(name=directory.name, directory=directory))
    return tuple(found)


def split_policy_year(name: str) -> tuple[str, int | None]:
    """``hollandzorg-2025`` → (``hollandzorg``, 2025): a built-in policy named with the year it is used for."""
    base, _, year = name.rpartition("-")
    if base and year.isdigit() and len(year) == 4 and base in {p.name for p in builtin_policies()}:
        return base, int(year)
    return name, None


def resolve_policy_dir(name_or_path: str) -> Path:
    """A built-in policy name (optionally ``name-YYYY``), or a directory of rule files; raises RX601 for neither."""
    names = {p.name: p.directory for p in builtin_policies()}
    if not name_or_path.strip():  # `Path("")` is the working directory: an empty name must not quietly mean it
        raise RxError(Diagnostic(code="RX601", message="the policy name is empty",
                                 help="give a built-in policy name (" + ", ".join(sorted(names)) + ") or a directory "
                                      "of rule files, e.g. `--policy .` for the directory you are in"))
    name_or_path = split_policy_year(name_or_path)[0]
    if name_or_path in names:
        return names[name_or_path]
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if path.is_file() and path.suffix == RULE_SUFFIX:
        return path.parent
    guess = did_you_mean(name_or_path, list(names))
    raise RxError(Diagnostic(
        code="RX601", message=f"`{name_or_path}` is neither a built-in policy nor a directory of rule files",
        help=(f"did you mean `{guess}`? " if guess else "") + "built-in policies: " + ", ".join(sorted(names))
        + "; `rxpolicy policies` lists them"))


def _declaration(files: list[ast.RuleFile], kind: type[ast.Policy] | type[ast.Layer]) -> list[ast.Policy | ast.Layer]:
    return [item for f in files for item in f.items if isinstance(item, kind)]


def registry_file(policy_dir: Path) -> Path | None:
    """The source registry file a policy uses: ``sources.yaml`` beside its directory (where its layers are), else
    in it; None when there is neither."""
    found = _registry_file(os.path.realpath(policy_dir), str(policy_dir))
    return Path(found) if found is not None else None


def _registry_file(resolved: str, given: str) -> str | None:
    # In os.path terms: the policy store asks before every load (see policy_input_files).
    for candidate in (os.path.join(os.path.dirname(resolved), REGISTRY_FILE), os.path.join(given, REGISTRY_FILE)):
        if os.path.isfile(candidate):
            return candidate
    return None


#: Gives the text of a source registry file (its path, and the path messages show): what the policy store
#: passes to compile the very text it hashed.
RegistryReader = Callable[[Path, str], str]


def read_registry_from_disk(path: Path, shown: str) -> str:
    """The default :data:`RegistryReader`: the file on disk."""
    return read_text(path, shown, kind="source registry")


def registry_beside(policy_dir: Path, original: OriginalPath = _same,
                    read: RegistryReader = read_registry_from_disk) -> SourceRegistry | None:
    """The source registry of a policy (:func:`registry_file`), read by ``read``; None when it has none.

    Messages name it as ``original`` maps it (:func:`read_rule_files`).
    """
    path = registry_file(policy_dir)
    if path is None:
        return None
    shown = display_path(original(path))
    return load_registry(path, shown, text=read(path, shown))


def policy_input_files(policy_dir: Path) -> list[str]:
    """Every file a policy compiled from ``policy_dir`` depends on (its path): what decides whether it is current.

    The rule files of its directory and of every sibling directory (the layers it may be built on; found without
    reading a file, so a few more than it uses), in path order, then the source registry it uses
    (:func:`registry_file`), when it has one: its titles and sections are in explanations. Only that one: a
    ``sources.yaml`` the policy does not read is no input, and a registry that appears or goes is a change.
    Paths as text, from one ``scandir`` per folder: the policy store checks these files before every load, and
    making a ``Path`` of each would double what that costs.
    """
    resolved = os.path.realpath(policy_dir)
    found = _rule_files_under(os.path.dirname(resolved))
    registry = _registry_file(resolved, str(policy_dir))
    return found if registry is None else [*found, registry]


def policies_input_files(policy_dirs: Iterable[Path]) -> list[str]:
    """The files :func:`policy_input_files` lists for any of ``policy_dirs``, each once, in path order: what the
    service's watcher stats on every poll. One listing per parent folder (not one per directory, each listing
    every sibling again: that grew with the square of the number of folders)."""
    found: set[str] = set()
    beside: dict[str, bool] = {}  # parent folder → whether a registry is there (then every policy in it uses it)
    real_heads: dict[str, str] = {}  # realpath per containing folder, not per directory (a dozen lstat calls each)
    for policy_dir in policy_dirs:
        head, name = os.path.split(os.path.abspath(policy_dir))
        if head not in real_heads:
            real_heads[head] = os.path.realpath(head)
        resolved = os.path.join(real_heads[head], name)
        if os.path.islink(resolved):
            resolved = os.path.realpath(resolved)
        parent = os.path.dirname(resolved)
        if parent not in beside:
            found.update(_rule_files_under(parent))
            beside[parent] = os.path.isfile(os.path.join(parent, REGISTRY_FILE))
            if beside[parent]:
                found.add(os.path.join(parent, REGISTRY_FILE))
        if not beside[parent]:
            registry = _registry_file(resolved, str(policy_dir))  # the one in it, when there is one
            if registry is not None:
                found.add(registry)
    return sorted(found)


def _rule_files_under(parent: str) -> list[str]:
    """The rule files of every folder in ``parent``, in path order (found without reading a file)."""
    try:
        with os.scandir(parent) as siblings:
            folders = [entry.path for entry in siblings if entry.is_dir()]
    except OSError:  # gone or unreadable: no inputs (reading the policy says why)
        folders = []
    found: list[str] = []
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                # A dangling link or a directory is left out: reading the policy reports it if it is one of its own.
                found.extend(entry.path for entry in entries if entry.name.endswith(RULE_SUFFIX) and entry.is_file())
        except OSError:  # removed or unreadable meanwhile: as if empty (reading the policy reports its own)
            continue
    found.sort()  # the order of a directory listing is not promised
    return found


def policy_sources(directory: Path, read: RuleFileReader = read_from_disk,
                   parse: RuleFileParser | None = None, *, original: OriginalPath = _same,
                   read_registry: RegistryReader = read_registry_from_disk) -> PolicySources:
    """Read a policy directory and the layers it is built on; raises :class:`RxError` on any file problem.

    ``read`` gives each rule file's shown path and text (default: from disk, :func:`read_from_disk`),
    ``parse`` parses one (default: :func:`rxpolicy.language.lower.parse_rule_file`); ``original``: see
    :func:`read_rule_files`; ``read_registry`` gives the source registry's text (default: from disk).
    """
    directory = directory.resolve()  # `.` has no name, and its parent is not where the layers are
    files, problems = read_rule_files(directory, read, parse, original=original)
    policies = _declaration(files, ast.Policy)
    layers_here = _declaration(files, ast.Layer)
    for extra in policies[1:]:
        problems.append(Diagnostic(code="RX303", span=extra.span, message="a policy is declared twice in one directory",
                                   help="keep one `policy … end` declaration per policy directory"))
    layers: list[LayerSources] = []
    declaration = policies[0] if policies else None
    if isinstance(declaration, ast.Policy):
        for base in declaration.built_on:
            layer_dir = directory.parent / base
            if not layer_dir.is_dir():
                problems.append(Diagnostic(code="RX304", span=declaration.span,
                                           message=f"the layer `{base}` this policy is built on is not found",
                                           help=f"create the directory {display_path(layer_dir)} with its rule files, "
                                                "or correct `built on`"))
                continue
            layer_files, layer_problems = read_rule_files(layer_dir, read, parse, original=original)
            problems.extend(layer_problems)
            declared = [d for d in _declaration(layer_files, ast.Layer) if isinstance(d, ast.Layer)]
            title = next((d.titles[0] for d in declared if d.titles), base)
            kind = LayerKind(declared[0].kind) if declared else LayerKind.STATUTORY
            layers.append(LayerSources(name=base, kind=kind, title=title, files=tuple(layer_files)))
        title = declaration.titles[0] if declaration.titles else directory.name
        layers.append(LayerSources(name=directory.name, kind=LayerKind.INSURER, title=title, files=tuple(files)))
    else:
        title = next((d.titles[0] for d in layers_here if d.titles), directory.name)
        layers.append(LayerSources(name=directory.name, kind=LayerKind.STATUTORY, title=title, files=tuple(files)))
    if not files and not problems:
        problems.append(Diagnostic(code="RX002", message=f"{display_path(directory)} holds no rule files (*.rxp)",
                                   help="point at a directory of rule files, or at a built-in policy"))
    if problems:
        raise RxError(problems)
    return PolicySources(name=directory.name, declaration=declaration if isinstance(declaration, ast.Policy) else None,
                         registry=registry_beside(directory, original, read_registry),
                         layers=tuple(layers))


def source_line(path: str, line: int) -> str | None:
    """The text of a line of a file named in a diagnostic (built-in rule files are under ``rules/``)."""
    candidates = [Path(path)]
    if path.startswith("rules/"):
        candidates.append(builtin_rules_dir() / path[len("rules/"):])
    for candidate in candidates:
        try:
            # Lines as the spans count them: `splitlines` would also break at U+2028 and other separators.
            lines = candidate.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError):
            continue
        return lines[line - 1] if 0 < line <= len(lines) else ""
    return None
