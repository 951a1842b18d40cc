"""ONNX Runtime sessions: the CUDA provider when it is installed and loads, the CPU otherwise.

``onnxruntime`` (CPU) and ``onnxruntime-gpu`` (CUDA, and CPU as a fallback) install the same
``onnxruntime`` import package, so only one of them may be installed (fada-tf's ``export`` and
``export-gpu`` extras). With ``onnxruntime-gpu``, the CUDA provider can still fail to load (no
driver, a CUDA or cuDNN version it was not built for); ONNX Runtime then runs on the CPU, and
this module says so on stderr instead of letting it pass silently.
"""

from __future__ import annotations

import sys

import onnxruntime as ort

from fada_tf.errors import FadaError

GPU_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "gpu")


def choose_providers(device: str = "auto") -> list[str]:
    """Providers to ask for: CUDA first when installed (``auto``, ``gpu``), CPU always last."""
    if device not in DEVICES:
        raise FadaError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "gpu" and GPU_PROVIDER not in ort.get_available_providers():
        warn(f"GPU requested but this onnxruntime has no {GPU_PROVIDER} "
             "(install onnxruntime-gpu instead of onnxruntime); using the CPU")
    if device != "cpu" and GPU_PROVIDER in ort.get_available_providers():
        return [GPU_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


def create_session(model, device: str = "auto", threads: int | None = None) -> ort.InferenceSession:
    """An inference session on ``model`` (a path or serialised bytes).

    ``threads`` bounds ONNX Runtime's intra-op threads (None: its default, all cores).
    Warns on stderr when the GPU provider was asked for or installed but did not load.
    """
    providers = choose_providers(device)
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(model, options, providers=providers)
    except Exception as err:  # onnxruntime raises its own unrelated exception types
        raise FadaError(f"ONNX Runtime cannot load the model: {str(err).splitlines()[0]}") from None
    if GPU_PROVIDER in providers and GPU_PROVIDER not in session.get_providers():
        warn(f"{GPU_PROVIDER} is installed but could not load (see ONNX Runtime's message above: "
             "CUDA/cuDNN missing or of another version); running on the CPU")
    return session


def warn(message: str) -> None:
    print(f"fada-tf: warning: {message}", file=sys.stderr)
