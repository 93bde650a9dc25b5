"""The checkpoint formats `l2m-edge import` reads. A module of its own, free of torch, so the CLI
can name them in its help (and answer usage errors) before anything heavy is imported."""

FORMATS = ("l2m-gan",)
