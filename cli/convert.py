"""``fada-tf convert torch``: the original FADA's PyTorch checkpoints as a fada-tf run directory."""

from __future__ import annotations

import click

from fada_tf.cli.common import emit, json_option, set_option, work_on_stderr
from fada_tf.config import load_config


@click.group()
def convert():
    """Convert checkpoints of other implementations into fada-tf run directories.

    \b
    Example:
        fada-tf convert torch g2c_sd.pth --config configs/gta5_to_cityscapes_r101.yaml --out runs/g2c_sd
    """


@convert.command("torch")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), required=True,
              help="Config of the checkpoint's model (backbone, classes), e.g. "
                   "configs/gta5_to_cityscapes_r101.yaml.")
@set_option
@click.option("--out", "--output", "out", type=click.Path(file_okay=False), required=True,
              help="Run directory to create.")
@click.option("--imagenet", is_flag=True,
              help="CHECKPOINT is the original's ImageNet file (torchvision's ResNet-101/50, the "
                   "Caffe VGG-16): backbone only; the run's config.yaml then names the converted "
                   "weights as model.pretrained, so every network trained from it starts there.")
@json_option
def torch_command(checkpoint, config_path, overrides, out, imagenet, as_json):
    """Convert a PyTorch checkpoint of the original FADA into a run directory.

    CHECKPOINT is the original's .pth (a dict with the state dicts feature_extractor and
    classifier, optionally model_D; DistributedDataParallel's "module." prefixes are
    removed) or, with --imagenet, the original's ImageNet initialisation: torchvision's
    resnet101-5d3b4d8f.pth / resnet50-19c8e357.pth or the Caffe vgg16-00b39a1b.pth. Every
    tensor is placed exactly once; a missing or unused key or a wrong shape is an error
    listing them. The file is read with torch.load(weights_only=True): no arbitrary objects
    are unpickled. Needs PyTorch: pip install 'fada-tf[torch]'.

    The network is the one of the config's last stage (run.stages), which eval --run
    restores: the paper configs end with self-distillation (trainable BatchNorm, like the
    original's *_sd.pth); for an adapted model add --set run.stages=[source,adapt].

    The run directory (config.yaml, checkpoints/) works with eval, export... --run RUN;
    a model_D is written to RUN/discriminator.weights.h5. With --imagenet, RUN/config.yaml
    sets model.pretrained to the absolute path of RUN/checkpoints/imagenet-000000.weights.h5:
    training with that config (every stage's fresh network, a distill.student_init: model
    student included) starts from the exact ImageNet weights without PyTorch. With PyTorch
    installed, model.pretrained can also name the .pth itself.

    \b
    Examples:
        fada-tf convert torch g2c_sd.pth --config configs/gta5_to_cityscapes_r101.yaml --out runs/g2c_sd
        fada-tf eval --run runs/g2c_sd
        fada-tf convert torch resnet101-5d3b4d8f.pth --imagenet --config configs/gta5_to_cityscapes_r101.yaml --out runs/r101_imagenet
        fada-tf train --config runs/r101_imagenet/config.yaml --output runs/g2c
    """
    config = load_config(config_path, overrides)
    with work_on_stderr():
        from fada_tf.convert import convert_torch_checkpoint

        result = convert_torch_checkpoint(checkpoint, config, out, imagenet=imagenet)
    result["source"] = checkpoint
    emit(result, as_json, _report(result, imagenet))


def _report(result: dict, imagenet: bool) -> str:
    lines = [f"Converted {result['tensors']} tensors of {result['source']} into {result['run_dir']}:",
             f"  segmentor      {result['checkpoint']}"]
    if result["discriminator"]:
        lines.append(f"  discriminator  {result['discriminator']}")
    ignored = result["ignored_entries"] + ([f"{len(result['ignored_keys'])} keys (BatchNorm "
                                            "counters, ImageNet classifier)"]
                                           if result["ignored_keys"] else [])
    if ignored:
        lines.append(f"Ignored on purpose: {', '.join(ignored)}")
    if imagenet:
        lines += [f"{result['run_dir']}/config.yaml sets model.pretrained to it: every network "
                  "trained from that config starts from these ImageNet weights.",
                  f"Next: fada-tf train --config {result['run_dir']}/config.yaml --output RUN"]
    else:
        lines.append(f"Next: fada-tf eval --run {result['run_dir']}")
    return "\n".join(lines)
