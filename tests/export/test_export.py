"""ONNX and SavedModel export of the tiny segmentor: parity, shapes, metadata, runtime, errors.

Expected values come from the Keras segmentor and numpy (normalisation, softmax, argmax), never
from the exported graph itself; sizes differ from those the export verified itself on. The
exports here mostly leave the resize to the caller (``resize_to=None``: the network runs at the
input's size); the default export, which resizes any image inside the graph, is tested in
tests/export/test_graph_resize.py.
"""

import ast
import json
import re
import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf
import yaml
from PIL import Image

from fada_tf.config import load_config, to_dict
from fada_tf.config.schema import NormalizationConfig
from fada_tf.data.classes import class_table
from fada_tf.export import runtime
from fada_tf.export.metadata import export_metadata
from fada_tf.export.onnx import convert, export_onnx
from fada_tf.export.savedmodel import METADATA_FILE, export_savedmodel
from fada_tf.models import build_segmentor
from fada_tf.models.resize import resize_bilinear
from fada_tf.training.run_dir import RunDir
from tests.support.cli_invoke import invoke
from tests.support.keras_models import random_statistics
from tests.support.numpy_reference import softmax

MEAN, STD = np.float32([0.485, 0.456, 0.406]), np.float32([0.229, 0.224, 0.225])
NORM = NormalizationConfig()
VERIFY_SIZES = [(64, 128), (35, 69)]
TINY = ["model.tiny_width=4"]


@pytest.fixture(scope="module")
def config():
    return load_config(None, TINY)


@pytest.fixture(scope="module")
def segmentor(config):
    model = build_segmentor(config.model, 9, seed=3)
    # Non-trivial BatchNorm statistics, so normalisation and BN both matter.
    random_statistics(model, seed=0)
    return model


@pytest.fixture(scope="module")
def run_dir(config, segmentor, tmp_path_factory):
    run = RunDir.create(tmp_path_factory.mktemp("export") / "run", config)
    run.save_segmentor(segmentor, "adapt", 5)
    return run


@pytest.fixture(scope="module")
def onnx_files(config, segmentor, tmp_path_factory):
    """Each (output, input) export made once: ``onnx_files(output, input_mode)`` -> (path, report)."""
    folder, made = tmp_path_factory.mktemp("onnx"), {}

    def get(output, input_mode):
        if (output, input_mode) not in made:
            path = folder / f"{output}_{input_mode}.onnx"
            metadata = export_metadata(config, "w.weights.h5", output, input_mode, None)
            made[output, input_mode] = (path, export_onnx(segmentor, NORM, path, sizes=VERIFY_SIZES, output=output,
                                                          input_mode=input_mode, metadata=metadata))
        return made[output, input_mode]
    return get


def normalized(images):
    return (images.astype(np.float32) / 255.0 - MEAN) / STD


def keras_logits(segmentor, images_uint8):
    """The expected logits at the images' size: Keras segmentor, evaluation's upsampling."""
    logits = segmentor(normalized(images_uint8), training=False)["logits"]
    return resize_bilinear(logits, images_uint8.shape[1:3]).numpy()


def random_bytes(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def run_onnx(path, images):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": images})[0]


@pytest.mark.parametrize("input_mode", ["uint8", "float"])
@pytest.mark.parametrize("output", ["logits", "probs", "labels"])
def test_onnx_matches_keras_in_every_mode_with_dynamic_batch_and_size(segmentor, onnx_files, output, input_mode):
    path, report = onnx_files(output, input_mode)
    assert report["verification"]["sizes"] == [list(s) for s in VERIFY_SIZES]
    assert report["verification"]["label_agreement"] >= 0.999
    for batch, size in ((3, (40, 56)), (1, (23, 97))):
        images = random_bytes((batch, *size, 3), seed=batch)
        produced = run_onnx(path, images if input_mode == "uint8" else normalized(images))
        expected = keras_logits(segmentor, images)
        if output == "labels":
            assert produced.shape == (batch, *size) and produced.dtype == np.int32
            assert np.mean(produced == expected.argmax(-1)) >= 0.999
        else:
            assert produced.shape == (batch, *size, 9) and produced.dtype == np.float32
            want = expected if output == "logits" else softmax(expected)
            np.testing.assert_allclose(produced, want, atol=2e-5)
            if output == "probs":
                np.testing.assert_allclose(produced.sum(-1), 1.0, atol=1e-5)


def test_uint8_graph_equals_float_graph_after_normalisation(onnx_files):
    images = random_bytes((2, 48, 80, 3), seed=7)
    from_bytes = run_onnx(onnx_files("logits", "uint8")[0], images)
    from_floats = run_onnx(onnx_files("logits", "float")[0], normalized(images))
    np.testing.assert_allclose(from_bytes, from_floats, atol=1e-5)


def test_inputs_and_outputs_are_typed_and_named(onnx_files):
    model = onnx.load(str(onnx_files("labels", "uint8")[0]))
    (image,), (labels,) = model.graph.input, model.graph.output
    assert image.name == "image" and labels.name == "labels"
    assert image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert labels.type.tensor_type.elem_type == onnx.TensorProto.INT32
    dims = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
    assert dims == ["batch", "height", "width", 3]
    model = onnx.load(str(onnx_files("probs", "float")[0]))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_dilated_convolutions_become_native_convs_with_the_same_outputs(segmentor):
    def ops(model):
        return [n.op_type for n in model.graph.node]

    def dilations(model):
        return sorted(max(a.ints) for n in model.graph.node if n.op_type == "Conv"
                      for a in n.attribute if a.name == "dilations" and max(a.ints) > 1)

    native = convert(segmentor, NORM, output="logits", input_mode="float")
    tf2onnx_own = convert(segmentor, NORM, output="logits", input_mode="float", dilations="space-to-depth")
    # The tiny backbone: layer3 two convs at dilation 2, layer4 two at 4; ASPP 6, 12, 18, 24.
    assert dilations(native) == [2, 2, 4, 4, 6, 12, 18, 24]
    assert "SpaceToDepth" not in ops(native) and "SpaceToDepth" in ops(tf2onnx_own)
    images = normalized(random_bytes((2, 37, 61, 3), seed=4))
    a = ort.InferenceSession(native.SerializeToString()).run(None, {"image": images})[0]
    b = ort.InferenceSession(tf2onnx_own.SerializeToString()).run(None, {"image": images})[0]
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("opset", [11, 18])
def test_oldest_and_newest_supported_opsets_export_and_verify(segmentor, tmp_path, opset):
    report = export_onnx(segmentor, NORM, tmp_path / "m.onnx", sizes=VERIFY_SIZES, opset=opset)
    assert report["verification"]["max_prob_diff"] < 1e-4
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == opset


def test_size_fixes_height_and_width_but_not_the_batch(segmentor, tmp_path):
    path = tmp_path / "fixed.onnx"
    report = export_onnx(segmentor, NORM, path, sizes=[(40, 56)], output="probs", size=(40, 56))
    assert report["size"] == [40, 56] and report["verification"]["sizes"] == [[40, 56]]
    dims = [d.dim_param or d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 40, 56, 3]
    images = random_bytes((3, 40, 56, 3))
    np.testing.assert_allclose(run_onnx(path, images), softmax(keras_logits(segmentor, images)), atol=2e-5)
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        run_onnx(path, random_bytes((1, 48, 56, 3)))


def test_metadata_describes_classes_normalisation_and_source(config, segmentor, tmp_path):
    path = tmp_path / "meta.onnx"
    metadata = export_metadata(config, "runs/x/checkpoints/adapt-000005.weights.h5", "labels", "uint8", None)
    export_onnx(segmentor, NORM, path, sizes=VERIFY_SIZES, output="labels", metadata=metadata)
    props = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
    table = class_table("synthetic")
    assert json.loads(props["class_names"]) == list(table.names)
    assert [tuple(c) for c in json.loads(props["palette"])] == list(table.colours)
    normalization = json.loads(props["normalization"])
    assert normalization["mean"] == pytest.approx(MEAN.tolist()) and normalization["std"] == pytest.approx(STD.tolist())
    assert normalization["inside_graph"] is True and normalization["scale"] == pytest.approx(1 / 255)
    assert (props["input"], props["output"], json.loads(props["size"])) == ("uint8", "labels", None)
    assert json.loads(props["resize"]) == {"inside_graph": False, "size": [64, 128], "method": "pil_bicubic_uint8",
                                           "equals_evaluation": False, "output_size": "input"}
    assert json.loads(props["training_size"]) == [64, 128] and json.loads(props["eval_size"]) == [64, 128]
    assert props["checkpoint"] == "adapt-000005.weights.h5" and props["backbone"] == "tiny"
    assert yaml.safe_load(props["config"]) == to_dict(config)


def test_caffe_bgr_normalisation_is_applied_in_the_graph_and_described(config, segmentor, tmp_path):
    """A VGG-16 paper config feeds BGR 0..255 minus the Caffe mean (model.normalization): the
    uint8 graph must compute exactly that (the expected logits normalise in numpy here)."""
    caffe = load_config(None, [*TINY, "model.normalization={mean: [103.939, 116.779, 123.68], "
                                      "std: [1, 1, 1], to_bgr255: true}"])
    norm = caffe.model.normalization
    path = tmp_path / "bgr.onnx"
    export_onnx(segmentor, norm, path, sizes=VERIFY_SIZES, output="logits",
                metadata=export_metadata(caffe, "adapt-000005.weights.h5", "logits", "uint8", None))
    images = random_bytes((2, 33, 47, 3), seed=5)
    bgr = (images[..., ::-1].astype(np.float32) - np.float32(norm.mean)) / np.float32(norm.std)
    expected = resize_bilinear(segmentor(bgr, training=False)["logits"], (33, 47)).numpy()
    np.testing.assert_allclose(run_onnx(path, images), expected, atol=1e-4)
    props = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
    described = json.loads(props["normalization"])
    assert (described["channels"], described["scale"], described["mean"]) == ([2, 1, 0], 1.0, norm.mean)


def test_savedmodel_serving_signature_matches_keras(segmentor, config, tmp_path):
    out = tmp_path / "saved"
    metadata = export_metadata(config, "w.weights.h5", "probs", "uint8", None)
    report = export_savedmodel(segmentor, NORM, out, sizes=VERIFY_SIZES, output="probs", metadata=metadata)
    assert report["verification"]["max_prob_diff"] < 1e-4
    assert json.loads((out / METADATA_FILE).read_text()) == metadata
    assert [p.name for p in tmp_path.iterdir()] == ["saved"]
    # Every variable stored once (tracking the model too would store them twice).
    weight_bytes = sum(v.numpy().nbytes for v in segmentor.weights)
    stored = sum(p.stat().st_size for p in (out / "variables").glob("variables.data-*"))
    assert weight_bytes <= stored < 1.2 * weight_bytes
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    images = random_bytes((2, 44, 52, 3), seed=5)
    probs = serve(image=tf.constant(images))["probs"].numpy()
    np.testing.assert_allclose(probs, softmax(keras_logits(segmentor, images)), atol=2e-5)


def test_savedmodel_labels_from_float_input(segmentor, tmp_path):
    out = tmp_path / "saved_labels"
    export_savedmodel(segmentor, NORM, out, sizes=[(32, 48)], output="labels", input_mode="float", size=(32, 48))
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    images = random_bytes((2, 32, 48, 3), seed=6)
    labels = serve(image=tf.constant(normalized(images)))["labels"].numpy()
    assert labels.dtype == np.int32
    assert np.mean(labels == keras_logits(segmentor, images).argmax(-1)) >= 0.999


def test_failed_verification_writes_nothing(segmentor, tmp_path, monkeypatch):
    import fada_tf.export.verify as verify

    monkeypatch.setattr(verify, "reference_logits",
                        lambda seg, images, mode, norm, **kw: np.random.default_rng(0).normal(size=(*images.shape[:3], 9)))
    from fada_tf.errors import FadaError

    with pytest.raises(FadaError, match="ONNX Runtime differs from Keras"):
        export_onnx(segmentor, NORM, tmp_path / "bad.onnx", sizes=VERIFY_SIZES)
    with pytest.raises(FadaError, match="the SavedModel differs from Keras"):
        export_savedmodel(segmentor, NORM, tmp_path / "bad_saved", sizes=[(32, 48)])
    assert list(tmp_path.iterdir()) == []


def test_cli_exports_a_run_and_reports_json(run_dir, tmp_path):
    out = tmp_path / "run.onnx"
    result = invoke("export", "onnx", "--run", str(run_dir.path), "--out", str(out), "--json", ok=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["checkpoint"].endswith("adapt-000005.weights.h5") and report["path"] == str(out)
    assert report["bytes"] == out.stat().st_size and report["opset"] == 17
    # The default export resizes in the graph: verified at the evaluation size, a smaller and a larger one.
    assert report["verification"]["max_prob_diff"] < 1e-4 and report["verification"]["images"] == 6
    assert report["resize_to"] == report["verification"]["resize_to"] == [64, 128]
    assert report["verification"]["sizes"] == [[64, 128], [35, 69], [81, 163]]
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["checkpoint"] == "adapt-000005.weights.h5"
    assert json.loads(props["resize"])["inside_graph"] is True


def test_cli_config_and_checkpoint_text_report(run_dir, tmp_path):
    checkpoint = run_dir.latest_checkpoint()
    out = tmp_path / "saved"
    result = invoke("export", "savedmodel", "--config", str(run_dir.config_path), "--checkpoint",
                    str(checkpoint), "--out", str(out), "--output", "labels", "--size", "48x64", ok=False)
    assert result.exit_code == 0, result.output
    assert re.search(r"wrote .*saved .*batch x 48x64", result.stdout)
    assert "labels agree on 100.000% of pixels" in result.stdout
    again = invoke("export", "savedmodel", "--run", str(run_dir.path), "--out", str(out), ok=False)
    assert again.exit_code == 1 and "already exists" in again.stderr


@pytest.mark.parametrize("args,message", [
    (["--run", "no/such/run"], "no/such/run is not a run directory"),
    ([], "say which model: --run RUN, or --config FILE --checkpoint WEIGHTS"),
    (["--opset", "9"], "opset 9 is not supported: choose one from 11 to 18"),
    (["--size", "64by128"], "--size '64by128' must be HEIGHTxWIDTH"),
    (["--set", "model.tiny_width=8"], "does not match the configured model"),
    (["--tolerance", "-1"], "--tolerance -1.0 must not be negative"),
])
def test_cli_errors_are_one_line_and_leave_no_file(run_dir, tmp_path, args, message):
    if args[:1] != ["--run"] and args:
        args = ["--run", str(run_dir.path), *args]
    out = tmp_path / "m.onnx"
    result = invoke("export", "onnx", "--out", str(out), *args, ok=False)
    assert result.exit_code == 1, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == "" and not out.exists()


def test_cli_verification_failure_is_an_error_and_leaves_no_file(run_dir, tmp_path, monkeypatch):
    import fada_tf.export.verify as verify

    monkeypatch.setattr(verify, "reference_logits",
                        lambda seg, images, mode, norm, **kw: np.zeros((*images.shape[:3], 9)))
    result = invoke("export", "onnx", "--run", str(run_dir.path), "--out", str(tmp_path / "m.onnx"), ok=False)
    assert result.exit_code == 1
    assert "ONNX Runtime differs from Keras: largest probability difference" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_run_in_a_real_process_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fada_tf.cli", "export", "onnx", "--run", "no/run",
                           "--out", str(tmp_path / "m.onnx")], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "Error: no/run is not a run directory (no config.yaml); " \
                                  "train one with `fada-tf train --output DIR`"


@pytest.mark.parametrize("name", ["onnx", "savedmodel"])
def test_export_commands_have_help_with_an_example(name):
    result = invoke("export", name, "-h", ok=False)
    assert result.exit_code == 0 and "Example" in result.output and f"fada-tf export {name}" in result.output


def test_runtime_uses_the_cpu_and_warns_when_the_gpu_provider_does_not_load(onnx_files, monkeypatch, capsys):
    path = str(onnx_files("probs", "uint8")[0])
    session = runtime.create_session(path, threads=1)
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert capsys.readouterr().err == ""

    runtime.create_session(path, device="gpu")
    assert "install onnxruntime-gpu instead of onnxruntime" in capsys.readouterr().err

    # onnxruntime-gpu installed but CUDA unusable: ONNX Runtime falls back to the CPU silently.
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert runtime.choose_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert runtime.choose_providers("cpu") == ["CPUExecutionProvider"]
    with warnings.catch_warnings():  # this CPU build of onnxruntime warns about the request too
        warnings.simplefilter("ignore", UserWarning)
        session = runtime.create_session(path)
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert "CUDAExecutionProvider is installed but could not load" in capsys.readouterr().err


def deployment_example(repo):
    """The first Python example of docs/deployment.md (tests/test_docs.py leaves it to this test)."""
    deployment = repo.joinpath("docs", "deployment.md").read_text()
    return re.search(r"```python\n(.*?)```", deployment, re.S).group(1)


def test_deployment_example_runs_without_fada_tf(repo, config, segmentor, tmp_path):
    code = deployment_example(repo)
    assert "fada_tf" not in code
    export_onnx(segmentor, NORM, tmp_path / "demo.onnx", sizes=VERIFY_SIZES, resize_to=(64, 128),
                metadata=export_metadata(config, "w.weights.h5", "probs", "uint8", None, resize_to=(64, 128)))
    street = random_bytes((50, 90, 3), seed=8)
    Image.fromarray(street).save(tmp_path / "street.png")
    blocker = "import sys; sys.modules['fada_tf'] = None\n"
    proc = subprocess.run([sys.executable, "-c", blocker + code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    coloured = np.asarray(Image.open(tmp_path / "street_labels.png"))
    assert coloured.shape == (50, 90, 3)
    # Evaluation's computation: Pillow bicubic to the working size, Keras, logits upsampled.
    resized = np.asarray(Image.fromarray(street).resize((128, 64), Image.BICUBIC))[None]
    logits = segmentor(normalized(resized), training=False)["logits"]
    palette = np.array(class_table("synthetic").colours, np.uint8)
    expected = palette[resize_bilinear(logits, (50, 90)).numpy().argmax(-1)[0]]
    assert np.mean(np.all(coloured == expected, axis=-1)) >= 0.999
    fractions = ast.literal_eval(proc.stdout.strip())
    assert set(fractions) <= set(class_table("synthetic").names)
    assert sum(fractions.values()) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("output,input_mode", [("probs", "uint8"), ("labels", "float")])
def test_predict_with_onnx_agrees_with_predict_with_keras(run_dir, onnx_files, tmp_path, output, input_mode):
    path, _ = onnx_files(output, input_mode)
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    for i, shape in enumerate([(64, 128, 3), (80, 100, 3)]):
        Image.fromarray(random_bytes(shape, seed=i)).save(images / f"street{i}.png")
    keras = invoke("predict", str(images), "--out", str(tmp_path / "keras"), "--run", str(run_dir.path), "--json",
                   ok=False)
    ort_run = invoke("predict", str(images), "--out", str(tmp_path / "ort"), "--onnx", str(path), "--json", ok=False)
    assert keras.exit_code == 0 and ort_run.exit_code == 0, ort_run.output
    for i, shape in enumerate([(64, 128), (80, 100)]):
        a = np.asarray(Image.open(tmp_path / "keras" / f"street{i}_labels.png"))
        b = np.asarray(Image.open(tmp_path / "ort" / f"street{i}_labels.png"))
        assert a.shape == b.shape == shape
        # Same model; only the resizing back to the image differs slightly from evaluation's.
        assert (a == b).mean() > (0.999 if shape == (64, 128) else 0.9)


@pytest.mark.parametrize("extra,message", [
    (["--run", "RUN"], "--onnx runs an exported model: drop --run"),
    (["--mst"], "--onnx predicts at a single scale without flip"),
])
def test_predict_onnx_option_errors(run_dir, onnx_files, tmp_path, extra, message):
    from PIL import Image

    Image.fromarray(random_bytes((8, 8, 3))).save(tmp_path / "a.png")
    path, _ = onnx_files("probs", "uint8")
    extra = [str(run_dir.path) if e == "RUN" else e for e in extra]
    result = invoke("predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), "--onnx", str(path), *extra,
                    ok=False)
    assert result.exit_code == 1 and message in result.stderr and not (tmp_path / "o").exists()


def test_predict_refuses_16_bit_images_and_foreign_onnx_models(run_dir, tmp_path):
    from PIL import Image

    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(tmp_path / "deep.png")
    result = invoke("predict", str(tmp_path / "deep.png"), "--out", str(tmp_path / "o"), "--run", str(run_dir.path),
                    ok=False)
    assert result.exit_code == 1 and "16/32-bit" in result.stderr
    foreign = tmp_path / "foreign.onnx"
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["image"], ["out"])], "g",
                                   [onnx.helper.make_tensor_value_info("image", onnx.TensorProto.UINT8, [1, 8, 8, 3])],
                                   [onnx.helper.make_tensor_value_info("out", onnx.TensorProto.UINT8, [1, 8, 8, 3])])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), foreign)
    Image.fromarray(random_bytes((8, 8, 3))).save(tmp_path / "a.png")
    result = invoke("predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), "--onnx", str(foreign), ok=False)
    assert result.exit_code == 1 and "is not a fada-tf export" in result.stderr
