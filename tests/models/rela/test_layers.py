"""ReLA building blocks against small independent references (naive loops, torch's own MultiheadAttention)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from grefbench.models.rela.attention import CrossAttentionBlock, MultiHeadAttention
from grefbench.models.rela.decoder import ReferringDecoder
from grefbench.models.rela.deform_attn import MultiScaleDeformableAttention
from grefbench.models.rela.pixel_decoder import reference_grid
from grefbench.models.rela.position_encoding import sine_position_encoding


def naive_bilinear(value_map: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Sample [C, H, W] at normalised (x, y) with zero padding, pixel centres at (i + 0.5) / size."""
    channels, height, width = value_map.shape
    px, py = x * width - 0.5, y * height - 0.5
    x0, y0 = math.floor(px), math.floor(py)
    result = torch.zeros(channels, dtype=value_map.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - abs(px - xi)) * (1 - abs(py - yi))
            if 0 <= xi < width and 0 <= yi < height:
                result += weight * value_map[:, yi, xi]
    return result


def test_deformable_attention_matches_a_naive_loop():
    torch.manual_seed(0)
    shapes = [(4, 5), (2, 3)]
    dim, heads, points = 8, 2, 3
    module = MultiScaleDeformableAttention(dim, len(shapes), heads, points, backend="torch").double()
    for parameter in module.parameters():  # away from the zero init, so offsets and weights matter
        parameter.data.normal_(0, 0.5)
    total = sum(h * w for h, w in shapes)
    source = torch.randn(1, total, dim, dtype=torch.float64)
    query = torch.randn(1, 3, dim, dtype=torch.float64)
    reference = torch.rand(1, 3, len(shapes), 2, dtype=torch.float64)
    spatial = torch.tensor(shapes)
    start = torch.tensor([0, shapes[0][0] * shapes[0][1]])
    with torch.no_grad():
        output = module(query, reference, source, spatial, start)
        expected = naive_deformable(module, query, reference, source, shapes, start)
    torch.testing.assert_close(output[0], expected, atol=1e-10, rtol=1e-10)


def naive_deformable(module, query, reference, source, shapes, start):
    heads, points, dim = module.heads, module.points, module.dim
    value = module.value_proj(source)[0]
    offsets = module.sampling_offsets(query)[0].view(3, heads, len(shapes), points, 2)
    logits = module.attention_weights(query)[0].view(3, heads, len(shapes) * points)
    weights = logits.softmax(-1).view(3, heads, len(shapes), points)
    head_dim = dim // heads
    expected = torch.zeros(3, dim, dtype=torch.float64)
    for q in range(3):
        for h in range(heads):
            for level, (height, width) in enumerate(shapes):
                first = int(start[level])
                level_map = value[first:first + height * width, h * head_dim:(h + 1) * head_dim]
                level_map = level_map.T.reshape(head_dim, height, width)
                for p in range(points):
                    x = reference[0, q, level, 0] + offsets[q, h, level, p, 0] / width
                    y = reference[0, q, level, 1] + offsets[q, h, level, p, 1] / height
                    expected[q, h * head_dim:(h + 1) * head_dim] += weights[q, h, level, p] * naive_bilinear(
                        level_map, float(x), float(y))
    return module.output_proj(expected)


def test_reference_grid_is_every_pixel_centre():
    grid = reference_grid([(2, 3), (1, 1)], torch.device("cpu"))
    assert grid.shape == (1, 7, 1, 2)
    assert torch.allclose(grid[0, :3, 0], torch.tensor([[1 / 6, 1 / 4], [3 / 6, 1 / 4], [5 / 6, 1 / 4]]))
    assert torch.allclose(grid[0, 6, 0], torch.tensor([0.5, 0.5]))


def test_sine_position_encoding_formula():
    encoding = sine_position_encoding(3, 4, 8)
    assert encoding.shape == (1, 8, 3, 4)
    row, col = 2, 1
    y = (row + 1) / (3 + 1e-6) * 2 * math.pi
    x = (col + 1) / (4 + 1e-6) * 2 * math.pi
    expected = []
    for value in (y, x):
        for i in range(4):
            frequency = 10000 ** (2 * (i // 2) / 4)
            expected.append(math.sin(value / frequency) if i % 2 == 0 else math.cos(value / frequency))
    torch.testing.assert_close(encoding[0, :, row, col], torch.tensor(expected), atol=1e-6, rtol=0)


def test_attention_matches_torch_multihead_attention_with_its_mask_convention():
    torch.manual_seed(0)
    ours = MultiHeadAttention(16, 4)
    reference = torch.nn.MultiheadAttention(16, 4)
    reference.load_state_dict(ours.state_dict())
    query, key, value = torch.randn(2, 5, 16), torch.randn(2, 7, 16), torch.randn(2, 7, 16)
    forbidden = torch.rand(2, 5, 7) < 0.4
    forbidden[:, :, 0] = False  # every row keeps one key
    expected = reference(query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1),
                         attn_mask=forbidden.repeat_interleave(4, dim=0))[0].transpose(0, 1)
    actual = ours(query, key, value, (~forbidden).unsqueeze(1))
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_pre_norm_cross_attention_block():
    torch.manual_seed(0)
    block = CrossAttentionBlock(8, 2, pre_norm=True)
    x, memory, pos = torch.randn(1, 3, 8), torch.randn(1, 4, 8), torch.randn(1, 3, 8)
    normed = block.norm(x)
    expected = x + block.multihead_attn(normed + pos, memory, memory)
    torch.testing.assert_close(block(x, memory, query_pos=pos), expected)


def reference_decoder(decoder: ReferringDecoder, scales, mask_features, lang_feat):
    """The decoder as the official code computes it: sequence-first tensors, torch MHA, full-resolution masks."""
    heads = decoder.heads
    batch = mask_features.shape[0]

    def mha(module, query, key, value, mask=None):
        return F.multi_head_attention_forward(
            query, key, value, query.shape[-1], heads, module.in_proj_weight, module.in_proj_bias,
            None, None, False, 0.0, module.out_proj.weight, module.out_proj.bias, attn_mask=mask)[0]

    def heads_out(output, size):
        regions = decoder.decoder_norm(output).transpose(0, 1)
        embed = decoder.mask_embed(regions)
        all_masks = torch.einsum("bqc,bchw->bqhw", embed, mask_features)
        minimap = decoder.minimap_embed(regions)
        target = torch.einsum("bac,bchw->bahw", torch.einsum("bqa,bqc->bac", minimap, embed), mask_features)
        no_target = decoder.nt_embed(regions).mean(1)
        small = F.interpolate(all_masks, size=size, mode="bilinear", align_corners=False)
        mask = small.sigmoid().flatten(2).unsqueeze(1).repeat(1, heads, 1, 1).flatten(0, 1) < 0.5
        return minimap, target, no_target, mask

    sources, positions, sizes = [], [], []
    for index, scale in enumerate(scales):
        sizes.append(scale.shape[-2:])
        pos = sine_position_encoding(*scale.shape[-2:], scale.shape[1]).expand(batch, -1, -1, -1)
        positions.append(pos.flatten(2).permute(2, 0, 1))
        sources.append((scale.flatten(2) + decoder.level_embed.weight[index][None, :, None]).permute(2, 0, 1))
    query_pos = decoder.query_embed.weight.unsqueeze(1).repeat(1, batch, 1)
    output = decoder.query_feat.weight.unsqueeze(1).repeat(1, batch, 1)
    minimap, target, no_target, mask = heads_out(output, sizes[0])
    for i in range(decoder.num_layers):
        level = i % 3
        mask[torch.where(mask.sum(-1) == mask.shape[-1])] = False
        layer = decoder.RIA_layers[i]
        output = layer.norm(output + mha(layer.multihead_attn, output + query_pos,
                                         sources[level] + positions[level], sources[level], mask))
        if i == 0:
            language = decoder.lang_proj(lang_feat.permute(0, 2, 1)).permute(1, 0, 2)
            block = decoder.RLA_lang_att
            attended = block.norm(output + mha(block.multihead_attn, output, language, language))
            output = output + attended * torch.sigmoid(decoder.lang_weight) * 0.1
        block = decoder.RLA_vision[i]
        output = block.norm(output + mha(block.self_attn, output + query_pos, output + query_pos, output))
        ffn = decoder.transformer_ffn_layers[i]
        output = ffn.norm(output + ffn.linear2(F.relu(ffn.linear1(output))))
        minimap, target, no_target, mask = heads_out(output, sizes[(i + 1) % 3])
    return {"pred_masks": target, "pred_logits": minimap, "nt_label": no_target}


def test_decoder_matches_the_official_formulation():
    torch.manual_seed(0)
    decoder = ReferringDecoder(in_channels=32, hidden_dim=32, num_queries=9, heads=4, feedforward=40, layers=4,
                               pre_norm=False, mask_dim=16, enforce_input_proj=False, text_dim=24).eval()
    with torch.no_grad():
        decoder.lang_weight.fill_(0.7)
        decoder.lang_proj.weight.normal_()  # zero-initialised otherwise: language would not matter
    scales = [torch.randn(2, 32, 2, 3), torch.randn(2, 32, 4, 6), torch.randn(2, 32, 8, 12)]
    mask_features = torch.randn(2, 16, 16, 24)
    lang_feat = torch.randn(2, 24, 6)
    with torch.no_grad():
        actual = decoder(scales, mask_features, lang_feat)
        expected = reference_decoder(decoder, scales, mask_features, lang_feat)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], atol=1e-5, rtol=1e-5)
