"""The arithmetic of a traced training step and this machine's matrix-product rate: how far a
step is from what the processor can do.

``graph_flops`` counts the floating-point operations of a ``tf.function``'s convolutions and
matrix products, forward and gradient ops alike, from the shapes in its traced graph: a
convolution producing ``N·H·W·C_out`` values from ``k_h·k_w·C_in`` taps each is
``2·N·H·W·C_out·k_h·k_w·C_in`` (one multiply and one add per tap), its input gradient and its
kernel gradient cost the same, and an ``m×k`` by ``k×n`` product is ``2·m·k·n``. Nested
function calls (``tf.function`` inside ``tf.function``, ``tf.recompute_grad``'s recomputation)
count once per call. Only what runs is counted: ops whose results neither the function's
outputs nor its variable updates need are left out, as TensorFlow's graph optimiser prunes them
(the gradient tape builds, for example, the input gradient of the first convolution and the
discriminator's kernel gradients of L_adv, which no update uses). Element-wise work (normalisation, activations, losses, optimiser
updates) is not counted: it is memory-bound, and in a DeepLabV2 step it is well under 1 % of
the arithmetic.

``matmul_rate`` times a fixed-size matrix product in the same process, the rate the step's
achieved FLOP/s are compared with.
"""

from __future__ import annotations

import math
import time

import tensorflow as tf

CONVOLUTIONS = {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"}
MATRIX_PRODUCTS = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"}
CALLS = {"PartitionedCall", "StatefulPartitionedCall"}
CONTROL_FLOW = {"If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase"}


def graph_flops(function: tf.types.experimental.ConcreteFunction) -> int:
    """Floating-point operations of the convolutions and matrix products that one call of
    ``function`` (a concrete function, every shape known) runs."""
    return _flops(function.graph, range(len(function.graph.outputs)))


def _flops(graph, live_outputs) -> int:
    """The counted ops of ``graph`` that its outputs ``live_outputs`` or its side effects
    (``control_outputs``: variable updates) need, nested calls with the outputs they need."""
    needed = {op: set() for op in graph.control_outputs}
    for index in live_outputs:
        needed.setdefault(graph.outputs[index].op, set()).add(graph.outputs[index].value_index)
    total = 0
    for op in reversed(graph.get_operations()):   # creation order is a topological order
        if op not in needed:
            continue
        for tensor in op.inputs:
            needed.setdefault(tensor.op, set()).add(tensor.value_index)
        for control in op.control_inputs:
            needed.setdefault(control, set())
        if op.type in CONVOLUTIONS:
            total += _convolution_flops(op)
        elif op.type in MATRIX_PRODUCTS:
            total += _matrix_product_flops(op)
        elif op.type in CALLS:
            total += _flops(graph._get_function(op.get_attr("f").name).graph, sorted(needed[op]))
        elif op.type in CONTROL_FLOW and _has_arithmetic(graph, op):
            raise ValueError(f"{op.name}: a {op.type} with convolutions or matrix products inside; "
                             "how often it runs is not in the graph")
    return total


def _convolution_flops(op) -> int:
    """2 · (values of the convolution's output) · (taps per output value)."""
    if op.type == "Conv2D":
        output, kernel = op.outputs[0].shape, op.inputs[1].shape
    elif op.type == "Conv2DBackpropInput":
        output, kernel = op.inputs[2].shape, op.inputs[1].shape
    else:  # Conv2DBackpropFilter: its result has the kernel's shape
        output, kernel = op.inputs[2].shape, op.outputs[0].shape
    return 2 * _known(op, output) * _known(op, kernel[:3])


def _matrix_product_flops(op) -> int:
    """2 · (values of the product) · (the inner dimension)."""
    transposed = op.get_attr("transpose_a" if op.type == "MatMul" else "adj_x")
    left = op.inputs[0].shape
    inner = left[-2] if transposed else left[-1]
    return 2 * _known(op, op.outputs[0].shape) * _known(op, [inner])


def _known(op, dims) -> int:
    dims = list(dims)
    if any(dim is None for dim in dims):
        raise ValueError(f"{op.name} ({op.type}): shape {dims} is not fully known; "
                         "trace the function with fixed shapes")
    return math.prod(dims)


def _has_arithmetic(graph, op) -> bool:
    """Whether a control-flow op's branches or body hold counted ops."""
    for name in ("then_branch", "else_branch", "body", "cond", "branches"):
        try:
            attr = op.get_attr(name)
        except ValueError:
            continue
        for function in attr if isinstance(attr, list) else [attr]:
            inner = graph._get_function(function.name).graph
            if any(o.type in CONVOLUTIONS | MATRIX_PRODUCTS or
                   (o.type in CALLS | CONTROL_FLOW and _has_arithmetic(inner, o))
                   for o in inner.get_operations()):
                return True
    return False


def matmul_rate(dtype: str, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of this process multiplying two ``size×size`` matrices of ``dtype`` (compiled as
    the training step is), the fastest of ``repeats`` products after one warm-up."""
    left = tf.cast(tf.random.stateless_normal([size, size], seed=(0, 1)), dtype)
    right = tf.cast(tf.random.stateless_normal([size, size], seed=(0, 2)), dtype)
    product = tf.function(tf.linalg.matmul)
    product(left, right).numpy()
    fastest = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        product(left, right).numpy()
        fastest = min(fastest, time.perf_counter() - start)
    return 2 * size ** 3 / fastest
