"""Load Sigma rules from files and folders with pySigma, compile them, and cache the result.

Every rule file is read; one broken file (YAML or Sigma error) is reported by path and the
rest load.  Sigma filter rules are applied to the rules they name (pySigma
``resolve_rule_references``).  Correlation rules are parsed per file without resolving their
references (pySigma 1.5 resolves only within one collection) and resolved once every file is
compiled (:mod:`autosoc.detect.correlation.resolve`), so a correlation may reference rules in
other files.  The compiled set is pickled under the cache folder, keyed by the content of every
rule file, the placeholders, the engine version and its code, so a second load skips pySigma.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from autosoc.detect.correlation.resolve import parse_correlation, resolve_correlations
from autosoc.detect.sigma.compiler import compile_detection
from autosoc.detect.sigma.ir import fields_of
from autosoc.detect.sigma.logsource import select
from autosoc.detect.sigma.native import compile_program
from autosoc.detect.sigma.rules import CompiledRule, RuleSet, SkippedRule
from autosoc.errors import InputError, RuleError

logger = logging.getLogger(__name__)

CACHE_VERSION = "autosoc-sigma-9"
RULE_SUFFIXES = (".yml", ".yaml")


def default_cache_dir() -> Path:
    base = os.environ.get("AUTOSOC_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autosoc" / "sigma"


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"rule path {path} does not exist; pass a Sigma rule file or folder with --rules",
                             code="missing_path")
    return files


def load_rules(
    paths: Sequence[str | Path],
    *,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
) -> RuleSet:
    files = rule_files(paths)
    texts = [(path, path.read_bytes()) for path in files]
    key = _cache_key(texts, placeholders)
    cache_path = (cache_dir or default_cache_dir()) / f"{key}.pickle"
    if use_cache and cache_path.exists():
        try:
            cached = _unpickled(cache_path.read_bytes())
            cached.from_cache = True
            return cached
        except Exception as exc:  # a stale or torn cache file is rebuilt, never trusted
            logger.warning("Ignoring unreadable rule cache.", extra={"path": str(cache_path), "error": str(exc)})
    ruleset = compile_texts(texts, placeholders)
    if use_cache:
        try:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as handle:
                pickle.dump(ruleset, handle, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(cache_path)
        except OSError as exc:
            logger.warning("Could not write the rule cache.", extra={"path": str(cache_path), "error": str(exc)})
    return ruleset


def compile_texts(texts: Sequence[tuple[Path, bytes]],
                  placeholders: Mapping[str, Sequence[str]] | None = None) -> RuleSet:
    ruleset = RuleSet(files=len(texts))
    parsed: list[tuple[str, SigmaRule | SigmaCorrelationRule | SigmaFilter]] = []
    filters: list[SigmaFilter] = []
    for path, data in texts:
        try:
            documents = [d for d in yaml.safe_load_all(data.decode("utf-8")) if d is not None]
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            ruleset.skipped.append(SkippedRule(str(path), "invalid_yaml", _one_line(exc)))
            continue
        if not all(isinstance(d, dict) for d in documents):
            ruleset.skipped.append(SkippedRule(str(path), "invalid_rule_file", "a YAML document is not a mapping"))
            continue
        if not documents:
            continue
        try:  # correlations reference rules that may live in other files: resolved below, over all files
            collection = SigmaCollection.from_dicts(documents, collect_errors=True, collect_filters=True,
                                                    resolve_references=False)
        except (SigmaError, ValueError, TypeError, KeyError) as exc:
            ruleset.skipped.append(SkippedRule(str(path), "invalid_rule_file", _one_line(exc)))
            continue
        filters += collection.filters
        for rule in collection.rules:
            parsed.append((str(path), rule))
    drafts = []
    for path, rule in parsed:
        if isinstance(rule, SigmaFilter):
            continue
        if rule.errors:
            ruleset.skipped.append(_skipped(path, rule, "invalid_rule", "; ".join(_one_line(e) for e in rule.errors)))
            continue
        if isinstance(rule, SigmaCorrelationRule):
            draft = parse_correlation(rule, path)
            if isinstance(draft, SkippedRule):
                ruleset.skipped.append(draft)
            else:
                drafts.append(draft)
            continue
        try:
            for sigma_filter in filters:
                rule = sigma_filter.apply_on_rule(rule)
            ruleset.rules.append(compile_rule(rule, path, placeholders))
        except RuleError as exc:
            ruleset.skipped.append(_skipped(path, rule, exc.code, exc.message))
        except (SigmaError, ValueError, TypeError, KeyError) as exc:
            ruleset.skipped.append(_skipped(path, rule, "invalid_rule", _one_line(exc)))
    ruleset.correlations, unresolved = resolve_correlations(drafts, ruleset.rules, ruleset.skipped)
    ruleset.skipped += unresolved
    return ruleset


def compile_rule(rule: SigmaRule, path: str, placeholders: Mapping[str, Sequence[str]] | None = None) -> CompiledRule:
    selector = select(rule.logsource)
    detection = compile_detection(rule, placeholders)
    return CompiledRule(
        id=str(rule.id or rule.name or rule.title),
        title=rule.title,
        level=rule.level.name.lower() if rule.level else "medium",
        status=rule.status.name.lower() if rule.status else "experimental",
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        path=path,
        selector=selector,
        detection=detection,
        fields=tuple(fields_of(detection)),
        description=(rule.description or "").strip(),
        author=rule.author or "",
        name=rule.name or "",
        program=compile_program(detection),
    )


def _skipped(path: str, rule: object, code: str, reason: str) -> SkippedRule:
    return SkippedRule(path, code, reason, str(getattr(rule, "id", "") or ""), str(getattr(rule, "title", "") or ""),
                       str(getattr(rule, "name", "") or ""))


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())[:500]


def _unpickled(data: bytes) -> RuleSet:
    """The cached rule set, the cyclic GC paused: unpickling makes every rule's objects and no
    garbage, and the collections they set off (each rescanning those made so far) were about a
    third of a cached load of the Windows set (0.44 -> 0.30 s in a fresh process)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        ruleset = pickle.loads(data)
    finally:
        if paused:
            gc.enable()
    if not isinstance(ruleset, RuleSet):
        raise TypeError(f"the cache holds a {type(ruleset).__name__}, not a RuleSet")
    return ruleset


def _code_digest() -> bytes:
    """A digest of the code that shapes what is cached (the rule compilers, the C matcher's
    programs, correlation parsing): a change to it is a new cache, not a stale one."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for source in sorted([*here.glob("*.py"), *(here.parent / "correlation").glob("*.py")]):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.digest()


def _cache_key(texts: Sequence[tuple[Path, bytes]], placeholders: Mapping[str, Sequence[str]] | None) -> str:
    digest = hashlib.sha256(CACHE_VERSION.encode())
    digest.update(_code_digest())
    for path, data in texts:
        digest.update(str(path).encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(data).digest())
    for name in sorted(placeholders or {}):
        digest.update(f"{name}={list((placeholders or {})[name])}".encode())
    return digest.hexdigest()[:32]
