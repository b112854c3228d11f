"""The hyla Python wrapper with PyTorch on a GPU.

Needs torch with CUDA and a GPU; skips otherwise. Not collected by the
no-GPU test run (its name does not match test_*.py). Run it as
    HYLA_RUNTIME_LIB=<build>/lib/libhyla_runtime.so \
    HYLA_TEST_MODULES=<build>/runtime/test/modules \
    python3 python/tests/gpu_torch_test.py -v
"""

import gc
import os
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import hyla  # noqa: E402

try:
    import torch
    HAVE_GPU = torch.cuda.is_available()
except ImportError:
    torch = None
    HAVE_GPU = False


def module_path(name):
    return os.path.join(os.environ["HYLA_TEST_MODULES"], name)


@unittest.skipUnless(HAVE_GPU, "needs torch with a CUDA GPU")
class TorchGpuTest(unittest.TestCase):
    def setUp(self):
        self.module = hyla.Module(module_path("elementwise.hyla"))
        self.module.prepare()
        self.bias = torch.tensor([0.5, -1.0, 2.0, 10.0], device="cuda")
        self.module.bind_weight("bias", self.bias)

    def tearDown(self):
        self.module.close()

    def expected(self, x):
        return 2 * (x + self.bias)

    def test_forward(self):
        x = torch.randn(1000, 4, device="cuda")
        (y,) = self.module.call("forward", x)
        torch.cuda.synchronize()
        self.assertEqual(y.shape, (1000, 4))
        self.assertEqual(y.dtype, torch.float32)
        self.assertTrue(torch.equal(y, self.expected(x)))

    def test_streams(self):
        x = torch.randn(4096, 4, device="cuda")
        side = torch.cuda.Stream()
        with torch.cuda.stream(side):  # the default is torch's current stream
            (y,) = self.module.call("forward", x)
        side.synchronize()
        self.assertTrue(torch.equal(y, self.expected(x)))
        out = torch.empty(4096, 4, device="cuda")
        (z,) = self.module.call("forward", x, outputs=[out], stream=side)
        self.assertIs(z, out)
        side.synchronize()
        self.assertTrue(torch.equal(out, self.expected(x)))
        raw = torch.cuda.Stream()
        (w,) = self.module.call("forward", x, stream=raw.cuda_stream)
        raw.synchronize()
        self.assertTrue(torch.equal(w, self.expected(x)))

    def test_graph(self):
        # One call captured, replayed on new values written in place.
        x = torch.empty(300, 4, device="cuda")
        out = torch.full((300, 4), float("nan"), device="cuda")
        graph = self.module.capture("forward", x, outputs=[out])
        self.assertEqual(graph.num_launches, 2)
        for _ in range(3):
            x.copy_(torch.randn(300, 4, device="cuda"))
            graph.launch()
            torch.cuda.synchronize()
            self.assertTrue(torch.equal(out, self.expected(x)))
        graph.close()
        with self.assertRaises(hyla.HylaError):
            graph.launch()

    def test_zero_rows(self):
        (y,) = self.module.call("forward", torch.empty(0, 4, device="cuda"))
        self.assertEqual(y.shape, (0, 4))

    def test_argument_errors(self):
        x = torch.randn(4, 8, device="cuda")
        with self.assertRaises(ValueError):
            self.module.call("forward", x[:, ::2])  # not contiguous
        with self.assertRaises(ValueError):
            self.module.call("forward", torch.randn(4, 4))  # on the CPU
        with self.assertRaises(hyla.HylaError) as caught:
            self.module.call("forward", torch.randn(4, 3, device="cuda"))
        self.assertEqual(caught.exception.status_name, "HYLA_ERROR_SHAPE")
        self.assertIn("input 0 dim 1 is 3", str(caught.exception))
        with self.assertRaises(hyla.HylaError):
            self.module.call("forward",
                             torch.randn(4, 4, device="cuda").double())
        with self.assertRaises(ValueError):
            self.module.bind_weight("bias", torch.zeros(5, device="cuda"))

    def test_bound_weight_stays_alive(self):
        self.module.bind_weight("bias", torch.full((4,), 3.0, device="cuda"))
        gc.collect()
        torch.cuda.empty_cache()
        _ = torch.randn(1 << 20, device="cuda")  # reuse freed memory, if any
        x = torch.ones(8, 4, device="cuda")
        (y,) = self.module.call("forward", x)
        torch.cuda.synchronize()
        self.assertTrue(torch.equal(y, torch.full((8, 4), 8.0, device="cuda")))

    def test_random_weights(self):
        with hyla.Module(module_path("elementwise.hyla")) as m:
            m.prepare()
            m.init_random_weights(seed=3, scale=0.02)
            proj, norm = m.call("read_weights")
            torch.cuda.synchronize()
            self.assertEqual(proj.dtype, torch.bfloat16)
            self.assertAlmostEqual(proj.float().std().item(), 0.02, delta=0.003)
            self.assertAlmostEqual(norm.float().mean().item(), 1.0, delta=0.01)

    def test_torch_still_works(self):
        x = torch.randn(64, 4, device="cuda")
        self.module.call("forward", x)
        self.assertEqual(torch.ones(3, device="cuda").sum().item(), 3.0)
        self.assertEqual(torch.cuda.current_device(), 0)


if __name__ == "__main__":
    unittest.main()
