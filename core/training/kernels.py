"""Faster CPU kernels for the thin convolutions of the image presets, with the same maths as `torch.nn`.

The first convolution of E and of the critics reads 1 to 6 channels, and G's last transposed convolution writes
1 to 3. PyTorch's oneDNN (mkldnn) CPU path is fast for the wide layers but slow wherever such a thin layer has to
produce a thin tensor: the input gradient of a thin convolution (needed whenever a gradient flows into an image, in
the E/G update and in the gradient penalty) and the forward pass of a thin transposed convolution, both
2 to 4 times slower there than PyTorch's native (im2col) kernels. Measured with `bench/bench_train.py`.

`thin_convolutions(modules)` routes just those directions to the native kernels for the duration of a block; the
forward passes of thin convolutions and all weight gradients stay on oneDNN. The native kernels are called directly
(`aten.slow_conv_transpose2d`, `aten._slow_conv2d_backward`), never by switching `torch.backends.mkldnn.enabled`,
which is process-wide: training changes no global flag, and concurrent fits in threads do not disturb each other.
Everything stays differentiable, so the gradient penalty's double backward works through them. The results equal
`torch.nn`'s to float rounding.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

THIN = 4  # channels: at most this many on the image side makes a convolution "thin" (1-3 in the presets)


def _native_conv_transpose(x: torch.Tensor, weight: torch.Tensor, bias, m: nn.Module, output_padding) -> torch.Tensor:
    """conv_transpose2d on PyTorch's own (im2col) CPU kernel instead of oneDNN's; differentiable."""
    return torch.ops.aten.slow_conv_transpose2d(x, weight, list(m.kernel_size), bias, list(m.stride),
                                                list(m.padding), list(output_padding), list(m.dilation))


def _native_transpose_weight_grad(x: torch.Tensor, grad: torch.Tensor, weight: torch.Tensor, m: nn.Module):
    """The weight gradient of y = conv_transpose2d(x, weight) on the native kernel: y is the adjoint of a
    convolution of y's shape into x's with the same weight, so it is that convolution's weight gradient with input
    `grad` (dL/dy) and output gradient x (dilation 1, checked by `_replacement`)."""
    return torch.ops.aten._slow_conv2d_backward(x, grad, weight, list(m.kernel_size), list(m.stride),
                                                list(m.padding), [False, True, False])[1]


def _output_padding(image: torch.Tensor, maps: torch.Tensor, m: nn.Conv2d) -> list[int]:
    """The output padding that makes the transposed convolution of `maps` exactly as large as `image`."""
    return [image.shape[2 + i] - ((maps.shape[2 + i] - 1) * m.stride[i] - 2 * m.padding[i]
                                  + m.dilation[i] * (m.kernel_size[i] - 1) + 1) for i in range(2)]


class _ThinConv(torch.autograd.Function):
    """conv2d whose input gradient (a transposed convolution with a thin output) runs on the native kernel."""

    @staticmethod
    def forward(ctx, x, weight, bias, module):
        ctx.save_for_backward(x, weight)
        ctx.module = module
        ctx.has_bias = bias is not None
        return F.conv2d(x, weight, bias, module.stride, module.padding, module.dilation)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        m = ctx.module
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _native_conv_transpose(grad, weight, None, m, _output_padding(x, grad, m))
        if ctx.needs_input_grad[1]:
            gw = torch.nn.grad.conv2d_weight(x, weight.shape, grad, m.stride, m.padding, m.dilation)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad.sum((0, 2, 3))
        return gx, gw, gb, None


class _ThinConvTranspose(torch.autograd.Function):
    """conv_transpose2d with a thin output: forward and weight gradient on the native kernel."""

    @staticmethod
    def forward(ctx, x, weight, bias, module):
        ctx.save_for_backward(x, weight)
        ctx.module = module
        ctx.has_bias = bias is not None
        return _native_conv_transpose(x, weight, bias, module, module.output_padding)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        m = ctx.module
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = F.conv2d(grad, weight, None, m.stride, m.padding, m.dilation)  # a thin-input convolution
        if ctx.needs_input_grad[1]:
            gw = _native_transpose_weight_grad(x, grad, weight, m)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad.sum((0, 2, 3))
        return gx, gw, gb, None


def _thin_conv(m: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return _ThinConv.apply(x, m.weight, m.bias, m)


def _thin_conv_transpose(m: nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
    return _ThinConvTranspose.apply(x, m.weight, m.bias, m)


def _replacement(m: nn.Module):
    plain = (getattr(m, "padding_mode", "zeros") == "zeros" and getattr(m, "groups", 1) == 1
             and tuple(getattr(m, "dilation", (1, 1))) == (1, 1))
    if type(m) is nn.Conv2d and plain and m.in_channels <= THIN and isinstance(m.padding, tuple):
        return functools.partial(_thin_conv, m)
    if type(m) is nn.ConvTranspose2d and plain and m.out_channels <= THIN:
        return functools.partial(_thin_conv_transpose, m)
    return None


def thin_layers(modules: Iterable[nn.Module]) -> list[tuple[nn.Module, object]]:
    """(layer, faster forward) for every thin convolution in `modules`."""
    found = []
    for module in modules:
        for m in module.modules():
            fast = _replacement(m)
            if fast is not None:
                found.append((m, fast))
    return found


@contextlib.contextmanager
def thin_convolutions(layers: list[tuple[nn.Module, object]]) -> Iterator[None]:
    """Within the block, the given thin layers (from `thin_layers`) run on the faster kernels. The swap is an
    instance attribute removed on exit, so the modules pickle, deep-copy and save exactly as before."""
    for m, fast in layers:
        m.forward = fast
    try:
        yield
    finally:
        for m, _ in layers:
            m.__dict__.pop("forward", None)
