"""Export the Editor: ONNX, OpenVINO IR, TensorRT engines and Jetson bundles, each with a manifest.

`export_model` builds one artifact directory for a target of the registry in `targets`;
`verify_artifact` re-checks one. Heavy imports (onnx, openvino, nncf, tensorrt) happen inside.
"""

from .targets import TARGETS, Target, get_target, target_names


def __getattr__(name: str):  # lazy: `import l2m_edge.export` must not import torch.onnx/openvino
    if name in ("export_model", "verify_artifact", "default_output"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)


__all__ = ["TARGETS", "Target", "default_output", "export_model", "get_target", "target_names", "verify_artifact"]
