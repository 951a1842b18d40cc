"""``fada-tf data prepare`` and ``fada-tf data check``: bring the real benchmark datasets in."""

from __future__ import annotations

import click

from fada_tf.cli.common import FadaGroup, emit, json_option, work_on_stderr
from fada_tf.data.raw import CROSSCITY_LABEL_ENCODINGS, RAW_DATASETS
from fada_tf.progress import default_verbosity

# Problems printed in the text report (--json lists them all).
_SHOWN_PROBLEMS = 50

dataset_choice = click.Choice(RAW_DATASETS)
split_option = click.option("--split", "splits", multiple=True,
                            help="Only this split (repeatable; default: every split).")
crosscity_option = click.option(
    "--crosscity-labels", type=click.Choice(CROSSCITY_LABEL_ENCODINGS), default=CROSSCITY_LABEL_ENCODINGS[0],
    show_default=True, help="What Cross-City's *_eval.png values are: Cityscapes label IDs, "
    "Cityscapes train IDs, or indices of the 13 classes (see docs/datasets.md).")
workers_option = click.option("--workers", type=click.IntRange(min=1), default=None,
                              help="Files decoded in parallel (default: every core).")


def _log(message: str) -> None:
    click.echo(message, err=True)


@click.group("data", cls=FadaGroup)
def data():
    """Prepare and check the real datasets: GTA5, SYNTHIA, Cityscapes, Cross-City.

    \b
    Examples:
        fada-tf data prepare --dataset gta5 --root /datasets/GTA5 --out data/prepared/gta5
        fada-tf data check data/prepared/gta5
    """


@data.command()
@click.option("--dataset", type=dataset_choice, required=True, help="Which raw release --root holds.")
@click.option("--root", type=click.Path(file_okay=False, exists=True), required=True,
              help="The raw release (for crosscity: one city's folder, e.g. NTHU/Rome).")
@click.option("--out", required=True, help="Folder to create (any tf.io.gfile path).")
@split_option
@click.option("--fix-sizes", is_flag=True,
              help="Resize a label whose size differs from its image's (nearest neighbour).")
@click.option("--skip-bad", is_flag=True, help="Skip bad pairs and count them, instead of stopping.")
@click.option("--format", "storage", type=click.Choice(["png", "tfrecord"]), default="png",
              show_default=True, help="PNG files, or TFRecord shards for cluster storage.")
@click.option("--shards", type=click.IntRange(min=1), default=16, show_default=True,
              help="TFRecord files per split (with --format tfrecord).")
@crosscity_option
@workers_option
@json_option
def prepare(dataset, root, out, splits, fix_sizes, skip_bad, storage, shards, crosscity_labels,
            workers, as_json):
    """Read a raw release once and write the dataset training reads.

    Labels become single-channel train-ID PNGs, images stay RGB; OUT/manifest.json lists
    the splits and OUT/class_stats.json the per-image class pixels (for class-balanced
    sampling). Work happens in .partial-OUT beside OUT, renamed to OUT at the end; an
    interrupted run resumes when started again with the same options.

    \b
    Examples:
        fada-tf data prepare --dataset gta5 --root /datasets/GTA5 --out data/prepared/gta5 --skip-bad
        fada-tf data prepare --dataset cityscapes --root /datasets/cityscapes --out data/prepared/cityscapes
        fada-tf data prepare --dataset crosscity --root /datasets/NTHU/Rome --out data/prepared/crosscity/Rome
        fada-tf data prepare --dataset synthia --root /datasets/RAND_CITYSCAPES --out gs://bucket/synthia --format tfrecord --shards 64
    """
    with work_on_stderr():
        from fada_tf.data.prepare import PrepareOptions
        from fada_tf.data.prepare import prepare as run_prepare

        options = PrepareOptions(dataset, root, tuple(splits), fix_sizes, skip_bad, storage, shards,
                                 crosscity_labels)
        manifest = run_prepare(options, out, workers, log=_log, verbose=default_verbosity())
    result = {"out": out, "dataset": dataset, "classes": manifest["classes"], "storage": storage,
              "splits": {split: {key: len(value) if isinstance(value, list) else value
                                 for key, value in report.items()}
                         for split, report in manifest["report"].items()}}
    lines = [f"{out}: {dataset} prepared ({manifest['classes']}, {storage})"]
    for split, report in result["splits"].items():
        unknown = sum(report["unknown_label_pixels"].values())
        lines.append(f"  {split}: {report['images']} pairs, {report['skipped']} skipped, "
                     f"{report['labels_resized']} labels resized, {unknown} unknown label pixels")
    emit(result, as_json, "\n".join(lines))


@data.command()
@click.argument("path")
@click.option("--dataset", type=dataset_choice, default=None,
              help="Check PATH as a raw release of this dataset (a prepared folder needs none).")
@split_option
@crosscity_option
@workers_option
@json_option
@click.pass_context
def check(ctx, path, dataset, splits, crosscity_labels, workers, as_json):
    """Verify a prepared dataset or a raw release; print per-class pixel counts and problems.

    Checks that every image has its label, that files decode, that sizes agree and that
    label values are known. Exits with status 1 when there are problems. With --json:
    {"num_images", "class_pixels": {class: pixels}, "problems": [...], ...}.

    \b
    Examples:
        fada-tf data check data/prepared/gta5
        fada-tf data check /datasets/GTA5 --dataset gta5 --json
    """
    with work_on_stderr():
        from fada_tf.data.check import check as run_check

        result = run_check(path, dataset, crosscity_labels, tuple(splits), workers, default_verbosity())
    emit(result, as_json, _check_report(result))
    if result["problems"]:
        ctx.exit(1)


def _check_report(result: dict) -> str:
    total = sum(result["class_pixels"].values()) or 1
    lines = [f"{result['path']}: {result['kind']} {result['dataset']}, {result['num_images']} images "
             f"({', '.join(f'{s} {n}' for s, n in result['splits'].items())}), classes {result['classes']}",
             f"{'class':<16}{'pixels':>16}{'%':>8}"]
    lines += [f"{name:<16}{count:>16}{100 * count / total:>8.2f}" for name, count in result["class_pixels"].items()]
    lines.append(f"unknown label pixels: {result['unknown_label_pixels']}")
    problems = result["problems"]
    lines.append(f"{len(problems)} problem(s)" + (":" if problems else ""))
    lines += [f"  {p}" for p in problems[:_SHOWN_PROBLEMS]]
    if len(problems) > _SHOWN_PROBLEMS:
        lines.append(f"  ... and {len(problems) - _SHOWN_PROBLEMS} more (--json lists them all)")
    return "\n".join(lines)
