"""The probe's snippets: everyday PyTorch code as a learner types it, grouped by topic.

Takes: nothing (data only). Produces: `CASES`, a list of (category, owner, source). Each source
is PyTorch code with no imports needed (`torch`, `nn`, `F`, `optim`, `np`, `math` and `tmp`, a
temporary directory, are bound by the runner); it leaves its result in `out`. Results are
deterministic (built from fixed data, or random data reduced to shapes and statistics), so the
torch run and the tinytorch run can be compared value for value.

Inside a section, snippets are separated by blank lines; a line `@det NAME` expands to code that
fills every entry of module NAME's state_dict with a fixed ramp (so layers compare by value);
a line `@owner X` gives that snippet another owner than its section's.
The owner is the engineer group whose scope the snippet exercises (see run.OWNERS).
"""

# ruff: noqa: E501  (a snippet keeps a learner's one-line tuples of results intact)

from __future__ import annotations

CASES: list[tuple[str, str, str]] = []


def _section(cat: str, owner: str, text: str) -> None:
    """Add every blank-line-separated snippet of `text` under `cat`, owned by `owner`."""
    for block in text.strip("\n").split("\n\n"):
        lines, who = [], owner
        for line in block.splitlines():
            if line.startswith("@owner "):
                who = line.split()[1]
            elif line.strip().startswith("@det "):
                ind = line[: len(line) - len(line.lstrip())]
                name = line.strip().split()[1]
                lines.append(f"{ind}{name}.load_state_dict({{k: torch.linspace(-0.5, 0.5, v.numel()).reshape(v.shape)"
                             f" for k, v in {name}.state_dict().items()}})")
            else:
                lines.append(line)
        code = "\n".join(lines).strip()
        if code:
            CASES.append((cat, who, code))


_section("creation", "B", r"""
out = torch.tensor([[1, 2], [3, 4]])

out = torch.tensor([1.0, 2.5])

out = torch.tensor([True, False])

out = torch.tensor(3.5)

out = torch.tensor([1, 2], dtype=torch.float32)

out = torch.tensor([[1., 2.]], requires_grad=True).requires_grad

out = torch.zeros(2, 3)

out = torch.zeros((2, 3), dtype=torch.long)

out = torch.ones(3)

out = torch.ones(2, 2, dtype=torch.int32)

out = torch.arange(5)

out = torch.arange(1, 10, 2)

out = torch.arange(0, 1, 0.25)

out = torch.arange(5.0)

out = torch.linspace(0, 1, 5)

out = torch.linspace(-1, 1, steps=3)

out = torch.eye(3)

out = torch.eye(2, 3)

out = torch.full((2, 2), 7.0)

out = torch.full((2,), 3)

x = torch.rand(100, 100)
out = (x.shape, bool((x >= 0).all()), bool((x < 1).all()), abs(x.mean().item() - 0.5) < 0.05)

x = torch.randn(1000)
out = (x.shape, x.dtype, abs(x.mean().item()) < 0.15, abs(x.std().item() - 1) < 0.15)

x = torch.randint(0, 10, (50,))
out = (x.dtype, x.shape, bool((x >= 0).all()), bool((x < 10).all()))

x = torch.randint(5, (3, 4))
out = (x.shape, x.dtype)

out = torch.zeros_like(torch.arange(6).reshape(2, 3))

out = torch.ones_like(torch.zeros(2, 3))

out = torch.full_like(torch.zeros(2, 2), 5.)

out = torch.rand_like(torch.zeros(3, 3)).shape

out = torch.randn_like(torch.zeros(2, 5)).shape

out = (torch.empty(2, 3).shape, torch.empty(2, 3).dtype)

out = torch.zeros(3, requires_grad=True).requires_grad

out = torch.from_numpy(np.array([1.0, 2.0]))

out = torch.as_tensor([1, 2, 3])

out = torch.tensor(np.arange(4, dtype=np.int32))

out = torch.randperm(5).sort().values

out = torch.normal(0., 1., size=(3,)).shape

out = (torch.zeros(0).shape, torch.tensor([]).shape, torch.tensor([]).dtype)

out = torch.empty_like(torch.ones(2)).shape

out = torch.tensor([[1, 2], [3, 4]], dtype=torch.float64)

out = torch.tensor(7)

out = torch.tensor([1, 2.5])

out = torch.tensor([[0.1, 0.2], [0.3, 0.4]]).shape

x = torch.ones(2, 3)
out = x.new_zeros(4)

out = torch.tensor(torch.arange(3).tolist())

out = torch.stack([torch.tensor(1.), torch.tensor(2.)])
""")

_section("dtype", "B", r"""
out = torch.tensor([1, 2]).dtype

out = torch.tensor([1., 2.]).dtype

out = torch.tensor([1, 2]).float()

out = torch.tensor([1.7, -1.7]).long()

out = torch.tensor([1.7, -1.7]).int()

out = torch.tensor([1, 2]).double()

out = torch.tensor([0., 1.5]).bool()

out = torch.tensor([1., 2.]).half()

out = torch.tensor([1, 2]).to(torch.float64)

out = torch.tensor([1, 2]).to(dtype=torch.float32)

out = torch.tensor([1.5]).type(torch.int64)

out = torch.tensor([1, 2]).type(torch.float32).dtype

out = (torch.float32 == torch.float, torch.long == torch.int64, torch.double == torch.float64)

out = (torch.int == torch.int32, torch.half == torch.float16, torch.bool)

out = (torch.tensor([1, 2]) + 0.5).dtype

out = (torch.tensor([1, 2], dtype=torch.int32) + torch.tensor([1, 2])).dtype

out = (torch.tensor([True]) + 1).dtype

out = torch.tensor([1, 2]).to(torch.uint8)

out = str(torch.float32)

out = (torch.tensor([1., 2.]).is_floating_point(), torch.tensor([1]).is_floating_point())

out = torch.get_default_dtype()

out = torch.tensor([1, 2]).to("cpu")

out = torch.tensor([1, 2]).cpu()

out = torch.tensor([1., 2.]).to(torch.bfloat16).float()

out = (torch.tensor([3]).element_size(), torch.tensor([3.]).element_size())

out = torch.tensor([1.0]).dtype.is_floating_point

out = (torch.arange(4) / 2).dtype

out = torch.tensor([1, 2], dtype=torch.int8)

out = torch.tensor([1.5, 2.5]).type_as(torch.tensor([1]))

out = torch.ones(2, dtype=torch.bool)

dev = torch.device("cpu")
out = torch.zeros(2, device=dev)

out = torch.zeros(2, device="cpu").to("cpu", torch.float64)

out = torch.tensor([1., 2.]).to(torch.zeros(1, dtype=torch.float64))

out = torch.tensor([1, 2]).long().dtype == torch.int64

out = torch.tensor([3.9, -3.9]).to(torch.int32)

out = torch.tensor([1.5], dtype=torch.float16) * 2

out = torch.tensor([300]).to(torch.uint8).dtype
""")

_section("arith", "D1", r"""
a = torch.tensor([1., 2., 3.])
b = torch.tensor([4., 5., 6.])
out = (a + b, a - b, a * b, a / b)

out = torch.tensor([[1.], [2.]]) + torch.tensor([10., 20., 30.])

out = torch.arange(6).reshape(2, 3) * 2

out = 2 ** torch.arange(4)

out = torch.arange(4) ** 2

out = torch.tensor([1., 4., 9.]) ** 0.5

out = torch.tensor([7, -7]) // 2

out = torch.tensor([7, -7]) % 3

out = torch.tensor([7., -7.]) % 3

out = -torch.tensor([1, -2])

out = torch.tensor([5, 6]) / 2

out = torch.add(torch.ones(2), torch.ones(2), alpha=2)

out = torch.sub(torch.tensor([5.]), 2)

out = torch.mul(torch.tensor([2, 3]), torch.tensor([4, 5]))

out = torch.div(torch.tensor([7., -7.]), 2, rounding_mode="floor")

out = torch.div(torch.tensor([7, -7]), 2, rounding_mode="trunc")

out = torch.div(torch.tensor([7, -7]), 2, rounding_mode="floor")

out = torch.true_divide(torch.tensor([1, 2]), 2)

out = torch.floor_divide(torch.tensor([7, -7]), 2)

out = 1 / torch.tensor([2., 4.])

out = 10 - torch.arange(3)

out = (torch.ones(2, 3) + torch.tensor([1., 2., 3.])).sum(0)

out = (torch.ones(3, 1, 2) * torch.ones(4, 1)).shape

out = torch.tensor([1, 2]) * 1.5

out = torch.tensor([1, 2]) & torch.tensor([3, 1])

out = torch.tensor([True, False]) | torch.tensor([False, False])

out = torch.tensor([True, False]) ^ torch.tensor([True, True])

out = ~torch.tensor([True, False])

x = torch.tensor([1, 2])
try:
    (x // torch.tensor([0, 1])).tolist()
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

out = torch.tensor([1., 2.]).neg()

out = torch.tensor(2.) * torch.tensor([1., 2.])

out = torch.arange(3)[:, None] - torch.arange(3)[None, :]

out = torch.tensor([1., -1., 0.]) / 0

out = torch.tensor([1, 2, 3]).sub(1).mul(2).div(4)

out = torch.tensor([2, 3]) ** torch.tensor([3, 2])

out = torch.rsub(torch.tensor([1., 2.]), 5) if hasattr(torch, "rsub") else 5 - torch.tensor([1., 2.])

out = torch.tensor([3.]) * torch.tensor(2, dtype=torch.int64)
""")

_section("inplace", "A", r"""
x = torch.zeros(3)
x.add_(1)
out = x

x = torch.ones(2, 2)
x.mul_(3)
out = x

x = torch.arange(4.)
x.zero_()
out = x

x = torch.empty(3)
x.fill_(2.5)
out = x

x = torch.tensor([-2., 0.5, 3.])
x.clamp_(-1, 1)
out = x

x = torch.zeros(3)
x.copy_(torch.tensor([1., 2., 3.]))
out = x

x = torch.arange(5.)
x.masked_fill_(x > 2, -1.)
out = x

x = torch.ones(3)
x += 1
out = x

x = torch.ones(3)
y = x
y *= 2
out = x

x = torch.ones(3)
x -= torch.tensor([1., 2., 3.])
out = x

x = torch.tensor([4., 8.])
x /= 2
out = x

x = torch.zeros(2, 3)
x[0] = 1.
out = x

x = torch.zeros(2, 3)
x[:, 1] = torch.tensor([5., 6.])
out = x

x = torch.zeros(4)
x[torch.tensor([True, False, True, False])] = 2.
out = x

x = torch.arange(6.).reshape(2, 3)
v = x.view(6)
v[0] = 100.
out = x

x = torch.arange(4.)
x.sub_(torch.ones(4), alpha=2)
out = x

x = torch.ones(3)
x.div_(4)
out = x

x = torch.tensor([1., 2.])
x.pow_(2)
out = x

x = torch.empty(2000)
x.normal_(0, 1)
out = (abs(x.mean().item()) < 0.2, abs(x.std().item() - 1) < 0.2, x.shape)

x = torch.empty(1000)
x.uniform_(-1, 1)
out = (bool(x.min() >= -1), bool(x.max() <= 1), x.shape)

w = torch.ones(2, requires_grad=True)
try:
    w.add_(1)
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

w = torch.ones(2, requires_grad=True)
with torch.no_grad():
    w.add_(1)
out = (w, w.requires_grad, w.is_leaf)

x = torch.arange(5.)
x[1:3] += 10
out = x

x = torch.zeros(3, 3)
x.fill_diagonal_(1.)
out = x

x = torch.zeros(3)
x.exp_()
out = x

x = torch.tensor([1.2, -0.7])
x.abs_()
out = x

x = torch.zeros(2)
x.requires_grad_()
out = (x.requires_grad, x.is_leaf)

x = torch.ones(3)
x.clamp_(min=2)
out = x

x = torch.arange(4.)
x[x > 1] = 0
out = x

x = torch.arange(6).reshape(2, 3)
x[1, 2] = -1
out = x

x = torch.zeros(3)
y = x.add_(2)
out = (y, x)

x = torch.arange(4.).reshape(2, 2)
x.t_()
out = x

x = torch.zeros(2, 2)
x.mul_(torch.tensor([1., 2.])).add_(3)
out = x

x = torch.tensor([1., 2.], requires_grad=True)
y = x * 2
y.add_(1)
y.sum().backward()
out = (y, x.grad)
""")

_section("compare", "D1", r"""
a = torch.tensor([1, 2, 3])
out = (a > 2, a >= 2, a < 2, a <= 2, a == 2, a != 2)

out = torch.eq(torch.tensor([1, 2]), torch.tensor([1, 3]))

out = (torch.equal(torch.tensor([1, 2]), torch.tensor([1, 2])), torch.equal(torch.tensor([1]), torch.tensor([2])))

out = torch.allclose(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-9]))

out = torch.isclose(torch.tensor([1., 2.]), torch.tensor([1.0001, 3.]), rtol=1e-3)

out = torch.logical_and(torch.tensor([True, False]), torch.tensor([True, True]))

out = (torch.logical_or(torch.tensor([True, False]), torch.tensor([False, False])), torch.logical_not(torch.tensor([True, False])))

out = torch.logical_xor(torch.tensor([True, False]), torch.tensor([True, True]))

out = torch.isnan(torch.tensor([1., float('nan')]))

out = torch.isinf(torch.tensor([1., float('inf'), -float('inf')]))

out = torch.isfinite(torch.tensor([1., float('inf'), float('nan')]))

out = torch.maximum(torch.tensor([1, 5]), torch.tensor([3, 2]))

out = torch.minimum(torch.tensor([1., 5.]), torch.tensor([3., 2.]))

out = torch.gt(torch.arange(3), 1)

out = torch.tensor([1., 2.]).eq(2.)

out = torch.ne(torch.tensor([1, 2]), 2)

out = torch.tensor([1, 2]).ge(torch.tensor([2, 2]))

out = torch.tensor([1., 2.]).allclose(torch.tensor([1., 2.]))

out = torch.tensor([3, 1, 2]).le(2).sum()

out = bool(torch.tensor([1, 2]).eq(torch.tensor([1, 2])).all())

out = torch.isclose(torch.tensor([float('nan')]), torch.tensor([float('nan')]), equal_nan=True)

out = torch.lt(torch.tensor([1., 2.]), torch.tensor([2., 2.]))

out = torch.tensor([1., 2.]).equal(torch.tensor([1., 2.]))

out = (torch.tensor([1, 2, 3]) == torch.tensor([1, 0, 3])).float().mean()

out = torch.isin(torch.tensor([1, 2, 3]), torch.tensor([2, 3]))
""")

_section("math", "D1", r"""
x = torch.tensor([0.5, 1.0, 2.0])
out = (torch.sin(x), torch.cos(x), torch.tan(x))

x = torch.tensor([0.5, 1.0, 2.0])
out = (torch.exp(x), torch.log(x), torch.log2(x), torch.log10(x))

x = torch.tensor([1e-7, 0.5, 2.0])
out = (torch.log1p(x), torch.expm1(x))

out = torch.atan2(torch.tensor([1., -1., 0.]), torch.tensor([-1., -1., 1.]))

x = torch.tensor([0.25, 1.0, 4.0])
out = (torch.sqrt(x), torch.rsqrt(x))

x = torch.tensor([0.5, 1.0, 2.0])
out = (torch.pow(x, 2), torch.pow(2, x), x.pow(3))

out = (torch.abs(torch.tensor([-1, 2])), torch.sign(torch.tensor([-2., 0., 3.])))

x = torch.tensor([-1.5, -0.5, 0.5, 1.5, 2.5])
out = (torch.floor(x), torch.ceil(x), torch.round(x), torch.trunc(x))

out = torch.round(torch.tensor([1.2345, -2.5678]), decimals=2)

x = torch.tensor([0.5, 1.0, 2.0])
out = (torch.clamp(x, min=0.8), torch.clamp(x, max=1.0), x.clamp(0.7, 1.2))

out = torch.lerp(torch.zeros(3), torch.ones(3), 0.25)

out = torch.lerp(torch.tensor([1., 2.]), torch.tensor([3., 6.]), torch.tensor([0.5, 0.25]))

out = torch.fmod(torch.tensor([-3., 3.]), 2)

out = torch.remainder(torch.tensor([-3., 3.]), 2)

out = (torch.fmod(torch.tensor([-3, 3]), 2), torch.remainder(torch.tensor([-3, 3]), 2))

x = torch.tensor([-0.5, 0., 0.5])
out = (torch.asin(x), torch.acos(x), torch.atan(x))

x = torch.tensor([-1., 0., 1.])
out = (torch.sinh(x), torch.cosh(x), torch.tanh(x))

out = (torch.asinh(torch.tensor([0., 1.])), torch.acosh(torch.tensor([1., 2.])), torch.atanh(torch.tensor([0., 0.5])))

x = torch.tensor([-2., 0., 2.])
out = (torch.sigmoid(x), x.sigmoid(), torch.exp(x).reciprocal())

out = torch.erf(torch.tensor([-1., 0., 0.5]))

out = torch.square(torch.tensor([1., -2.]))

out = torch.tensor([1., 4.]).sqrt().exp().log()

x = torch.tensor([0., -2., -2., 2., 0.])
out = torch.pow(x, torch.tensor([0., 2., 0.5, -1., -1.]))

out = torch.tensor([0., 1.]) ** 0

out = torch.relu(torch.tensor([-1., 2.]))

out = torch.log(torch.tensor([0., -1., 1.]))

out = torch.nan_to_num(torch.tensor([float('nan'), float('inf'), 1.]))

out = torch.clip(torch.tensor([0.5, 1.0, 2.0]), 0.6, 1.5)

out = torch.exp(torch.tensor([100.], dtype=torch.float64))

out = torch.tensor([2., 3.]).exp2() if hasattr(torch.tensor(1.), "exp2") else torch.tensor([4., 8.])

out = torch.reciprocal(torch.tensor([2., 0.5]))

out = torch.tensor([-3.7, 3.7]).frac()

out = torch.sqrt(torch.tensor([-1.]))

out = torch.tensor([1.5, -0.5]).abs().neg()

out = (math.pi * torch.ones(2)).sin().abs() < 1e-6

out = torch.sin(torch.tensor(0.5, dtype=torch.float64))

out = torch.sigmoid(torch.tensor([-100., 100.]))

out = torch.tanh(torch.tensor([-50., 50.]))

out = torch.xlogy(torch.tensor([0., 2.]), torch.tensor([0., 3.]))

out = torch.hypot(torch.tensor([3.]), torch.tensor([4.]))
""")

_section("reduce", "C", r"""
x = torch.arange(12.).reshape(3, 4)
out = (x.sum(), x.sum(0), x.sum(dim=1), x.sum(1, keepdim=True))

x = torch.arange(12.).reshape(3, 4)
out = (x.mean(), x.mean(0), x.mean(dim=1, keepdim=True))

x = torch.tensor([[1., 2., 4.], [3., 5., 9.]])
out = (x.std(), x.var(), x.std(dim=1), x.var(dim=0, unbiased=False), x.var(1, correction=0))

out = (torch.tensor([[1., 2.], [3., 4.]]).prod(), torch.tensor([[1, 2], [3, 4]]).prod(1))

x = torch.tensor([[1., 5., 3.], [7., 2., 6.]])
v, i = x.max(dim=1)
out = (v, i)

out = torch.tensor([[1., 5.], [7., 2.]]).max()

out = torch.max(torch.tensor([[1., 5., 3.], [7., 2., 6.]]), 1)

out = torch.max(torch.tensor([[1., 5., 3.], [7., 2., 6.]]), dim=0, keepdim=True)

r = torch.tensor([[1., 5., 3.], [7., 2., 6.]]).min(dim=0)
out = (r.values, r.indices, r[0])

out = torch.max(torch.tensor([1, 5]), torch.tensor([3, 2]))

x = torch.tensor([[1., 5., 3.], [7., 2., 6.]])
out = (x.argmax(), x.argmax(dim=1), x.argmin(0), torch.argmax(x, 1, keepdim=True))

v, i = torch.tensor([3., 1., 4., 1., 5.]).topk(2)
out = (v, i)

out = torch.topk(torch.tensor([3., 1., 4., 1.5, 5.]), 3, largest=False)

x = torch.tensor([[3., 1.], [2., 8.]])
out = torch.topk(x, 1, dim=0)

v, i = torch.tensor([3., 1., 2.]).sort()
out = (v, i)

out = torch.sort(torch.tensor([[3., 1., 2.], [0., 5., 4.]]), dim=1, descending=True)

out = (torch.tensor([3., 1., 2.]).argsort(), torch.argsort(torch.tensor([3, 1, 2]), descending=True))

x = torch.arange(1., 7.).reshape(2, 3)
out = (x.cumsum(0), x.cumsum(dim=1), torch.cumprod(x, dim=1))

out = torch.tensor([1, 2, 3]).cumsum(0)

out = (torch.tensor([3., 1., 2., 5.]).median(), torch.tensor([1., 2., 3., 4.]).median())

out = torch.tensor([[3., 1., 2.], [6., 5., 4.]]).median(dim=1)

out = torch.tensor([1, 2, 2, 3, 3, 3, 1]).mode()

x = torch.tensor([[3., -4.], [1., 2.]])
out = (x.norm(), x.norm(p=1), x.norm(dim=1), torch.norm(x, dim=0))

out = torch.linalg.norm(torch.tensor([3., 4.]))

out = torch.linalg.vector_norm(torch.tensor([[3., 4.], [1., 1.]]), dim=1)

out = torch.logsumexp(torch.tensor([[1., 2., 3.], [1000., 1000., 0.]]), dim=1)

x = torch.tensor([[True, False], [True, True]])
out = (x.any(), x.all(), x.any(dim=1), x.all(dim=0), torch.any(x), torch.all(x, dim=1))

out = torch.sum(torch.arange(12.).reshape(3, 4), dim=(0, 1))

out = torch.arange(12.).reshape(3, 4).sum(-1)

out = (torch.tensor([1, 2, 3]).sum(), torch.tensor([1, 2, 3]).float().mean())

out = torch.tensor([True, False, True]).sum()

x = torch.tensor([[1., 5.], [7., 2.]])
out = (x.amax(dim=1), x.amin(dim=0), torch.amax(x))

out = torch.tensor([[1., 2., 4.], [3., 5., 9.]]).std(dim=1, keepdim=True)

out = torch.count_nonzero(torch.tensor([0, 1, 2, 0]))

out = torch.unique(torch.tensor([3, 1, 3, 2]))

out = torch.unique(torch.tensor([3, 1, 3, 2]), return_counts=True)

out = torch.tensor([1., 3., 3.]).argmax()

out = torch.cummax(torch.tensor([1., 3., 2., 5.]), dim=0)

out = torch.logcumsumexp(torch.tensor([0., 1., 2.]), dim=0)

out = torch.tensor([[1., 2.], [3., 4.]]).max(dim=-1).values

out = torch.mean(torch.arange(12.).reshape(3, 4), dim=[0, 1])

out = torch.tensor([5.]).std()

out = torch.min(torch.tensor([4, 2, 8]))

out = torch.tensor([[1., 2.], [3., 4.]]).sum(dim=0).tolist()

out = torch.std_mean(torch.tensor([1., 2., 3., 4.]))

out = torch.nansum(torch.tensor([1., float('nan'), 2.]))

out = torch.tensor([[1, 2], [3, 4]]).sum(dtype=torch.float32) if True else None

out = torch.tensor([3., 1., 2.]).kthvalue(2)

out = torch.tensor([[4., 1.], [2., 3.]]).sort(dim=0)
""")

_section("index", "D2", r"""
x = torch.arange(12).reshape(3, 4)
out = (x[0], x[-1], x[1, 2], x[:, 1], x[1:, ::2])

x = torch.arange(12).reshape(3, 4)
out = (x[..., 0], x[None].shape, x[:, None, :].shape, x[..., None].shape)

x = torch.arange(12).reshape(3, 4)
out = x[torch.tensor([0, 2])]

x = torch.arange(12).reshape(3, 4)
out = x[[0, 2], [1, 3]]

x = torch.arange(12).reshape(3, 4)
out = x[x > 5]

x = torch.arange(12).reshape(3, 4)
out = x[torch.tensor([True, False, True])]

x = torch.arange(12.).reshape(3, 4)
out = x.gather(1, torch.tensor([[0], [1], [2]]))

x = torch.arange(12.).reshape(3, 4)
out = torch.gather(x, 0, torch.tensor([[2, 1, 0, 0]]))

out = torch.zeros(3, 4).scatter(1, torch.tensor([[0], [1], [2]]), 1.0)

out = torch.zeros(2, 3).scatter(1, torch.tensor([[2, 0], [1, 1]]), torch.tensor([[5., 6.], [7., 8.]]))

out = torch.zeros(3).scatter_add(0, torch.tensor([0, 0, 2, 1]), torch.tensor([1., 2., 3., 4.]))

x = torch.zeros(3)
x.scatter_add_(0, torch.tensor([1, 1]), torch.tensor([2., 3.]))
out = x

x = torch.arange(12).reshape(3, 4)
out = (x.index_select(0, torch.tensor([2, 0])), torch.index_select(x, 1, torch.tensor([1, 1, 3])))

x = torch.arange(6.).reshape(2, 3)
out = x.masked_select(x > 2)

x = torch.tensor([[0, 1], [2, 0]])
out = (x.nonzero(), torch.nonzero(x, as_tuple=True))

x = torch.tensor([1., -2., 3.])
out = (torch.where(x > 0, x, torch.zeros(3)), torch.where(x > 0, x, 0.))

out = torch.where(torch.tensor([True, False, True]))

x = torch.tensor([1., 2., 3.])
out = x.where(x > 1.5, 0.)

x = torch.arange(6).reshape(2, 3)
out = x.masked_fill(x % 2 == 0, -1)

out = torch.arange(12).reshape(3, 4)[1][2].item()

x = torch.arange(12).reshape(3, 4)
out = (x[:, -1], x[1:3, 1:3], x[:, [0, 3]], x[-2:], x[::2], x[1, ...])

x = torch.arange(12).reshape(3, 4)
out = x[torch.arange(3), torch.tensor([0, 1, 2])]

out = torch.argwhere(torch.tensor([0, 3, 0, 5]))

x = torch.arange(12).reshape(3, 4)
out = x[torch.tensor(1)]

x = torch.arange(12).reshape(3, 4)
out = (x.narrow(1, 1, 2), x.select(0, 1), torch.narrow(x, 0, 0, 1))

out = torch.arange(6).reshape(2, 3).unbind(0)

x = torch.zeros(5)
x.index_add_(0, torch.tensor([0, 0, 2]), torch.ones(3))
out = x

x = torch.zeros(3)
x.scatter_(0, torch.tensor([2, 0]), torch.tensor([5., 6.]))
out = x

x = torch.arange(24).reshape(2, 3, 4)
out = (x[:, 1:, ::2], x[1, :, -1], x[..., 1:3].shape, x[0, [0, 2]])

x = torch.arange(5)
out = x[torch.tensor([4, -1, 0])]

x = torch.arange(12).reshape(3, 4)
out = x[1:, torch.tensor([0, 2])]

x = torch.arange(12).reshape(3, 4)
i = torch.tensor([[0, 1], [2, 2]])
out = x[i]

x = torch.arange(10.)
out = x[x.argsort(descending=True)[:3]]

out = torch.take(torch.arange(12).reshape(3, 4), torch.tensor([0, 5, 11]))

x = torch.tensor([5., 6., 7.])
try:
    x[torch.tensor([3])].tolist()
    out = "no error"
except IndexError:
    out = "IndexError"

x = torch.zeros(2, 3)
out = torch.scatter(x, 1, torch.tensor([[1], [2]]), torch.ones(2, 1))

x = torch.arange(6).reshape(2, 3)
x[x > 2] = 0
out = x

x = torch.arange(12).reshape(3, 4)
out = x.flatten()[torch.tensor([True] * 6 + [False] * 6)]
""")

_section("shape", "D2", r"""
x = torch.arange(12)
out = (x.view(4, 3), x.view(-1), x.reshape(2, -1), x.reshape(-1, 2).shape)

x = torch.arange(6).reshape(2, 3)
out = (x.permute(1, 0), x.transpose(0, 1), x.T, x.t())

x = torch.arange(24).reshape(2, 3, 4)
out = (x.flatten().shape, x.flatten(1).shape, torch.flatten(x, 0, 1).shape)

out = torch.arange(12).reshape(3, 4).unflatten(1, (2, 2)).shape

x = torch.zeros(1, 3, 1)
out = (x.squeeze().shape, x.squeeze(0).shape, x.unsqueeze(0).shape, x.unsqueeze(-1).shape, torch.squeeze(x, 2).shape)

x = torch.tensor([[1], [2]])
out = (x.expand(2, 3), x.expand(-1, 2), x.expand_as(torch.zeros(2, 4)).shape)

out = (torch.tensor([1, 2]).repeat(3), torch.tensor([[1, 2]]).repeat(2, 2))

out = (torch.tensor([1, 2]).repeat_interleave(2), torch.repeat_interleave(torch.tensor([[1, 2], [3, 4]]), 2, dim=0))

out = torch.tensor([1, 2, 3]).repeat_interleave(torch.tensor([1, 0, 2]))

a, b = torch.ones(2, 3), torch.zeros(2, 3)
out = (torch.cat([a, b]), torch.cat((a, b), dim=1), torch.stack([a, b]).shape, torch.stack([a, b], dim=1).shape)

a, b = torch.tensor([1, 2]), torch.tensor([3, 4])
out = (torch.hstack([a, b]), torch.vstack([a, b]), torch.column_stack([a, b]))

x = torch.arange(10)
out = (x.split(4), torch.split(x, [3, 7]), x.chunk(3), torch.chunk(x, 2))

x = torch.arange(12).reshape(3, 4)
out = (x.split(2, dim=1), x.split([1, 3], dim=1))

x = torch.arange(6).reshape(2, 3)
out = (x.flip(0), torch.flip(x, [0, 1]), torch.fliplr(x))

x = torch.arange(6).reshape(2, 3)
out = (x.roll(1), torch.roll(x, 1, dims=1), torch.roll(x, (1, 1), (0, 1)), x.roll(-1, 0))

x = torch.arange(1, 10).reshape(3, 3)
out = (x.tril(), x.triu(), torch.tril(x, diagonal=-1), torch.triu(x, 1))

out = (torch.diag(torch.tensor([1, 2, 3])), torch.diag(torch.arange(9).reshape(3, 3)))

out = (torch.arange(9).reshape(3, 3).diagonal(), torch.diag(torch.tensor([1., 2.]), 1))

a = torch.arange(6.).reshape(2, 3)
b = torch.arange(12.).reshape(3, 4)
out = (torch.einsum("ij,jk->ik", a, b), torch.einsum("ij->ji", a), torch.einsum("ii->", torch.eye(3)))

a = torch.arange(24.).reshape(2, 3, 4)
b = torch.arange(40.).reshape(2, 4, 5)
out = (torch.einsum("bij,bjk->bik", a, b), torch.einsum("i,j->ij", torch.tensor([1., 2.]), torch.tensor([3., 4., 5.])))

out = torch.einsum("ij,ij->i", torch.arange(6.).reshape(2, 3), torch.ones(2, 3))

x = torch.arange(6).reshape(2, 3)
out = (x.contiguous(), x.is_contiguous(), x.T.contiguous())

x = torch.zeros(2, 3, 4)
out = (list(x.size()), x.size(1), x.shape[0], x.dim(), x.numel(), x.ndim, x.size(-1), tuple(x.shape))

i, j = torch.meshgrid(torch.arange(2), torch.arange(3), indexing="ij")
out = (i, j)

out = torch.arange(24).reshape(2, 3, 4).movedim(0, -1).shape

out = torch.arange(6).view_as(torch.zeros(3, 2))

out = torch.broadcast_to(torch.tensor([1, 2]), (3, 2))

out = torch.tile(torch.tensor([1, 2]), (2,))

out = torch.arange(6).reshape(2, 3).swapaxes(0, 1) if hasattr(torch.zeros(1), "swapaxes") else torch.arange(6).reshape(2, 3).T

x = torch.arange(24).reshape(2, 3, 4)
out = (x.transpose(1, 2).shape, x.permute(2, 0, 1).shape, x.mT.shape)

out = torch.cat([torch.zeros(0, 3), torch.ones(2, 3)])

out = torch.arange(8).reshape(2, 2, 2).reshape(4, 2)

out = torch.atleast_2d(torch.tensor([1, 2])).shape

out = torch.stack([torch.arange(3), torch.arange(3) * 2], dim=-1)

out = torch.tensor([[1, 2], [3, 4]]).reshape(4).tolist()

try:
    torch.arange(6).view(4, 2)
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

out = torch.unsqueeze(torch.arange(3), 1) * torch.arange(3)

out = torch.arange(6).reshape(2, 3).transpose(0, 1).reshape(-1)
""")

_section("linalg", "C", r"""
a = torch.arange(6.).reshape(2, 3)
b = torch.arange(6.).reshape(3, 2)
out = (a @ b, torch.matmul(a, b), torch.mm(a, b), a.mm(b), a.matmul(b))

a = torch.arange(24.).reshape(2, 3, 4)
b = torch.arange(40.).reshape(2, 4, 5)
out = (torch.bmm(a, b), a.bmm(b))

out = (torch.dot(torch.tensor([1., 2.]), torch.tensor([3., 4.])), torch.tensor([1., 2.]) @ torch.tensor([3., 4.]))

out = torch.mv(torch.arange(6.).reshape(2, 3), torch.tensor([1., 0., 2.]))

out = (torch.arange(24.).reshape(2, 3, 4) @ torch.arange(20.).reshape(4, 5)).shape

out = torch.tensor([1., 2.]) @ torch.arange(6.).reshape(2, 3)

out = torch.arange(6.).reshape(2, 3) @ torch.tensor([1., 2., 3.])

out = (torch.outer(torch.tensor([1., 2.]), torch.tensor([1., 2., 3.])), torch.tensor([1, 2]).outer(torch.tensor([3, 4])))

out = torch.addmm(torch.ones(2, 2), torch.eye(2), torch.arange(4.).reshape(2, 2))

out = torch.trace(torch.arange(9.).reshape(3, 3))

out = torch.arange(6).reshape(2, 3) @ torch.arange(6).reshape(3, 2)

try:
    torch.ones(2, 3) @ torch.ones(2, 3)
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

x = torch.tensor([[2., 1.], [1., 3.]])
out = (x @ x.T, x.T @ x)

out = torch.linalg.matrix_norm(torch.tensor([[1., 2.], [3., 4.]]))

out = torch.cross(torch.tensor([1., 0., 0.]), torch.tensor([0., 1., 0.]), dim=0)
""")

_section("print", "B", r"""
out = str(torch.tensor([1., 2.]))

out = repr(torch.tensor([[1, 2], [3, 4]]))

out = str(torch.tensor([1., 2.]) + 1)

out = repr(torch.tensor([1., 2.], requires_grad=True))

out = str(torch.tensor(3.5))

out = str(torch.arange(2000).float())

out = str(torch.tensor([1.5, 2.25], dtype=torch.float64))

out = str(torch.zeros(2, dtype=torch.int32))

out = str(torch.tensor([True, False]))

out = str(torch.tensor([1e-8, 1.]))

out = str(torch.tensor([]))

x = torch.ones(2, requires_grad=True)
(x * 3).sum().backward()
out = str(x.grad)

torch.set_printoptions(precision=2)
s = str(torch.tensor([1.23456]))
torch.set_printoptions(profile="default")
out = s

out = str(torch.tensor([[1.5, -2.], [3., 4.]]))

out = f"{torch.tensor(2.5).item():.2f}"

out = str(torch.tensor([float('nan'), float('inf'), 1.]))

out = f"{torch.tensor(2.5):.1f}"

out = str(torch.tensor([100000., 1.]))

out = repr(torch.float32)

out = str(torch.zeros(2, 3).shape)

x = torch.tensor([1., 2.], requires_grad=True)
out = repr(x * 2)

out = str(torch.arange(12).reshape(3, 4))

out = str(torch.tensor([[[1., 2.]], [[3., 4.]]]))

out = str(torch.tensor(7))

out = str(torch.tensor([0.1, 0.25, 1.0]))

out = str(torch.tensor([-1, 10, 100]))

out = str(torch.tensor([1., 2.]).mean())

out = repr(torch.tensor([1, 2], dtype=torch.int64).float())

x = torch.ones(2)
print(x, x.shape, x.dtype)
out = "printed"

out = str(torch.tensor([123456789.]))

out = str(torch.tensor([2.], dtype=torch.float16))
""")

_section("convert", "B", r"""
out = (float(torch.tensor(2.5)), int(torch.tensor(3)), bool(torch.tensor(True)))

out = torch.tensor([[1, 2]]).tolist()

out = (torch.tensor(1.5).item(), torch.tensor(2).item(), torch.tensor(True).item())

out = torch.tensor([1., 2.]).numpy()

out = len(torch.zeros(5, 2))

out = [t.tolist() for t in torch.arange(6).reshape(3, 2)]

a, b = torch.tensor([1, 2])
out = (a, b)

out = (float(torch.tensor([2.5])), int(torch.tensor([[7]])))

out = list(torch.tensor([1, 2]))

out = np.array(torch.tensor([1., 2.]))

out = torch.tensor(3) + 1

try:
    torch.tensor([1., 2.]).item()
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

try:
    bool(torch.tensor([1, 2]))
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

out = sum(torch.tensor([1, 2, 3]))

out = max(torch.tensor([1, 5, 3]).tolist())

out = torch.tensor([1, 2]).tolist() == [1, 2]

out = "yes" if torch.tensor(5) > 3 else "no"

out = round(torch.tensor(2.567).item(), 2)

out = torch.tensor([1., 2.], requires_grad=True).detach().cpu().numpy()

out = torch.tensor([1, 2])[0] == 1

out = int(torch.tensor([3., 9., 1.]).argmax())

out = list(range(int(torch.tensor(3))))

out = torch.tensor([1.5, 2.5]).data

x = torch.tensor([1., 2.])
y = x.clone()
y[0] = 5.
out = (x, y)

x = torch.zeros(2, 3)
out = (torch.numel(x), torch.is_tensor(x), isinstance(x, torch.Tensor), torch.is_tensor([1]))

out = torch.zeros(2, 3).shape == (2, 3)

out = torch.zeros(2, 3).size() == torch.Size([2, 3])

out = torch.tensor([1., 2.]).numpy().dtype.name

out = torch.tensor([[1, 2], [3, 4]]).numpy().sum()

out = [float(v) for v in torch.tensor([0.5, 1.5])]

x = torch.arange(3)
out = {i: v.item() for i, v in enumerate(x)}

out = torch.tensor(2.5).tolist()

out = torch.tensor([1.25]).item() * 2

out = torch.tensor([1, 2, 3]).sum().item() / 2

out = torch.tensor(np.float32(2.5))

out = 2 * torch.tensor(3.) + np.float64(1.0)
""")

_section("autograd", "A", r"""
x = torch.tensor([2., 3.], requires_grad=True)
y = (x ** 2).sum()
y.backward()
out = x.grad

w = nn.Parameter(torch.ones(3, 2) * 0.1)
(w * 2).sum().backward()
out = (w.grad, w.is_leaf, w.requires_grad)

w = (torch.ones(3) * 0.1).requires_grad_()
(w * w).sum().backward()
out = (w.grad, w.is_leaf)

x = torch.ones(2, requires_grad=True)
y = x.detach().requires_grad_()
(y * 3).sum().backward()
out = (y.grad, x.grad is None)

x = torch.ones(2, requires_grad=True)
y = x * 2
out = (x.is_leaf, y.is_leaf, x.grad_fn is None, y.grad_fn is not None, torch.ones(2).is_leaf)

x = torch.ones(2, requires_grad=True)
out = type((x * 2).grad_fn).__name__

x = torch.ones(2, requires_grad=True)
y = x * 2
y.retain_grad()
(y * y).sum().backward()
out = (y.grad, x.grad)

x = torch.tensor(3., requires_grad=True)
y = x ** 3
g, = torch.autograd.grad(y, x, create_graph=True)
g2, = torch.autograd.grad(g, x)
out = (g, g2)

x = torch.tensor([1., 2.], requires_grad=True)
g = torch.autograd.grad(x * 2, x, grad_outputs=torch.ones(2))
out = g

x = torch.ones(2, requires_grad=True)
with torch.no_grad():
    y = x * 2
out = (y.requires_grad, y.grad_fn is None)

x = torch.ones(2, requires_grad=True)
out = ((x * 2).detach().requires_grad, (x * 2).detach().is_leaf)

w = torch.tensor([1., -1.], requires_grad=True)
for _ in range(3):
    loss = ((w - torch.tensor([3., 2.])) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        w.grad.zero_()
out = (w, w.is_leaf, w.requires_grad)

w = torch.randn(3, 2, requires_grad=True)
x = torch.ones(4, 3)
for _ in range(2):
    loss = (x @ w).pow(2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    w.grad.zero_()
out = (w.grad, w.shape, w.is_leaf)

x = torch.tensor([1., 2.], requires_grad=True)
(x * 3).sum().backward()
(x * 3).sum().backward()
out = x.grad

x = torch.ones(2, requires_grad=True)
out = x.grad is None

x = torch.tensor([1., 2.], requires_grad=True)
y = x * 3
y.backward(torch.tensor([1., 0.5]))
out = x.grad

x = torch.tensor([1., 2.], requires_grad=True)
try:
    (x * 2).backward()
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

x = torch.ones(2, requires_grad=True)
out = ((x + 1).requires_grad, (torch.ones(2) + 1).requires_grad, (x.sum() * 0).requires_grad)

x = torch.ones(2, requires_grad=True)
with torch.no_grad():
    with torch.enable_grad():
        y = x * 2
out = y.requires_grad

x = torch.ones(2, requires_grad=True)
with torch.set_grad_enabled(False):
    y = x * 2
out = (y.requires_grad, torch.is_grad_enabled())

x = torch.tensor([1., 2.], requires_grad=True)
h = x.register_hook(lambda g: g * 2)
(x * 3).sum().backward()
h.remove()
out = x.grad

x = torch.tensor([0., 2., -3.], requires_grad=True)
(x ** 2).sum().backward()
out = x.grad

x = torch.tensor([0., 4.], requires_grad=True)
(x ** 0.5).sum().backward()
out = x.grad

x = torch.tensor([0., 2.], requires_grad=True)
(x ** 0).sum().backward()
out = x.grad

x = torch.tensor([-2.], requires_grad=True)
(x ** 3).sum().backward()
out = x.grad

x = torch.tensor([2., 3.], requires_grad=True)
(2 ** x).sum().backward()
out = x.grad

x = torch.tensor([-1., 0., 2.], requires_grad=True)
(torch.relu(x).sum() + x.abs().sum()).backward()
out = x.grad

x = torch.tensor([1., 3., 2.], requires_grad=True)
x.max().backward()
out = x.grad

x = torch.tensor([0., 4.], requires_grad=True)
x.sqrt().sum().backward()
out = x.grad

x = torch.arange(4., requires_grad=True)
x[1:].sum().backward()
out = x.grad

a = torch.arange(6., requires_grad=True)
b = a.reshape(2, 3)
(b @ torch.ones(3, 1)).sum().backward()
out = a.grad

x = torch.tensor([1., 2., 3.], requires_grad=True)
x.mean().backward()
out = x.grad

x = torch.ones(2, requires_grad=True)
(x * 2).sum().backward()
x.grad.data.zero_()
out = x.grad

x = torch.tensor([1., 2.], requires_grad=True)
y = (x ** 2).sum()
y.backward(retain_graph=True)
y.backward()
out = x.grad

@torch.no_grad()
def f(x):
    return x * 2
out = f(torch.ones(2, requires_grad=True)).requires_grad

x = torch.ones(2, requires_grad=True)
x.requires_grad_(False)
out = x.requires_grad

x = torch.ones(2, requires_grad=True)
x.grad = torch.zeros(2)
(x * 5).sum().backward()
out = x.grad

x = torch.tensor(0.5, requires_grad=True)
y = torch.tanh(x)
g, = torch.autograd.grad(y, x, create_graph=True)
g2, = torch.autograd.grad(g, x)
out = (g, g2)

x = torch.tensor([1., -1.], requires_grad=True)
torch.where(x > 0, x * 3, x * x).sum().backward()
out = x.grad

a = torch.tensor([1., 2.], requires_grad=True)
b = torch.tensor([3.], requires_grad=True)
torch.cat([a, b * 2]).sum().backward()
out = (a.grad, b.grad)

a = torch.tensor([1., 2.], requires_grad=True)
torch.stack([a, a * a]).sum().backward()
out = a.grad

x = torch.ones(3, requires_grad=True)
y = x * 2
out = (y.requires_grad, y.is_leaf, x.requires_grad)

x = torch.tensor([1., 2.], requires_grad=True)
y = x.exp()
z = y.log()
z.sum().backward()
out = x.grad

x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
torch.softmax(x, dim=1)[:, 0].sum().backward()
out = x.grad

x = torch.tensor([1., 2.], requires_grad=True)
y = x.clone()
y.sum().backward()
out = x.grad

w = torch.zeros(2, requires_grad=True)
opt_lr = 0.5
for step in range(2):
    loss = ((w - 1) ** 2).sum()
    grad, = torch.autograd.grad(loss, w)
    with torch.no_grad():
        w.sub_(opt_lr * grad)
out = w

x = torch.ones(2, requires_grad=True)
y = (x * 2).sum()
out = (y.grad_fn is not None, y.requires_grad)

p = nn.Parameter(torch.tensor([1., 2.]))
out = (p.requires_grad, isinstance(p, torch.Tensor), (p * 2).requires_grad)

x = torch.tensor([3.], requires_grad=True)
y = x * x
y.backward(create_graph=True)
g = x.grad.clone()
out = g

x = torch.tensor([1., 2., 3.], requires_grad=True)
x.norm().backward()
out = x.grad

x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
v, i = x.max(dim=1)
v.sum().backward()
out = x.grad

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x ** 2
y.sum().backward()
out = (x.grad, y.grad_fn is not None, x.grad.requires_grad)

x = torch.tensor([-1., 0.5, 2.], requires_grad=True)
x.clamp(0, 1).sum().backward()
out = x.grad

x = torch.zeros(3, requires_grad=True)
try:
    x[0] = 1.
    out = "no error"
except RuntimeError:
    out = "RuntimeError"
""")

_section("nn", "E1", r"""
m = nn.Linear(3, 2)
@det m
out = m(torch.tensor([[1., 2., 3.], [0., -1., 1.]]))

m = nn.Linear(4, 3)
out = (m(torch.randn(2, 4)).shape, m.weight.shape, m.bias.shape, m.in_features, m.out_features)

m = nn.Linear(4, 3, bias=False)
out = (m.bias is None, len(list(m.parameters())))

e = nn.Embedding(5, 3)
@det e
out = e(torch.tensor([[0, 2], [4, 4]]))

e = nn.Embedding(5, 3, padding_idx=0)
out = (e.weight[0], e(torch.tensor([0, 1])).shape)

ln = nn.LayerNorm(4)
out = ln(torch.arange(8.).reshape(2, 4))

ln = nn.LayerNorm(4, elementwise_affine=False)
out = ln(torch.tensor([[1., 2., 4., 8.]]))

d = nn.Dropout(0.5)
d.eval()
x = torch.arange(6.).reshape(2, 3)
out = d(x)

d = nn.Dropout(0.5)
y = d(torch.ones(1000))
out = (d.training, bool(((y == 0) | (y == 2)).all()), abs(y.mean().item() - 1) < 0.2)

m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
@det m
out = (m(torch.ones(2, 3)), len(m), type(m[1]).__name__)

m = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
m.append(nn.Linear(2, 1))
@det m
out = (len(m), m(torch.ones(1, 2)))

ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
ml.append(nn.Linear(2, 1))
out = (len(ml), [type(layer).__name__ for layer in ml], len(list(ml.parameters())))

md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
out = (list(md.keys()), md["enc"].out_features, len(list(md.parameters())), "dec" in md)

pl = nn.ParameterList([nn.Parameter(torch.ones(2)), nn.Parameter(torch.zeros(3))])
out = (len(pl), sum(p.numel() for p in pl), pl[1])

x = torch.tensor([[-2., -0.5, 0., 0.5, 3., 7.]])
out = (nn.ReLU()(x), nn.GELU()(x), nn.Tanh()(x), nn.Sigmoid()(x), nn.ReLU6()(x), nn.Hardtanh()(x))

x = torch.tensor([[-2., -0.5, 0., 0.5, 3., 7.]])
out = (nn.Softmax(dim=1)(x), nn.LogSoftmax(dim=-1)(x), nn.Softmin(dim=1)(x))

x = torch.tensor([[-2., -0.5, 0., 0.5, 3., 7.]])
out = (nn.SELU()(x), nn.Mish()(x), nn.LeakyReLU(0.1)(x), nn.ELU()(x), nn.SiLU()(x), nn.Softplus()(x))

x = torch.tensor([[-4., -0.5, 0., 0.5, 3., 7.]])
out = (nn.Hardsigmoid()(x), nn.Hardswish()(x), nn.Softsign()(x), nn.CELU()(x), nn.PReLU()(x), nn.GELU(approximate="tanh")(x))

rnn = nn.RNN(3, 4, batch_first=True)
out_, h = rnn(torch.zeros(2, 5, 3))
out = (out_.shape, h.shape)

rnn = nn.RNN(3, 4, batch_first=True)
@det rnn
y, h = rnn(torch.linspace(-1, 1, 30).reshape(2, 5, 3))
out = (y, h)

lstm = nn.LSTM(3, 4, batch_first=True)
y, (h, c) = lstm(torch.zeros(2, 5, 3))
out = (y.shape, h.shape, c.shape)

lstm = nn.LSTM(3, 4, batch_first=True)
@det lstm
y, (h, c) = lstm(torch.linspace(-1, 1, 30).reshape(2, 5, 3))
out = (y, h, c)

gru = nn.GRU(3, 4, batch_first=True)
@det gru
y, h = gru(torch.linspace(-1, 1, 30).reshape(2, 5, 3))
out = (y, h)

gru = nn.GRU(3, 4)
y, h = gru(torch.zeros(5, 2, 3))
out = (y.shape, h.shape)

lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
y, (h, c) = lstm(torch.zeros(2, 5, 3))
out = (y.shape, h.shape, c.shape)

lstm = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
y, (h, c) = lstm(torch.zeros(2, 5, 3))
out = (y.shape, h.shape)

out = [(n, tuple(p.shape)) for n, p in nn.LSTM(3, 4).named_parameters()]

out = [(n, tuple(p.shape)) for n, p in nn.GRU(3, 4, num_layers=2).named_parameters()]

rnn = nn.RNN(2, 3, batch_first=True)
@det rnn
h0 = torch.ones(1, 1, 3)
y, h = rnn(torch.ones(1, 4, 2), h0)
out = h

lstm = nn.LSTM(2, 3, batch_first=True)
@det lstm
y, (h, c) = lstm(torch.ones(1, 4, 2), (torch.zeros(1, 1, 3), torch.ones(1, 1, 3)))
out = (h, c)

lstm = nn.LSTM(3, 4, batch_first=True)
y, (h, c) = lstm(torch.ones(2, 5, 3))
y.sum().backward()
out = (lstm.weight_ih_l0.grad.shape, lstm.bias_hh_l0.grad is not None)

cell = nn.LSTMCell(3, 4)
@det cell
h, c = cell(torch.ones(2, 3))
out = (h, c)

cell = nn.GRUCell(3, 4)
@det cell
out = cell(torch.ones(2, 3))

bl = nn.Bilinear(2, 3, 4)
@det bl
out = bl(torch.tensor([[1., 2.]]), torch.tensor([[1., 0., -1.]]))

out = (nn.Flatten()(torch.zeros(2, 3, 4)).shape, nn.Identity()(torch.tensor([1, 2])), nn.Unflatten(1, (2, 2))(torch.zeros(3, 4)).shape)

from collections import OrderedDict
m = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
out = ([n for n, _ in m.named_parameters()], type(m.fc).__name__)

e = nn.Embedding.from_pretrained(torch.tensor([[1., 2.], [3., 4.]]))
out = (e(torch.tensor([1, 0])), e.weight.requires_grad)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3) * 0.1)
    def forward(self, x):
        return (x * self.w).sum()
m = Net()
m(torch.ones(3)).backward()
out = (m.w.grad, len(list(m.parameters())), m.w.is_leaf)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 2)
    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))
net = Net()
@det net
out = (net(torch.ones(3, 4)), [n for n, _ in net.named_parameters()])

m = nn.Linear(2, 1)
@det m
opt = optim.SGD(m.parameters(), lr=0.1)
x = torch.tensor([[1., 2.], [3., 4.]])
y = torch.tensor([[1.], [2.]])
for _ in range(5):
    opt.zero_grad()
    loss = nn.MSELoss()(m(x), y)
    loss.backward()
    opt.step()
out = (loss.item(), m.weight, m.bias)

m = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 3))
out = m(torch.tensor([[1, 2], [3, 4]])).shape

x = torch.tensor([[1., 2.], [3., 5.]])
out = nn.LayerNorm([2, 2])(x.unsqueeze(0))

m = nn.Softmax(dim=-1)
out = m(torch.tensor([[1000., 0.], [1., 1.]]))

m = nn.Linear(3, 2).double()
out = (m.weight.dtype, m(torch.ones(1, 3, dtype=torch.float64)).dtype)
""")

_section("functional", "D1", r"""
x = torch.tensor([[-2., -0.5, 0., 0.5, 3.]])
out = (F.relu(x), F.softmax(x, dim=1), F.log_softmax(x, dim=-1), F.gelu(x), F.silu(x))

x = torch.tensor([[-2., -0.5, 0., 0.5, 3.]])
out = (F.leaky_relu(x, 0.2), F.elu(x), torch.sigmoid(x), torch.tanh(x), F.softplus(x))

x = torch.tensor([[-4., -0.5, 0., 0.5, 7.]])
out = (F.relu6(x), F.hardtanh(x), F.selu(x), F.mish(x), F.celu(x))

x = torch.tensor([[-4., -0.5, 0., 0.5, 7.]])
out = (F.softsign(x), F.softmin(x, dim=1), F.hardswish(x), F.hardsigmoid(x), F.logsigmoid(x))

out = F.gelu(torch.tensor([100., -100., 0.5]), approximate="tanh")

out = F.softmax(torch.tensor([1000., 0.]), dim=0)

out = F.softmax(torch.tensor([1e-30, 0., -1e-30]), dim=0)

out = F.log_softmax(torch.arange(24.).reshape(2, 3, 4), dim=1)

x = torch.arange(6.).reshape(2, 3)
out = (F.normalize(x, dim=1), F.normalize(x, p=1, dim=0))

x = torch.tensor([[1., 2., 3.]])
w = torch.tensor([[1., 0., 1.], [0., 1., 0.]])
out = (F.linear(x, w), F.linear(x, w, torch.tensor([1., -1.])))

out = F.dropout(torch.arange(4.), p=0.5, training=False)

y = F.dropout(torch.ones(1000), p=0.2)
out = (bool(((y == 0) | ((y - 1.25).abs() < 1e-6)).all()), y.shape)

out = F.pad(torch.ones(2, 2), (1, 1))

out = F.pad(torch.ones(1, 2), (0, 2, 1, 0), value=5.)

out = F.cosine_similarity(torch.tensor([[1., 0.], [1., 1.]]), torch.tensor([[1., 0.], [0., 1.]]))

@owner E1
out = F.embedding(torch.tensor([1, 0]), torch.tensor([[1., 2.], [3., 4.]]))

@owner E1
out = F.layer_norm(torch.arange(8.).reshape(2, 4), (4,))

out = F.relu(torch.tensor([-1, 2]))

out = F.glu(torch.tensor([[1., 2., 0., 1.]]), dim=-1)

out = F.softplus(torch.tensor([-100., 0., 100.]))

out = F.tanh(torch.tensor([0.5])) if hasattr(F, "tanh") else torch.tanh(torch.tensor([0.5]))

out = F.sigmoid(torch.tensor([0.5])) if hasattr(F, "sigmoid") else torch.sigmoid(torch.tensor([0.5]))

out = F.threshold(torch.tensor([-1., 0.5, 2.]), 1.0, 0.)

out = F.gelu(torch.tensor([-3., 0.1, 3.]), approximate="none")
""")

_section("functional", "D2", r"""
out = F.one_hot(torch.tensor([0, 2, 1]))

out = F.one_hot(torch.tensor([[0], [2]]), num_classes=4)

logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3]])
target = torch.tensor([0, 1])
out = (F.cross_entropy(logits, target), F.cross_entropy(logits, target, reduction="none"), F.cross_entropy(logits, target, reduction="sum"))

logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3]])
out = F.cross_entropy(logits, torch.tensor([0, 1]), label_smoothing=0.1)

logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3], [1., 1., 1.]])
out = F.cross_entropy(logits, torch.tensor([0, -100, 2]))

logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3]])
out = F.cross_entropy(logits, torch.tensor([0, 2]), ignore_index=2)

try:
    F.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 5])).item()
    out = "no error"
except (IndexError, RuntimeError):
    out = "error"

try:
    F.nll_loss(torch.zeros(2, 3), torch.tensor([-1, 0])).item()
    out = "no error"
except (IndexError, RuntimeError):
    out = "error"

logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3]])
probs = torch.tensor([[0.7, 0.2, 0.1], [0., 1., 0.]])
out = F.cross_entropy(logits, probs)

logits = torch.arange(24.).reshape(2, 3, 4) / 10
out = F.cross_entropy(logits, torch.tensor([[0, 1, 2, 0], [2, 2, 1, 0]]))

x = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3]])
out = F.nll_loss(F.log_softmax(x, dim=1), torch.tensor([2, 1]))

logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3]], requires_grad=True)
F.cross_entropy(logits, torch.tensor([0, 1])).backward()
out = logits.grad

logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3]])
out = F.cross_entropy(logits, torch.tensor([0, 1]), weight=torch.tensor([1., 2., 0.5]))

out = torch.multinomial(torch.tensor([0., 1., 0.]), 2, replacement=True)

p = torch.tensor([0.1, 0.0, 0.9])
s = torch.multinomial(p, 1000, replacement=True)
out = (s.shape, s.dtype, bool((s != 1).all()), abs((s == 2).float().mean().item() - 0.9) < 0.05)
""")

_section("losses", "E1", r"""
x = torch.tensor([1., 2., 3.])
y = torch.tensor([1.5, 2., 5.])
out = (F.mse_loss(x, y), F.mse_loss(x, y, reduction="sum"), F.l1_loss(x, y), F.smooth_l1_loss(x, y), F.huber_loss(x, y, delta=0.5))

p = torch.tensor([0.9, 0.2, 0.6])
t = torch.tensor([1., 0., 1.])
out = (F.binary_cross_entropy(p, t), nn.BCELoss()(p, t))

z = torch.tensor([2., -1., 0.5])
t = torch.tensor([1., 0., 1.])
out = (F.binary_cross_entropy_with_logits(z, t), nn.BCEWithLogitsLoss()(z, t), F.binary_cross_entropy_with_logits(z, t, pos_weight=torch.tensor([2.])))

logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3]])
target = torch.tensor([0, 1])
out = (nn.CrossEntropyLoss()(logits, target), nn.CrossEntropyLoss(reduction="sum")(logits, target), nn.CrossEntropyLoss(label_smoothing=0.1)(logits, target))

x = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3]])
out = nn.NLLLoss()(torch.log_softmax(x, 1), torch.tensor([2, 0]))

x = torch.tensor([1., 2., 3.])
y = torch.tensor([1.5, 2., 5.])
out = (nn.MSELoss()(x, y), nn.L1Loss()(x, y), nn.SmoothL1Loss()(x, y), nn.HuberLoss()(x, y), nn.MSELoss(reduction="none")(x, y))

lp = torch.log_softmax(torch.tensor([[1., 2., 3.]]), dim=1)
t = torch.tensor([[0.2, 0.3, 0.5]])
out = (F.kl_div(lp, t, reduction="batchmean"), nn.KLDivLoss(reduction="batchmean")(lp, t))

x = torch.tensor([1., 2., 3.], requires_grad=True)
nn.MSELoss()(x, torch.zeros(3)).backward()
out = x.grad

z = torch.tensor([2., -1., 0.5], requires_grad=True)
F.binary_cross_entropy_with_logits(z, torch.tensor([1., 0., 1.])).backward()
out = z.grad

logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3], [0., 0., 0.]])
out = nn.CrossEntropyLoss(ignore_index=-1)(logits, torch.tensor([0, -1, 2]))

out = F.binary_cross_entropy(torch.tensor([0., 1.]), torch.tensor([0., 1.]))

out = F.binary_cross_entropy(torch.tensor([0., 1.]), torch.tensor([1., 0.]))

out = F.binary_cross_entropy_with_logits(torch.tensor([100., -100.]), torch.tensor([0., 1.]))

out = repr(nn.CrossEntropyLoss())
""")

_section("module", "E1", r"""
m = nn.Linear(3, 2)
out = [n for n, _ in m.named_parameters()]

m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
out = (len(list(m.parameters())), sum(p.numel() for p in m.parameters()), list(m.state_dict().keys()))

m = nn.Linear(3, 2)
m2 = nn.Linear(3, 2)
m2.load_state_dict(m.state_dict())
x = torch.ones(1, 3)
out = (torch.equal(m(x), m2(x)), m2.weight.requires_grad)

m = nn.Linear(3, 2)
res = m.load_state_dict(m.state_dict())
out = (list(res.missing_keys), list(res.unexpected_keys))

m = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
m.eval()
a = (m.training, m[1].training)
m.train()
out = (a, m.training, m[1].training)

m = nn.Linear(2, 1)
m(torch.ones(1, 2)).sum().backward()
had = m.weight.grad is not None
m.zero_grad()
out = (had, m.weight.grad is None)

m = nn.Linear(3, 2)
seen = []
h = m.register_forward_hook(lambda mod, inp, outp: seen.append(tuple(outp.shape)))
m(torch.ones(4, 3))
h.remove()
m(torch.ones(1, 3))
out = seen

m = nn.Linear(3, 2)
seen = []
m.register_forward_pre_hook(lambda mod, inp: seen.append(tuple(inp[0].shape)))
m(torch.ones(5, 3))
out = seen

m = nn.Linear(3, 2)
m.register_forward_hook(lambda mod, inp, outp: outp * 0)
out = m(torch.ones(1, 3))

out = repr(nn.Linear(3, 2))

out = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.1)))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        self.act = nn.ReLU()
    def forward(self, x):
        return self.act(self.fc(x))
out = repr(Net())

out = repr(nn.LSTM(3, 4, batch_first=True))

out = (repr(nn.Embedding(10, 3)), repr(nn.LayerNorm(4)), repr(nn.GELU()), repr(nn.Softmax(dim=1)))

m = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
out = ([n for n, _ in m.named_modules()], len(list(m.children())), len(list(m.modules())))

def init(mod):
    if isinstance(mod, nn.Linear):
        nn.init.zeros_(mod.weight)
        nn.init.ones_(mod.bias)
m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
m.apply(init)
out = m(torch.ones(1, 2))

w = torch.empty(50, 40)
nn.init.xavier_uniform_(w)
b = math.sqrt(6 / 90)
out = (bool(w.abs().max() <= b), w.shape)

w = torch.empty(200, 100)
nn.init.kaiming_normal_(w)
out = (abs(w.std().item() - math.sqrt(2 / 100)) < 0.02, w.shape)

w = torch.empty(3, 2)
nn.init.constant_(w, 0.3)
out = w

w = torch.empty(1000)
nn.init.normal_(w, mean=1.0, std=0.1)
out = abs(w.mean().item() - 1.0) < 0.05

w = torch.empty(500)
nn.init.uniform_(w, -0.1, 0.1)
out = bool(w.abs().max() <= 0.1)

m = nn.Linear(2, 2)
m.requires_grad_(False)
out = [p.requires_grad for p in m.parameters()]

m = nn.Linear(2, 2)
for p in m.parameters():
    p.requires_grad = False
out = m(torch.ones(1, 2)).requires_grad

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("running", torch.zeros(2))
        self.fc = nn.Linear(2, 2)
m = M()
out = (list(m.state_dict().keys()), [n for n, _ in m.named_buffers()], len(list(m.parameters())))

m = nn.Linear(3, 2)
out = (m.state_dict()["weight"].shape, m.state_dict()["bias"].requires_grad)

m = nn.Linear(3, 2)
try:
    m.load_state_dict({"weight": torch.zeros(2, 3)})
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

m = nn.Linear(3, 2)
try:
    m.load_state_dict({"weight": torch.zeros(3, 3), "bias": torch.zeros(2)})
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

m = nn.Linear(3, 2)
m.load_state_dict({"weight": torch.zeros(2, 3)}, strict=False)
out = m.weight

m = nn.Linear(2, 2)
with torch.no_grad():
    m.weight.copy_(torch.tensor([[3., 0.], [0., 4.]]))
    m.bias.zero_()
m(torch.ones(1, 2)).sum().backward()
n = nn.utils.clip_grad_norm_(m.parameters(), max_norm=1.0)
out = (n, m.weight.grad)

m = nn.Linear(2, 2)
m(torch.ones(1, 2)).sum().backward()
nn.utils.clip_grad_value_(m.parameters(), 0.5)
out = m.weight.grad

out = (isinstance(nn.Linear(2, 2), nn.Module), isinstance(nn.Linear(2, 2).weight, nn.Parameter))

m = nn.Linear(2, 2)
m.eval()
with torch.no_grad():
    y = m(torch.ones(1, 2))
out = (y.requires_grad, m.training)

m = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
out = (type(m[0]).__name__, type(m[-1]).__name__, len(m[:1]))

m = nn.Linear(2, 2)
sd = m.state_dict()
sd["weight"] = torch.ones(2, 2)
m.load_state_dict(sd)
out = m.weight

m = nn.Linear(3, 1)
out = (m.weight.is_leaf, m.weight.grad_fn is None, type(m.weight).__name__)

out = nn.utils.parameters_to_vector([nn.Parameter(torch.ones(2)), nn.Parameter(torch.zeros(2, 2))]).shape

m = nn.Linear(2, 2)
out = [k for k in vars(m) if k in ("training",)]
""")

_OPT = r"""
w = torch.tensor([1., -2., 3.], requires_grad=True)
opt = {make}
for _ in range(4):
    opt.zero_grad()
    loss = (w ** 2).sum() + w.sum()
    loss.backward()
    opt.step()
out = w
"""
_section("optim", "E2", "\n\n".join(_OPT.strip().format(make=m) for m in [
    "optim.SGD([w], lr=0.1)",
    "optim.SGD([w], lr=0.1, momentum=0.9)",
    "optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True)",
    "optim.SGD([w], lr=0.1, weight_decay=0.01)",
    "optim.Adam([w], lr=0.1)",
    "optim.Adam([w], lr=0.1, betas=(0.8, 0.99), weight_decay=0.1)",
    "optim.Adam([w], lr=0.1, amsgrad=True)",
    "optim.AdamW([w], lr=0.1)",
    "optim.AdamW([w], lr=0.1, weight_decay=0.5)",
    "optim.RMSprop([w], lr=0.01)",
    "optim.RMSprop([w], lr=0.01, momentum=0.9, alpha=0.9)",
    "optim.Adagrad([w], lr=0.1)",
]))
_section("optim", "E2", r"""
w = torch.tensor([1., 2.], requires_grad=True)
opt = optim.SGD([w], lr=0.1)
for g in opt.param_groups:
    g["lr"] = 0.01
(w ** 2).sum().backward()
opt.step()
out = (w, opt.param_groups[0]["lr"])

m = nn.Linear(2, 1)
@det m
opt = optim.Adam(m.parameters(), lr=0.05)
x = torch.tensor([[1., 2.], [3., 4.], [0., 1.]])
y = torch.tensor([[1.], [2.], [0.]])
for _ in range(5):
    opt.zero_grad()
    loss = F.mse_loss(m(x), y)
    loss.backward()
    opt.step()
out = (m.weight, m.bias, loss)

def run(steps, resume_at=None):
    w = torch.tensor([1., -2., 3.], requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    for i in range(steps):
        if i == resume_at:
            sd = opt.state_dict()
            w = torch.tensor(w.tolist(), requires_grad=True)
            opt = optim.Adam([w], lr=0.1)
            opt.load_state_dict(sd)
        opt.zero_grad()
        ((w ** 2).sum() + w.sum()).backward()
        opt.step()
    return w
out = (run(6), run(6, resume_at=3))

w = torch.tensor([1., 2.], requires_grad=True)
opt = optim.SGD([w], lr=0.1, momentum=0.9)
(w ** 2).sum().backward()
opt.step()
sd = opt.state_dict()
out = (list(sd.keys()), sd["param_groups"][0]["lr"], sd["param_groups"][0]["momentum"], sd["param_groups"][0]["params"])

w = torch.tensor([1., 2.], requires_grad=True)
opt = optim.Adam([w], lr=0.1)
(w ** 2).sum().backward()
opt.step()
st = opt.state_dict()["state"][0]
out = (sorted(st.keys()), st["exp_avg"], st["exp_avg_sq"])

w = torch.tensor([1., 2.], requires_grad=True)
opt = optim.SGD([w], lr=0.1)
(w ** 2).sum().backward()
opt.zero_grad()
out = w.grad is None

a = torch.tensor([1.], requires_grad=True)
b = torch.tensor([1.], requires_grad=True)
opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
(a * 2 + b * 2).sum().backward()
opt.step()
out = (a, b, [g["lr"] for g in opt.param_groups])

m = nn.Linear(2, 2)
opt = optim.SGD(m.parameters(), lr=0.1)
out = (len(opt.param_groups), len(opt.param_groups[0]["params"]), opt.defaults["lr"])

w = torch.tensor([1., 2.], requires_grad=True)
opt = optim.SGD([w], lr=0.1)
opt.zero_grad(set_to_none=False)
(w * 0).sum().backward()
opt.zero_grad(set_to_none=False)
out = w.grad

w = torch.tensor([1., 2.], requires_grad=True)
opt = optim.Adam([w], lr=0.1)
opt.step()
out = w
""")

_SCHED = r"""
w = torch.zeros(1, requires_grad=True)
opt = optim.SGD([w], lr=0.1)
sched = {make}
lrs = []
for epoch in range(6):
    opt.step()
    sched.step()
    lrs.append(round(sched.get_last_lr()[0], 10))
out = (lrs, round(opt.param_groups[0]["lr"], 10))
"""
_section("sched", "E2", "\n\n".join(_SCHED.strip().format(make=m) for m in [
    "optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)",
    "optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)",
    "optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)",
    "optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda e: 0.9 ** e)",
    "optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)",
    "optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.01)",
    "optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=3)",
]))
_section("sched", "E2", r"""
from torch.optim.lr_scheduler import ReduceLROnPlateau
w = torch.zeros(1, requires_grad=True)
opt = optim.SGD([w], lr=1.0)
sched = ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1)
lrs = []
for loss in [1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7]:
    sched.step(loss)
    lrs.append(opt.param_groups[0]["lr"])
out = lrs

from torch.optim.lr_scheduler import StepLR
w = torch.zeros(1, requires_grad=True)
opt = optim.SGD([w], lr=0.1)
s = StepLR(opt, step_size=1, gamma=0.5)
opt.step()
s.step()
sd = s.state_dict()
out = (sd["last_epoch"], s.get_last_lr())

w = torch.zeros(1, requires_grad=True)
opt = optim.Adam([w], lr=0.01)
s = optim.lr_scheduler.StepLR(opt, 1, gamma=0.1)
out = (s.get_last_lr(), opt.param_groups[0]["lr"])

w = torch.zeros(1, requires_grad=True)
opt = optim.SGD([w], lr=0.1)
s = optim.lr_scheduler.LambdaLR(opt, lambda e: min(1.0, (e + 1) / 3))
lrs = []
for _ in range(4):
    lrs.append(round(opt.param_groups[0]["lr"], 10))
    opt.step()
    s.step()
out = lrs
""")

_section("save", "E2", r"""
import os
m = nn.Linear(3, 2)
path = os.path.join(tmp, "model.pt")
torch.save(m.state_dict(), path)
m2 = nn.Linear(3, 2)
m2.load_state_dict(torch.load(path))
out = (torch.equal(m.weight, m2.weight), torch.equal(m.bias, m2.bias))

import os
path = os.path.join(tmp, "t.pt")
torch.save(torch.arange(6.).reshape(2, 3), path)
out = torch.load(path)

import os
m = nn.Linear(2, 2)
opt = optim.Adam(m.parameters(), lr=0.01)
m(torch.ones(1, 2)).sum().backward()
opt.step()
path = os.path.join(tmp, "ckpt.pt")
torch.save({"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 5, "loss": 0.25, "name": "run1"}, path)
ck = torch.load(path)
out = (ck["epoch"], ck["loss"], ck["name"], sorted(ck.keys()), sorted(ck["model"].keys()), ck["optimizer"]["param_groups"][0]["lr"])

import os
def steps(w, opt, n):
    for _ in range(n):
        opt.zero_grad()
        ((w - 1) ** 2).sum().backward()
        opt.step()
w = torch.tensor([3., -3.], requires_grad=True)
opt = optim.Adam([w], lr=0.1)
steps(w, opt, 3)
path = os.path.join(tmp, "ck.pt")
torch.save({"w": w.detach(), "opt": opt.state_dict(), "epoch": 3}, path)
steps(w, opt, 3)
ck = torch.load(path)
w2 = ck["w"].clone().requires_grad_()
opt2 = optim.Adam([w2], lr=0.1)
opt2.load_state_dict(ck["opt"])
steps(w2, opt2, 3)
out = (w, w2, ck["epoch"])

import os
path = os.path.join(tmp, "list.pt")
torch.save([torch.ones(2), torch.zeros(3), 7], path)
out = torch.load(path)

import os
path = os.path.join(tmp, "m.pt")
torch.save(nn.Linear(2, 2).state_dict(), path)
sd = torch.load(path, map_location="cpu")
out = (list(sd.keys()), sd["weight"].shape)

import os
path = os.path.join(tmp, "w.pt")
torch.save({"a": torch.tensor([1, 2]), "b": {"c": torch.tensor([True])}}, path)
ck = torch.load(path, weights_only=True)
out = (ck["a"], ck["b"]["c"])

import os
m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
path = os.path.join(tmp, "seq.pt")
torch.save(m.state_dict(), path)
m2 = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
m2.load_state_dict(torch.load(path))
x = torch.ones(4, 2)
out = torch.equal(m(x), m2(x))
""")

_section("data", "B", r"""
from torch.utils.data import DataLoader, TensorDataset
ds = TensorDataset(torch.arange(10.).reshape(5, 2), torch.arange(5))
out = (len(ds), ds[0], ds[4][1])

from torch.utils.data import DataLoader, TensorDataset
ds = TensorDataset(torch.arange(10.).reshape(5, 2), torch.arange(5))
dl = DataLoader(ds, batch_size=2)
out = (len(dl), [(x, y) for x, y in dl])

from torch.utils.data import DataLoader, TensorDataset
ds = TensorDataset(torch.arange(7))
dl = DataLoader(ds, batch_size=3, drop_last=True)
out = (len(dl), [b[0] for b in dl])

from torch.utils.data import DataLoader, TensorDataset
ds = TensorDataset(torch.arange(10))
seen = torch.cat([b[0] for b in DataLoader(ds, batch_size=4, shuffle=True)])
out = (seen.sort().values, seen.shape)

from torch.utils.data import Dataset, DataLoader
class Squares(Dataset):
    def __len__(self):
        return 4
    def __getitem__(self, i):
        return torch.tensor([float(i)]), i * i
dl = DataLoader(Squares(), batch_size=2)
out = [(x, y) for x, y in dl]

from torch.utils.data import random_split, TensorDataset
a, b = random_split(TensorDataset(torch.arange(10)), [7, 3])
out = (len(a), len(b))

ds = torch.utils.data.TensorDataset(torch.ones(4, 2), torch.zeros(4))
dl = torch.utils.data.DataLoader(ds, batch_size=4)
x, y = next(iter(dl))
out = (x.shape, y.shape)

from torch.utils.data import Subset, TensorDataset
s = Subset(TensorDataset(torch.arange(10) * 10), [1, 3])
out = (len(s), s[1])

from torch.utils.data import DataLoader, TensorDataset
m = nn.Linear(2, 1)
@det m
opt = optim.SGD(m.parameters(), lr=0.05)
ds = TensorDataset(torch.arange(8.).reshape(4, 2) / 8, torch.tensor([[0.], [1.], [2.], [3.]]))
for epoch in range(2):
    for x, y in DataLoader(ds, batch_size=2):
        opt.zero_grad()
        F.mse_loss(m(x), y).backward()
        opt.step()
out = (m.weight, m.bias)
""")

# second wave: edge values, gradients as torch gives them, and the errors torch raises -------------

_section("edges", "D1", r"""
out = torch.tensor([250], dtype=torch.uint8) + 10

out = (torch.tensor([True, True]).sum(), torch.tensor([True]) + torch.tensor([True]))

out = torch.tensor([1, 2]) / torch.tensor([0, 0])

out = torch.tensor([-7]) // torch.tensor([2])

out = (torch.tensor([-7, 7]) % torch.tensor([-3, -3]), torch.tensor([-7., 7.]) % -3)

@owner C
out = (torch.tensor([1., float("nan"), 3.]).max(), torch.tensor([1., float("nan")]).min())

@owner C
out = torch.tensor([1., float("nan"), 3.]).argmax()

@owner C
out = torch.sort(torch.tensor([3., float("nan"), 1.]))

@owner C
out = torch.tensor([[1., float("nan")], [2., 3.]]).max(dim=1)

out = torch.relu(torch.tensor([float("nan"), -1.]))

out = torch.clamp(torch.tensor([float("nan"), 5.]), 0, 1)

out = torch.maximum(torch.tensor([float("nan"), 1.]), torch.tensor([0., float("nan")]))

@owner C
out = (torch.zeros(0).sum(), torch.zeros(0).mean(), torch.zeros(0, 3).sum(0), torch.ones(0).prod())

@owner C
try:
    torch.zeros(0).max()
    out = "no error"
except (RuntimeError, IndexError):
    out = "error"

out = torch.tensor([-0.0, 0.0]).sign()

out = torch.tensor(5) * torch.tensor(2.5)

out = (torch.tensor(3) / 2, torch.tensor(3) // 2, (torch.tensor(3) / 2).dtype)

out = torch.tensor([2**31 - 1], dtype=torch.int32) + 1

out = torch.tensor([1e30, -1e30]).exp()

out = torch.tensor([1e-45, 1e38]) * 10

out = torch.tensor([65504.], dtype=torch.float16) * 2

out = torch.tensor([3], dtype=torch.int8) * 100

out = torch.arange(5) - 2.5

out = torch.tensor([0.1, 0.2]).sum() == 0.30000001192092896

out = torch.tensor([1, 2, 3]).float().std(unbiased=True)

out = torch.ones(3, dtype=torch.int32).sum().dtype

out = (torch.ones(2, dtype=torch.uint8).sum().dtype, torch.tensor([True]).cumsum(0).dtype)

out = torch.tensor([2., 3.]) ** torch.tensor([-1, 2])

out = torch.pow(torch.tensor([2, 3]), 2).dtype

out = (torch.tensor([1., 2.]) * True, torch.tensor([1, 2]) * True)

out = torch.tensor([1, 2]) + torch.tensor([0.5], dtype=torch.float64)

out = torch.tensor([5.]) // torch.tensor([0.])

out = torch.fmod(torch.tensor([5.]), 0.)

x = torch.tensor([1, 2])
x[0] = 2.7
out = x

@owner A
x = torch.tensor([1, 2])
try:
    x += 0.5
    out = ("no error", x)
except RuntimeError:
    out = "RuntimeError"

@owner A
x = torch.zeros(3)
try:
    x += torch.ones(2, 3)
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

out = torch.tensor([[1, 2], [3, 4]]).float().softmax(dim=0)

out = torch.softmax(torch.tensor([float("-inf"), 0., float("-inf")]), dim=0)

out = torch.log_softmax(torch.tensor([-1000., 0.]), dim=0)

@owner C
out = torch.logsumexp(torch.tensor([float("-inf"), float("-inf")]), dim=0)

@owner C
out = torch.tensor([[2., 2., 1.]]).topk(2)

@owner C
out = torch.tensor([1, 3, 3, 2]).argmax()

@owner C
out = torch.tensor([4., 1., 3., 1.]).argmin()

@owner C
out = torch.tensor([3., 1., 2.]).sort(descending=True, stable=True)

out = torch.tensor([1.5, 2.5]).round()

out = torch.tensor([[1, 2], [3, 4]]).T.reshape(-1)

out = torch.tensor([2.5]).floor_divide(torch.tensor([-1.]))

out = torch.tensor([-1.5, 1.5]).int()

out = torch.tensor([float("inf"), -float("inf"), float("nan")]).long().dtype

out = torch.tensor(1.) / torch.tensor(3.)

out = torch.tensor([1., 2.], dtype=torch.float64).sum().item()

out = torch.arange(0.0, 1.0, 0.1).shape

out = torch.arange(1, 0, -0.25)

out = torch.linspace(0, 1, 1)

out = torch.eye(0).shape

out = torch.full((2,), True)

out = torch.tensor([[]]).shape

out = torch.zeros(2, 0).sum(1)

out = torch.ones(3)[3:].shape

out = torch.arange(10)[-3:-1]

out = torch.arange(10)[8:100]
""")

_section("grads", "A", r"""
x = torch.tensor([3., 3., 1.], requires_grad=True)
x.max().backward()
out = x.grad

x = torch.tensor([[3., 3.], [1., 2.]], requires_grad=True)
x.max(dim=1).values.sum().backward()
out = x.grad

x = torch.tensor([[3., 3.], [1., 2.]], requires_grad=True)
x.amax(dim=1).sum().backward()
out = x.grad

a = torch.tensor([1., 2., 3.], requires_grad=True)
b = torch.tensor([1., 5., 0.], requires_grad=True)
torch.maximum(a, b).sum().backward()
out = (a.grad, b.grad)

x = torch.tensor([-1., 0., 0.5, 1., 2.], requires_grad=True)
x.clamp(0, 1).sum().backward()
out = x.grad

x = torch.tensor([-1., 0., 6., 7.], requires_grad=True)
F.relu6(x).sum().backward()
out = x.grad

x = torch.tensor([-1., 0., 1.], requires_grad=True)
(F.hardtanh(x) + F.leaky_relu(x, 0.1)).sum().backward()
out = x.grad

x = torch.tensor([2., 0., 3.], requires_grad=True)
x.prod().backward()
out = x.grad

x = torch.tensor([2., 0., 0.], requires_grad=True)
x.prod().backward()
out = x.grad

x = torch.tensor([2., 0., 3., 4.], requires_grad=True)
x.cumprod(0).sum().backward()
out = x.grad

x = torch.tensor([1., 2., 3.], requires_grad=True)
x.cumsum(0).sum().backward()
out = x.grad

x = torch.tensor([1., 2., 4.], requires_grad=True)
(x.std() + x.var()).backward()
out = x.grad

x = torch.tensor([0., 0.], requires_grad=True)
x.norm().backward()
out = x.grad

x = torch.tensor([-1., 4.], requires_grad=True)
torch.where(x > 0, x.sqrt(), torch.zeros(2)).sum().backward()
out = x.grad

x = torch.tensor([1.5, -2.5], requires_grad=True)
(x.floor() + x.round() + x.ceil()).sum().backward()
out = x.grad

x = torch.tensor([2., 3.], requires_grad=True)
y = torch.tensor([3., 0.5], requires_grad=True)
(x ** y).sum().backward()
out = (x.grad, y.grad)

x = torch.tensor([1., 2., 3.], requires_grad=True)
x[[0, 0, 2]].sum().backward()
out = x.grad

@owner D2
x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
x.gather(1, torch.tensor([[0, 0], [1, 0]])).sum().backward()
out = x.grad

x = torch.tensor([[1.], [2.]], requires_grad=True)
x.expand(2, 3).sum().backward()
out = x.grad

@owner D2
x = torch.tensor([1., 2., 3.], requires_grad=True)
torch.zeros(2).scatter_add(0, torch.tensor([0, 1, 0]), x).sum().backward()
out = x.grad

@owner D2
x = torch.arange(6., requires_grad=True)
(x.reshape(2, 3).tril() * torch.arange(6.).reshape(2, 3)).sum().backward()
out = x.grad

@owner D2
x = torch.arange(4., requires_grad=True)
(x.roll(1) * torch.tensor([1., 2., 3., 4.])).sum().backward()
out = x.grad

@owner D2
x = torch.arange(6., requires_grad=True)
(x.masked_fill(x > 3, 0.) * 2).sum().backward()
out = x.grad

@owner D2
a = torch.arange(6., requires_grad=True)
torch.einsum("ij,j->i", a.reshape(2, 3), torch.tensor([1., 2., 3.])).sum().backward()
out = a.grad

@owner C
x = torch.tensor([3., 1., 2.], requires_grad=True)
v, i = x.sort()
(v * torch.tensor([1., 2., 3.])).sum().backward()
out = x.grad

@owner C
x = torch.tensor([3., 1., 2., 5.], requires_grad=True)
v, i = x.topk(2)
(v * torch.tensor([1., 10.])).sum().backward()
out = x.grad

@owner C
x = torch.tensor([3., 1., 2.], requires_grad=True)
x.median().backward()
out = x.grad

@owner C
x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
w = torch.tensor([[1., -1.], [2., 0.5]], requires_grad=True)
(x @ w).pow(2).sum().backward()
out = (x.grad, w.grad)

@owner C
x = torch.tensor([[1., -5.], [2., 0.]], requires_grad=True)
torch.logsumexp(x, dim=1).sum().backward()
out = x.grad

@owner D1
x = torch.tensor([0.5, -0.3], requires_grad=True)
(torch.atan2(x, torch.tensor([1., -1.])) + x.asin() + x.atanh() + x.erf()).sum().backward()
out = x.grad

@owner D1
x = torch.tensor([-2., 0., 2.], requires_grad=True)
(F.gelu(x) + F.silu(x) + F.mish(x) + F.selu(x) + F.softplus(x)).sum().backward()
out = x.grad

@owner D1
x = torch.tensor([[1., 2., 3.]], requires_grad=True)
(F.log_softmax(x, dim=1) * torch.tensor([[1., 0., 2.]])).sum().backward()
out = x.grad

@owner D1
x = torch.tensor([1e-3, 1.], requires_grad=True)
(x.log1p() + x.expm1() + x.log() + x.rsqrt()).sum().backward()
out = x.grad

@owner D1
x = torch.tensor([3.5, -3.5], requires_grad=True)
(torch.fmod(x, 2.) + torch.remainder(x, 2.)).sum().backward()
out = x.grad

@owner D1
x = torch.tensor([0., 1.], requires_grad=True)
torch.lerp(x, torch.tensor([2., 3.]), 0.25).sum().backward()
out = x.grad

@owner D2
logits = torch.tensor([[2., 1., 0.1], [0.5, 2.5, 0.3], [1., 1., 1.]], requires_grad=True)
F.cross_entropy(logits, torch.tensor([0, -100, 2]), label_smoothing=0.2).backward()
out = logits.grad

@owner E1
e = nn.Embedding(4, 2, padding_idx=1)
e(torch.tensor([1, 1, 2, 0])).sum().backward()
out = e.weight.grad

@owner E1
ln = nn.LayerNorm(3)
ln(torch.tensor([[1., 2., 4.], [0., 1., 0.]])).pow(2).mul(torch.tensor([1., 2., 3.])).sum().backward()
out = (ln.weight.grad, ln.bias.grad)

@owner E1
lstm = nn.LSTM(2, 3, batch_first=True)
@det lstm
y, _ = lstm(torch.linspace(-1, 1, 8).reshape(1, 4, 2))
y.pow(2).sum().backward()
out = (lstm.weight_ih_l0.grad, lstm.weight_hh_l0.grad, lstm.bias_ih_l0.grad)

@owner E1
gru = nn.GRU(2, 3)
@det gru
y, h = gru(torch.linspace(-1, 1, 8).reshape(4, 1, 2))
h.sum().backward()
out = (gru.weight_ih_l0.grad, gru.bias_hh_l0.grad)

@owner E1
x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
(F.normalize(x, dim=1) * torch.tensor([1., 2.])).sum().backward()
out = x.grad

@owner E1
p = torch.tensor([0.9, 0.2], requires_grad=True)
F.binary_cross_entropy(p, torch.tensor([1., 0.])).backward()
out = p.grad

@owner E1
x = torch.tensor([1., 2., 3.], requires_grad=True)
(F.smooth_l1_loss(x, torch.tensor([1.5, 0., 3.])) + F.l1_loss(x, torch.zeros(3)) + F.huber_loss(x, torch.ones(3))).backward()
out = x.grad

x = torch.tensor([1., 2.], requires_grad=True)
y = x * 2
z = y.detach()
z += 1
(y * x).sum().backward()
out = (x.grad, z)

x = torch.tensor([1., 2.], requires_grad=True)
y = x.exp()
y.retain_grad()
y.sum().backward()
out = (y.grad, x.grad)

x = torch.tensor(2., requires_grad=True)
y = x ** 4
g1, = torch.autograd.grad(y, x, create_graph=True)
g2, = torch.autograd.grad(g1, x, create_graph=True)
g3, = torch.autograd.grad(g2, x)
out = (g1, g2, g3)

x = torch.tensor([1., 2.], requires_grad=True)
w = torch.tensor([3., 4.], requires_grad=True)
gx, gw = torch.autograd.grad((x * w).sum(), [x, w])
out = (gx, gw)

x = torch.tensor([1., 2., 3.], requires_grad=True)
y = x * 2
y[1].backward()
out = x.grad

x = torch.tensor([1., 2.], requires_grad=True)
y = x.view(2, 1).expand(2, 3).contiguous()
y.sum().backward()
out = x.grad

x = torch.tensor([1., 2., 3.], requires_grad=True)
a, b = x.split([1, 2])
(a * 3 + b.sum()).sum().backward()
out = x.grad

x = torch.ones(2, 2, requires_grad=True)
y = x.t() @ torch.tensor([[1.], [2.]])
y.sum().backward()
out = x.grad
""")

_section("errors", "B", r"""
try:
    torch.ones(2, 3) + torch.ones(3, 2)
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner D2
try:
    torch.cat([torch.ones(2, 3), torch.ones(2, 4)])
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner D2
try:
    torch.ones(2, 3).expand(4, 3)
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner D2
try:
    torch.arange(3)[5]
    out = "no error"
except IndexError:
    out = "IndexError"

@owner D2
try:
    torch.ones(2, 3).sum(dim=2)
    out = "no error"
except IndexError:
    out = "IndexError"

@owner D2
try:
    torch.ones(2, 3).reshape(4, 2)
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner E1
try:
    nn.Linear(3, 2)(torch.ones(4, 5))
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner D2
try:
    torch.ones(3).gather(0, torch.tensor([3])).tolist()
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner E1
try:
    F.mse_loss(torch.ones(2, 3), torch.ones(2, 3, dtype=torch.long)).item()
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner D2
try:
    F.one_hot(torch.tensor([0, 3]), num_classes=3).tolist()
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner E1
try:
    nn.Embedding(3, 2)(torch.tensor([3])).tolist()
    out = "no error"
except IndexError:
    out = "IndexError"

@owner A
try:
    torch.ones(2).backward()
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner C
try:
    torch.mm(torch.ones(2, 3), torch.ones(2, 3))
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

try:
    torch.tensor([[1, 2], [3]])
    out = "no error"
except ValueError:
    out = "ValueError"

try:
    torch.zeros(2, 3).view(-1, -1)
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner D1
try:
    torch.tensor([1., 2.]) & torch.tensor([1., 0.])
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

@owner E2
w = torch.zeros(1, requires_grad=True)
try:
    optim.SGD([w], lr=-0.1)
    out = "no error"
except ValueError:
    out = "ValueError"

@owner E2
try:
    optim.SGD([], lr=0.1)
    out = "no error"
except ValueError:
    out = "ValueError"

@owner D2
try:
    torch.stack([torch.ones(2), torch.ones(3)])
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

try:
    torch.ones(2, 3).permute(0, 0)
    out = "no error"
except RuntimeError:
    out = "RuntimeError"
""")

_section("more", "B", r"""
out = str(torch.tensor([1e-5, 1e5]))

torch.set_printoptions(sci_mode=False)
s = str(torch.tensor([1e-5, 1e5]))
torch.set_printoptions(profile="default")
out = s

out = str(torch.arange(10000.).reshape(100, 100))

out = str(torch.tensor([-0., 1.]))

out = str(torch.tensor([[1, 2], [300, 4]]))

out = repr(torch.tensor([1.5], requires_grad=True) * 2).split(",")[0]

out = str(torch.tensor([[True], [False]]))

out = str(torch.tensor([1.123456789], dtype=torch.float64))

out = str(torch.zeros(2, 1, 2))

out = str(torch.tensor(-2))

out = str(torch.tensor([1, 2], dtype=torch.uint8))

out = repr(torch.zeros(3, dtype=torch.float16))

out = str(nn.Parameter(torch.tensor([1., 2.])))

out = str(torch.tensor([0.5, 1.5]).sum())

x = torch.tensor([[1., 2.], [3., 4.]])
out = (x.tolist(), x[0].tolist(), x[0, 0].tolist())

out = torch.tensor(np.array([[1, 2], [3, 4]], dtype=np.int64)).sum()

out = torch.tensor(np.float64(3.5)).dtype

out = torch.as_tensor(np.array([1., 2.], dtype=np.float32)) * 2

out = torch.from_numpy(np.array([True, False]))

out = torch.tensor([np.float32(1.5), 2])

out = torch.tensor([torch.tensor(1.), torch.tensor(2.)]) if False else torch.stack([torch.tensor(1.), torch.tensor(2.)])

out = torch.zeros(2, 3).new_ones((2,)).dtype

out = torch.zeros(2, dtype=torch.float64).new_tensor([1, 2])

out = torch.empty(0, 3).shape

out = torch.tensor([3, 1, 2]).numpy().tolist()

out = [x.item() for x in torch.tensor([1.5, 2.5])]

x = torch.arange(6).reshape(2, 3)
out = [row.sum().item() for row in x]

out = torch.zeros(2, 3).stride()

out = torch.arange(6).reshape(2, 3).T.stride()

out = (torch.zeros(3).device.type, str(torch.zeros(3).device))

out = torch.zeros(3).is_cuda

out = torch.cuda.is_available()

out = torch.zeros(3, dtype=torch.float32).dtype.itemsize if hasattr(torch.float32, "itemsize") else 4

out = (torch.finfo(torch.float32).eps, torch.iinfo(torch.int32).max)

out = torch.zeros(2).requires_grad

out = torch.get_default_dtype() == torch.float32

out = torch.__name__ in ("torch", "tinytorch")

out = torch.Size([2, 3]).numel() if hasattr(torch.Size([2, 3]), "numel") else 6

out = list(torch.zeros(4, 2, 3).shape[1:])

out = torch.manual_seed(0) is not None

torch.manual_seed(1)
a = torch.rand(3)
torch.manual_seed(1)
b = torch.rand(3)
out = torch.equal(a, b)

g = torch.Generator().manual_seed(0)
out = torch.rand(2, generator=g).shape

out = torch.randint(0, 3, (2, 2), dtype=torch.int32).dtype

out = torch.bernoulli(torch.full((100,), 0.5)).unique().tolist() in ([0.0, 1.0], [0.0], [1.0])

out = torch.randn(2, 3, dtype=torch.float64).dtype

out = torch.rand(4).uniform_(2, 3).ge(2).all()

out = torch.tensor([1, 2, 3]).float().numpy().mean()
""")

_section("more", "E2", r"""
w = torch.zeros(1, requires_grad=True)
opt = optim.SGD([w], lr=0.1)
sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=6)
lrs = []
for _ in range(6):
    lrs.append(round(opt.param_groups[0]["lr"], 6))
    opt.step()
    sched.step()
out = lrs

w = torch.zeros(1, requires_grad=True)
opt = optim.SGD([w], lr=0.1)
sched = optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3)
lrs = []
for _ in range(7):
    opt.step()
    sched.step()
    lrs.append(round(sched.get_last_lr()[0], 6))
out = lrs

w = torch.zeros(1, requires_grad=True)
opt = optim.SGD([w], lr=0.1)
s1 = optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=2)
s2 = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
sched = optim.lr_scheduler.SequentialLR(opt, schedulers=[s1, s2], milestones=[2])
lrs = []
for _ in range(5):
    opt.step()
    sched.step()
    lrs.append(round(opt.param_groups[0]["lr"], 6))
out = lrs

w = torch.tensor([1., -2.], requires_grad=True)
opt = optim.Adam([w], lr=0.1, eps=1e-6)
sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
for _ in range(3):
    opt.zero_grad()
    (w ** 2).sum().backward()
    opt.step()
    sched.step()
sd = sched.state_dict()
s2 = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
s2.load_state_dict(sd)
out = (w, s2.last_epoch, s2.get_last_lr())

w = torch.tensor([1., -2.], requires_grad=True)
opt = optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.5)
for _ in range(3):
    opt.zero_grad()
    (w ** 2).sum().backward()
    opt.step()
out = w

w = torch.tensor([1., -2.], requires_grad=True)
opt = optim.Adam([w], lr=0.1, maximize=True)
for _ in range(2):
    opt.zero_grad()
    (-(w ** 2)).sum().backward()
    opt.step()
out = w

w = torch.tensor([1., -2.], requires_grad=True)
opt = optim.Adamax([w], lr=0.1)
for _ in range(2):
    opt.zero_grad()
    (w ** 2).sum().backward()
    opt.step()
out = w

w = torch.tensor([1., 2.], requires_grad=True)
opt = optim.SGD([w], lr=0.1)
w2 = torch.tensor([3.], requires_grad=True)
opt.add_param_group({"params": [w2], "lr": 0.5})
((w ** 2).sum() + (w2 ** 2).sum()).backward()
opt.step()
out = (w, w2, len(opt.param_groups))

m = nn.Linear(2, 2)
opt = optim.AdamW(m.parameters())
out = (opt.defaults["lr"], opt.defaults["weight_decay"], opt.defaults["betas"])

w = torch.tensor([1.], requires_grad=True)
opt = optim.Adam([w], lr=0.1)
out = (repr(opt).splitlines()[0], type(opt).__name__)

w = torch.tensor([1., 2.], requires_grad=True)
opt = optim.SGD([w], lr=0.1)
def closure():
    opt.zero_grad()
    loss = (w ** 2).sum()
    loss.backward()
    return loss
loss = opt.step(closure)
out = (loss, w)

import os
m = nn.LSTM(2, 3, batch_first=True)
path = os.path.join(tmp, "lstm.pt")
torch.save(m.state_dict(), path)
m2 = nn.LSTM(2, 3, batch_first=True)
m2.load_state_dict(torch.load(path))
x = torch.ones(1, 2, 2)
out = torch.allclose(m(x)[0], m2(x)[0])

import os
w = torch.zeros(1, requires_grad=True)
opt = optim.SGD([w], lr=0.1)
s = optim.lr_scheduler.StepLR(opt, 2)
path = os.path.join(tmp, "s.pt")
torch.save({"sched": s.state_dict(), "step": 3, "hist": [0.5, 0.25], "cfg": {"lr": 0.1, "name": "x", "flag": True, "none": None}}, path)
ck = torch.load(path)
out = (ck["step"], ck["hist"], ck["cfg"], ck["sched"]["last_epoch"])

import io
buf = io.BytesIO()
torch.save({"w": torch.tensor([1., 2.])}, buf)
buf.seek(0)
out = torch.load(buf)["w"]

import os
path = os.path.join(tmp, "t2.pt")
torch.save({"x": torch.tensor([1., 2.], dtype=torch.float64), "i": torch.tensor([1], dtype=torch.int32), "b": torch.tensor([True])}, path)
ck = torch.load(path)
out = (ck["x"], ck["i"], ck["b"])
""")

_section("more", "E1", r"""
m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
out = repr(m[0:2])

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.heads["a"](x)
b = Block()
out = ([n for n, _ in b.named_parameters()], repr(b))

m = nn.Dropout(p=0.0)
out = m(torch.arange(4.))

m = nn.Dropout(p=1.0)
out = m(torch.arange(4.))

m = nn.Linear(2, 2)
out = [n for n, _ in m.named_children()] + [n for n, _ in nn.Sequential(m).named_children()]

m = nn.Linear(2, 3)
x = torch.ones(4, 2)
out = (m(x).shape, m(torch.ones(2)).shape, m(torch.ones(5, 4, 2)).shape)

m = nn.Embedding(10, 4, max_norm=None)
out = (m.num_embeddings, m.embedding_dim, m(torch.tensor(3)).shape)

m = nn.LSTM(input_size=4, hidden_size=8, num_layers=1, batch_first=True)
out = (m.hidden_size, m.input_size, m.num_layers, m.batch_first)

rnn = nn.RNN(3, 4, nonlinearity="relu", batch_first=True)
@det rnn
y, h = rnn(torch.linspace(-1, 1, 12).reshape(1, 4, 3))
out = h

lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
@det lstm
y, (h, c) = lstm(torch.linspace(-1, 1, 24).reshape(2, 4, 3))
out = (y, h, c)

lstm = nn.LSTM(3, 2, batch_first=True, bidirectional=True)
@det lstm
y, (h, c) = lstm(torch.linspace(-1, 1, 12).reshape(1, 4, 3))
out = (y, h)

gru = nn.GRU(3, 2, num_layers=2, batch_first=True, dropout=0.0)
@det gru
y, h = gru(torch.linspace(-1, 1, 12).reshape(1, 4, 3))
out = (y, h)

cell = nn.RNNCell(3, 2)
@det cell
out = cell(torch.ones(1, 3), torch.ones(1, 2))

lstm = nn.LSTM(3, 4, proj_size=0, batch_first=True)
out = lstm(torch.zeros(1, 2, 3))[0].shape

lstm = nn.LSTM(2, 3)
out = (lstm(torch.zeros(4, 2))[0].shape, lstm(torch.zeros(4, 2))[1][0].shape)

m = nn.Sequential()
m.add_module("fc", nn.Linear(2, 2))
out = (len(m), [n for n, _ in m.named_parameters()])

m = nn.Linear(2, 2)
m.weight = nn.Parameter(torch.ones(2, 2))
m.bias = nn.Parameter(torch.tensor([0.5, -0.5]))
out = (m(torch.ones(1, 2)), len(list(m.parameters())))

m = nn.Linear(2, 2)
sd = m.state_dict()
out = (type(sd).__name__ in ("OrderedDict", "dict"), sd["weight"].requires_grad)

m = nn.ModuleList()
m.extend([nn.ReLU(), nn.Tanh()])
out = (len(m), type(m[1]).__name__)

p = nn.ParameterDict({"a": nn.Parameter(torch.ones(2))})
out = (list(p.keys()), p["a"])

x = torch.tensor([[1., 2.], [3., 4.]])
out = (nn.Softmax(dim=0)(x), nn.LogSigmoid()(x), nn.Tanhshrink()(x), nn.Threshold(2., 0.)(x))

m = nn.PReLU(num_parameters=2, init=0.1)
out = m(torch.tensor([[-1., -2.], [1., 2.]]))

m = nn.Module()
out = (m.training, list(m.parameters()))

loss_fn = nn.CrossEntropyLoss(reduction="mean")
logits = torch.zeros(4, 3, requires_grad=True)
loss = loss_fn(logits, torch.tensor([0, 1, 2, 1]))
loss.backward()
out = (loss, logits.grad)

m = nn.Linear(3, 1)
n_params = sum(p.numel() for p in m.parameters() if p.requires_grad)
out = n_params

m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
hooks = []
for layer in m:
    hooks.append(layer.register_forward_hook(lambda mod, i, o: None))
m(torch.ones(1, 2))
for h in hooks:
    h.remove()
out = len(hooks)

m = nn.Linear(2, 2)
grads = []
m.register_full_backward_hook(lambda mod, gi, go: grads.append(go[0].shape))
m(torch.ones(3, 2)).sum().backward()
out = grads
""")

_section("more", "D2", r"""
x = torch.arange(12.).reshape(3, 4)
out = x[:, torch.tensor([True, False, True, False])]

x = torch.arange(12).reshape(3, 4)
x[torch.tensor([0, 2])] = 0
out = x

x = torch.zeros(3, 3)
x[torch.arange(3), torch.arange(3)] = 1.
out = x

x = torch.arange(24).reshape(2, 3, 4)
out = x[:, [0, 2], 1:3]

x = torch.arange(24).reshape(2, 3, 4)
out = x[[0, 1], :, [1, 2]]

x = torch.arange(6)
idx = torch.tensor([5, 0])
out = x[idx].tolist()

out = torch.zeros(2, 3).index_fill(1, torch.tensor([0, 2]), -1.)

out = torch.zeros(5).index_copy(0, torch.tensor([4, 0]), torch.tensor([1., 2.]))

x = torch.tensor([[1, 2], [3, 4]])
out = torch.where(x > 2)

out = torch.arange(10).view(2, 5)[:, ::2]

out = torch.tensor([[0.1, 0.9], [0.8, 0.2]]).argmax(dim=1) == torch.tensor([1, 0])

out = torch.diag_embed(torch.tensor([[1, 2], [3, 4]]))

out = torch.triu(torch.ones(3, 3), diagonal=1).bool()

out = torch.ones(4, 4).tril().masked_fill(torch.eye(4).bool(), 5.)

mask = torch.triu(torch.ones(3, 3), 1).bool()
out = torch.zeros(3, 3).masked_fill(mask, float("-inf")).softmax(-1)

out = torch.repeat_interleave(torch.tensor([2, 1]))

out = torch.block_diag(torch.ones(1, 1), 2 * torch.ones(2, 2))

out = torch.cartesian_prod(torch.tensor([1, 2]), torch.tensor([3, 4]))

out = torch.bucketize(torch.tensor([0.5, 2.5, 4.]), torch.tensor([1., 2., 3.]))

out = torch.searchsorted(torch.tensor([1, 3, 5, 7]), torch.tensor([3, 6]))

out = torch.histc(torch.tensor([1., 2., 1.]), bins=4, min=0, max=3)

out = torch.bincount(torch.tensor([0, 1, 1, 3]))

out = torch.tensor([[1, 2], [3, 4]]).flatten().flip(0).view(2, 2)

out = torch.combinations(torch.tensor([1, 2, 3]), r=2)

out = torch.einsum("bhqd,bhkd->bhqk", torch.ones(1, 2, 3, 4), torch.ones(1, 2, 5, 4)).shape

out = torch.einsum("i,i->", torch.tensor([1., 2.]), torch.tensor([3., 4.]))

out = torch.einsum("...ij->...ji", torch.arange(6).reshape(1, 2, 3)).shape
""")

# third wave: result dtypes, accuracy of long reductions, gradients of compositions, printing layouts -

_section("dtypes2", "D1", r"""
out = (torch.tensor([1, 2], dtype=torch.int32).sum().dtype, torch.tensor([1, 2], dtype=torch.int32).prod().dtype, torch.tensor([1, 2], dtype=torch.int32).cumsum(0).dtype)

out = torch.clamp(torch.tensor([1, 5]), min=0.5)

out = torch.where(torch.tensor([True, False]), torch.tensor([1, 2]), 0.5)

out = torch.where(torch.tensor([True, False]), 1, 0)

out = torch.cat([torch.tensor([1]), torch.tensor([1.5])])

out = (torch.tensor([1.], dtype=torch.float16) + torch.tensor(2.)).dtype

out = (torch.tensor([1, 2]) * torch.tensor(0.5)).dtype

out = torch.tensor(3.0, dtype=torch.float64) + torch.tensor([1.], dtype=torch.float32)

out = torch.tensor([1, 2]) > 1.5

out = torch.tensor([1, 2]) == torch.tensor([1., 2.5])

try:
    (torch.tensor([3]) ** -1).tolist()
    out = "no error"
except RuntimeError:
    out = "RuntimeError"

out = torch.tensor([3]) ** 0.5

out = torch.tensor([-8.]) ** (1 / 3)

out = (torch.sqrt(torch.tensor([4])), torch.exp(torch.tensor([0])), torch.sin(torch.tensor([True])))

out = (torch.floor(torch.tensor([3])), torch.round(torch.tensor([3])), torch.sign(torch.tensor([-3])), torch.abs(torch.tensor([-3])))

out = torch.abs(torch.tensor([-128], dtype=torch.int8))

out = torch.clamp(torch.tensor([-3, 3]), 0, 1)

out = (torch.tensor([7]) / torch.tensor([2])).dtype

out = torch.tensor([7]).div(2, rounding_mode="floor")

out = torch.tensor([5]) % 2.5

@owner C
out = (torch.tensor([3, 1, 2]).sort().values, torch.tensor([3, 1, 2]).topk(2).values, torch.tensor([3, 1]).argmax().dtype)

@owner C
out = (torch.tensor([[True, False]]).sum(1), torch.tensor([True, False]).any().dtype)

@owner C
out = torch.tensor([1, 2, 3]).cumprod(0)

@owner C
out = torch.tensor([1., 2.], dtype=torch.float16).mean()

@owner C
out = torch.tensor([1., 2.], dtype=torch.float64).std()

out = (torch.arange(0, 5, 2).dtype, torch.arange(0., 5).dtype, torch.arange(5, dtype=torch.float64))

@owner C
out = torch.tensor([[1, 2]], dtype=torch.int32) @ torch.tensor([[1], [2]], dtype=torch.int32)

out = torch.tensor([1.5, 2.5]).float().sum(dtype=torch.float64) if False else torch.tensor([1.5, 2.5]).double().sum()

out = torch.ones(2, dtype=torch.int64).float().dtype

out = (torch.tensor([1, 2]) + torch.tensor([1, 2], dtype=torch.uint8)).dtype

out = (torch.tensor([1], dtype=torch.int8) + torch.tensor([1], dtype=torch.uint8)).dtype

out = torch.tensor([1.5]).to(torch.int64).to(torch.float32)

out = torch.tensor([0.1], dtype=torch.float64).float()

out = (torch.tensor([2.]) ** 2).dtype == torch.float32

out = torch.maximum(torch.tensor([1, 2]), torch.tensor([1.5, 0.5]))
""")

_section("accuracy", "C", r"""
x = 1e4 + torch.tensor([0., 1., 2., 3.])
out = (x.var(), x.std(), x.mean())

out = torch.full((1000000,), 0.1).sum()

out = torch.full((1000000,), 0.1).mean()

out = torch.full((10000,), 0.1).cumsum(0)[-1]

out = torch.ones(300, 300).matmul(torch.full((300, 300), 0.01)).sum()

x = torch.linspace(-5, 5, 10001)
out = (x.exp().sum(), x.sin().abs().sum(), torch.logsumexp(x, 0))

out = torch.linspace(0, 1, 1001)[::100]

out = torch.arange(0, 1, 0.1)

out = torch.full((4097,), 1e8).sum()

@owner D1
out = F.cross_entropy(torch.tensor([[1000., 0.], [0., 1000.]]), torch.tensor([0, 0]))

@owner D1
out = torch.sigmoid(torch.tensor([-20., -90., 20.]))

@owner D1
out = F.logsigmoid(torch.tensor([-200., 0., 200.]))

@owner D1
out = F.softplus(torch.tensor([-30., 30.]), beta=2.)

@owner D1
out = torch.tanh(torch.tensor([1e-8, 0.5, 10.]))

@owner D1
out = torch.exp(torch.tensor([-100., 88., 89.]))

@owner D1
out = torch.log(torch.tensor([1e-40, 1e-30]))

@owner D1
out = torch.expm1(torch.tensor([1e-10, -1e-10])) / 1e-10

@owner D1
out = torch.tensor([1e-20]).log1p() / 1e-20
""")

_section("grads2", "A", r"""
x = torch.tensor([1., 2.], requires_grad=True)
y = torch.tensor([-3., 0.5], requires_grad=True)
(x / y).sum().backward()
out = (x.grad, y.grad)

x = torch.arange(6., requires_grad=True)
x.reshape(2, 3).mean(dim=1).sum().backward()
out = x.grad

x = torch.tensor([1., 2., 4.], requires_grad=True)
x.var(correction=0).backward()
out = x.grad

a = torch.ones(2, 1, requires_grad=True)
b = torch.tensor([1., 2., 3.], requires_grad=True)
((a + b) * torch.arange(6.).reshape(2, 3)).sum().backward()
out = (a.grad, b.grad)

x = torch.tensor([1., -2., 3.], requires_grad=True)
x[x > 0].sum().backward()
out = x.grad

x = torch.tensor([1., -2., 3.], requires_grad=True)
x.masked_select(x < 2).pow(2).sum().backward()
out = x.grad

@owner D2
x = torch.tensor([1., 2., 3.], requires_grad=True)
x.index_select(0, torch.tensor([2, 2, 0])).sum().backward()
out = x.grad

x = torch.tensor([1., 2.], requires_grad=True)
(x.repeat(3) * torch.arange(6.)).sum().backward()
out = x.grad

@owner D2
x = torch.tensor([1., 2.], requires_grad=True)
(x.repeat_interleave(2) * torch.arange(4.)).sum().backward()
out = x.grad

x = torch.arange(6., requires_grad=True)
(x.reshape(2, 3).permute(1, 0).flip(0) * torch.arange(6.).reshape(3, 2)).sum().backward()
out = x.grad

@owner D1
x = torch.ones(2, 2, requires_grad=True)
(F.pad(x, (1, 1)) * torch.arange(8.).reshape(2, 4)).sum().backward()
out = x.grad

@owner C
a = torch.arange(12., requires_grad=True)
b = torch.arange(8.).reshape(1, 4, 2).requires_grad_()
torch.bmm(a.reshape(1, 3, 4), b).sum().backward()
out = (a.grad, b.grad)

@owner D2
x = torch.arange(9., requires_grad=True)
torch.einsum("ii->i", x.reshape(3, 3)).sum().backward()
out = x.grad

x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
(x.T @ x).sum().backward()
out = x.grad

@owner D1
x = torch.tensor([[1., 2.], [3., 1.]], requires_grad=True)
(torch.softmax(x, dim=0) * torch.tensor([[1., 2.], [3., 4.]])).sum().backward()
out = x.grad

@owner E1
e = nn.Embedding(3, 2)
e(torch.tensor([0, 0, 2])).sum().backward()
out = e.weight.grad

@owner C
x = torch.tensor([[3., 3., 1.]], requires_grad=True)
x.amin(dim=1).sum().backward()
y = torch.tensor([[1., 1., 3.]], requires_grad=True)
y.min().backward()
out = (x.grad, y.grad)

@owner C
x = torch.tensor([0., 2., -1.], requires_grad=True)
x.norm(p=1).backward()
out = x.grad

@owner D1
x = torch.tensor([[0., 0.], [3., 4.]], requires_grad=True)
F.normalize(x, dim=1).sum().backward()
out = x.grad

@owner D1
a = torch.tensor([[1., 2.], [0., 1.]], requires_grad=True)
F.cosine_similarity(a, torch.tensor([[1., 0.], [1., 1.]])).sum().backward()
out = a.grad

@owner D1
x = torch.tensor([-200., -30., 0., 30.], requires_grad=True)
(F.logsigmoid(x) + torch.sigmoid(x) + torch.tanh(x) + F.softplus(x, beta=2.)).sum().backward()
out = x.grad

@owner E1
z = torch.tensor([100., -100., 0.], requires_grad=True)
F.binary_cross_entropy_with_logits(z, torch.tensor([0., 1., 1.]), pos_weight=torch.tensor([2.])).backward()
out = z.grad

@owner D1
x = torch.tensor([100., 1.], requires_grad=True)
x.exp().sum().backward()
out = x.grad

@owner C
x = torch.tensor([[1., 2.], [3., 5.]], requires_grad=True)
x.std(dim=1, keepdim=True).sum().backward()
out = x.grad

@owner E1
m = nn.Linear(3, 2)
@det m
x = torch.tensor([[1., 2., 3.], [0., 1., 0.]])
F.mse_loss(m(x), torch.zeros(2, 2)).backward()
out = (m.weight.grad, m.bias.grad)

@owner E1
bl = nn.Bilinear(2, 2, 1)
@det bl
bl(torch.tensor([[1., 2.]]), torch.tensor([[0.5, -1.]])).sum().backward()
out = (bl.weight.grad, bl.bias.grad)

@owner D1
x = torch.tensor([1., 2.], requires_grad=True)
(x * 0.5).sum().backward()
y = x.detach() * 3
out = (x.grad, y.requires_grad)

x = torch.tensor([1., 2., 3.], requires_grad=True)
y = x.unsqueeze(0).expand(4, 3)
(y * torch.arange(12.).reshape(4, 3)).sum().backward()
out = x.grad

x = torch.tensor([2.], requires_grad=True)
y = x * x
z = y * y
z.backward()
out = x.grad

x = torch.tensor([1., 2.], requires_grad=True)
loss = 0
for i in range(3):
    loss = loss + (x * i).sum()
loss.backward()
out = (x.grad, loss)
""")

_section("print2", "B", r"""
out = str(torch.tensor([1e10]))

out = str(torch.tensor([[1.5, 100.]]))

out = str(torch.zeros(0, 3))

out = repr(torch.tensor([1.], dtype=torch.float64, requires_grad=True))

out = str(torch.tensor(5, dtype=torch.int32))

out = str(torch.arange(1001.))

out = str(torch.arange(30.))

out = str(torch.arange(60))

out = str(torch.arange(2 * 3 * 1000).reshape(2, 3, 1000))

torch.set_printoptions(precision=6)
s = str(torch.tensor([1 / 3]))
torch.set_printoptions(profile="default")
out = s

torch.set_printoptions(linewidth=40)
s = str(torch.arange(20.))
torch.set_printoptions(profile="default")
out = s

out = str(torch.tensor([1.], dtype=torch.bfloat16))

out = str(torch.tensor([0.001, 0.01]))

out = str(torch.tensor([123.456, -0.001]))

out = str(torch.tensor([2**40]))

out = str(torch.tensor([[float("inf"), 1.], [float("-inf"), float("nan")]]))

x = torch.ones(2, requires_grad=True)
out = str(x.sum())

x = torch.ones(2, requires_grad=True)
out = str(x.mean())

x = torch.ones(2, requires_grad=True)
with torch.no_grad():
    y = x * 2
out = str(y)

out = str(torch.tensor([1, 2]).float().mean(0, keepdim=True))

out = str(nn.Linear(2, 2).weight.shape)

out = str(torch.tensor([0.5]).half())
""")
