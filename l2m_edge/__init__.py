"""l2m-edge: live facial attribute editing with L2M-GAN, compiled for the edge.

The package root stays import-light (no torch) so that the CLI starts fast and a
wheel can be inspected in an environment without the heavy dependencies.
"""

__version__ = "0.1.0"
