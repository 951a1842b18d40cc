"""The raw release readers by dataset name."""

from __future__ import annotations

from fada_tf.data.raw import (CROSSCITY_LABEL_ENCODINGS, RAW_DATASETS, cityscapes, crosscity, gta5,
                              synthia)
from fada_tf.data.raw.common import RawFormat
from fada_tf.errors import FadaError


def raw_format(dataset: str, crosscity_labels: str = CROSSCITY_LABEL_ENCODINGS[0]) -> RawFormat:
    """The reader of ``dataset``; ``crosscity_labels`` is the encoding of Cross-City's labels."""
    fixed = {"gta5": gta5.FORMAT, "synthia": synthia.FORMAT, "cityscapes": cityscapes.FORMAT}
    if dataset in fixed:
        return fixed[dataset]
    if dataset == "crosscity":
        if crosscity_labels not in CROSSCITY_LABEL_ENCODINGS:
            raise FadaError(f"Cross-City label encoding {crosscity_labels!r} is not one of "
                            f"{', '.join(CROSSCITY_LABEL_ENCODINGS)}")
        return crosscity.raw_format(crosscity_labels)
    raise FadaError(f"unknown dataset {dataset!r}; choose one of {', '.join(RAW_DATASETS)}")
