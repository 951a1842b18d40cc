"""Prepared datasets of every raw format (``prepare_every_format``) and the config of an
experiment that reads them (``experiment``)."""

from fada_tf.config import load_config
from fada_tf.data.prepare import PrepareOptions, prepare
from tests.support.raw_fixtures import write_cityscapes, write_crosscity, write_gta5, write_synthia


def prepare_every_format(root):
    """Tiny GTA5, Cityscapes, Cross-City and SYNTHIA releases under ``root/raw``, each prepared
    into ``root/<dataset>``, GTA5 also as TFRecords into ``root/gta5_tfrecord``. Returns
    ``(root, {dataset: the writer's expected pairs})`` (Cross-City's are not returned)."""
    found = {"gta5": write_gta5(root / "raw" / "gta5", count=6),
             "cityscapes": write_cityscapes(root / "raw" / "cityscapes"),
             "synthia": write_synthia(root / "raw" / "synthia", count=3)}
    write_crosscity(root / "raw" / "crosscity")
    for dataset in ("gta5", "cityscapes", "crosscity", "synthia"):
        prepare(PrepareOptions(dataset, str(root / "raw" / dataset)), str(root / dataset))
    prepare(PrepareOptions("gta5", str(root / "raw" / "gta5"), storage="tfrecord", shards=4),
            str(root / "gta5_tfrecord"))
    return root, found


def experiment(root, classes="cityscapes19", source="gta5", target="cityscapes", *extra):
    return load_config(None, [f"data.classes={classes}", f"data.source.dataset={source}",
                              f"data.source.root={root / source}", f"data.target.dataset={target}",
                              f"data.target.root={root / target}", *extra])
