"""An independent reference of the official LAVT pipeline (yz93/LAVT-RIS `test.py`: `bert_model` then `LAVT`).

Plain functions written from the official code (lib/backbone.py, lib/mask_predictor.py,
lib/_utils.py, bert/modeling_bert.py), eval mode, reading the official state dicts by key. It keeps
the official formulation on purpose (pad, roll, window partition, -100 shift mask, Conv1d layouts,
BERT's -10000 mask) and shares no code with grefbench's model. Also: the official key set and shapes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def official_model_shapes(embed_dim, depths, heads, window, text_dim, mha_heads=None, mlp_ratio=4, patch=4):
    """{key: shape} of the official `model` dict (MultiModalSwinTransformer + SimpleDecoding); int64 keys marked."""
    shapes = {"backbone.patch_embed.proj.weight": (embed_dim, 3, patch, patch),
              "backbone.patch_embed.proj.bias": (embed_dim,),
              "backbone.patch_embed.norm.weight": (embed_dim,), "backbone.patch_embed.norm.bias": (embed_dim,)}
    for i, depth in enumerate(depths):
        dim, p = embed_dim * 2**i, f"backbone.layers.{i}."
        for j in range(depth):
            b = f"{p}blocks.{j}."
            shapes.update({
                b + "norm1.weight": (dim,), b + "norm1.bias": (dim,),
                b + "attn.relative_position_bias_table": ((2 * window - 1) ** 2, heads[i]),
                b + "attn.relative_position_index": (window * window, window * window),
                b + "attn.qkv.weight": (3 * dim, dim), b + "attn.qkv.bias": (3 * dim,),
                b + "attn.proj.weight": (dim, dim), b + "attn.proj.bias": (dim,),
                b + "norm2.weight": (dim,), b + "norm2.bias": (dim,),
                b + "mlp.fc1.weight": (mlp_ratio * dim, dim), b + "mlp.fc1.bias": (mlp_ratio * dim,),
                b + "mlp.fc2.weight": (dim, mlp_ratio * dim), b + "mlp.fc2.bias": (dim,),
            })
        f = p + "fusion."
        for name, cin in (("vis_project.0", dim), ("image_lang_att.f_key.0", text_dim),
                          ("image_lang_att.f_query.0", dim), ("image_lang_att.f_value.0", text_dim),
                          ("image_lang_att.W.0", dim), ("project_mm.0", dim)):
            shapes[f + name + ".weight"] = (dim, cin, 1)
            shapes[f + name + ".bias"] = (dim,)
        shapes[p + "res_gate.0.weight"] = (dim, dim)
        shapes[p + "res_gate.2.weight"] = (dim, dim)
        if i < len(depths) - 1:
            shapes[p + "downsample.reduction.weight"] = (2 * dim, 4 * dim)
            shapes[p + "downsample.norm.weight"] = (4 * dim,)
            shapes[p + "downsample.norm.bias"] = (4 * dim,)
    for i in range(len(depths)):
        shapes[f"backbone.norm{i}.weight"] = (embed_dim * 2**i,)
        shapes[f"backbone.norm{i}.bias"] = (embed_dim * 2**i,)
    c4 = 8 * embed_dim
    hidden = c4 // 2
    for level, cin in (("4", c4 + c4 // 2), ("3", hidden + c4 // 4), ("2", hidden + c4 // 8)):
        for conv, cin_ in ((1, cin), (2, hidden)):
            shapes[f"classifier.conv{conv}_{level}.weight"] = (hidden, cin_, 3, 3)
            bn = f"classifier.bn{conv}_{level}."
            shapes.update({bn + "weight": (hidden,), bn + "bias": (hidden,), bn + "running_mean": (hidden,),
                           bn + "running_var": (hidden,), bn + "num_batches_tracked": ()})
    shapes["classifier.conv1_1.weight"] = (2, hidden, 1, 1)
    shapes["classifier.conv1_1.bias"] = (2,)
    return shapes


def official_bert_shapes(vocab, hidden, layers, intermediate, positions=512, types=2):
    """{key: shape} of the official `bert_model` dict (transformers 3.0.2 BertModel, pooler = None)."""
    shapes = {"embeddings.word_embeddings.weight": (vocab, hidden),
              "embeddings.position_embeddings.weight": (positions, hidden),
              "embeddings.token_type_embeddings.weight": (types, hidden),
              "embeddings.LayerNorm.weight": (hidden,), "embeddings.LayerNorm.bias": (hidden,)}
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name, (out, cin) in (("attention.self.query", (hidden, hidden)), ("attention.self.key", (hidden, hidden)),
                                 ("attention.self.value", (hidden, hidden)),
                                 ("attention.output.dense", (hidden, hidden)),
                                 ("intermediate.dense", (intermediate, hidden)), ("output.dense", (hidden, intermediate))):
            shapes[p + name + ".weight"] = (out, cin)
            shapes[p + name + ".bias"] = (out,)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + name + ".weight"] = (hidden,)
            shapes[p + name + ".bias"] = (hidden,)
    return shapes


def relative_position_index(window):
    """As WindowAttention.__init__ builds it."""
    coords = torch.stack(torch.meshgrid([torch.arange(window), torch.arange(window)], indexing="ij"))
    flat = torch.flatten(coords, 1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += window - 1
    rel[:, :, 1] += window - 1
    rel[:, :, 0] *= 2 * window - 1
    return rel.sum(-1)


def bert_forward(sd, num_heads, ids, mask, eps=1e-12):
    """bert/modeling_bert.py BertModel(...)[0] in eval mode; masked positions get -10000."""
    hidden = sd["embeddings.word_embeddings.weight"].shape[1]
    length = ids.shape[1]
    x = (sd["embeddings.word_embeddings.weight"][ids] + sd["embeddings.position_embeddings.weight"][:length][None]
         + sd["embeddings.token_type_embeddings.weight"][0])
    x = F.layer_norm(x, (hidden,), sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"], eps)
    extended = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
    head = hidden // num_heads
    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in sd:
        p = f"encoder.layer.{layer}."

        def lin(t, name):
            return F.linear(t, sd[p + name + ".weight"], sd[p + name + ".bias"])

        def split(t):
            return t.view(t.shape[0], t.shape[1], num_heads, head).permute(0, 2, 1, 3)

        q, k, v = (split(lin(x, "attention.self." + n)) for n in ("query", "key", "value"))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(head) + extended
        context = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(x.shape)
        a = F.layer_norm(lin(context, "attention.output.dense") + x, (hidden,),
                         sd[p + "attention.output.LayerNorm.weight"], sd[p + "attention.output.LayerNorm.bias"], eps)
        h = F.gelu(lin(a, "intermediate.dense"))
        x = F.layer_norm(lin(h, "output.dense") + a, (hidden,), sd[p + "output.LayerNorm.weight"],
                         sd[p + "output.LayerNorm.bias"], eps)
        layer += 1
    return x


def _window_partition(x, ws):
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, c)


def _window_reverse(windows, ws, h, w):
    b = int(windows.shape[0] / (h * w / ws / ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


def _shift_mask(h, w, ws, shift):
    hp, wp = int(np.ceil(h / ws)) * ws, int(np.ceil(w / ws)) * ws
    img_mask = torch.zeros((1, hp, wp, 1))
    slices = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    cnt = 0
    for hs in slices:
        for wsl in slices:
            img_mask[:, hs, wsl, :] = cnt
            cnt += 1
    windows = _window_partition(img_mask, ws).view(-1, ws * ws)
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


def _block(sd, p, x, h, w, heads, ws, shift, attn_mask):
    b, length, c = x.shape
    shortcut = x
    x = F.layer_norm(x, (c,), sd[p + "norm1.weight"], sd[p + "norm1.bias"]).view(b, h, w, c)
    pad_r, pad_b = (ws - w % ws) % ws, (ws - h % ws) % ws
    x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    hp, wp = x.shape[1], x.shape[2]
    if shift > 0:
        x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    windows = _window_partition(x, ws).view(-1, ws * ws, c)
    bw, n, _ = windows.shape
    qkv = F.linear(windows, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"])
    qkv = qkv.reshape(bw, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0] * (c // heads) ** -0.5, qkv[1], qkv[2]
    attn = q @ k.transpose(-2, -1)
    table = sd[p + "attn.relative_position_bias_table"]
    bias = table[relative_position_index(ws).view(-1)].view(n, n, -1).permute(2, 0, 1)
    attn = attn + bias.unsqueeze(0)
    if shift > 0:
        nw = attn_mask.shape[0]
        attn = (attn.view(bw // nw, nw, heads, n, n) + attn_mask.unsqueeze(1).unsqueeze(0)).view(-1, heads, n, n)
    attn = torch.softmax(attn, dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(bw, n, c)
    out = F.linear(out, sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"]).view(-1, ws, ws, c)
    x = _window_reverse(out, ws, hp, wp)
    if shift > 0:
        x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
    x = x[:, :h, :w, :].contiguous().view(b, h * w, c)
    x = shortcut + x
    y = F.layer_norm(x, (c,), sd[p + "norm2.weight"], sd[p + "norm2.bias"])
    y = F.linear(F.gelu(F.linear(y, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"])),
                 sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
    return x + y


def _conv1d(sd, name, t):
    return F.conv1d(t, sd[name + ".weight"], sd[name + ".bias"])


def _pwam(sd, p, x, l, l_mask, num_heads):
    """PWAM + SpatialImageLanguageAttention: x (B, HW, C), l (B, Cl, N), l_mask (B, N, 1)."""
    b, hw, c = x.shape
    vis = F.gelu(_conv1d(sd, p + "vis_project.0", x.permute(0, 2, 1)))
    a = p + "image_lang_att."
    mask = l_mask.permute(0, 2, 1)
    query = F.instance_norm(_conv1d(sd, a + "f_query.0", x.permute(0, 2, 1))).permute(0, 2, 1)
    key = _conv1d(sd, a + "f_key.0", l) * mask
    value = _conv1d(sd, a + "f_value.0", l) * mask
    n_l = value.size(-1)
    query = query.reshape(b, hw, num_heads, c // num_heads).permute(0, 2, 1, 3)
    key = key.reshape(b, num_heads, c // num_heads, n_l)
    value = value.reshape(b, num_heads, c // num_heads, n_l)
    sim = torch.matmul(query, key) * c**-0.5 + (1e4 * mask.unsqueeze(1) - 1e4)
    out = torch.matmul(torch.softmax(sim, dim=-1), value.permute(0, 1, 3, 2))
    out = out.permute(0, 2, 1, 3).contiguous().reshape(b, hw, c).permute(0, 2, 1)
    lang = F.instance_norm(_conv1d(sd, a + "W.0", out))
    return F.gelu(_conv1d(sd, p + "project_mm.0", vis * lang)).permute(0, 2, 1)


def _decode(sd, c4, c3, c2, c1):
    def up(x, like):
        if x.size(-2) < like.size(-2) or x.size(-1) < like.size(-1):
            x = F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=True)
        return x

    def fuse(level, x):
        for conv in (1, 2):
            x = F.conv2d(x, sd[f"classifier.conv{conv}_{level}.weight"], padding=1)
            bn = f"classifier.bn{conv}_{level}."
            x = F.relu(F.batch_norm(x, sd[bn + "running_mean"], sd[bn + "running_var"], sd[bn + "weight"],
                                    sd[bn + "bias"], False, 0.1, 1e-5))
        return x

    x = fuse("4", torch.cat([up(c4, c3), c3], 1))
    x = fuse("3", torch.cat([up(x, c2), c2], 1))
    x = fuse("2", torch.cat([up(x, c1), c1], 1))
    return F.conv2d(x, sd["classifier.conv1_1.weight"], sd["classifier.conv1_1.bias"])


def lavt_forward(model_sd, image, l_feats, l_mask, *, heads, window, mha):
    """lib/_utils.py LAVT.forward in eval mode: image normalised (B,3,H,W), l_feats (B,Cl,N), l_mask (B,N,1)."""
    input_shape = image.shape[-2:]
    sd = model_sd
    proj = sd["backbone.patch_embed.proj.weight"]
    patch, embed = proj.shape[-1], proj.shape[0]
    x = image
    if x.shape[-1] % patch:
        x = F.pad(x, (0, patch - x.shape[-1] % patch))
    if x.shape[-2] % patch:
        x = F.pad(x, (0, 0, 0, patch - x.shape[-2] % patch))
    x = F.conv2d(x, proj, sd["backbone.patch_embed.proj.bias"], stride=patch)
    h, w = x.shape[2], x.shape[3]
    x = F.layer_norm(x.flatten(2).transpose(1, 2), (embed,), sd["backbone.patch_embed.norm.weight"],
                     sd["backbone.patch_embed.norm.bias"])
    outs = []
    for i, stage_heads in enumerate(heads):
        p = f"backbone.layers.{i}."
        c = embed * 2**i
        attn_mask = _shift_mask(h, w, window, window // 2)
        j = 0
        while f"{p}blocks.{j}.norm1.weight" in sd:
            shift = 0 if j % 2 == 0 else window // 2
            x = _block(sd, f"{p}blocks.{j}.", x, h, w, stage_heads, window, shift, attn_mask)
            j += 1
        residual = _pwam(sd, p + "fusion.", x, l_feats, l_mask, mha[i])
        gate = torch.tanh(F.linear(F.relu(F.linear(residual, sd[p + "res_gate.0.weight"])), sd[p + "res_gate.2.weight"]))
        x = x + gate * residual
        out = F.layer_norm(residual, (c,), sd[f"backbone.norm{i}.weight"], sd[f"backbone.norm{i}.bias"])
        outs.append(out.view(-1, h, w, c).permute(0, 3, 1, 2).contiguous())
        if f"{p}downsample.reduction.weight" in sd:
            g = x.view(x.shape[0], h, w, c)
            if h % 2 == 1 or w % 2 == 1:
                g = F.pad(g, (0, 0, 0, w % 2, 0, h % 2))
            g = torch.cat([g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2], g[:, 1::2, 1::2]], -1)
            g = g.view(g.shape[0], -1, 4 * c)
            g = F.layer_norm(g, (4 * c,), sd[p + "downsample.norm.weight"], sd[p + "downsample.norm.bias"])
            x = F.linear(g, sd[p + "downsample.reduction.weight"])
            h, w = (h + 1) // 2, (w + 1) // 2
    logits = _decode(sd, outs[3], outs[2], outs[1], outs[0])
    return F.interpolate(logits, size=input_shape, mode="bilinear", align_corners=True)


def official_pipeline(model_sd, bert_sd, bert_heads, images_uint8, ids, mask, *, heads, window, mha):
    """test.py: transforms (ToTensor + Normalize), bert_model(ids, attention_mask)[0], then LAVT."""
    image = images_uint8.float().div(255)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
    image = (image - mean) / std
    hidden = bert_forward(bert_sd, bert_heads, ids, mask)
    return lavt_forward(model_sd, image, hidden.permute(0, 2, 1), mask.unsqueeze(-1), heads=heads, window=window,
                        mha=mha)
