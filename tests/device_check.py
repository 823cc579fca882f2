"""A second device on the CPU, so that a CPU-only CI catches what would fail on a GPU.

Code under test is given ``DEVICE`` (``cpu:0``) as its device. Inside ``DeviceCheck`` every tensor
put there (``.to(DEVICE)``, a factory with ``device=DEVICE``, ``Module.to``, or an op on such
tensors) is marked, as if it lived in GPU memory. An op that mixes a marked tensor with an
unmarked one of one or more dimensions raises ``DeviceMixing``: CUDA refuses it ("Expected all
tensors to be on the same device"); it allows what is allowed here, a 0-dim CPU tensor as a scalar,
CPU index tensors, and ``copy_`` and ``.to`` across devices. Marked tensors report ``DEVICE`` as
their ``.device``, so code that follows a tensor's device (``torch.zeros(..., device=x.device)``,
an optimizer loading its state) keeps to it.

It also records what would make the host wait for a GPU (``syncs``: ``item``, ``bool``, ``float``,
``tolist``, boolean-mask indexing and the like on marked tensors, and device-to-host copies) and
each host-to-device copy (``h2d``). Autograd's backward runs in C++ and is not seen; the
gradients it leaves are marked when read through ``.grad``.
"""

from __future__ import annotations

import os
import sys
import traceback

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakTensorKeyDictionary

DEVICE = torch.device("cpu", 0)
TORCH_DIR = os.path.dirname(torch.__file__) + os.sep

# Tensor methods that hand a device tensor's value to the host, so the host waits for the GPU.
SYNCING = {"item", "__bool__", "__float__", "__int__", "__index__", "tolist", "nonzero", "numpy", "__array__",
           "masked_select", "unique", "unique_consecutive", "equal", "allclose", "argwhere", "nonzero_static"}
# What reads only a tensor's metadata.
METADATA = {"_has_compatible_shallow_copy_type", "is_same_size", "__repr__", "__format__", "__hash__",
            "__reduce_ex__", "__setstate__", "__len__", "dim", "size", "numel", "stride", "data_ptr"}


class DeviceMixing(AssertionError):
    pass


def _is_model_device(d) -> bool:
    d = torch.device(d)
    return d.type == DEVICE.type and d.index == DEVICE.index


def _where() -> str:
    """The first frame of the code under test (not torch's, not this file's)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        f = frame.filename
        if "device_check" not in f and "/torch/" not in f and "/site-packages/" not in f:
            return f"{'/'.join(f.split(os.sep)[-2:])}:{frame.lineno}"
    return "?"


def _from_torch() -> bool:
    """Whether the op was called from torch's own Python code."""
    caller = sys._getframe(3).f_code.co_filename  # (_from_torch, _to, __torch_function__, the caller)
    return caller.startswith(TORCH_DIR)


class DeviceCheck(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self._marked = WeakTensorKeyDictionary()
        self.syncs: list[tuple[str, str]] = []  # (what, where)
        self.h2d: list[tuple[tuple[int, ...], str]] = []  # (shape, where)

    # -- marks ---------------------------------------------------------------------------------
    def marked(self, t) -> bool:
        return isinstance(t, torch.Tensor) and t in self._marked

    def _mark(self, out, on: bool):
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                if on:
                    self._marked[t] = True
                else:
                    self._marked.pop(t, None)
        return out

    def _sync(self, what: str) -> None:
        self.syncs.append((what, _where()))

    # -- the mode --------------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in ("__get__", "__set__"):
            return self._attribute(func, name, args)
        if name in ("to", "cpu", "cuda") and args and isinstance(args[0], torch.Tensor):
            return self._to(func, name, args, kwargs)
        if name in METADATA:
            return func(*args, **kwargs)
        if name == "__iter__":  # the rows of a device tensor are on the device
            return iter(self._mark(list(func(*args, **kwargs)), self.marked(args[0])))
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        on = [self.marked(t) for t in tensors]
        if name == "copy_":
            dst, src = args[0], args[1]
            if self.marked(src) and not self.marked(dst):
                self._sync("copy_ to the host")
            elif self.marked(dst) and not self.marked(src) and src.dim() > 0:
                self.h2d.append((tuple(src.shape), _where()))
            return func(*args, **kwargs)
        if any(on):
            self._check(name, args, tensors, on)
            if name in SYNCING or (name == "__getitem__" and self._bool_index(args[1])):
                self._sync(name)
        out = func(*args, **kwargs)
        if "device" in kwargs and kwargs["device"] is not None:
            return self._mark(out, _is_model_device(kwargs["device"]))
        if name == "__setitem__" or not any(on):
            return out
        return self._mark(out, True)

    def _check(self, name: str, args, tensors, on) -> None:
        if name in ("__getitem__", "__setitem__", "index_put_", "index_put"):
            # CUDA takes CPU indices; the tensor and the value written must be on one device.
            value = args[2] if name != "__getitem__" and len(args) > 2 else None
            tensors = [args[0]] + ([value] if isinstance(value, torch.Tensor) else [])
            on = [self.marked(t) for t in tensors]
            if not on[0] and not any(on[1:]):
                raise DeviceMixing(f"{name}: a host tensor indexed with device indices at {_where()}")
        if not any(on):
            return
        for t, m in zip(tensors, on):
            if not m and t.dim() > 0:
                raise DeviceMixing(f"{name} mixes a device tensor with a host tensor of shape {tuple(t.shape)} "
                                   f"at {_where()}")

    def _bool_index(self, index) -> bool:
        return any(isinstance(t, torch.Tensor) and t.dtype == torch.bool for t in tree_flatten(index)[0])

    def _attribute(self, func, name: str, args):
        attr = func.__self__.__name__
        if name == "__set__":
            out = func(*args)
            if attr == "data":
                self._mark(args[0], self.marked(args[1]))
            return out
        if attr == "device" and self.marked(args[0]):
            return DEVICE
        out = func(*args)
        if attr in ("grad", "data", "real", "imag", "T", "mT", "H", "mH") and self.marked(args[0]) and out is not None:
            self._mark(out, True)
        return out

    def _to(self, func, name: str, args, kwargs):
        src = args[0]
        target = kwargs.get("device")
        for a in args[1:]:
            if isinstance(a, (torch.device, str)) or (isinstance(a, int) and not isinstance(a, bool)):
                target = a
            elif isinstance(a, torch.Tensor):
                target = DEVICE if self.marked(a) else torch.device("cpu")
        if name == "cpu":
            target = "cpu"
        if target is None:  # a dtype change: stays where it is
            out = func(*args, **kwargs)
            return self._mark(out, self.marked(src))
        to_device = _is_model_device(target)
        if not to_device and self.marked(src) and _from_torch():
            # torch's own code follows the devices it groups tensors by in C++, where a marked
            # tensor is on the CPU (clip_grad_norm_): it means the tensor's own device.
            to_device = True
        if to_device and self.marked(src):  # already there: as on a GPU, no copy (only a dtype change)
            dtype = kwargs.get("dtype") or next((a if isinstance(a, torch.dtype) else a.dtype for a in args[1:]
                                                 if isinstance(a, (torch.dtype, torch.Tensor))), None)
            return self._mark(src if dtype is None else src.to(dtype), True)
        out = func(*args, **kwargs)
        if to_device and not self.marked(src):
            self.h2d.append((tuple(src.shape), _where()))
        elif not to_device and self.marked(src):
            self._sync(f"{name} to the host")
        if out is src and to_device != self.marked(src):
            out = out.clone()  # a copy to the other device is another tensor
        return self._mark(out, to_device)
