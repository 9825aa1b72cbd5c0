"""Import single BasicSR modules as test references, without BasicSR's package imports.

``basicsr==1.4.2`` (installed with ``--no-deps`` by ``.ci/run``) imports torchvision and every
architecture, dataset and CUDA op from its package ``__init__`` files; torchvision does not install
next to torch 2.13 here. :func:`load` registers empty stand-ins for those packages (with the real
directories as ``__path__``, so submodules still import from the installed files) and a minimal
``torchvision`` exposing only what the reference modules name, then imports the requested module.

    rrdb = load("basicsr.archs.rrdbnet_arch")  # rrdb.RRDBNet(...)
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import types
from pathlib import Path

_PACKAGES = (
    "basicsr",
    "basicsr.archs",
    "basicsr.data",
    "basicsr.losses",
    "basicsr.metrics",
    "basicsr.models",
    "basicsr.ops",
    "basicsr.utils",
)


def _rgb_to_grayscale(img, num_output_channels=1):
    """ITU-R 601-2 luma, the formula torchvision documents for ``rgb_to_grayscale``."""
    r, g, b = img.unbind(dim=-3)
    gray = (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(dim=-3)
    return gray.expand(img.shape) if num_output_channels == 3 else gray


def _utils_getattr(name: str):
    """Resolve ``from basicsr.utils import X`` from the utility modules that define X."""
    for sub in ("color_util", "matlab_functions", "img_util"):
        mod = importlib.import_module(f"basicsr.utils.{sub}")
        if hasattr(mod, name):
            return getattr(mod, name)
    raise AttributeError(f"module 'basicsr.utils' has no attribute {name!r}")


def _install_stubs(root: Path) -> None:
    for name in _PACKAGES:
        mod = types.ModuleType(name)
        mod.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
        mod._jaxdl_stub = True
        sys.modules[name] = mod
    utils = sys.modules["basicsr.utils"]
    utils.get_root_logger = lambda *a, **k: logging.getLogger("basicsr")
    utils.__getattr__ = _utils_getattr
    dcn = types.ModuleType("basicsr.ops.dcn")
    dcn.ModulatedDeformConvPack = object
    dcn.modulated_deform_conv = None
    sys.modules["basicsr.ops.dcn"] = dcn
    if importlib.util.find_spec("torchvision") is None:
        tv = types.ModuleType("torchvision")
        tv.__version__ = "0.0.0"
        transforms = types.ModuleType("torchvision.transforms")
        ft = types.ModuleType("torchvision.transforms.functional_tensor")
        ft.rgb_to_grayscale = _rgb_to_grayscale
        transforms.functional_tensor = ft
        tv.transforms = transforms
        sys.modules.update(
            {
                "torchvision": tv,
                "torchvision.transforms": transforms,
                "torchvision.transforms.functional_tensor": ft,
            }
        )


def load(module: str) -> types.ModuleType:
    """Import ``module`` (e.g. ``"basicsr.archs.rrdbnet_arch"``) from the installed BasicSR.

    Raises ``ModuleNotFoundError`` naming the install command when BasicSR is missing.
    """
    if not getattr(sys.modules.get("basicsr"), "_jaxdl_stub", False):
        spec = importlib.util.find_spec("basicsr")
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(
                "the BasicSR reference is missing: pip install --no-deps basicsr==1.4.2"
            )
        _install_stubs(Path(spec.origin).parent)
    return importlib.import_module(module)
