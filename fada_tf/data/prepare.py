"""``fada-tf data prepare``: read a raw release once and write the canonical dataset.

Raw quirks (palette indices, 16-bit red channels, label IDs, size mismatches) are handled
here, once; training then reads only the canonical format (``fada_tf.data.canonical``) with
native TensorFlow decoding.

Nothing is written half: the work happens in ``.partial-OUT`` beside ``OUT``
(``fada_tf.files.atomic_output``), which is renamed to ``OUT`` at the very end. Each finished
pair leaves a record in ``.partial-OUT/.done/<split>/`` after its files, so a run started
again with the same options resumes where the last one stopped. Bad pairs (missing or
unreadable files, a label whose size differs from its image's) stop the run with a message
naming the first file (all of them are listed in ``.partial-OUT/problems.json``);
``skip_bad`` skips them instead and counts them in the manifest's report.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from fada_tf import files
from fada_tf.data import canonical
from fada_tf.data.classes import class_table
from fada_tf.data.parallel import ordered_map
from fada_tf.data.raw.common import RawFormat, RawPair, find_release_root
from fada_tf.data.raw.pairs import BadPair, read_pair
from fada_tf.data.raw.registry import raw_format
from fada_tf.data.tfrecord import write_shards
from fada_tf.progress import Progress
from fada_tf.errors import FadaError

STORAGES = ("png", "tfrecord")
_DONE, _OPTIONS, _PROBLEMS = ".done", "prepare.json", "problems.json"


@dataclass(frozen=True)
class PrepareOptions:
    """What to read and how; a resumed run must use the same options."""

    dataset: str
    root: str
    splits: tuple[str, ...] = ()       # empty: every split of the release
    fix_sizes: bool = False            # resize mismatched labels to their image (nearest)
    skip_bad: bool = False             # skip bad pairs instead of stopping
    storage: str = "png"               # or "tfrecord"
    shards: int = 16                   # TFRecord files per split
    crosscity_labels: str = "labelid"  # encoding of Cross-City's labels (raw/crosscity.py)


def prepare(options: PrepareOptions, out: str, workers: int | None = None,
            log: Callable[[str], None] = lambda message: None, verbose: int = 0) -> dict:
    """Prepare ``options.dataset`` from ``options.root`` into ``out``; returns the manifest.

    ``log`` receives messages; ``verbose`` shows the progress per split (``fada_tf.progress``).
    """
    fmt = raw_format(options.dataset, options.crosscity_labels)
    root = find_release_root(fmt, Path(options.root).resolve())
    if root != Path(options.root).resolve():
        log(f"{fmt.name} release found in {root}")
    options = dataclasses.replace(options, root=str(root), splits=tuple(options.splits) or fmt.splits)
    _validate(options, fmt, out)
    with files.atomic_output(out.rstrip("/"), keep_on_error=True) as partial:
        _start_or_resume(partial, options, log)
        manifest = _write_dataset(fmt, options, partial, workers, log, verbose)
        _remove_scratch(partial, options.storage)
    return manifest


def _write_dataset(fmt: RawFormat, options: PrepareOptions, partial: str, workers: int | None,
                   log: Callable[[str], None], verbose: int) -> dict:
    """Every split's files, shards, class statistics and manifest into ``partial``."""
    table = class_table(fmt.classes)
    splits, stats, report = {}, {}, {}
    for split in options.splits:
        pairs = fmt.list_pairs(Path(options.root), split)
        if not pairs:
            raise FadaError(f"{options.root}: no images found for split {split}")
        with Progress(len(pairs), f"{fmt.name} {split}", "pair", verbose) as progress:
            records, problems = _prepare_split(fmt, pairs, split, partial, options,
                                               table.num_classes, workers, progress)
        if not records:
            raise FadaError(f"every pair of split {split} is bad; the first: {problems[0]}")
        labelled = pairs[0].label is not None
        splits[split] = {"labelled": labelled, "items": [r["item"] for r in records]}
        if labelled:
            stats[split] = [r["class_pixels"] for r in records]
        report[split] = _report(records, problems)
    if options.storage == "tfrecord":
        for split, entry in splits.items():
            entry["shards"] = _pack(partial, split, entry["items"], options.shards, log)
    manifest = {"format": canonical.FORMAT, "version": canonical.VERSION, "dataset": fmt.name,
                "classes": table.key, "class_names": list(table.names), "storage": options.storage,
                "prepared_with": dataclasses.asdict(options), "splits": splits, "report": report}
    files.write_json(files.join(partial, canonical.CLASS_STATS),
                     {"classes": table.key, "class_names": list(table.names), "splits": stats})
    files.write_json(files.join(partial, canonical.MANIFEST), manifest)
    return manifest


def _validate(options: PrepareOptions, fmt: RawFormat, out: str) -> None:
    unknown = [s for s in options.splits if s not in fmt.splits]
    if unknown:
        raise FadaError(f"{fmt.name} has splits {', '.join(fmt.splits)}, not {', '.join(unknown)}")
    if options.storage not in STORAGES:
        raise FadaError(f"storage {options.storage!r} is not one of {', '.join(STORAGES)}")
    if options.shards < 1:
        raise FadaError(f"--shards must be at least 1, got {options.shards}")
    if files.exists(out):
        raise FadaError(f"{out} already exists; choose another --out or delete it")


def _start_or_resume(partial: str, options: PrepareOptions, log) -> None:
    """Create ``partial``, or resume it when an earlier run with the same options left it."""
    recorded = files.join(partial, _OPTIONS)
    wanted = dataclasses.asdict(options) | {"splits": list(options.splits)}
    if files.exists(recorded):
        previous = files.read_json(recorded)
        if previous != wanted:
            changed = sorted(k for k in wanted if previous.get(k) != wanted[k])
            raise FadaError(f"{partial} holds an interrupted run with other options "
                            f"({', '.join(changed)}); rerun with the same options or delete it")
        log(f"resuming the interrupted run in {partial}")
    elif files.exists(partial):
        raise FadaError(f"{partial} exists without {_OPTIONS}, so it is no run to resume; delete it")
    else:
        files.write_json(recorded, wanted)


def _prepare_split(fmt, pairs, split, partial, options, num_classes, workers, progress):
    """Records of the good pairs and messages of the bad ones; stops on bad pairs unless skip_bad."""
    def one(pair: RawPair):
        try:
            return _prepare_pair(fmt, pair, split, partial, options.fix_sizes, num_classes)
        except BadPair as err:
            return str(err)

    results = list(ordered_map(one, pairs, workers, progress))
    records = [r for r in results if isinstance(r, dict)]
    problems = [r for r in results if isinstance(r, str)]
    if problems and not options.skip_bad:
        files.write_json(files.join(partial, _PROBLEMS), problems)
        raise FadaError(f"{len(problems)} bad pair(s) in {fmt.name} {split}, the first: {problems[0]}; "
                        f"fix them or pass --skip-bad (all listed in {partial}/{_PROBLEMS}; "
                        "finished pairs are kept there: rerun to resume)")
    return records, problems


def _prepare_pair(fmt, pair: RawPair, split: str, partial: str, fix_sizes: bool, num_classes: int) -> dict:
    """Write one pair's canonical files, then its done-record (which makes it count as finished)."""
    done = files.join(partial, _DONE, split, f"{pair.name}.json")
    if files.exists(done):
        return files.read_json(done)
    pair_data = read_pair(fmt, pair, fix_sizes)
    image = canonical.image_path(split, pair.name, pair_data.image.extension)
    files.write_bytes(files.join(partial, image), pair_data.image.data)
    item = {"name": pair.name, "height": pair_data.image.height, "width": pair_data.image.width,
            "image": image, "label": None}
    record = {"item": item}
    if pair_data.train_ids is not None:
        item["label"] = canonical.label_path(split, pair.name)
        files.write_bytes(files.join(partial, item["label"]), encode_label(pair_data.train_ids))
        counts = np.bincount(pair_data.train_ids.ravel(), minlength=256)[:num_classes]
        record.update(class_pixels=counts.tolist(),
                      unknown={str(k): v for k, v in pair_data.unknown.items()},
                      resized_from=list(pair_data.resized_from) if pair_data.resized_from else None)
    files.write_json(done, record)
    return record


def encode_label(train_ids: np.ndarray) -> bytes:
    """An 8-bit single-channel PNG of train IDs."""
    buffer = io.BytesIO()
    Image.fromarray(train_ids.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _report(records: list[dict], problems: list[str]) -> dict:
    unknown: dict[str, int] = {}
    for record in records:
        for value, count in record.get("unknown", {}).items():
            unknown[value] = unknown.get(value, 0) + count
    return {"images": len(records), "skipped": problems,
            "labels_resized": [r["item"]["name"] for r in records if r.get("resized_from")],
            "unknown_label_pixels": dict(sorted(unknown.items(), key=lambda kv: int(kv[0])))}


def _pack(partial: str, split: str, items: list[dict], shards: int, log) -> list[str]:
    """Move a split's loose files into TFRecord shards; items keep only name and size."""
    def records():
        for item in items:
            label = files.read_bytes(files.join(partial, item["label"])) if item["label"] else b""
            yield item["name"], files.read_bytes(files.join(partial, item["image"])), label

    paths = write_shards(partial, split, records(), len(items), shards)
    for item in items:
        del item["image"], item["label"]
    log(f"{split}: {len(items)} pairs in {len(paths)} TFRecord shard(s)")
    return paths


def _remove_scratch(partial: str, storage: str) -> None:
    """Remove the scratch files, the options record last."""
    scratch = [_DONE, _PROBLEMS] + (["images", "labels"] if storage == "tfrecord" else [])
    for name in [*scratch, _OPTIONS]:
        files.remove(files.join(partial, name))
