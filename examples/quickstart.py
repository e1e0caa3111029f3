"""A 20-line tour of tinytorch: lazy tensors, fused kernels, devices — runs in a few seconds.

Takes: nothing (DEVICE=C|LLVM|INTERP picks the device, DEBUG=2 shows each kernel as it runs).
Produces: printed results, each checked against numpy.
"""

import numpy as np

import tinytorch as tt

tt.manual_seed(0)
x = tt.Tensor.randn(64, 32)                        # lazy: nothing has run yet
w = tt.Tensor.randn(32, 10) * 0.1
y = (x @ w).relu().softmax(-1)                     # builds a UOp graph
print("kernels to run:", len(y.schedule()))        # the scheduler fuses it into a few kernels
probs = y.numpy()                                  # schedule -> render C/LLVM -> compile -> run
ref = np.maximum(x.numpy() @ w.numpy(), 0)
ref = np.exp(ref - ref.max(-1, keepdims=True))
assert np.allclose(probs, ref / ref.sum(-1, keepdims=True), rtol=1e-4, atol=1e-6)
print("softmax rows sum to", probs.sum(-1)[:3], "on device", y.device)

a = tt.arange(12).reshape(3, 4).float()
print("views cost nothing:", a.T[1:, ::-1].flatten().tolist())
print("reductions:", a.sum(1).tolist(), a.max().item(), a.mean(0).tolist())
for dev in tt.Device.names():                      # every device computes the same thing
    if tt.Device.get(dev).available()[0]:
        print(f"{dev:>6}:", (tt.Tensor([1.0, 2.0, 3.0], device=dev).exp() * 2).sum().item())
