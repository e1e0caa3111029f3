"""`Module` and `Parameter`: the containers that hold a model's tensors, with PyTorch's names.

Takes: attribute assignments in a subclass's `__init__` (`self.fc = Linear(...)`,
`self.w = Parameter(...)`, `self.register_buffer("mean", t)`).
Produces: a tree of modules that can list its parameters and buffers by dotted name
(`parameters()`, `named_parameters()`, `state_dict()`), load them back with validation
(`load_state_dict`), switch `train()/eval()`, move devices and dtypes (`to`), and print
itself like PyTorch (`__repr__`). Containers: `Sequential`, `ModuleList`, `ModuleDict`.

Every walk over the module tree is iterative (an explicit stack), never recursive.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..dtype import DType, to_dtype
from ..ops.uop import Ops
from ..tensor import Tensor, no_grad


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter (requires_grad=True by default).

    It is a leaf: it shares the memory of a tensor that has some, and a computed value
    (`Parameter(Tensor.randn(3, 2) * 0.1)`) is realized into memory of its own, so gradients reach it;
    ops on it return plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            data = Tensor.empty(0)
        if not isinstance(data, Tensor):
            data = Tensor(data)
        super().__init__(data.uop, device=data.device, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    return lines[0] if len(lines) == 1 else lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


class Module:
    """Base class of every layer and model: subclasses set attributes in __init__ and define forward()."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # registration ---------------------------------------------------------------------------
    def _check_init(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign '{name}' before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params, bufs, mods = d.get("_parameters"), d.get("_buffers"), d.get("_modules")
        if isinstance(value, Parameter):
            self._check_init(name)
            self._discard(name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(tinytorch.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._check_init(name)
            self._discard(name)
            mods[name] = value  # type: ignore[index]
        elif mods is not None and name in mods:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(tinytorch.nn.Module or None expected)")
            mods[name] = None
        elif bufs is not None and name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(tinytorch.Tensor or None expected)")
            bufs[name] = value
        else:
            object.__setattr__(self, name, value)

    def _discard(self, name: str) -> None:
        for d in (self.__dict__, self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: look in the registries
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg in d and name in d[reg]:
                return d[reg][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for reg in (self._parameters, self._buffers, self._modules):
            if name in reg:
                del reg[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def _check_name(self, kind: str, name: Any) -> None:
        self._check_init(str(name))
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"{kind} name must not contain a dot nor be empty, got {name!r}")
        if name in self.__dict__ and kind != "attribute":
            raise KeyError(f"attribute '{name}' already exists on {type(self).__name__}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder) under `name`."""
        self._check_name("parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(tinytorch.nn.Parameter or None required)")
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a non-learnable tensor (running statistics, masks); persistent ones go into state_dict."""
        self._check_name("buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(tinytorch.Tensor or None required)")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under `name`."""
        self._check_name("module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        mod: Module = self
        for part in target.split(".") if target else []:
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule '{part}' (looking up '{target}')")
            mod = child
        return mod

    # traversal (iterative, pre-order like PyTorch) ----------------------------------------------
    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        seen = memo if memo is not None else set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in seen:
                    continue
                seen.add(id(mod))
            yield name, mod
            kids = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, reg: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        seen: set[int] = set()
        for mname, mod in mods:
            for k, v in getattr(mod, reg).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mname}.{k}" if mname else k), v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call fn on every submodule, children before parents (as PyTorch does), then on self."""
        stack: list[tuple[Module, bool]] = [(self, False)]
        while stack:  # iterative post-order
            mod, expanded = stack.pop()
            if expanded:
                fn(mod)
                continue
            stack.append((mod, True))
            stack.extend((c, False) for c in reversed(list(mod.children())))
        return self

    # modes and gradients ---------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            p.grad = None if set_to_none else p.grad.zeros_like()

    # devices and dtypes ---------------------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move every parameter and buffer to a device ("cpu" is the default one), and/or cast the floating
        ones to a float dtype: to(device), to(dtype), to(device, dtype), to(tensor), to(device=, dtype=).

        Parameters keep their identity (an optimizer built before still holds them), as in PyTorch.
        """
        from ..runtime.device import Device
        from ..tensor.device import canonical

        dev, dt = kwargs.pop("device", None), kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"Module.to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dev, dt = a.device, (a.dtype if a.dtype.is_float else dt)
                continue
            if isinstance(a, str):
                try:
                    dev = canonical(a)  # a GPU name raises here: there is no GPU backend
                    continue
                except ValueError:
                    pass
            try:
                dt = to_dtype(a)
            except (TypeError, ValueError, KeyError):
                raise ValueError(f"Module.to: {a!r} is neither a device ({', '.join(Device.names())} or 'cpu') "
                                 "nor a dtype") from None
        dev = None if dev is None else canonical(dev)
        if dt is not None:
            dt = to_dtype(dt)
            if not dt.is_float:
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dt!r}")
        with no_grad():
            for t in itertools.chain(self.parameters(), self.buffers()):
                _move_(t, dev, dt)
                if t.grad is not None:
                    _move_(t.grad, dev, dt)
        return self

    def cpu(self) -> Module:
        """Move every parameter and buffer to the default device ("cpu")."""
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        """Raises: tinytorch has no GPU backend (tinytorch.cuda.is_available() is False)."""
        raise RuntimeError("Module.cuda(): tinytorch has no GPU backend (tinytorch.cuda.is_available() is False); "
                           "use .to('cpu') or .cpu()")

    def float(self) -> Module: return self.to("float32")
    def double(self) -> Module: return self.to("float64")
    def half(self) -> Module: return self.to("float16")

    # state dicts -------------------------------------------------------------------------------------
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """name -> tensor for every parameter and persistent buffer (shared ones under each name)."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        # no deduplication: a module reachable by two paths is saved under both, as in PyTorch
        for mname, mod in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            pre = f"{mname}." if mname else ""
            for k, v in mod._parameters.items():
                if v is not None:
                    out[pre + k] = v if keep_vars else v.detach()
            for k, v in mod._buffers.items():
                if v is not None and k not in mod._non_persistent:
                    out[pre + k] = v if keep_vars else v.detach()
        return out

    def _state_targets(self) -> OrderedDict[str, Tensor]:
        return self.state_dict(keep_vars=True)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy tensors (or numpy arrays) from state_dict into this module's parameters and buffers.

        All checks run before anything is written: missing and unexpected keys (when strict) and
        shape mismatches (always) raise one RuntimeError that lists every problem.
        `assign=True` replaces the tensors instead of copying into them (and keeps their dtype).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping of name -> tensor, got {type(state_dict).__name__}")
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        errors: list[str] = []
        if strict:
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        for k, dst in targets.items():
            if k not in state_dict:
                continue
            src = _foreign_array(state_dict[k])
            if not isinstance(src, (Tensor, np.ndarray)):
                errors.append(f'While copying the parameter named "{k}", expected a Tensor or numpy array, '
                              f"got {type(src).__name__}.")
                continue
            if tuple(src.shape) != dst.shape:
                errors.append(f"size mismatch for {k}: copying a param with shape {tuple(src.shape)} from checkpoint, "
                              f"the shape in current model is {dst.shape}.")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        written: list[Tensor] = []
        with no_grad():
            for k, dst in targets.items():
                if k not in state_dict:
                    continue
                src = _foreign_array(state_dict[k])
                dt = src.dtype if assign and isinstance(src, Tensor) else None
                val = _as_tensor_on(src, dst.device, dt or dst.dtype)
                if assign:
                    _replace_(dst, val)
                else:
                    dst.assign(val)
                written.append(dst)
            if written:
                written[0].realize(*written[1:])  # eager, like PyTorch: later writes to the source can't leak in
        return _IncompatibleKeys(missing, unexpected)

    # calling and printing ---------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """forward(*args, **kwargs) between the forward pre-hooks and the forward hooks."""
        d = self.__dict__
        pre, post = d.get("_forward_pre_hooks"), d.get("_forward_hooks")
        if not (pre or post):
            return self.forward(*args, **kwargs)
        for hook in list(pre.values()) if pre else []:
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        out = self.forward(*args, **kwargs)
        for hook in list(post.values()) if post else []:
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call hook(module, args) before each forward; a non-None result replaces args."""
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call hook(module, args, output) after each forward; a non-None result replaces the output."""
        return RemovableHandle(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Not supported: tinytorch's autograd has no per-node callbacks (raises NotImplementedError)."""
        raise NotImplementedError(
            "register_full_backward_hook: module backward hooks are not supported by tinytorch (its autograd "
            "computes gradients as one lazy graph, with no callback per module); read the gradients after "
            "backward() from the parameters' .grad, or use a forward hook and Tensor gradients")

    register_backward_hook = register_full_backward_hook

    def extra_repr(self) -> str:
        """Override to show a module's settings inside its repr, e.g. 'in_features=4, out_features=2'."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        # children before parents, without recursion: each module's text uses its children's texts
        order = [m for _, m in self.named_modules(remove_duplicate=False)]
        uses: dict[int, int] = {}
        for m in order:
            uses[id(m)] = uses.get(id(m), 0) + 1
        text: dict[int, str] = {}
        for mod in reversed(order):
            if id(mod) in text:
                continue
            extra = mod.extra_repr()
            extra_lines = extra.split("\n") if extra else []
            child_lines = [f"({k}): " + _addindent("None" if c is None else text[id(c)], 2)
                           for k, c in mod._modules.items()]
            if isinstance(mod, ModuleList):
                if not child_lines:
                    text[id(mod)] = mod._get_name() + "()"
                    continue
                extra_lines, child_lines = [], _grouped_lines([text[id(c)] for c in mod._modules.values()])
            for c in mod._modules.values():  # a child's text is needed once per place it appears
                if c is not None:
                    uses[id(c)] -= 1
                    if uses[id(c)] == 0:
                        del text[id(c)]
            lines = extra_lines + child_lines
            main = mod._get_name() + "("
            if lines:
                one_line = len(extra_lines) == 1 and not child_lines
                main += extra_lines[0] if one_line else "\n  " + "\n  ".join(lines) + "\n"
            text[id(mod)] = main + ")"
        return text[id(self)]


def _foreign_array(src: Any) -> Any:
    """A tensor of another library (a torch.Tensor: it has detach() and numpy()) as a numpy array; else src."""
    if isinstance(src, (Tensor, np.ndarray)) or not (hasattr(src, "numpy") and hasattr(src, "detach")):
        return src
    try:
        return np.asarray(src.detach().cpu().numpy())
    except Exception:  # noqa: BLE001 (not array-like after all: reported by the caller's type check)
        return src


def _as_tensor_on(src: Any, device: str, dtype: DType) -> Tensor:
    """src (Tensor or numpy array) as a Tensor on `device` with `dtype`."""
    if isinstance(src, Tensor) and src.device == device:
        return src.cast(dtype) if src.dtype != dtype else src
    arr = src.numpy() if isinstance(src, Tensor) else np.asarray(src)
    return Tensor(np.asarray(arr, order="C"), dtype=dtype, device=device)


def _replace_(t: Tensor, new: Tensor) -> None:
    """Point t at new's storage (t keeps its identity, like PyTorch's `param.data = new`)."""
    new = new if new.uop.base.op is Ops.BUFFER else new.contiguous().realize()
    t.uop, t.device = new.uop, new.device


def _move_(t: Tensor, device: str | None, dtype: DType | None) -> None:
    if device is not None and t.device != device:
        _replace_(t, _as_tensor_on(t, device, t.dtype))
    if dtype is not None and t.dtype.is_float and t.dtype != dtype:
        _replace_(t, t.cast(dtype))


def _grouped_lines(reprs: list[str]) -> list[str]:
    """ModuleList's child lines as PyTorch prints them: runs of equal reprs as '(i-j): n x repr'."""
    lines: list[str] = []
    start = 0
    for i in range(1, len(reprs) + 1):
        if i < len(reprs) and reprs[i] == reprs[start]:
            continue
        head = f"({start})" if i - 1 == start else f"({start}-{i - 1}): {i - start} x"
        lines.append(_addindent(f"{head}: {reprs[start]}" if i - 1 == start else f"{head} {reprs[start]}", 2))
        start = i
    return lines


class RemovableHandle:
    """What register_*_hook returns: handle.remove() unregisters the hook (also usable as a context manager)."""

    _next_id = itertools.count()

    def __init__(self, registry: OrderedDict[int, Any], hook: Any):
        self.id = next(RemovableHandle._next_id)
        self._registry = registry
        registry[self.id] = hook

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        self._registry.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *args: Any) -> None:
        self.remove()


class Sequential(Module):
    """Modules applied in order: Sequential(a, b, c)(x) == c(b(a(x)))."""

    def __init__(self, *args: Any):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for k, m in args[0].items():
                self.add_module(k, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    def __getitem__(self, idx: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        for k in (keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys), "Sequential")]]):
            del self._modules[k]
        vals = list(self._modules.values())  # keep keys 0..n-1 as PyTorch does
        self._modules.clear()
        for i, m in enumerate(vals):
            self._modules[str(i)] = m

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, sequential: Iterable[Module]) -> Sequential:
        """Append every module of an iterable (another Sequential, a list)."""
        for m in sequential:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert module before position index (keys stay 0..n-1)."""
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        vals = list(self._modules.values())
        vals.insert(index % (n + 1) if index < 0 else index, module)
        self._modules.clear()
        for i, m in enumerate(vals):
            self._modules[str(i)] = m
        return self

    def pop(self, key: int | slice) -> Module:
        """Remove and return the module at position key."""
        v = self[key]
        del self[key]
        return v  # type: ignore[no-any-return]

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        return self.extend(other)


def _index(idx: int, n: int, what: str) -> int:
    if not isinstance(idx, int):
        raise TypeError(f"{what} indices must be integers or slices, not {type(idx).__name__}")
    if not -n <= idx < n:
        raise IndexError(f"{what}: index {idx} is out of range for length {n}")
    return idx % n


class ModuleList(Module):
    """A list of modules whose parameters the parent registers (forward is yours to write)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    def __getitem__(self, idx: int | slice) -> Any:
        vals = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(vals[idx])  # type: ignore[arg-type]
        return vals[_index(idx, len(vals), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: int | slice) -> None:
        vals = list(self._modules.values())
        if isinstance(idx, slice):
            del vals[idx]
        else:
            del vals[_index(idx, len(vals), "ModuleList")]
        self._modules.clear()
        for i, m in enumerate(vals):
            self._modules[str(i)] = m

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert module before position index."""
        vals = list(self._modules.values())
        vals.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(vals):
            self.add_module(str(i), m)

    def pop(self, key: int | slice) -> Module:
        """Remove and return the module at position key."""
        v = self[key]
        del self[key]
        return v  # type: ignore[no-any-return]

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])


class ModuleDict(Module):
    """A dict of named modules whose parameters the parent registers."""

    def __init__(self, modules: Mapping[str, Module] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]  # type: ignore[return-value]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()  # type: ignore[return-value]

    def values(self) -> Iterable[Module]:
        return self._modules.values()  # type: ignore[return-value]

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a mapping or an iterable of (name, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for k, m in pairs:
            self.add_module(k, m)

    def pop(self, key: str) -> Module:
        """Remove and return the module under key."""
        v = self[key]
        del self[key]
        return v

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()


def _param_line(k: str, p: Any) -> str:
    if not isinstance(p, Tensor):
        return f"  ({k}): Object of type: {type(p).__name__}"
    size = "x".join(str(s) for s in p.shape)
    return f"  ({k}): {'Parameter containing' if isinstance(p, Parameter) else 'Tensor'}: [{p.dtype!r} of size {size}]"


def _as_parameter(v: Any) -> Any:
    """Tensors become Parameters (as PyTorch's ParameterList/Dict do); other objects are kept as they are."""
    return v if isinstance(v, Parameter) or not isinstance(v, Tensor) else Parameter(v)


class ParameterList(Module):
    """A list of Parameters that the parent registers (plain tensors given to it become Parameters)."""

    def __init__(self, values: Iterable[Any] | None = None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def __len__(self) -> int:
        return self._size  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[Any]:
        return iter(self[i] for i in range(len(self)))

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(len(self))[idx]])
        i = _index(idx, len(self), "ParameterList")
        return getattr(self, str(i))

    def __setitem__(self, idx: int, param: Any) -> None:
        i = _index(idx, len(self), "ParameterList")
        self._set(str(i), param)

    def _set(self, key: str, value: Any) -> None:
        value = _as_parameter(value)
        if isinstance(value, Parameter):
            self._discard(key)
            self.register_parameter(key, value)
        else:
            self._discard(key)
            object.__setattr__(self, key, value)

    def append(self, value: Any) -> ParameterList:
        """Add a parameter at the end."""
        n = len(self)
        object.__setattr__(self, "_size", n + 1)
        self._set(str(n), value)
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Add every parameter of an iterable at the end."""
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got {type(values).__name__}")
        for v in values:
            self.append(v)
        return self

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def extra_repr(self) -> str:
        """One line per entry: '(i): Parameter containing: [dtype of size AxB]'."""
        return "\n".join(_param_line(str(i), p) for i, p in enumerate(self))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """A dict of named Parameters that the parent registers (plain tensors given to it become Parameters)."""

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None):
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")
        self._keys[key] = None
        value = _as_parameter(value)
        self._discard(key)
        if isinstance(value, Parameter):
            self.register_parameter(key, value)
        else:
            object.__setattr__(self, key, value)

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        self._discard(key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._keys))

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def keys(self) -> Iterable[str]:
        """The names, in insertion order."""
        return list(self._keys)

    def items(self) -> Iterable[tuple[str, Any]]:
        """(name, parameter) pairs, in insertion order."""
        return [(k, self[k]) for k in self._keys]

    def values(self) -> Iterable[Any]:
        """The parameters, in insertion order."""
        return [self[k] for k in self._keys]

    def get(self, key: str, default: Any = None) -> Any:
        """self[key] if present, else default."""
        return self[key] if key in self._keys else default

    def pop(self, key: str) -> Any:
        """Remove and return the parameter under key."""
        v = self[key]
        del self[key]
        return v

    def clear(self) -> None:
        """Remove every parameter."""
        for k in list(self._keys):
            del self[k]

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add (or replace) parameters from a mapping or an iterable of (name, value) pairs."""
        pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
        for k, v in pairs:
            self[k] = v

    def extra_repr(self) -> str:
        """One line per entry: '(name): Parameter containing: [dtype of size AxB]'."""
        return "\n".join(_param_line(k, p) for k, p in self.items())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterDict should not be called.")
