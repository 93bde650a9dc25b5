"""Export the Editor: ONNX, OpenVINO IR, TensorRT engines and Jetson bundles, each with a manifest."""
