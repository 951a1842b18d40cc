"""``fada-tf ccd``: Class Center Distance (paper eq. 9, Figure 4) of one or more trained runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from fada_tf.cli.common import (emit, json_option, model_options, resolve_model, set_option,
                                work_on_stderr)
from fada_tf.errors import FadaError
from fada_tf.progress import default_verbosity


@click.command("ccd")
@model_options
@click.option("--num-images", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Images per domain: a random subset of the source and of the target split "
                   "(the paper: 2,000 + 2,000).")
@click.option("--source-split", default=None, help="Labelled source split (default: data.source.train_split).")
@click.option("--target-split", default=None,
              help="Labelled target split (default: data.target.train_split; its labels are used "
                   "for this analysis only).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random subset.")
@click.option("--compare", "compare_runs", multiple=True, type=click.Path(file_okay=False),
              help="Another run directory measured on the same images (repeatable).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Save a bar chart per class, one bar per run (PNG/PDF/SVG; needs matplotlib).")
@set_option
@json_option
def ccd(run_path, config_path, checkpoint, num_images, source_split, target_split, seed,
        compare_runs, plot_path, overrides, as_json):
    """Class Center Distance (paper equation 9) per class and its mean: lower, better aligned.

    Backbone features of source and target images are pooled; for each class, the mean
    squared distance of its features to their centre is divided by the squared distance to
    each other class centre, averaged over the other classes. Labels are brought to the
    feature resolution by nearest neighbour (corners aligned); 255 is ignored.

    \b
    Examples:
        fada-tf ccd --run runs/demo --num-images 500
        fada-tf ccd --run runs/compare/seed0/soft --compare runs/compare/seed0/binary \\
            --compare runs/compare/seed0/source --plot ccd.png --json
    """
    config, checkpoint = resolve_model(run_path, config_path, checkpoint, overrides)
    models = [(_title(run_path or checkpoint, [run_path or checkpoint, *compare_runs]), config, checkpoint)]
    models += [(_title(r, [run_path or checkpoint, *compare_runs]), *resolve_model(r, None, None, overrides))
               for r in compare_runs]
    if len({title for title, _, _ in models}) < len(models):
        raise FadaError("the runs to compare must be different run directories")
    for title, other, _ in models[1:]:
        if other.data.classes != config.data.classes:
            raise FadaError(f"{title} uses classes {other.data.classes}, not {config.data.classes}")
        if other.model.normalization != config.model.normalization:
            raise FadaError(f"{title} normalises its input differently (model.normalization): "
                            "compare runs of one input convention")
    if plot_path and Path(plot_path).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise FadaError(f"--plot {plot_path}: use a .png, .pdf or .svg file name")
    if plot_path and importlib.util.find_spec("matplotlib") is None:
        raise FadaError("--plot needs matplotlib: pip install 'fada-tf[plot]'")

    with work_on_stderr():
        from fada_tf.data.classes import class_table
        from fada_tf.evaluation.ccd import ccd_datasets, class_center_distance
        from fada_tf.training.checkpoints import restore_segmentor

        table = class_table(config.data.classes)
        datasets, batches = ccd_datasets(config, num_images, seed, source_split, target_split)
        results = {}
        for title, model_config, weights in models:
            print(f"{title}: {weights}")
            results[title] = class_center_distance(
                restore_segmentor(model_config, weights), datasets, table, num_batches=batches,
                verbose=default_verbosity()) | {"checkpoint": str(weights)}
        if plot_path:
            from fada_tf.visualize import plot_ccd

            plot_ccd(results, plot_path)
    main, *others = results.values()
    result = dict(main)
    if others:
        result["compare"] = [{"run": run} | r for run, r in zip(compare_runs, others)]
    if plot_path:
        result["plot"] = plot_path
    from fada_tf.evaluation.report import ccd_table

    emit(result, as_json, f"Class Center Distance (eq. 9) on {main['num_images']} source + target "
         f"images:\n{ccd_table(results)}" + (f"\nplot: {plot_path}" if plot_path else ""))


def _title(path: str, all_paths: list[str]) -> str:
    """A run's column title: its folder name, or the whole path when names repeat."""
    names = [Path(p).name for p in all_paths]
    name = Path(path).name
    return name if names.count(name) == 1 else str(path)
