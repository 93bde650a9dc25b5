"""Defaults of `evaluate_checkpoint` and `train_classifier_file`, in a module light enough for the CLI's `--help` (no torch)."""

SEED = 0
EVAL_DATA = "synth"  # SynthFaces, its held-out split
EVAL_IMAGES = 500  # held-out images scored
EVAL_BATCH = 32
EVAL_GRID_ROWS = 8  # rows of the report's PNG grid
EVAL_STEM = "eval"  # file name stem of the report files
CLASSIFIER_SIZE = 64  # input side the classifier trains at
CLASSIFIER_TRAIN = 4000  # training images
CLASSIFIER_VAL = 1000  # held-out images its accuracy is reported on
CLASSIFIER_STEPS = 600
CLASSIFIER_BATCH = 64
