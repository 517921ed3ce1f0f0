"""torch_peer.py measures PyTorch on the GPU targets of the cuda issue, for
the same-machine peer figures beside cuda's BenchmarkSgemm and mlp's
BenchmarkGPUEpoch / BenchmarkCPUEpoch:

- float32 matmul with TF32 off (cuBLAS's FP32 SGEMM, no tensor cores) at
  4096^3 and at the largest products of an MNIST step at batch 1500,
  GFLOP/s from CUDA events, median of 5 runs of 20 products;
- one epoch of the 784-200-100-50-30-10 sigmoid network, Keras's
  categorical cross-entropy and RMSprop (lr 0.001, rho 0.9, eps 1e-7),
  batch 1500, 60000 random samples already on the GPU, eager float32:
  mean seconds of epochs 2 and 3, as benchEpoch reports.

Run on the GPU machine: python3 docs/peer/torch_peer.py
"""

import statistics
import time

import torch

dev = torch.device("cuda")
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}")


def gflops(m, n, k, ta=False, tb=False):
    a = torch.randn((k, m) if ta else (m, k), device=dev)
    b = torch.randn((n, k) if tb else (k, n), device=dev)
    a2 = a.t() if ta else a
    b2 = b.t() if tb else b
    c = torch.empty(m, n, device=dev)
    for _ in range(3):
        torch.matmul(a2, b2, out=c)
    runs = []
    for _ in range(5):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(20):
            torch.matmul(a2, b2, out=c)
        e.record()
        e.synchronize()
        runs.append(2 * m * n * k * 20 / (s.elapsed_time(e) / 1e3) / 1e9)
    return statistics.median(runs)


for name, shape in [
    ("NN/m=4096/n=4096/k=4096", (4096, 4096, 4096, False, False)),
    ("NT/m=4096/n=4096/k=4096", (4096, 4096, 4096, False, True)),
    ("TN/m=4096/n=4096/k=4096", (4096, 4096, 4096, True, False)),
    ("NN/m=1500/n=200/k=784", (1500, 200, 784, False, False)),
    ("TN/m=785/n=200/k=1500", (785, 200, 1500, True, False)),
    ("TN/m=201/n=100/k=1500", (201, 100, 1500, True, False)),
]:
    print(f"torch.matmul fp32 {name}: {gflops(*shape):.0f} GFLOP/s")


def cce(p, y, eps=1e-7):
    # Keras's categorical_crossentropy on probabilities, mean over the batch.
    p = p / p.sum(dim=1, keepdim=True)
    p = p.clamp(eps, 1 - eps)
    return -(y * p.log()).sum(dim=1).mean()


torch.manual_seed(1)
sizes = [784, 200, 100, 50, 30, 10]
layers = []
for i, o in zip(sizes, sizes[1:]):
    layers += [torch.nn.Linear(i, o), torch.nn.Sigmoid()]
net = torch.nn.Sequential(*layers).to(dev)
opt = torch.optim.RMSprop(net.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
x = torch.rand(60000, 784, device=dev)
y = torch.nn.functional.one_hot(torch.randint(0, 10, (60000,), device=dev), 10).float()
batch = 1500
times = []
for epoch in range(3):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    perm = torch.randperm(60000, device=dev)
    total = torch.zeros((), device=dev)
    for lo in range(0, 60000, batch):
        idx = perm[lo:lo + batch]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = cce(net(xb), yb)
        loss.backward()
        opt.step()
        total += loss.detach()
    total.item()  # the epoch's loss comes back once, as in TrainCUDA
    times.append(time.perf_counter() - t0)
print(f"torch eager epoch (784-200-100-50-30-10 sigmoid, cce, rmsprop, batch 1500): "
      f"{statistics.mean(times[1:]):.4f} s/epoch (epochs: {', '.join(f'{t:.4f}' for t in times)})")
