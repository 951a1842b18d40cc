"""Tables for people: IoUs as percentages, one column per evaluated model or stage."""

from __future__ import annotations


def iou_table(columns: dict[str, dict]) -> str:
    """Per-class IoU and mIoU (%) of several evaluations side by side.

    ``columns`` maps a column title to an evaluation dict (``per_class_iou``, ``miou``, ...).
    """
    if not columns:
        return "(nothing evaluated)"
    names = list(next(iter(columns.values()))["per_class_iou"])
    width = max(len(n) for n in [*names, "mIoU", "pixel accuracy"]) + 2
    titles = list(columns)
    cell = max(10, *(len(t) + 2 for t in titles))
    lines = [" " * width + "".join(t.rjust(cell) for t in titles)]

    def row(label, values):
        cells = ("-" if v is None else f"{100 * v:.1f}" for v in values)
        return label.ljust(width) + "".join(c.rjust(cell) for c in cells)

    for name in names:
        lines.append(row(name, [c["per_class_iou"][name] for c in columns.values()]))
    lines.append("-" * (width + cell * len(titles)))
    lines.append(row("mIoU", [c["miou"] for c in columns.values()]))
    if all("miou_13" in c for c in columns.values()):
        lines.append(row("mIoU (13 classes)", [c["miou_13"] for c in columns.values()]))
    lines.append(row("pixel accuracy", [c["pixel_acc"] for c in columns.values()]))
    return "\n".join(lines)


def ccd_table(columns: dict[str, dict]) -> str:
    """Per-class and mean Class Center Distance of several runs side by side (lower is better).

    ``columns`` maps a column title to a ``class_center_distance`` result.
    """
    names = list(next(iter(columns.values()))["per_class_ccd"])
    width = max(len(n) for n in [*names, "mean CCD"]) + 2
    cell = max(10, *(len(t) + 2 for t in columns))
    lines = [" " * width + "".join(t.rjust(cell) for t in columns)]

    def row(label, values):
        return label.ljust(width) + "".join(("-" if v is None else f"{v:.3f}").rjust(cell) for v in values)

    lines += [row(n, [c["per_class_ccd"][n] for c in columns.values()]) for n in names]
    lines.append("-" * (width + cell * len(columns)))
    lines.append(row("mean CCD", [c["mean_ccd"] for c in columns.values()]))
    return "\n".join(lines)
