"""One exception type per area. Messages say what is wrong and what to do; the CLI
prints them as one red line and exits non-zero."""


class L2MError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(L2MError):
    """Unknown preset, bad hyper-parameter (NaN, inf, out of range), a diverged training run."""


class CheckpointError(L2MError):
    """A file that is not a checkpoint, or whose tensors do not match its config."""


class DataError(L2MError):
    """Empty data folder, unknown attribute, unreadable annotation file."""


class KernelError(L2MError):
    """A kernel implementation was requested that cannot run here."""


class ExportError(L2MError):
    """An export target, precision or parity check failed."""


class BackendUnavailable(L2MError):
    """An inference backend cannot be loaded on this machine."""


class InputError(L2MError):
    """An input batch that does not fit the model it is fed to (an image, mask or style code of the wrong shape)."""


class ExportInProgress(BackendUnavailable):
    """The on-the-fly export a backend needs is still being written by another process: a passing
    condition, so nothing derived from it (the precision chooser's verdict) is remembered."""


class SourceError(L2MError):
    """A camera, video, image or folder that cannot be read."""


class BenchError(L2MError):
    """A benchmark that cannot be set up, or a result file that is not one."""


class NativeError(L2MError):
    """The native runner cannot be built here, or it refused an artifact or an input."""


class OutputError(L2MError):
    """An output that cannot be written: disk full, read-only, a file where a folder goes, another
    writer holding it, or a folder `--force` may not replace because l2m-edge did not write it."""


class OutputBusy(OutputError):
    """Another l2m-edge process holds the output's lock (`holder`: its pid, as it wrote it)."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class DivergedError(ConfigError):
    """A loss or a weight went non-finite. Ranks read all-reduced losses and hold equal weights, so
    every rank meets it at the same step: rank 0 says it, the others stop silently."""


class PeerError(L2MError):
    """A rank stops because another rank failed or met the same error; that rank says why,
    so the CLI prints nothing for this one (other ranks print nothing)."""
