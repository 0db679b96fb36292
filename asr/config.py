"""Typed configs: plain YAML mapped onto (nested) dataclasses, with errors naming the key.

A config may change another one instead of copying it (read_config_tree):

    base: default.yaml        # relative to this file; its own base is followed too
    tag: bilstm_long          # scalars and lists replace the base's
    train: {epochs: 8}        # mappings merge key by key: every other train key is the base's
    corpus:
      voices+: [rhvoice:clb]  # `name+` extends the base's list
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from asr.errors import AsrError

T = TypeVar("T")


class ConfigError(AsrError, ValueError):
    pass


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} does not match {tp}")
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = typing.get_args(tp) or (Any, Any)
        return {_coerce(kt, k, where): _coerce(vt, v, f"{where}[{k!r}]") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        items = [_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads `1e-3` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp in (int, str, bool) and not (type(value) is tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict, where: str = "config") -> T:
    """Build dataclass `cls` from a dict; unknown keys and wrong types raise ConfigError."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(names)}")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def read_config_tree(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """A YAML config file -> one dict, its `base:` chain merged in.

    `base: other.yaml` (relative to this file) names the config this one changes: mappings merge
    key by key, at any depth; any other value (a number, a string, a list) replaces the base's.
    A key written `name+:` extends the base's list `name` instead of replacing it. An empty file,
    a file that is not a mapping, a missing base and a cycle are ConfigErrors naming the file.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if data is None:
        raise ConfigError(f"{path}: the config is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is None:
        return _merge({}, data, str(path))
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base: expected the path of a config file, got {base!r}")
    base_path = (path.parent / base).resolve()
    chain = (*_seen, path.resolve())
    if base_path in chain:
        raise ConfigError(f"{path}: base: {base} makes a cycle ({' -> '.join(p.name for p in (*chain, base_path))})")
    if not base_path.is_file():
        raise ConfigError(f"{path}: base: {base_path} does not exist")
    return _merge(read_config_tree(base_path, chain), data, str(path))


def _merge(base: dict, delta: dict, where: str) -> dict:
    """base with delta's keys merged in (see read_config_tree); neither argument is changed."""
    out = dict(base)
    for key, value in delta.items():
        if isinstance(key, str) and key.endswith("+"):
            name = key[:-1]
            if not isinstance(value, list) or not isinstance(out.get(name), list):
                raise ConfigError(f"{where}: {key} extends a list: the base's {name} and this value must both be lists"
                                  f" (the base has {out.get(name)!r})")
            out[name] = [*out[name], *value]
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, f"{where}.{key}")
        else:
            out[key] = value
    return out


def load_yaml(cls: type[T], path: str | Path) -> T:
    """Dataclass `cls` from a YAML config file and its `base:` chain (read_config_tree)."""
    return from_dict(cls, read_config_tree(path), where=str(path))


def to_dict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


def save_yaml(obj: Any, path: str | Path) -> None:
    data = obj if isinstance(obj, dict) else to_dict(obj)
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """`python -m asr.config KEY CONFIG.yaml`: one value of a config with its `base:` chain merged
    (dotted keys for nested ones: train.epochs); the Makefile reads an experiment's tag with it."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m asr.config", description=main.__doc__)
    parser.add_argument("key", help="a top-level or dotted key, e.g. tag or train.epochs")
    parser.add_argument("config", help="a YAML config file")
    args = parser.parse_args(argv)
    try:
        value: Any = read_config_tree(args.config)
        for part in args.key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise ConfigError(f"{args.config}: no key {args.key}")
            value = value[part]
    except (ConfigError, OSError) as e:
        sys.exit(f"error: {e}")
    print(value if not isinstance(value, (dict, list)) else yaml.safe_dump(value, sort_keys=False), end="\n")


if __name__ == "__main__":
    main()
