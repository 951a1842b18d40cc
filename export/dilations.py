"""Dilated convolutions with a dynamic input size as native ONNX ``Conv(dilations=...)``.

TensorFlow computes a dilated convolution as ``SpaceToBatchND -> Conv2D(VALID) ->
BatchToSpaceND`` (the atrous trick). tf2onnx folds that back into one dilated ``Conv`` only when
the paddings are constants (a fixed input size) or the padding was ``VALID``; for a ``"same"``
convolution on an input of dynamic size, as every dilated convolution of DeepLabV2 is, it keeps
the pattern, which ONNX Runtime runs as ``Pad -> SpaceToDepth -> Conv -> DepthToSpace`` plus a
few hundred shape operations. ``bench/export_latency.py`` measures what that costs.

For a ``"same"`` convolution the dynamic paddings have a known form (TensorFlow's
``required_space_to_batch_paddings``): ``[[start_i, end_i + extra_i]]`` with constant ``start_i``
and ``end_i`` (the convolution's own padding) and ``extra_i`` rounding the padded size up to a
multiple of the dilation, cropped again by ``BatchToSpaceND``. Padding by ``extra_i`` only adds
output rows and columns that are then cropped, so the pattern equals one convolution with
dilation = the block shape and explicit padding ``[start_i, end_i]``. This tf2onnx rewriter
recognises exactly that form and leaves anything else alone.
"""

from __future__ import annotations

_CONVS = ("Conv2D", "DepthwiseConv2dNative")


def native_dilations(g, ops):
    """tf2onnx ``custom_rewriter``: fold dynamic-size ``same`` atrous patterns into dilated convs."""
    for batch_to_space in [op for op in ops if op.type == "BatchToSpaceND"]:
        conv = batch_to_space.inputs[0]
        if conv.type not in _CONVS or conv.get_attr_value("padding") != b"VALID":
            continue
        if conv.get_attr_value("data_format", b"NHWC") != b"NHWC":
            continue
        space_to_batch = conv.inputs[0]
        if space_to_batch.type != "SpaceToBatchND" or len(g.find_output_consumers(conv.output[0])) != 1:
            continue
        block, crop_block = space_to_batch.inputs[1], batch_to_space.inputs[1]
        if not (block.is_const() and crop_block.is_const()):
            continue
        block = block.get_tensor_value(as_list=True)
        if block != crop_block.get_tensor_value(as_list=True) or len(block) != 2:
            continue
        pads = _base_paddings(space_to_batch.inputs[2], batch_to_space.inputs[2], len(block))
        if pads is None:
            continue
        g.replace_inputs(conv, [space_to_batch.input[0], conv.input[1]])
        g.copy_shape(batch_to_space.output[0], conv.output[0])
        g.replace_all_inputs(batch_to_space.output[0], conv.output[0])
        conv.set_attr("dilations", [1, *block, 1])
        conv.set_attr("padding", "EXPLICIT")
        conv.set_attr("explicit_paddings", [0, 0, *[p for pair in pads for p in pair], 0, 0])
    return g.get_nodes()


def _base_paddings(paddings, crops, dims):
    """``[(start_i, end_i)]`` when paddings = ``[[start_i, end_i + extra_i]]`` and crops = ``[[0, extra_i]]``.

    Both are ``Pack`` of per-dimension ``Pack(start, StridedSlice(...)[i])``; the paddings slice
    ``AddV2(const end, extra)`` and the crops slice the same ``extra`` tensor. None otherwise.
    """
    if paddings.type != "Pack" or crops.type != "Pack" or len(paddings.inputs) != dims:
        return None
    result, extra = [], None
    for i, (pad, crop) in enumerate(zip(paddings.inputs, crops.inputs)):
        if pad.type != "Pack" or crop.type != "Pack" or len(pad.inputs) != 2 or len(crop.inputs) != 2:
            return None
        start, pad_end = pad.inputs
        crop_start, crop_end = crop.inputs
        if not (start.is_const() and crop_start.is_const()) or crop_start.get_tensor_value() != 0:
            return None
        pad_vector, crop_vector = _element(pad_end, i), _element(crop_end, i)
        if pad_vector is None or crop_vector is None or pad_vector.type not in ("Add", "AddV2"):
            return None
        constant = [x for x in pad_vector.inputs if x.is_const()]
        variable = [x for x in pad_vector.inputs if not x.is_const()]
        if len(constant) != 1 or len(variable) != 1 or variable[0] is not crop_vector:
            return None
        if extra is not None and crop_vector is not extra:
            return None
        extra = crop_vector
        result.append((int(start.get_tensor_value()), int(constant[0].get_tensor_value(as_list=True)[i])))
    return result


def _element(node, index):
    """The vector ``v`` when ``node`` is ``v[index]`` (a shrinking ``StridedSlice``), else None."""
    if node.type != "StridedSlice" or node.get_attr_value("shrink_axis_mask") != 1:
        return None
    begin, end, strides = node.inputs[1:4]
    if not all(x.is_const() for x in (begin, end, strides)):
        return None
    if (begin.get_tensor_value(as_list=True), end.get_tensor_value(as_list=True),
            strides.get_tensor_value(as_list=True)) != ([index], [index + 1], [1]):
        return None
    return node.inputs[0]
