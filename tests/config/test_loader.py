"""Config loading: strict keys with suggestions, types, choices, _base_, overrides, dumping."""

import dataclasses

import pytest
import yaml

from fada_tf.config import Config, dump_config, load_config
from fada_tf.errors import ConfigError


def write(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_are_the_synthetic_config(repo):
    assert load_config(repo / "configs" / "synthetic.yaml") == load_config(None) == Config()


def test_every_shipped_config_loads(repo):
    paths = sorted((repo / "configs").glob("*.yaml"))
    assert len(paths) >= 6
    for path in paths:
        load_config(path)


def test_paper_configs_name_their_datasets_and_backbones(repo):
    """The recipe itself is checked against the original's values in test_paper_recipe.py."""
    cfg = load_config(repo / "configs" / "gta5_to_cityscapes_r101.yaml")
    assert cfg.model.backbone == "resnet101" and cfg.model.freeze_bn
    assert cfg.data.classes == "cityscapes19"
    assert (cfg.data.source.dataset, cfg.data.target.dataset) == ("gta5", "cityscapes")
    synthia = load_config(repo / "configs" / "synthia_to_cityscapes_vgg16.yaml")
    assert synthia.data.classes == "synthia16" and synthia.model.backbone == "vgg16"
    assert synthia.model.normalization.to_bgr255


def test_unknown_key_names_the_key_and_suggests_the_closest(tmp_path):
    path = write(tmp_path / "c.yaml", {"adapt": {"lamda_adv": 0.1}})
    with pytest.raises(ConfigError, match=r"adapt\.lamda_adv.*did you mean adapt\.lambda_adv"):
        load_config(path)


def test_wrong_type_names_the_key(tmp_path):
    path = write(tmp_path / "c.yaml", {"source": {"steps": "many"}})
    with pytest.raises(ConfigError, match=r"source\.steps must be int"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"model\.freeze_bn must be true or false"):
        load_config(None, ["model.freeze_bn=3"])
    with pytest.raises(ConfigError, match=r"adapt\.source_images\.crop\[1\] must be int"):
        load_config(None, ["adapt.source_images.crop=[64, wide]"])


def test_choice_is_checked():
    with pytest.raises(ConfigError, match=r"adapt\.encoding = 'fuzzy' is not one of binary, hard, soft"):
        load_config(None, ["adapt.encoding=fuzzy"])


def test_integers_are_accepted_for_floats_but_not_bools_for_ints():
    assert load_config(None, ["adapt.lambda_adv=1"]).adapt.lambda_adv == 1.0
    with pytest.raises(ConfigError):
        load_config(None, ["source.steps=true"])


def test_exponent_without_a_dot_is_a_float_not_yaml_string():
    assert load_config(None, ["adapt.lambda_adv=1e-3"]).adapt.lambda_adv == 1e-3
    with pytest.raises(ConfigError, match="must be float, got 'fast'"):
        load_config(None, ["adapt.lambda_adv=fast"])


def test_base_is_merged_and_overrides_win(tmp_path):
    write(tmp_path / "base.yaml", {"adapt": {"lambda_adv": 0.5, "encoding": "hard"}, "run": {"seed": 3}})
    child = write(tmp_path / "child.yaml", {"_base_": "base.yaml", "adapt": {"lambda_adv": 0.25}})
    cfg = load_config(child, ["run.seed=7", "source.source_images.crop=[32, 48]"])
    assert cfg.adapt.lambda_adv == 0.25 and cfg.adapt.encoding == "hard"
    assert cfg.run.seed == 7 and cfg.source.source_images.crop == [32, 48]


def test_a_mapping_override_updates_the_section_key_by_key(tmp_path):
    base = write(tmp_path / "base.yaml", {"adapt": {"source_images": {"resize": [8, 16], "flip": 0.0,
                                                                      "class_balanced": True}}})
    cfg = load_config(base, ["adapt.source_images={crop: [4, 8], flip: 0.5}"])
    stream = cfg.adapt.source_images
    assert (stream.resize, stream.crop, stream.flip, stream.class_balanced) == ([8, 16], [4, 8], 0.5, True)


def test_base_cycle_and_missing_files_are_errors(tmp_path):
    write(tmp_path / "a.yaml", {"_base_": "b.yaml"})
    write(tmp_path / "b.yaml", {"_base_": "a.yaml"})
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_bad_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("adapt:\n  lambda_adv: [0.1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*line"):
        load_config(path)


def test_malformed_override():
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["adapt.lambda_adv"])
    with pytest.raises(ConfigError, match=r"unknown key adapt\.nope"):
        load_config(None, ["adapt.nope=1"])


def test_dumped_config_loads_back_identically(tmp_path):
    cfg = load_config(None, ["adapt.encoding=binary", "run.seed=5"])
    dump_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(tmp_path / "resolved.yaml") == cfg
    assert dataclasses.asdict(cfg)["adapt"]["encoding"] == "binary"


@pytest.mark.parametrize("override,message", [
    ("source.source_images.crop=[64]", r"source\.source_images\.crop must be two positive numbers"),
    ("adapt.target_images.resize=[0, 128]", r"adapt\.target_images\.resize must be two positive numbers"),
    ("distill.target_images.flip=1.5", r"distill\.target_images\.flip is a probability in \[0, 1\]"),
    ("adapt.source_images.color_jitter=[0.5, 0.5]", r"adapt\.source_images\.color_jitter must be "
                                                     r"\[brightness, contrast, saturation, hue\]"),
    ("distill.target_images={crop: [], scale_range: [0.5, 1.5]}",
     r"distill\.target_images\.crop is needed with a random scale_range"),
    ("adapt.target_images={resize: [], crop: []}", r"adapt\.target_images needs a resize or a crop size"),
    ("model.normalization.std=[1, 0, 1]", r"model\.normalization needs three means and three positive stds"),
    ("distill.eval_size=[512]", r"distill\.eval_size must be two positive numbers"),
    ("adapt.steps=0", r"adapt\.steps must be positive"),
    ("adapt.clip=1.5", r"adapt\.clip must be in \(0, 1\]"),
    ("run.stages=[adapt, source]", r"run\.stages must list source, adapt and/or distill once each, in that order"),
    ("run.stages=[distill, adapt]", r"run\.stages must list"),
    ("distill.confidence_threshold=1.0", r"distill\.confidence_threshold must be in \[0, 1\)"),
    ("distill.scales=[]", r"distill\.scales must be positive numbers"),
    ("run.stages=[]", r"run\.stages must list"),
])
def test_values_are_checked_beyond_their_types(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_a_partial_section_keeps_the_defaults_its_parent_sets():
    """The target domain's default has a labelled val split; overriding one of its keys keeps it."""
    assert Config().data.target.val_split == "val"
    cfg = load_config(None, ["data.target.train_split=more"])
    assert cfg.data.target.val_split == "val" and cfg.data.target.train_split == "more"


def test_a_key_from_before_the_stage_streams_says_where_it_went(tmp_path):
    old = write(tmp_path / "old.yaml", {"data": {"source": {"dataset": "synthetic", "flip": True}}})
    with pytest.raises(ConfigError, match=r"data\.source\.flip is no longer a key: since fada-tf 0\.2 "
                                          r"each stage reads each domain through its own image stream"):
        load_config(old)
