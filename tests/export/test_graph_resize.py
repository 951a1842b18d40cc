"""The default export resizes inside the graph: any image size in, masks at that size out, the
same as ``fada-tf predict --run`` (PIL bicubic to the evaluation size, network, logits upsampled
to the image, argmax), in ONNX Runtime and in the SavedModel.

The model is a tiny network trained for a few steps on the synthetic source domain (so its
logits have the margins of a trained model, not of random weights), the images are rendered
target-style ("real") scenes at odd sizes larger and smaller than the 64x128 evaluation size.
The expected masks come from ``predict --run``'s Keras segmenter (or ``fada-tf predict --run``
itself), never from the exported graph; the resize alone is compared with Pillow.
"""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf
import tf2onnx
from PIL import Image

from fada_tf.data.image_ops import resize_float_images, resize_images
from fada_tf.data.synthetic import REAL, render_scene
from fada_tf.errors import FadaError
from fada_tf.export.predictor import OnnxSegmenter
from fada_tf.export.verify import check_parity, pil_resize, verification_sizes
from tests.support.cli_invoke import invoke

EVAL_SIZE = (64, 128)
# Larger and smaller than the evaluation size, none a multiple of 8, landscape and portrait.
ODD_SIZES = [(72, 136), (97, 161), (250, 500), (40, 70), (150, 91)]
TRAIN = ["--set", "model.tiny_width=8", "--set", "run.stages=[source]", "--set", "source.steps=80",
         "--set", "source.batch_size=4", "--set", "data.synthetic.source_images=40",
         "--set", "data.synthetic.target_train_images=4", "--set", "data.synthetic.target_val_images=4",
         "--set", "run.checkpoint_every=80", "--set", "run.log_every=40"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("trained") / "run"
    invoke("train", "--output", path, *TRAIN)
    return path


@pytest.fixture(scope="module")
def exports(run, tmp_path_factory):
    """``exports(name, *options)``: the run exported once per name with the CLI's defaults plus options."""
    folder, made = tmp_path_factory.mktemp("exports"), {}

    def get(name, *options):
        if name not in made:
            fmt = "savedmodel" if name.startswith("savedmodel") else "onnx"
            out = folder / (name if fmt == "savedmodel" else f"{name}.onnx")
            made[name] = (out, json.loads(invoke("export", fmt, "--run", run, "--out", out, *options,
                                                 "--json").stdout))
        return made[name]
    return get


@pytest.fixture(scope="module")
def keras_masks(run):
    """``predict --run``'s segmenter: (H, W, 3) uint8 image -> (H, W) train IDs."""
    from fada_tf.cli.common import resolve_model
    from fada_tf.cli.predict import _keras_segmenter

    config, checkpoint = resolve_model(run, None, None, ())
    return _keras_segmenter(config, checkpoint, [1.0], False)[1]


def scene(size, index=0):
    return render_scene(REAL, 5000 + 31 * index + size[0] * 7 + size[1], *size)[0]


def agreement(segment, keras_masks, size, count=3):
    equal = total = 0
    for i in range(count):
        image = scene(size, i)
        expected, produced = keras_masks(image), segment(image)
        assert produced.shape == expected.shape == size
        equal, total = equal + int((produced == expected).sum()), total + expected.size
    return equal / total


# --------------------------------------------------------------------------------- the resize alone

def to_onnx_session(function):
    model, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=17)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_pil_bicubic_in_onnx_runtime_is_exact_for_any_input_size():
    """One graph, the working size fixed, inputs of many sizes and batch sizes: ONNX Runtime
    gives Pillow's bytes (and Pillow's 32-bit float resize for floats) everywhere."""
    u8 = tf.function(lambda x: {"out": resize_images(x, EVAL_SIZE)},
                     input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="image")])
    f32 = tf.function(lambda x: {"out": resize_float_images(x, EVAL_SIZE)},
                      input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="image")])
    bytes_session, float_session = to_onnx_session(u8), to_onnx_session(f32)
    rng = np.random.default_rng(0)
    for batch, size in [(2, (72, 136)), (1, (250, 500)), (3, (33, 61)), (1, (64, 128)), (1, (300, 90)),
                        (1, (64, 300)), (2, (7, 5))]:
        images = (np.stack([scene(size, i) for i in range(batch)]) if min(size) > 16
                  else rng.integers(0, 256, (batch, *size, 3), dtype=np.uint8))
        images[0, :3] = rng.integers(0, 256, (3, size[1], 3))  # noise: PIL clips at both ends
        np.testing.assert_array_equal(bytes_session.run(None, {"image": images})[0], pil_resize(images, EVAL_SIZE),
                                      err_msg=str(size))
        floats = ((images / 255.0 - 0.45) / 0.225).astype(np.float32)
        np.testing.assert_allclose(float_session.run(None, {"image": floats})[0], pil_resize(floats, EVAL_SIZE),
                                   rtol=0, atol=1e-6, err_msg=str(size))


# --------------------------------------------------------------------------------- exported models

def test_default_export_resizes_in_the_graph_and_says_so(exports):
    path, report = exports("labels", "--output", "labels")
    assert report["resize_to"] == [64, 128] and report["size"] is None
    verification = report["verification"]
    assert verification["resize_to"] == [64, 128]
    assert verification["sizes"] == [list(s) for s in verification_sizes(EVAL_SIZE, None, True)]
    assert verification["sizes"] == [[64, 128], [35, 69], [81, 163]] and verification["label_agreement"] >= 0.999
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["resize"]) == {"inside_graph": True, "size": [64, 128], "method": "pil_bicubic_uint8",
                                           "equals_evaluation": True, "output_size": "input"}
    assert "resized to 64x128 inside" in model.doc_string
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "height", "width", 3]


def test_onnx_labels_equal_predict_run_at_odd_sizes(exports, keras_masks):
    segmenter = OnnxSegmenter(str(exports("labels", "--output", "labels")[0]), device="cpu")
    assert segmenter.takes_as_is(97, 161)
    for size in [EVAL_SIZE, *ODD_SIZES]:
        assert agreement(segmenter.predict, keras_masks, size) >= 0.999, size


def test_onnx_probabilities_equal_predict_run_and_keep_their_size(exports, keras_masks):
    path, _ = exports("probs")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = np.stack([scene((97, 161), i) for i in range(2)])
    probs = session.run(None, {"image": batch})[0]
    assert probs.shape == (2, 97, 161, 9)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    for image, p in zip(batch, probs):
        assert np.mean(p.argmax(-1) == keras_masks(image)) >= 0.999
    segmenter = OnnxSegmenter(str(path), device="cpu")
    for size in [(250, 500), (40, 70)]:
        assert agreement(segmenter.predict, keras_masks, size, count=2) >= 0.999, size


def test_savedmodel_equals_predict_run_at_odd_sizes(exports, keras_masks):
    path, report = exports("savedmodel_labels", "--output", "labels")
    assert report["resize_to"] == [64, 128]
    metadata = json.loads((path / "assets.extra" / "fada_tf.json").read_text())
    assert json.loads(metadata["resize"])["inside_graph"] is True
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert serve.structured_input_signature[1]["image"].shape.as_list() == [None, None, None, 3]

    def segment(image):
        return serve(image=tf.constant(image[None]))["labels"].numpy()[0]
    for size in [(72, 136), (97, 161), (250, 500), (40, 70)]:
        assert agreement(segment, keras_masks, size, count=2) >= 0.999, size


def test_float_input_resizes_the_normalised_image_close_to_predict_run(exports, keras_masks, run):
    """Float mode: the caller normalises the full-size image, the graph resizes the floats
    (Pillow's bicubic of float images, no 8-bit rounding): exactly that (the export's own
    check), and close to evaluation's resize-then-normalise (measured 99.77-99.90 % of pixels)."""
    path, report = exports("labels_float", "--output", "labels", "--input", "float")
    assert report["verification"]["label_agreement"] >= 0.999 and report["verification"]["resize_to"] == [64, 128]
    segmenter = OnnxSegmenter(str(path), device="cpu")
    assert segmenter.resize["method"] == "pil_bicubic_float32" and segmenter.resize["equals_evaluation"] is False
    for size in [(72, 136), (250, 500), (40, 70)]:
        assert agreement(segmenter.predict, keras_masks, size, count=2) >= 0.99, size


def test_fixed_size_export_still_resizes_to_the_working_size(exports, keras_masks):
    path, report = exports("fixed", "--output", "labels", "--size", "97x161")
    assert report["size"] == [97, 161] and report["verification"]["sizes"] == [[97, 161]]
    dims = [d.dim_param or d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 97, 161, 3]
    segmenter = OnnxSegmenter(str(path), device="cpu")
    assert segmenter.takes_as_is(97, 161) and not segmenter.takes_as_is(72, 136)
    assert agreement(segmenter.predict, keras_masks, (97, 161)) >= 0.999
    assert segmenter.predict(scene((72, 136))).shape == (72, 136)  # resized here: close, not equal
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        segmenter.session.run(None, {"image": scene((72, 136))[None]})
    # Fixed at the working size itself: nothing to resize, no resize in the graph.
    path, report = exports("fixed_working", "--output", "labels", "--size", "64x128")
    assert report["resize_to"] == [64, 128]
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "If" not in ops and "BitShift" not in ops
    assert agreement(OnnxSegmenter(str(path), device="cpu").predict, keras_masks, EVAL_SIZE) >= 0.999


def test_oldest_supported_opset_resizes_in_the_graph_too(exports, keras_masks):
    path, report = exports("opset11", "--output", "labels", "--opset", "11")
    assert report["opset"] == 11 and report["verification"]["label_agreement"] >= 0.999
    assert agreement(OnnxSegmenter(str(path), device="cpu").predict, keras_masks, (97, 161), count=2) >= 0.999


def test_predict_command_with_onnx_equals_predict_with_run(run, exports, tmp_path):
    path, _ = exports("labels", "--output", "labels")
    folder = tmp_path / "images"
    folder.mkdir()
    sizes = [(72, 136), (250, 500), (40, 70)]
    for i, size in enumerate(sizes):
        Image.fromarray(scene(size, 7)).save(folder / f"street{i}.png")
    invoke("predict", folder, "--out", tmp_path / "keras", "--run", run)
    onnx_run = invoke("predict", folder, "--out", tmp_path / "onnx", "--onnx", path)
    assert "warning" not in onnx_run.stderr
    for i, size in enumerate(sizes):
        a = np.asarray(Image.open(tmp_path / "keras" / f"street{i}_labels.png"))
        b = np.asarray(Image.open(tmp_path / "onnx" / f"street{i}_labels.png"))
        assert a.shape == b.shape == size and np.mean(a == b) >= 0.999


def test_exports_that_do_not_resize_are_still_predicted_with_a_warning(run, exports, keras_masks, tmp_path):
    """``--resize caller`` and fada-tf 0.2's exports (no ``resize`` in the metadata): the image
    is resized outside the graph and the labels brought back by nearest neighbour, which differs
    from predict --run on a few % of pixels; predict says so."""
    path, report = exports("caller", "--output", "labels", "--resize", "caller")
    assert report["resize_to"] is None and report["verification"]["sizes"] == [[64, 128], [35, 69]]
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["resize"])["inside_graph"] is False
    old = tmp_path / "old.onnx"
    onnx.helper.set_model_props(model, {k: v for k, v in props.items() if k != "resize"})
    onnx.save(model, old)
    for exported in (path, old):
        segmenter = OnnxSegmenter(str(exported), device="cpu")
        assert not segmenter.takes_as_is(64, 128) and segmenter.size == (64, 128)
        assert agreement(segmenter.predict, keras_masks, EVAL_SIZE, count=1) >= 0.999
        assert 0.9 < agreement(segmenter.predict, keras_masks, (97, 161), count=2) < 1.0
    Image.fromarray(scene((72, 136))).save(tmp_path / "a.png")
    result = invoke("predict", tmp_path / "a.png", "--out", tmp_path / "o", "--onnx", old)
    assert "does not resize inside its graph" in result.stderr and "re-export" in result.stderr
    assert np.asarray(Image.open(tmp_path / "o" / "a_labels.png")).shape == (72, 136)


def test_parity_check_catches_a_graph_that_resizes_unlike_pil(run):
    """The export's own check runs the reference through Pillow: a graph resizing with
    TensorFlow's antialiased bicubic instead fails it at the odd sizes."""
    from fada_tf.cli.common import resolve_model
    from fada_tf.export.graph import deployable_function
    from fada_tf.training.checkpoints import restore_segmentor

    config, checkpoint = resolve_model(run, None, None, ())
    segmentor = restore_segmentor(config, checkpoint)
    norm = config.model.normalization
    sizes = verification_sizes(EVAL_SIZE, None, True)
    exact = deployable_function(segmentor, norm, "probs", "uint8", resize_to=EVAL_SIZE)
    result = check_parity(lambda x: exact(tf.constant(x))["probs"].numpy(), segmentor, norm, output="probs",
                          input_mode="uint8", sizes=sizes, resize_to=EVAL_SIZE)
    assert result["max_prob_diff"] < 1e-5 and result["label_agreement"] >= 0.999

    def tf_bicubic(images, size):
        resized = tf.image.resize(tf.cast(images, tf.float32), size, method="bicubic", antialias=True)
        return tf.clip_by_value(tf.round(resized), 0, 255)
    import fada_tf.export.graph as graph

    original = graph.resize_images
    graph.resize_images = tf_bicubic
    try:
        approximate = deployable_function(segmentor, norm, "probs", "uint8", resize_to=EVAL_SIZE)
        with pytest.raises(FadaError, match="differs from Keras: largest probability difference"):
            check_parity(lambda x: approximate(tf.constant(x))["probs"].numpy(), segmentor, norm, output="probs",
                         input_mode="uint8", sizes=sizes, resize_to=EVAL_SIZE)
    finally:
        graph.resize_images = original


def test_export_metadata_must_describe_the_graph(run, tmp_path):
    from fada_tf.cli.common import resolve_model
    from fada_tf.export.metadata import export_metadata
    from fada_tf.export.onnx import export_onnx
    from fada_tf.training.checkpoints import restore_segmentor

    config, checkpoint = resolve_model(run, None, None, ())
    segmentor = restore_segmentor(config, checkpoint)
    metadata = export_metadata(config, checkpoint, "probs", "uint8", None, resize_to=None)
    with pytest.raises(ValueError, match="does not describe the graph"):
        export_onnx(segmentor, config.model.normalization, tmp_path / "m.onnx", sizes=[EVAL_SIZE],
                    resize_to=EVAL_SIZE, metadata=metadata)
    assert not (tmp_path / "m.onnx").exists()
