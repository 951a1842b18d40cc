"""Load YAML configs into the typed schema: one optional ``_base_``, dotted overrides, strict keys."""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from pathlib import Path
from typing import Any, Iterable, Literal

import yaml

from fada_tf.config.recipe import STAGES, pretrained_kind, stage_streams
from fada_tf.config.schema import Config, ImageStream
from fada_tf.data.synthetic_shifts import check_shift
from fada_tf.errors import ConfigError
from fada_tf.files import write_bytes

BASE_KEY = "_base_"
# Keys of data.source / data.target before they became the stages' image streams.
_STREAM_KEYS = {f.name for f in dataclasses.fields(ImageStream)}


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> Config:
    """Read ``path`` (or the defaults when None), apply ``key=value`` overrides, validate.

    Example::

        cfg = load_config("configs/gta5_to_cityscapes_r101.yaml", ["adapt.lambda_adv=0.01"])
    """
    raw = _read_with_base(Path(path), seen=()) if path is not None else {}
    for item in overrides:
        _apply_override(raw, item)
    return from_dict(raw, source=str(path) if path is not None else "defaults")


def from_dict(raw: dict, source: str = "config") -> Config:
    """Validate a nested dict against the schema; errors name ``source`` and the dotted key."""
    config = _build(Config, raw, prefix="", source=source)
    _check_values(config, source)
    return config


def _check_values(config: Config, source: str) -> None:
    """Value rules the types cannot express: sizes are (height, width) pairs, counts positive."""
    pairs = {"data.eval_size": config.data.eval_size}
    for key, stream in image_streams(config).items():
        pairs[f"{key}.scale_range"] = stream.scale_range
        pairs.update({f"{key}.{name}": getattr(stream, name) for name in ("resize", "crop")
                      if getattr(stream, name)})
        _check_stream(stream, key, source)
    if config.distill.eval_size:
        pairs["distill.eval_size"] = config.distill.eval_size
    for key, value in pairs.items():
        if len(value) != 2 or min(value) <= 0:
            raise ConfigError(f"{source}: {key} must be two positive numbers, got {value}")
    pretrained_kind(config.model.pretrained)
    norm = config.model.normalization
    if len(norm.mean) != 3 or len(norm.std) != 3 or min(norm.std) <= 0:
        raise ConfigError(f"{source}: model.normalization needs three means and three positive "
                          f"stds, got mean {norm.mean}, std {norm.std}")
    positive = {"source.steps": config.source.steps, "adapt.steps": config.adapt.steps,
                "distill.steps": config.distill.steps, "source.batch_size": config.source.batch_size,
                "distill.batch_size": config.distill.batch_size,
                "adapt.batch_size": config.adapt.batch_size, "run.log_every": config.run.log_every,
                "run.keep_checkpoints": config.run.keep_checkpoints,
                "adapt.temperature": config.adapt.temperature, "model.tiny_width": config.model.tiny_width,
                "data.eval_batch_size": config.data.eval_batch_size}
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{source}: {key} must be positive, got {value}")
    check_shift(config.data.synthetic.shift, config.data.synthetic.strength, f"{source}: data.synthetic")
    if config.adapt.probe_encoding and config.adapt.lambda_adv <= 0:
        raise ConfigError(f"{source}: adapt.probe_encoding needs adapt.lambda_adv > 0 (it compares "
                          f"the segmentor's L_adv gradients), got {config.adapt.lambda_adv}")
    if not 0 < config.adapt.clip <= 1:
        raise ConfigError(f"{source}: adapt.clip must be in (0, 1], got {config.adapt.clip}")
    for key in ("adapt.target_images", "distill.target_images"):
        if image_streams(config)[key].class_balanced:
            raise ConfigError(f"{source}: {key}.class_balanced must be false: it would sample the "
                              "target by its labels, which unsupervised adaptation must not use")
    if not 0 <= config.distill.confidence_threshold < 1:
        raise ConfigError(f"{source}: distill.confidence_threshold must be in [0, 1), "
                          f"got {config.distill.confidence_threshold}")
    if not config.distill.scales or min(config.distill.scales) <= 0:
        raise ConfigError(f"{source}: distill.scales must be positive numbers, got {config.distill.scales}")
    stages = config.run.stages
    if not stages or stages != [s for s in ("source", "adapt", "distill") if s in stages]:
        raise ConfigError(f"{source}: run.stages must list source, adapt and/or distill once each, "
                          f"in that order, got {stages}")


def image_streams(config: Config) -> dict:
    """Every stage's image streams by dotted key (``"adapt.target_images"`` -> ImageStream)."""
    return {f"{stage}.{domain}_images": stream for stage in STAGES
            for domain, stream in stage_streams(config, stage).items()}


def _check_stream(stream, key: str, source: str) -> None:
    if not 0 <= stream.flip <= 1:
        raise ConfigError(f"{source}: {key}.flip is a probability in [0, 1], got {stream.flip}")
    jitter = stream.color_jitter
    if len(jitter) != 4 or min(jitter) < 0 or jitter[3] > 0.5:
        raise ConfigError(f"{source}: {key}.color_jitter must be [brightness, contrast, saturation, "
                          f"hue], each >= 0 and hue <= 0.5, got {jitter}")
    if stream.class_balanced_draws < 0:
        raise ConfigError(f"{source}: {key}.class_balanced_draws must be >= 0, "
                          f"got {stream.class_balanced_draws}")
    if not stream.resize and not stream.crop:
        raise ConfigError(f"{source}: {key} needs a resize or a crop size (images of one batch "
                          "must share a size)")
    if not stream.crop and stream.scale_range != [1.0, 1.0]:
        raise ConfigError(f"{source}: {key}.crop is needed with a random scale_range "
                          f"{stream.scale_range} (images of one batch must share a size)")


def to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def dump_config(config: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (what the run really used), atomically."""
    write_bytes(path, yaml.safe_dump(to_dict(config), sort_keys=False).encode())


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(err, 'problem', err)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _read_with_base(path: Path, seen: tuple[Path, ...]) -> dict:
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise ConfigError(f"{path}: {BASE_KEY} chain loops: {chain}")
    data = _read_yaml(path)
    base = data.pop(BASE_KEY, None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: {BASE_KEY} must be one file name, got {base!r}")
    base_data = _read_with_base(path.parent / base, seen=(*seen, resolved))
    return _deep_merge(base_data, data)


def _deep_merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _apply_override(raw: dict, item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} must look like section.key=value")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part} is a value, not a section")
        node = child
    previous = node.get(parts[-1])
    # A mapping updates the section key by key, as a file does over its _base_.
    node[parts[-1]] = (_deep_merge(previous, value) if isinstance(value, dict) and isinstance(previous, dict)
                       else value)


def _build(cls: type, raw: Any, prefix: str, source: str, base=None):
    """``base`` (default ``cls()``) with the keys of ``raw`` replaced, recursively.

    Starting from the parent's default keeps defaults that a parent sets for a section (the
    target domain's ``val_split``) when a file or override gives only some of its keys.
    """
    base = cls() if base is None else base
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if prefix in ("data.source.", "data.target.") and key in _STREAM_KEYS:
            raise ConfigError(f"{source}: {prefix}{key} is no longer a key: since fada-tf 0.2 each "
                              "stage reads each domain through its own image stream (source."
                              "source_images, adapt.source_images, adapt.target_images, "
                              "distill.target_images; see docs/reproducing.md)")
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"{source}: unknown key {prefix}{key}{hint}")
    values = {}
    for name in (n for n in names if n in raw):
        if dataclasses.is_dataclass(hints[name]):
            values[name] = _build(hints[name], raw[name], f"{prefix}{name}.", source, getattr(base, name))
        else:
            values[name] = _coerce(hints[name], raw[name], f"{prefix}{name}", source)
    return dataclasses.replace(base, **values)


_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _coerce(annotation: Any, value: Any, key: str, source: str):
    origin = typing.get_origin(annotation)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            raise ConfigError(f"{source}: {key} = {value!r} is not one of {', '.join(map(str, choices))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key} must be a list, got {value!r}")
        (item_type,) = typing.get_args(annotation)
        return [_coerce(item_type, item, f"{key}[{i}]", source) for i, item in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        return float(value)    # YAML 1.1 reads 1e12 (no dot) as a string
    if annotation is bool and not isinstance(value, bool):
        raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
    if annotation is int and isinstance(value, bool):
        raise ConfigError(f"{source}: {key} must be an integer, got {value!r}")
    if not isinstance(value, annotation):
        raise ConfigError(f"{source}: {key} must be {annotation.__name__}, got {value!r}")
    return value
